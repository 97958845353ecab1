// Elementwise arithmetic: values, broadcasting, gradients in double, float agreement, errors.
#include "support/check.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

BOOST_AUTO_TEST_SUITE(test_arithmetic)

BOOST_AUTO_TEST_CASE(add_broadcasts_like_numpy) {
  Tape<float> tape;
  Tensor<float> a = Tensor<float>::from({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor<float> b = Tensor<float>::from({3}, {10, 20, 30});
  Var<float> y = tape.input(a.ref()) + tape.input(b.ref());
  BOOST_TEST(y.shape() == (Shape{2, 3}));
  const float expected[] = {11, 22, 33, 14, 25, 36};
  for (int i = 0; i < 6; ++i) BOOST_TEST(y.value()[i] == expected[i]);
}

BOOST_AUTO_TEST_CASE(broadcast_backward_sums_to_input_shape) {
  Tape<double> tape;
  Tensor<double> a = Tensor<double>::ones({2, 3});
  Tensor<double> b = Tensor<double>::from({3, 1, 1}, {1, 2, 3});
  Var<double> x = tape.input(a.ref(), true);
  Var<double> z = tape.input(b.ref(), true);
  Var<double> y = x * z;  // [3,2,3]
  BOOST_TEST(y.shape() == (Shape{3, 2, 3}));
  tape.backward(y, Tensor<double>::ones(y.shape()).ref());
  for (int i = 0; i < 6; ++i) BOOST_TEST(x.grad()[i] == 6.0);  // 1 + 2 + 3
  for (int i = 0; i < 3; ++i) BOOST_TEST(z.grad()[i] == 6.0);  // six ones each
}

BOOST_AUTO_TEST_CASE(gradcheck_binary_ops_with_broadcasting) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3}, {2, 3}}, {{2, 3}, {3}}, {{4, 1, 3}, {2, 1}}, {{}, {2, 2}}, {{3, 1}, {1, 4}}};
  for (const auto& [sa, sb] : shapes) {
    std::vector<Tensor<double>> in = {random_tensor(sa, 1), random_tensor(sb, 2, 0.5, 2.0)};
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return x[0] + x[1]; }, in);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return x[0] - x[1]; }, in);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return x[0] * x[1]; }, in);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return x[0] / x[1]; }, in);
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_same_var_twice) {
  std::vector<Tensor<double>> in = {random_tensor({3, 2}, 3)};
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return x[0] * x[0] - x[0] / (x[0] + 3.0); },
                           in);
}

BOOST_AUTO_TEST_CASE(gradcheck_scalar_forms) {
  std::vector<Tensor<double>> in = {random_tensor({2, 3}, 4, 0.5, 1.5)};
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return -(2.0 * x[0] + 1.0) / 3.0; }, in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return 1.0 - 2.0 / x[0]; }, in);
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  std::vector<Tensor<double>> in = {random_tensor({4, 3}, 5), random_tensor({3}, 6, 0.5, 2.0)};
  tapeloop::testing::check_float_matches_double(
      [](auto&, const auto& x) {
        return (x[0] * x[1] - x[1]) / x[1] + (-x[0]) * 0.5 + (1.0 - x[0]);
      },
      in);
}

BOOST_AUTO_TEST_CASE(mismatched_shapes_name_op_and_shapes) {
  Tape<float> tape;
  Var<float> a = tape.input(Tensor<float>::zeros({2, 3}).ref());
  Var<float> b = tape.input(Tensor<float>::zeros({4}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(a * b, ShapeError, "mul: [2,3] and [4]: cannot broadcast");
}

BOOST_AUTO_TEST_SUITE_END()
