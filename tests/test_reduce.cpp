// Reductions: values, shapes, max ties, stable logsumexp, gradcheck over axes, float, errors.
#include "support/check.hpp"
#include "tapeloop/ops/reduce.hpp"

#include <limits>

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

// Distinct values 0.1 apart in shuffled order, so no two elements tie within a finite
// difference step (max's gradient jumps at a tie).
Tensor<double> distinct_tensor(const Shape& shape, std::uint64_t seed) {
  Tensor<double> x(shape);
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i)
    x[i] = 0.1 * static_cast<double>(i) - 0.05 * static_cast<double>(n);
  Generator rng(seed);
  for (std::int64_t i = n - 1; i > 0; --i) {
    std::swap(x[i], x[static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i + 1)))]);
  }
  return x;
}

const Tensor<double> x23 = Tensor<double>::from({2, 3}, {1, 2, 3, 4, 5, 6});

template <class Fn>
Tensor<double> eval(Fn fn, const Tensor<double>& in) {
  Tape<double> tape;
  return fn(tape.input(in.ref())).to_tensor();
}

void check_values(const Tensor<double>& y, const Shape& shape, std::vector<double> expected) {
  BOOST_TEST(y.shape() == shape);
  BOOST_REQUIRE(y.numel() == static_cast<std::int64_t>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST(y[static_cast<std::int64_t>(i)] == expected[i], boost::test_tools::tolerance(1e-14));
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_reduce)

BOOST_AUTO_TEST_CASE(sum_and_mean_values_and_shapes) {
  check_values(eval([](auto x) { return sum(x); }, x23), Shape{}, {21});
  check_values(eval([](auto x) { return mean(x); }, x23), Shape{}, {3.5});
  check_values(eval([](auto x) { return sum(x, 0); }, x23), Shape{3}, {5, 7, 9});
  check_values(eval([](auto x) { return sum(x, 1); }, x23), Shape{2}, {6, 15});
  check_values(eval([](auto x) { return sum(x, -1, true); }, x23), Shape{2, 1}, {6, 15});
  check_values(eval([](auto x) { return sum(x, -2, true); }, x23), Shape{1, 3}, {5, 7, 9});
  check_values(eval([](auto x) { return mean(x, 0); }, x23), Shape{3}, {2.5, 3.5, 4.5});
  check_values(eval([](auto x) { return mean(x, 1, true); }, x23), Shape{2, 1}, {2, 5});
  // Middle axis of a rank-3 tensor: [2,2,2] summed over axis 1.
  const Tensor<double> x222 = Tensor<double>::from({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  check_values(eval([](auto x) { return sum(x, 1); }, x222), Shape{2, 2}, {4, 6, 12, 14});
  check_values(eval([](auto x) { return mean(x, 1, true); }, x222), Shape{2, 1, 2}, {2, 3, 6, 7});
  // A scalar sums to itself.
  check_values(eval([](auto x) { return sum(x); }, Tensor<double>::from({}, {7})), Shape{}, {7});
}

BOOST_AUTO_TEST_CASE(empty_reductions) {
  const Tensor<double> empty = Tensor<double>::zeros({2, 0});
  check_values(eval([](auto x) { return sum(x); }, empty), Shape{}, {0});
  BOOST_TEST(std::isnan(eval([](auto x) { return mean(x); }, empty)[0]));
  check_values(eval([](auto x) { return sum(x, 1); }, empty), Shape{2}, {0, 0});
  const Tensor<double> m = eval([](auto x) { return mean(x, 1); }, empty);
  BOOST_TEST(std::isnan(m[0]));
  BOOST_TEST(std::isnan(m[1]));
  // Reducing the non-empty axis of an empty tensor gives an empty result, not an error.
  BOOST_TEST(eval([](auto x) { return max(x, 0); }, empty).shape() == (Shape{0}));
}

BOOST_AUTO_TEST_CASE(max_values_and_first_maximum_gets_the_gradient) {
  check_values(eval([](auto x) { return max(x, 0); }, x23), Shape{3}, {4, 5, 6});
  check_values(eval([](auto x) { return max(x, -1, true); }, x23), Shape{2, 1}, {3, 6});
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({2, 3}, {1, 3, 3, 2, 2, 1}).ref(), true);
  Var<double> y = max(x, 1);
  check_values(y.to_tensor(), Shape{2}, {3, 2});
  tape.backward(y, Tensor<double>::from({2}, {10, 20}).ref());
  const double expected[] = {0, 10, 0, 20, 0, 0};
  for (int i = 0; i < 6; ++i) BOOST_TEST(x.grad()[i] == expected[i]);
}

BOOST_AUTO_TEST_CASE(max_propagates_nan) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor<double> in = Tensor<double>::from({2, 3}, {1, nan, 3, nan, 5, 6});
  const Tensor<double> y = eval([](auto x) { return max(x, 1); }, in);
  BOOST_TEST(std::isnan(y[0]));
  BOOST_TEST(std::isnan(y[1]));
}

BOOST_AUTO_TEST_CASE(logsumexp_values_and_large_inputs) {
  check_values(eval([](auto x) { return logsumexp(x, 1); }, x23), Shape{2},
               {std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)),
                std::log(std::exp(4.0) + std::exp(5.0) + std::exp(6.0))});
  check_values(eval([](auto x) { return logsumexp(x, 0, true); }, x23), Shape{1, 3},
               {std::log(std::exp(1.0) + std::exp(4.0)), std::log(std::exp(2.0) + std::exp(5.0)),
                std::log(std::exp(3.0) + std::exp(6.0))});
  // Far beyond exp's range in double: still finite and exact.
  const double inf = std::numeric_limits<double>::infinity();
  Tape<double> tape;
  Var<double> x = tape.input(
      Tensor<double>::from({4, 2}, {1000, 1000, -1000, -1000, 1000, -1000, -100, 100}).ref(), true);
  Var<double> y = logsumexp(x, 1);
  check_values(y.to_tensor(), Shape{4}, {1000 + std::log(2.0), -1000 + std::log(2.0), 1000, 100});
  tape.backward(y, Tensor<double>::ones({4}).ref());
  const double g[] = {0.5, 0.5, 0.5, 0.5, 1, 0, 0, 1};
  // exp(x - y) inherits y's rounding, one ulp of 1000 ~ 1e-13: relative 1e-12 is the honest bound.
  for (int i = 0; i < 8; ++i) BOOST_TEST(x.grad()[i] == g[i], boost::test_tools::tolerance(1e-12));
  // Infinite slices: all -inf gives -inf, any +inf gives +inf.
  const Tensor<double> infs = Tensor<double>::from({2, 2}, {-inf, -inf, inf, 0});
  const Tensor<double> li = eval([](auto v) { return logsumexp(v, 1); }, infs);
  BOOST_TEST(li[0] == -inf);
  BOOST_TEST(li[1] == inf);
  // Float: 100 would overflow exp in float without the shift.
  Tape<float> tf;
  Var<float> xf = tf.input(Tensor<float>::from({2}, {100.0f, 100.0f}).ref());
  BOOST_TEST(logsumexp(xf, 0).item() == 100.0f + std::log(2.0f),
             boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(gradcheck_full_reductions) {
  for (const Shape& s : {Shape{}, Shape{4}, Shape{2, 3}, Shape{2, 1, 3}}) {
    const std::vector<Tensor<double>> in = {random_tensor(s, 1)};
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return sum(x[0]); }, in);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return mean(x[0]); }, in);
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_axis_reductions) {
  struct Case {
    Shape shape;
    int axis;
  };
  // First, middle, last and negative axes; size-1 dims on and off the reduced axis.
  const std::vector<Case> cases = {{{2, 3, 4}, 0},  {{2, 3, 4}, 1},  {{2, 3, 4}, 2},
                                   {{2, 3, 4}, -1}, {{2, 3, 4}, -3}, {{5}, 0},
                                   {{3, 1, 2}, 1},  {{1, 4}, 0},     {{4, 1}, -1}};
  std::uint64_t seed = 2;
  for (const Case& c : cases) {
    for (bool keepdim : {false, true}) {
      const int a = c.axis;
      const std::vector<Tensor<double>> in = {random_tensor(c.shape, seed)};
      const std::vector<Tensor<double>> distinct = {distinct_tensor(c.shape, seed)};
      ++seed;
      TAPELOOP_CHECK_GRADCHECK([a, keepdim](auto&, const auto& x) { return sum(x[0], a, keepdim); },
                               in);
      TAPELOOP_CHECK_GRADCHECK(
          [a, keepdim](auto&, const auto& x) { return mean(x[0], a, keepdim); }, in);
      TAPELOOP_CHECK_GRADCHECK([a, keepdim](auto&, const auto& x) { return max(x[0], a, keepdim); },
                               distinct);
      TAPELOOP_CHECK_GRADCHECK(
          [a, keepdim](auto&, const auto& x) { return logsumexp(x[0], a, keepdim); }, in);
    }
  }
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  const std::vector<Tensor<double>> in = {random_tensor({3, 4, 2}, 30)};
  const std::vector<Tensor<double>> distinct = {distinct_tensor({3, 4, 2}, 31)};
  check_float_matches_double([](auto&, const auto& x) { return sum(x[0]); }, in);
  check_float_matches_double([](auto&, const auto& x) { return mean(x[0]); }, in);
  check_float_matches_double([](auto&, const auto& x) { return sum(x[0], 1); }, in);
  check_float_matches_double([](auto&, const auto& x) { return mean(x[0], -1, true); }, in);
  check_float_matches_double([](auto&, const auto& x) { return max(x[0], 0); }, distinct);
  check_float_matches_double([](auto&, const auto& x) { return logsumexp(x[0], 1, true); }, in);
}

BOOST_AUTO_TEST_CASE(errors_name_op_and_shapes) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3}).ref());
  Var<float> e = tape.input(Tensor<float>::zeros({2, 0}).ref());
  const std::size_t before = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(sum(x, 2), ShapeError,
                               "sum: axis 2 is out of range for rank 2 (input [2,3])");
  TAPELOOP_CHECK_THROW_MESSAGE(mean(x, -3), ShapeError,
                               "mean: axis -3 is out of range for rank 2 (input [2,3])");
  TAPELOOP_CHECK_THROW_MESSAGE(max(x, 5, true), ShapeError,
                               "max: axis 5 is out of range for rank 2 (input [2,3])");
  TAPELOOP_CHECK_THROW_MESSAGE(logsumexp(x, -4), ShapeError,
                               "logsumexp: axis -4 is out of range for rank 2 (input [2,3])");
  TAPELOOP_CHECK_THROW_MESSAGE(max(e, 1), ShapeError, "max: [2,0]: cannot reduce axis 1 of size 0");
  TAPELOOP_CHECK_THROW_MESSAGE(min(e, -1), ShapeError,
                               "min: [2,0]: cannot reduce axis 1 of size 0");
  Var<float> s = tape.input(Tensor<float>::from({}, {1}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(sum(s, 0), ShapeError,
                               "sum: axis 0 is out of range for rank 0 (input [])");
  BOOST_TEST(tape.size() == before + 1);  // only the scalar input was recorded
}

BOOST_AUTO_TEST_SUITE_END()
