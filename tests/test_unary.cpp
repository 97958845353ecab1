// Elementwise math: values, derivatives at kinks, large inputs, gradcheck, float, errors.
#include "support/check.hpp"
#include "tapeloop/ops/unary.hpp"

#include <cmath>
#include <limits>

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

// Random values in [-1, 1] pushed at least `gap` away from `point`, so finite differences of
// eps = 1e-6 never straddle a kink (relu and abs at 0, clamp at its bounds).
Tensor<double> away_from(const Shape& shape, std::uint64_t seed, double point, double gap = 0.05) {
  Tensor<double> x = random_tensor(shape, seed);
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] += x[i] >= point ? gap : -gap;
  return x;
}

// Runs fn on a double leaf with values `in`, backpropagates ones, returns (value, gradient).
template <class Fn>
std::pair<Tensor<double>, Tensor<double>> value_and_grad(Fn fn, const Tensor<double>& in) {
  Tape<double> tape;
  Var<double> x = tape.input(in.ref(), true);
  Var<double> y = fn(x);
  tape.backward(y, Tensor<double>::ones(y.shape()).ref());
  return {y.to_tensor(), Tensor<double>::from(TensorRef<const double>(x.grad()))};
}

const std::vector<Shape> shapes = {{}, {5}, {2, 3}, {2, 1, 3}};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_unary)

BOOST_AUTO_TEST_CASE(values_match_std) {
  const Tensor<double> in = Tensor<double>::from({6}, {0.25, 0.5, 1.0, 1.5, 2.0, 3.0});
  Tape<double> tape;
  Var<double> x = tape.input(in.ref());
  Var<double> ex = exp(x), lg = log(x), sq = sqrt(x), th = tanh(x), p = pow(x, 2.5);
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST(ex.value()[i] == std::exp(in[i]), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(lg.value()[i] == std::log(in[i]), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(sq.value()[i] == std::sqrt(in[i]), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(th.value()[i] == std::tanh(in[i]), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(p.value()[i] == std::pow(in[i], 2.5), boost::test_tools::tolerance(1e-15));
  }
  const Tensor<double> signed_in = Tensor<double>::from({5}, {-2.0, -0.5, 0.0, 0.5, 2.0});
  Var<double> s = tape.input(signed_in.ref());
  Var<double> ab = abs(s), re = relu(s), cl = clamp(s, -1.0, 1.0), sg = sigmoid(s);
  const double abs_ref[] = {2.0, 0.5, 0.0, 0.5, 2.0};
  const double relu_ref[] = {0.0, 0.0, 0.0, 0.5, 2.0};
  const double clamp_ref[] = {-1.0, -0.5, 0.0, 0.5, 1.0};
  for (int i = 0; i < 5; ++i) {
    BOOST_TEST(ab.value()[i] == abs_ref[i]);
    BOOST_TEST(re.value()[i] == relu_ref[i]);
    BOOST_TEST(cl.value()[i] == clamp_ref[i]);
    BOOST_TEST(sg.value()[i] == 1.0 / (1.0 + std::exp(-signed_in[i])),
               boost::test_tools::tolerance(1e-15));
  }
}

BOOST_AUTO_TEST_CASE(log1p_expm1_sin_cos_are_the_c_library_functions) {
  // Small arguments, where log(1 + x) and exp(x) - 1 lose every digit, and large ones.
  const Tensor<double> in = Tensor<double>::from({6}, {-0.75, -1e-10, 1e-300, 1e-8, 0.5, 30.0});
  Tape<double> tape;
  Var<double> x = tape.input(in.ref());
  Var<double> l = log1p(x), e = expm1(x), s = sin(x), c = cos(x);
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST(l.value()[i] == std::log1p(in[i]));
    BOOST_TEST(e.value()[i] == std::expm1(in[i]));
    BOOST_TEST(s.value()[i] == std::sin(in[i]));
    BOOST_TEST(c.value()[i] == std::cos(in[i]));
  }
  BOOST_TEST(l.value()[3] == 9.999999950000000333e-09, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(e.value()[3] == 1.0000000050000000167e-08, boost::test_tools::tolerance(1e-15));
  // Derivatives in closed form: 1/(1+x), e^x, cos x, -sin x.
  const auto [ly, lg] = value_and_grad([](auto v) { return log1p(v); }, in);
  const auto [ey, eg] = value_and_grad([](auto v) { return expm1(v); }, in);
  const auto [sy, sg] = value_and_grad([](auto v) { return sin(v); }, in);
  const auto [cy, cg] = value_and_grad([](auto v) { return cos(v); }, in);
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST(lg[i] == 1.0 / (1.0 + in[i]), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(eg[i] == std::exp(in[i]), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(sg[i] == std::cos(in[i]));
    BOOST_TEST(cg[i] == -std::sin(in[i]));
  }
  // At the edge of log1p's domain: -inf, and NaN below, as std::log1p and PyTorch.
  const Tensor<double> edge = Tensor<double>::from({2}, {-1.0, -2.0});
  Var<double> le = log1p(tape.input(edge.ref()));
  BOOST_TEST(le.value()[0] == -std::numeric_limits<double>::infinity());
  BOOST_TEST(std::isnan(le.value()[1]));
}

BOOST_AUTO_TEST_CASE(derivatives_at_kinks_follow_pytorch) {
  const Tensor<double> in = Tensor<double>::from({5}, {-2.0, -1.0, 0.0, 1.0, 2.0});
  // relu and abs: derivative 0 at 0.
  const auto [relu_y, relu_g] = value_and_grad([](auto x) { return relu(x); }, in);
  const double relu_ref[] = {0, 0, 0, 1, 1};
  for (int i = 0; i < 5; ++i) BOOST_TEST(relu_g[i] == relu_ref[i]);
  const auto [abs_y, abs_g] = value_and_grad([](auto x) { return abs(x); }, in);
  const double abs_ref[] = {-1, -1, 0, 1, 1};
  for (int i = 0; i < 5; ++i) BOOST_TEST(abs_g[i] == abs_ref[i]);
  // clamp: derivative 1 on the closed interval [low, high], bounds included.
  const auto [clamp_y, clamp_g] = value_and_grad([](auto x) { return clamp(x, -1.0, 1.0); }, in);
  const double clamp_ref[] = {0, 1, 1, 1, 0};
  for (int i = 0; i < 5; ++i) BOOST_TEST(clamp_g[i] == clamp_ref[i]);
  // pow with exponent 0: derivative exactly 0, also at x = 0 (not 0 * inf).
  const auto [p0_y, p0_g] = value_and_grad([](auto x) { return pow(x, 0.0); }, in);
  for (int i = 0; i < 5; ++i) {
    BOOST_TEST(p0_y[i] == 1.0);
    BOOST_TEST(p0_g[i] == 0.0);
  }
  // pow with exponent 1 and 2 at 0: derivatives 1 and 0.
  const auto [p1_y, p1_g] = value_and_grad([](auto x) { return pow(x, 1.0); }, in);
  const auto [p2_y, p2_g] = value_and_grad([](auto x) { return pow(x, 2.0); }, in);
  BOOST_TEST(p1_g[2] == 1.0);
  BOOST_TEST(p2_g[2] == 0.0);
  BOOST_TEST(p2_g[0] == -4.0);
}

BOOST_AUTO_TEST_CASE(sigmoid_is_finite_and_exact_for_large_inputs) {
  const Tensor<double> in =
      Tensor<double>::from({6}, {-1000.0, -100.0, -40.0, 40.0, 100.0, 1000.0});
  const auto [y, g] = value_and_grad([](auto x) { return sigmoid(x); }, in);
  BOOST_TEST(y[0] == 0.0);
  BOOST_TEST(y[1] == 3.720075976020836e-44, boost::test_tools::tolerance(1e-13));  // e^-100
  BOOST_TEST(y[2] == 4.248354255291589e-18, boost::test_tools::tolerance(1e-13));  // e^-40
  BOOST_TEST(y[3] == 1.0);
  BOOST_TEST(y[4] == 1.0);
  BOOST_TEST(y[5] == 1.0);
  for (int i = 0; i < 6; ++i) {
    BOOST_TEST(std::isfinite(g[i]));
    BOOST_TEST(g[i] >= 0.0);
    BOOST_TEST(g[i] < 1e-17);
  }
  // Float: the same, with no NaN and no overflow.
  Tape<float> tape;
  const Tensor<float> fin = Tensor<float>::from({4}, {-1000.0f, -100.0f, 100.0f, 1000.0f});
  Var<float> x = tape.input(fin.ref(), true);
  Var<float> s = sigmoid(x);
  tape.backward(s, Tensor<float>::ones(s.shape()).ref());
  const float ref[] = {0.0f, 0.0f, 1.0f, 1.0f};
  for (int i = 0; i < 4; ++i) {
    BOOST_TEST(std::abs(s.value()[i] - ref[i]) <= 1e-40f);  // sigmoid(-100) is e^-100, subnormal
    BOOST_TEST(std::isfinite(x.grad()[i]));
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_smooth_ops) {
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    const std::uint64_t seed = 10 + k;
    const std::vector<Tensor<double>> wide = {random_tensor(shapes[k], seed, -2.0, 2.0)};
    const std::vector<Tensor<double>> positive = {random_tensor(shapes[k], seed, 0.5, 2.0)};
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return exp(x[0]); }, wide);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return tanh(x[0]); }, wide);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return sigmoid(x[0]); }, wide);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return log(x[0]); }, positive);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return sqrt(x[0]); }, positive);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return log1p(x[0]); }, positive);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return expm1(x[0]); }, wide);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return sin(x[0]); }, wide);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return cos(x[0]); }, wide);
    for (double e : {2.0, 3.0, 0.5, -1.5, 0.0}) {
      TAPELOOP_CHECK_GRADCHECK([e](auto&, const auto& x) { return pow(x[0], e); }, positive);
    }
    // Integer exponents are defined for negative bases.
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return pow(x[0], 3.0); }, wide);
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_piecewise_ops_away_from_kinks) {
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    const std::vector<Tensor<double>> around_zero = {away_from(shapes[k], 20 + k, 0.0)};
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return relu(x[0]); }, around_zero);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return abs(x[0]); }, around_zero);
    // Bounds at +-0.5: push values away from both.
    Tensor<double> c = away_from(shapes[k], 30 + k, 0.5);
    for (std::int64_t i = 0; i < c.numel(); ++i) {
      if (std::abs(c[i] + 0.5) < 0.05) c[i] += 0.1;
    }
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return clamp(x[0], -0.5, 0.5); },
                             std::vector<Tensor<double>>{c});
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_composition_reuses_outputs_correctly) {
  // The same Var feeding several ops: each backward must add, not assign.
  const std::vector<Tensor<double>> in = {random_tensor({3, 4}, 40, 0.5, 1.5)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        return exp(x[0]) * sigmoid(x[0]) + tanh(log(x[0])) - sqrt(pow(x[0], 3.0));
      },
      in);
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  const std::vector<Tensor<double>> wide = {random_tensor({4, 3}, 50, -2.0, 2.0)};
  const std::vector<Tensor<double>> positive = {random_tensor({4, 3}, 51, 0.5, 2.0)};
  const std::vector<Tensor<double>> kinks = {away_from({4, 3}, 52, 0.0)};
  check_float_matches_double([](auto&, const auto& x) { return exp(x[0]); }, wide);
  check_float_matches_double([](auto&, const auto& x) { return tanh(x[0]); }, wide);
  check_float_matches_double([](auto&, const auto& x) { return sigmoid(x[0]); }, wide);
  check_float_matches_double([](auto&, const auto& x) { return log(x[0]); }, positive);
  check_float_matches_double([](auto&, const auto& x) { return sqrt(x[0]); }, positive);
  check_float_matches_double([](auto&, const auto& x) { return log1p(x[0]); }, positive);
  check_float_matches_double([](auto&, const auto& x) { return expm1(x[0]); }, wide);
  check_float_matches_double([](auto&, const auto& x) { return sin(x[0]); }, wide);
  check_float_matches_double([](auto&, const auto& x) { return cos(x[0]); }, wide);
  check_float_matches_double([](auto&, const auto& x) { return pow(x[0], -1.5); }, positive);
  check_float_matches_double([](auto&, const auto& x) { return relu(x[0]); }, kinks);
  check_float_matches_double([](auto&, const auto& x) { return abs(x[0]); }, kinks);
  check_float_matches_double([](auto&, const auto& x) { return clamp(x[0], -0.5, 0.5); },
                             std::vector<Tensor<double>>{away_from({4, 3}, 53, 0.5)});
}

BOOST_AUTO_TEST_CASE(clamp_with_low_above_high_throws_and_records_nothing) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3}).ref());
  const std::size_t before = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(clamp(x, 1.0, -1.0), ValueError,
                               "clamp: [2,3]: low 1 is not <= high -1");
  BOOST_TEST(tape.size() == before);
  // low == high is allowed: a constant.
  Var<float> c = clamp(x, 0.5, 0.5);
  BOOST_TEST(c.value()[0] == 0.5f);
}

BOOST_AUTO_TEST_SUITE_END()
