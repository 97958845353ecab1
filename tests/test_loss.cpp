// Losses: hand-computed values, both reductions, large logits, gradients, float agreement, errors.
#include "support/check.hpp"
#include "tapeloop/ops/loss.hpp"

#include <limits>

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

// Reference binary cross-entropy straight from the definition (fine for moderate logits).
double naive_bce(double x, double t) {
  const double s = 1.0 / (1.0 + std::exp(-x));
  return -(t * std::log(s) + (1.0 - t) * std::log(1.0 - s));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_loss)

BOOST_AUTO_TEST_CASE(mse_values_and_gradients) {
  Tape<double> tape;
  Var<double> p = tape.input(Tensor<double>::from({2, 2}, {1, 2, 3, 4}).ref(), true);
  Var<double> t = tape.input(Tensor<double>::from({2, 2}, {0, 2, 5, 1}).ref(), true);
  Var<double> l = mse_loss(p, t);  // squares 1, 0, 4, 9
  BOOST_TEST(l.shape() == Shape{});
  BOOST_TEST(l.item() == 3.5);
  BOOST_TEST(mse_loss(p, t, Reduction::sum).item() == 14.0);
  tape.backward(l);
  const double d[] = {1, 0, -2, 3};
  for (int i = 0; i < 4; ++i) {
    BOOST_TEST(p.grad()[i] == 2 * d[i] / 4);
    BOOST_TEST(t.grad()[i] == -2 * d[i] / 4);
  }
}

BOOST_AUTO_TEST_CASE(bce_values_match_definition) {
  const Tensor<double> x = Tensor<double>::from({2, 3}, {0, 2, -1, 0.5, -3, 4});
  const Tensor<double> t = Tensor<double>::from({2, 3}, {1, 0, 0.5, 0.25, 1, 0});
  Tape<double> tape;
  Var<double> xv = tape.input(x.ref(), true);
  Var<double> tv = tape.input(t.ref(), true);
  double total = 0;
  for (int i = 0; i < 6; ++i) total += naive_bce(x[i], t[i]);
  Var<double> l = binary_cross_entropy_with_logits(xv, tv);
  BOOST_TEST(l.item() == total / 6, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(binary_cross_entropy_with_logits(xv, tv, Reduction::sum).item() == total,
             boost::test_tools::tolerance(1e-14));
  tape.backward(l);
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST(xv.grad()[i] == (1 / (1 + std::exp(-x[i])) - t[i]) / 6,
               boost::test_tools::tolerance(1e-14));
    BOOST_TEST(tv.grad()[i] == -x[i] / 6, boost::test_tools::tolerance(1e-14));
  }
}

BOOST_AUTO_TEST_CASE(bce_is_finite_and_exact_for_large_logits) {
  Tape<double> tape;
  const Tensor<double> x =
      Tensor<double>::from({8}, {1000, 1000, -1000, -1000, 100, -100, 100, -100});
  const Tensor<double> t = Tensor<double>::from({8}, {1, 0, 1, 0, 1, 1, 0, 0});
  Var<double> xv = tape.input(x.ref(), true);
  Var<double> tv = tape.input(t.ref());
  // One term at a time through the sum reduction of a single element.
  const double expected[] = {0, 1000, 1000, 0, std::exp(-100.0), 100, 100, std::exp(-100.0)};
  for (int i = 0; i < 8; ++i) {
    Var<double> xi = tape.input(Tensor<double>::from({1}, {x[i]}).ref());
    Var<double> ti = tape.input(Tensor<double>::from({1}, {t[i]}).ref());
    const double v = binary_cross_entropy_with_logits(xi, ti, Reduction::sum).item();
    BOOST_TEST(v == expected[i], boost::test_tools::tolerance(1e-14));
  }
  Var<double> l = binary_cross_entropy_with_logits(xv, tv, Reduction::sum);
  BOOST_TEST(l.item() == 2200 + 2 * std::exp(-100.0), boost::test_tools::tolerance(1e-14));
  tape.backward(l);
  const double g[] = {0, 1, -1, 0, 0, -1, 1, 0};  // sigmoid(x) - t
  for (int i = 0; i < 8; ++i) BOOST_TEST(xv.grad()[i] == g[i], boost::test_tools::tolerance(1e-14));
  // Float at +-100: the naive formula would take log(0) there.
  Tape<float> tf;
  Var<float> xf = tf.input(Tensor<float>::from({2}, {100.0f, -100.0f}).ref());
  Var<float> tff = tf.input(Tensor<float>::from({2}, {0.0f, 1.0f}).ref());
  BOOST_TEST(binary_cross_entropy_with_logits(xf, tff, Reduction::sum).item() == 200.0f);
}

BOOST_AUTO_TEST_CASE(cross_entropy_matches_hand_computation) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({1, 3}, {1, 2, 3}).ref(), true);
  const std::vector<std::int64_t> target = {2};
  Var<double> l = cross_entropy(x, target);
  BOOST_TEST(l.shape() == Shape{});
  // log(e + e^2 + e^3) - 3
  BOOST_TEST(l.item() == 0.40760596444438, boost::test_tools::tolerance(1e-12));
  tape.backward(l);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const double g[] = {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z - 1};
  for (int i = 0; i < 3; ++i) BOOST_TEST(x.grad()[i] == g[i], boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(cross_entropy_sum_is_n_times_mean) {
  Tape<double> tape;
  Var<double> x = tape.input(random_tensor({4, 5}, 1, -2.0, 2.0).ref());
  const std::vector<std::int64_t> targets = {0, 4, 2, 2};
  const double mean = cross_entropy(x, targets).item();
  const double sum = cross_entropy(x, targets, Reduction::sum).item();
  BOOST_TEST(sum == 4 * mean, boost::test_tools::tolerance(1e-14));
  // And each row against a direct evaluation.
  double ref = 0;
  for (int i = 0; i < 4; ++i) {
    double z = 0;
    for (int j = 0; j < 5; ++j) z += std::exp(x.value()[i * 5 + j]);
    ref += std::log(z) - x.value()[i * 5 + targets[static_cast<std::size_t>(i)]];
  }
  BOOST_TEST(sum == ref, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(cross_entropy_large_logits_and_copied_targets) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({2, 2}, {1000, 0, -1000, 1000}).ref(), true);
  Var<double> l;
  {
    std::vector<std::int64_t> targets = {1, 1};
    l = cross_entropy(x, targets, Reduction::sum);
    targets = {0, 0};  // the op kept its own copy: backward must still use {1, 1}
  }
  BOOST_TEST(l.item() == 1000.0);
  tape.backward(l);
  const double g[] = {1, -1, 0, 0};
  for (int i = 0; i < 4; ++i) BOOST_TEST(x.grad()[i] == g[i]);
}

BOOST_AUTO_TEST_CASE(gradcheck_losses) {
  for (const Shape& s : {Shape{}, Shape{4}, Shape{2, 3}, Shape{2, 1, 3}}) {
    const std::vector<Tensor<double>> mse_in = {random_tensor(s, 10), random_tensor(s, 11)};
    const std::vector<Tensor<double>> bce_in = {random_tensor(s, 12, -3.0, 3.0),
                                                random_tensor(s, 13, 0.0, 1.0)};
    for (Reduction r : {Reduction::mean, Reduction::sum}) {
      TAPELOOP_CHECK_GRADCHECK([r](auto&, const auto& x) { return mse_loss(x[0], x[1], r); },
                               mse_in);
      TAPELOOP_CHECK_GRADCHECK(
          [r](auto&, const auto& x) { return binary_cross_entropy_with_logits(x[0], x[1], r); },
          bce_in);
    }
  }
  // One leaf on both sides, directly (the two gradients cancel) and through another op.
  const std::vector<Tensor<double>> one = {random_tensor({3}, 14)};
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return mse_loss(x[0], x[0]); }, one);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return mse_loss(x[0], x[0] * 2.0); }, one);

  struct Case {
    Shape shape;
    std::vector<std::int64_t> targets;
  };
  const std::vector<Case> cases = {
      {{1, 3}, {2}}, {{4, 5}, {0, 4, 2, 2}}, {{3, 1}, {0, 0, 0}}, {{2, 6}, {5, 1}}};
  std::uint64_t seed = 20;
  for (const Case& c : cases) {
    const std::vector<Tensor<double>> in = {random_tensor(c.shape, seed++, -2.0, 2.0)};
    const std::vector<std::int64_t>* t = &c.targets;
    for (Reduction r : {Reduction::mean, Reduction::sum}) {
      TAPELOOP_CHECK_GRADCHECK([t, r](auto&, const auto& x) { return cross_entropy(x[0], *t, r); },
                               in);
    }
  }
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  const std::vector<Tensor<double>> two = {random_tensor({3, 4}, 30, -3.0, 3.0),
                                           random_tensor({3, 4}, 31, 0.0, 1.0)};
  check_float_matches_double([](auto&, const auto& x) { return mse_loss(x[0], x[1]); }, two);
  check_float_matches_double(
      [](auto&, const auto& x) {
        return binary_cross_entropy_with_logits(x[0], x[1], Reduction::sum);
      },
      two);
  const std::vector<std::int64_t> targets = {3, 0, 1};
  check_float_matches_double([&](auto&, const auto& x) { return cross_entropy(x[0], targets); },
                             std::vector<Tensor<double>>{two[0]});
}

BOOST_AUTO_TEST_CASE(empty_mean_is_nan) {
  Tape<double> tape;
  Var<double> e = tape.input(Tensor<double>::zeros({0, 3}).ref());
  BOOST_TEST(std::isnan(mse_loss(e, e).item()));
  BOOST_TEST(mse_loss(e, e, Reduction::sum).item() == 0.0);
  BOOST_TEST(std::isnan(cross_entropy(e, std::span<const std::int64_t>{}).item()));
}

BOOST_AUTO_TEST_CASE(errors_name_op_and_shapes) {
  Tape<float> tape;
  Var<float> a = tape.input(Tensor<float>::zeros({2, 3}).ref());
  Var<float> b = tape.input(Tensor<float>::zeros({3, 2}).ref());
  Var<float> v = tape.input(Tensor<float>::zeros({3}).ref());
  const std::size_t before = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(
      mse_loss(a, b), ShapeError,
      "mse_loss: [2,3] and [3,2]: pred and target must have the same shape");
  TAPELOOP_CHECK_THROW_MESSAGE(binary_cross_entropy_with_logits(a, v), ShapeError,
                               "binary_cross_entropy_with_logits: [2,3] and [3]: logits and target "
                               "must have the same shape");
  const std::vector<std::int64_t> one = {0};
  const std::vector<std::int64_t> three = {0, 1, 2};
  const std::vector<std::int64_t> high = {0, 3};
  const std::vector<std::int64_t> negative = {-1, 0};
  Var<float> scalar = tape.scalar(1.0f);
  const std::size_t before_scalar = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(cross_entropy(scalar, one), ShapeError,
                               "cross_entropy: logits []: expected [C], [N,C] or [N,C,d1,...]");
  TAPELOOP_CHECK_THROW_MESSAGE(cross_entropy(v, three), ShapeError,
                               "cross_entropy: logits [3] and 3 targets: expected one target per "
                               "position (1)");
  TAPELOOP_CHECK_THROW_MESSAGE(
      cross_entropy(a, three), ShapeError,
      "cross_entropy: logits [2,3] and 3 targets: expected one target per position (2)");
  TAPELOOP_CHECK_THROW_MESSAGE(
      cross_entropy(a, high), ValueError,
      "cross_entropy: logits [2,3]: target 3 at position 1 is out of range "
      "[0,3) for C = 3");
  TAPELOOP_CHECK_THROW_MESSAGE(
      cross_entropy(a, negative), ValueError,
      "cross_entropy: logits [2,3]: target -1 at position 0 is out of range");
  BOOST_TEST(tape.size() == before_scalar);
  BOOST_TEST(before_scalar == before + 1);
}

BOOST_AUTO_TEST_SUITE_END()
