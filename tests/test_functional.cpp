// jvp, vjp and hvp of a function of tensors (torch.autograd.functional's forms) against closed
// forms, and their errors.
#include <cmath>

#include "support/check.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

BOOST_AUTO_TEST_SUITE(test_functional)

// f(x, w) = tanh(x w) elementwise: J v = (1 - y^2)(vx w + x vw), u^T J = u (1 - y^2) (w, x).
BOOST_AUTO_TEST_CASE(jvp_and_vjp_are_the_closed_forms) {
  const TensorFunction<double> f = [](Tape<double>&, const std::vector<Var<double>>& in) {
    return tanh(in[0] * in[1]);
  };
  const std::vector<Tensor<double>> x{random_tensor({2, 3}, 1), random_tensor({2, 3}, 2)};
  const std::vector<Tensor<double>> v{random_tensor({2, 3}, 3), random_tensor({2, 3}, 4)};
  const Tensor<double> u = random_tensor({2, 3}, 5);
  const JvpResult<double> j = jvp(f, x, v);
  const VjpResult<double> r = vjp(f, x, u);
  BOOST_TEST(r.vjp.size() == 2u);
  for (std::int64_t i = 0; i < 6; ++i) {
    const double y = std::tanh(x[0][i] * x[1][i]), d = 1 - y * y;
    BOOST_TEST(j.output[i] == y, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(r.output[i] == y, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(j.jvp[i] == d * (v[0][i] * x[1][i] + x[0][i] * v[1][i]),
               boost::test_tools::tolerance(1e-14));
    BOOST_TEST(r.vjp[0][i] == u[i] * d * x[1][i], boost::test_tools::tolerance(1e-14));
    BOOST_TEST(r.vjp[1][i] == u[i] * d * x[0][i], boost::test_tools::tolerance(1e-14));
  }
}

// f(x) = sum(x^3) + sum(x) * sum(x): H v = 6 x v + 2 sum(v) 1.
BOOST_AUTO_TEST_CASE(hvp_is_the_closed_form_in_float_and_double) {
  auto run = [](auto zero) {
    using T = decltype(zero);
    const TensorFunction<T> f = [](Tape<T>&, const std::vector<Var<T>>& in) {
      return sum(in[0] * in[0] * in[0]) + sum(in[0]) * sum(in[0]);
    };
    const Tensor<T> x = testing::cast<T>(random_tensor({4}, 6));
    const Tensor<T> v = testing::cast<T>(random_tensor({4}, 7));
    const HvpResult<T> h = hvp(f, {x}, {v});
    T vs = 0, xs = 0, cubes = 0;
    for (std::int64_t i = 0; i < 4; ++i) {
      vs += v[i];
      xs += x[i];
      cubes += x[i] * x[i] * x[i];
    }
    BOOST_TEST(h.output == cubes + xs * xs, boost::test_tools::tolerance(T(1e-5)));
    for (std::int64_t i = 0; i < 4; ++i) {
      BOOST_TEST(h.hvp[0][i] == 6 * x[i] * v[i] + 2 * vs, boost::test_tools::tolerance(T(1e-5)));
    }
  };
  run(0.0);
  run(0.0f);
}

BOOST_AUTO_TEST_CASE(a_function_of_constants_has_zero_products) {
  const TensorFunction<double> f = [](Tape<double>& tape, const std::vector<Var<double>>&) {
    return sum(tape.constant(Tensor<double>::from({2}, {1.0, 2.0}).ref()));
  };
  const std::vector<Tensor<double>> x{random_tensor({3}, 8)};
  BOOST_TEST(jvp(f, x, x).jvp[0] == 0.0);
  BOOST_TEST(vjp(f, x, Tensor<double>::from(Shape{}, {1.0})).vjp[0][2] == 0.0);
  BOOST_TEST(hvp(f, x, x).hvp[0][1] == 0.0);
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_named) {
  const TensorFunction<double> f = [](Tape<double>&, const std::vector<Var<double>>& in) {
    return in[0] * 2.0;
  };
  const std::vector<Tensor<double>> x{random_tensor({2, 3}, 9)};
  TAPELOOP_CHECK_THROW_MESSAGE(jvp(f, x, {}), ValueError, "jvp: 1 inputs but 0 directions");
  TAPELOOP_CHECK_THROW_MESSAGE(hvp(f, x, {random_tensor({3, 2}, 1)}), ShapeError,
                               "hvp: direction 0 of shape [3,2] for an input of shape [2,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(hvp(f, x, x), ShapeError,
                               "hvp: the function's output has shape [2,3]: expected one value");
  TAPELOOP_CHECK_THROW_MESSAGE(vjp(f, x, random_tensor({3}, 1)), ShapeError,
                               "vjp: u of shape [3] for an output of shape [2,3]");
  const TensorFunction<double> empty = [](Tape<double>&, const std::vector<Var<double>>&) {
    return Var<double>{};
  };
  TAPELOOP_CHECK_THROW_MESSAGE(jvp(empty, x, x), ValueError, "must return a Var recorded");
}

BOOST_AUTO_TEST_SUITE_END()
