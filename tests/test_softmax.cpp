// softmax and log_softmax: values, large inputs, gradcheck over axes, float agreement, errors.
#include "support/check.hpp"
#include "tapeloop/ops/softmax.hpp"

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

BOOST_AUTO_TEST_SUITE(test_softmax)

BOOST_AUTO_TEST_CASE(values_match_closed_form) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({2, 3}, {1, 2, 3, -1, 0, 4}).ref());
  Var<double> y = softmax(x);
  Var<double> ly = log_softmax(x);
  Var<double> y0 = softmax(x, 0);
  BOOST_TEST(y.shape() == (Shape{2, 3}));
  for (int r = 0; r < 2; ++r) {
    double z = 0;
    for (int j = 0; j < 3; ++j) z += std::exp(x.value()[r * 3 + j]);
    for (int j = 0; j < 3; ++j) {
      const double v = x.value()[r * 3 + j];
      BOOST_TEST(y.value()[r * 3 + j] == std::exp(v) / z, boost::test_tools::tolerance(1e-14));
      // Absolute: v - log(z) cancels when v is the largest element.
      BOOST_CHECK_SMALL(ly.value()[r * 3 + j] - (v - std::log(z)), 1e-14);
    }
  }
  // Along axis 0: each column normalized.
  for (int j = 0; j < 3; ++j) {
    const double a = x.value()[j], b = x.value()[3 + j];
    BOOST_TEST(y0.value()[j] == std::exp(a) / (std::exp(a) + std::exp(b)),
               boost::test_tools::tolerance(1e-14));
    BOOST_TEST(y0.value()[j] + y0.value()[3 + j] == 1.0, boost::test_tools::tolerance(1e-15));
  }
}

BOOST_AUTO_TEST_CASE(large_inputs_stay_finite) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({2, 3}, {1000, 1000, 0, -1000, 0, 1000}).ref());
  Var<double> y = softmax(x);
  Var<double> ly = log_softmax(x);
  const double sm[] = {0.5, 0.5, 0, 0, 0, 1};
  const double lsm[] = {-std::log(2.0), -std::log(2.0), -1000 - std::log(2.0), -2000, -1000, 0};
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST(y.value()[i] == sm[i], boost::test_tools::tolerance(1e-14));
    BOOST_TEST(ly.value()[i] == lsm[i], boost::test_tools::tolerance(1e-14));
  }
  Tape<float> tf;
  Var<float> xf = tf.input(Tensor<float>::from({2}, {100.0f, 100.0f}).ref());
  BOOST_TEST(softmax(xf).value()[0] == 0.5f);
  BOOST_TEST(log_softmax(xf).value()[1] == -std::log(2.0f), boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(backward_matches_formula) {
  // softmax: gx = y (g - sum(g y)); log_softmax: gx = g - softmax sum(g).
  const Tensor<double> in = Tensor<double>::from({3}, {0.5, -1.0, 2.0});
  const Tensor<double> seed = Tensor<double>::from({3}, {1.0, -2.0, 0.5});
  Tape<double> t1;
  Var<double> x1 = t1.input(in.ref(), true);
  Var<double> y = softmax(x1);
  t1.backward(y, seed.ref());
  double gy = 0;
  for (int i = 0; i < 3; ++i) gy += seed[i] * y.value()[i];
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(x1.grad()[i] == y.value()[i] * (seed[i] - gy), boost::test_tools::tolerance(1e-14));
  }
  Tape<double> t2;
  Var<double> x2 = t2.input(in.ref(), true);
  Var<double> ly = log_softmax(x2);
  t2.backward(ly, seed.ref());
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(x2.grad()[i] == seed[i] - y.value()[i] * (1.0 - 2.0 + 0.5),
               boost::test_tools::tolerance(1e-14));
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_over_axes) {
  struct Case {
    Shape shape;
    int axis;
  };
  const std::vector<Case> cases = {{{2, 3, 4}, 0},  {{2, 3, 4}, 1},  {{2, 3, 4}, 2},
                                   {{2, 3, 4}, -1}, {{2, 3, 4}, -2}, {{5}, 0},
                                   {{3, 1}, 1},     {{1, 4}, 0},     {{2, 1, 3}, -1}};
  std::uint64_t seed = 1;
  for (const Case& c : cases) {
    const int a = c.axis;
    const std::vector<Tensor<double>> in = {random_tensor(c.shape, seed++, -2.0, 2.0)};
    TAPELOOP_CHECK_GRADCHECK([a](auto&, const auto& x) { return softmax(x[0], a); }, in);
    TAPELOOP_CHECK_GRADCHECK([a](auto&, const auto& x) { return log_softmax(x[0], a); }, in);
  }
  // Default axis is the last.
  const std::vector<Tensor<double>> in = {random_tensor({3, 4}, 50)};
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return softmax(x[0]) * log_softmax(x[0]); },
                           in);
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  const std::vector<Tensor<double>> in = {random_tensor({3, 4, 5}, 60, -3.0, 3.0)};
  check_float_matches_double([](auto&, const auto& x) { return softmax(x[0]); }, in);
  check_float_matches_double([](auto&, const auto& x) { return softmax(x[0], 1); }, in);
  check_float_matches_double([](auto&, const auto& x) { return log_softmax(x[0]); }, in);
  check_float_matches_double([](auto&, const auto& x) { return log_softmax(x[0], 0); }, in);
}

BOOST_AUTO_TEST_CASE(errors_name_op_and_shapes) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3}).ref());
  Var<float> s = tape.input(Tensor<float>::from({}, {1}).ref());
  const std::size_t before = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(softmax(x, 2), ShapeError,
                               "softmax: axis 2 is out of range for rank 2 (input [2,3])");
  TAPELOOP_CHECK_THROW_MESSAGE(log_softmax(x, -3), ShapeError,
                               "log_softmax: axis -3 is out of range for rank 2 (input [2,3])");
  TAPELOOP_CHECK_THROW_MESSAGE(softmax(s), ShapeError,
                               "softmax: axis -1 is out of range for rank 0 (input [])");
  BOOST_TEST(tape.size() == before);
}

BOOST_AUTO_TEST_SUITE_END()
