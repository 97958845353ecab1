// Inverted dropout: the mean is kept, a seed fixes the mask, gradients, float agreement, errors.
#include "support/check.hpp"

#include "tapeloop/ops/dropout.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

// A fresh generator per call: every evaluation gradcheck makes draws the same mask.
const auto drop = [](auto&, const auto& v) {
  Generator rng(7);
  return dropout(v[0], 0.25, rng);
};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_dropout)

BOOST_AUTO_TEST_CASE(mean_is_preserved_and_the_drop_rate_is_p) {
  // Each y is 0 or 1 / (1 - p): mean 1, variance p / (1 - p). Over n = 200000 elements the
  // sample mean has standard deviation sqrt(0.3 / 0.7 / n) ~ 0.0015; allow 5 of them.
  const std::int64_t n = 200000;
  const float p = 0.3f;
  Tape<float> tape;
  Generator rng(123);
  Var<float> y = dropout(tape.input(Tensor<float>::ones({n}).ref()), p, rng);
  double total = 0;
  std::int64_t zeros = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = y.value()[i];
    BOOST_REQUIRE(v == 0.0f || v == 1.0f / (1.0f - p));
    total += v;
    zeros += v == 0.0f;
  }
  BOOST_TEST(std::abs(total / n - 1.0) < 0.0075);
  BOOST_TEST(std::abs(static_cast<double>(zeros) / n - 0.3) < 0.005);  // std ~ 0.001
}

BOOST_AUTO_TEST_CASE(same_seed_same_mask) {
  Tensor<float> x = testing::cast<float>(random_tensor({50, 40}, 1, 0.5, 1.5));
  auto run = [&](std::uint64_t seed) {
    Tape<float> tape;
    Generator rng(seed);
    return dropout(tape.input(x.ref()), 0.5f, rng).to_tensor();
  };
  const Tensor<float> a = run(5), b = run(5), c = run(6);
  std::int64_t differ = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    BOOST_REQUIRE(a[i] == b[i]);
    differ += (a[i] == 0.0f) != (c[i] == 0.0f);
  }
  BOOST_TEST(differ > 500);  // another seed: about half of the 2000 decisions change

  // The generator advances: two calls on one generator draw two different masks.
  Tape<float> tape;
  Generator rng(5);
  Var<float> xv = tape.input(x.ref());
  const Tensor<float> first = dropout(xv, 0.5f, rng).to_tensor();
  const Tensor<float> second = dropout(xv, 0.5f, rng).to_tensor();
  for (std::int64_t i = 0; i < x.numel(); ++i) BOOST_REQUIRE(first[i] == a[i]);
  differ = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) differ += (first[i] == 0) != (second[i] == 0);
  BOOST_TEST(differ > 500);
}

BOOST_AUTO_TEST_CASE(gradient_is_the_scaled_mask) {
  Tape<double> tape;
  Generator rng(3);
  Var<double> x = tape.input(random_tensor({4, 5}, 2, 0.5, 1.5).ref(), true);
  Var<double> y = dropout(x, 0.4, rng);
  tape.backward(sum(y));
  for (std::int64_t i = 0; i < 20; ++i) {
    const bool kept = y.value()[i] != 0.0;
    BOOST_TEST(x.grad()[i] == (kept ? 1.0 / 0.6 : 0.0), boost::test_tools::tolerance(1e-15));
    if (kept) BOOST_TEST(y.value()[i] == x.value()[i] / 0.6, boost::test_tools::tolerance(1e-15));
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_over_shapes) {
  for (const Shape& s : {Shape{7}, Shape{3, 4}, Shape{2, 3, 5}, Shape{1, 1}}) {
    TAPELOOP_CHECK_GRADCHECK(drop, {random_tensor(s, 10)});
  }
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  // p = 0.25 is exact in both types and the draws are doubles: the same elements are dropped.
  tapeloop::testing::check_float_matches_double(drop, {random_tensor({6, 7}, 20)});
}

BOOST_AUTO_TEST_CASE(p_zero_is_the_identity) {
  Tape<float> tape;
  Generator rng(1), untouched(1);
  Var<float> x = tape.input(Tensor<float>::ones({3}).ref(), true);
  Var<float> y = dropout(x, 0.0f, rng);
  BOOST_TEST(y.index() == x.index());                  // no node, no copy
  BOOST_TEST(rng.next_u64() == untouched.next_u64());  // and no draws
}

BOOST_AUTO_TEST_CASE(p_outside_the_range_is_refused) {
  Tape<float> tape;
  Generator rng(1);
  Var<float> x = tape.input(Tensor<float>::ones({2, 3}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(dropout(x, 1.0f, rng), ValueError,
                               "dropout: [2,3]: p = 1 is outside [0, 1)");
  TAPELOOP_CHECK_THROW_MESSAGE(dropout(x, -0.1f, rng), ValueError, "is outside [0, 1)");
  TAPELOOP_CHECK_THROW_MESSAGE(dropout(x, std::nanf(""), rng), ValueError, "p = nan");
  const std::size_t nodes = tape.size();
  BOOST_CHECK_THROW(dropout(x, 1.5f, rng), ValueError);
  BOOST_TEST(tape.size() == nodes);
}

BOOST_AUTO_TEST_SUITE_END()
