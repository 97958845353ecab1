// GradientAccumulator: micro-batch gradients summed as wholes, in order, then divided by the
// term count — the gradient of the mean over every micro-batch's terms.
#include <cstring>

#include "support/check.hpp"

using namespace tapeloop;

BOOST_AUTO_TEST_SUITE(test_gradient_accumulator)

BOOST_AUTO_TEST_CASE(sums_in_order_then_divides) {
  Parameter<double> w(Tensor<double>::from({2}, {0.5, -1.5}), "w");
  Parameter<double> frozen(Tensor<double>::from({1}, {3.0}), "frozen");
  frozen.set_requires_grad(false);
  GradientAccumulator<double> acc({&w, &frozen});
  // Micro-batch k: loss = sum over its terms of x_k * w (so its gradient is sum of x_k).
  const double xs[3][2] = {{1e16, 1.0}, {1.0, 2.0}, {-1e16, 4.0}};
  Tape<double> tape;
  for (const auto& x : xs) {
    tape.clear();
    Var<double> xv = tape.constant(Tensor<double>::from({2}, {x[0], x[1]}));
    tape.backward(sum(mul(xv, w.var(tape))));
    acc.add();
    BOOST_TEST(w.grad().data()[0] == 0.0);  // moved into the sums
  }
  BOOST_TEST(acc.added() == 3);
  acc.finish(4);
  // ((1e16 + 1) + -1e16) = 0 in double: the order is kept, the total not reassociated.
  BOOST_TEST(w.grad().data()[0] == ((1e16 + 1.0) + -1e16) / 4);
  BOOST_TEST(w.grad().data()[1] == 7.0 / 4);
  BOOST_TEST(frozen.grad().data()[0] == 0.0);
  BOOST_TEST(acc.added() == 0);
}

BOOST_AUTO_TEST_CASE(equals_one_backward_over_everything_for_a_float_model) {
  Parameter<float> w(Tensor<float>::from({3}, {0.25f, -0.5f, 2.0f}), "w");
  GradientAccumulator<float> acc({&w});
  Tape<float> tape;
  const float data[2][3] = {{1, 2, 3}, {-4, 5, 0.5f}};
  for (const auto& x : data) {
    tape.clear();
    Var<float> xv = tape.constant(Tensor<float>::from({3}, {x[0], x[1], x[2]}));
    tape.backward(sum(mul(mul(xv, w.var(tape)), w.var(tape))));
    acc.add();
  }
  acc.finish(6);
  for (int i = 0; i < 3; ++i) {
    const float expected =
        (2 * data[0][i] * w.value().data()[i] + 2 * data[1][i] * w.value().data()[i]) / 6;
    BOOST_TEST(w.grad().data()[i] == expected, boost::test_tools::tolerance(1e-6f));
  }
}

BOOST_AUTO_TEST_CASE(misuse_is_named) {
  Parameter<float> w(Tensor<float>::zeros({2}), "w");
  GradientAccumulator<float> acc({&w});
  TAPELOOP_CHECK_THROW_MESSAGE(acc.finish(3), ValueError, "no micro-batch was added");
  acc.add();
  TAPELOOP_CHECK_THROW_MESSAGE(acc.finish(0), ValueError, "count must be at least 1, got 0");
  TAPELOOP_CHECK_THROW_MESSAGE(GradientAccumulator<float>({nullptr}), ValueError,
                               "a parameter is null");
}

BOOST_AUTO_TEST_SUITE_END()
