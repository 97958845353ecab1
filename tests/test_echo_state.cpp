// Echo state network (lecture 7d): the reservoir at its spectral radius, ridge regression against
// a closed form, and a sum of sinusoids predicted and generated with only the readout learned.
#include <cmath>

#include "support/check.hpp"
#include "tapeloop/models/echo_state.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

double wave(std::int64_t t) {
  return 0.5 * std::sin(0.2 * t) + 0.25 * std::sin(0.311 * t);
}

// Inputs wave(t) and targets wave(t + 1) for t in [first, first + steps): [steps, 1, 1] each.
void sequence(std::int64_t first, std::int64_t steps, Tensor<double>& in, Tensor<double>& out) {
  in = Tensor<double>({steps, 1, 1});
  out = Tensor<double>({steps, 1, 1});
  for (std::int64_t t = 0; t < steps; ++t) {
    in[t] = wave(first + t);
    out[t] = wave(first + t + 1);
  }
}

double rms(const Tensor<double>& a, const Tensor<double>& b) {
  double s = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / static_cast<double>(a.numel()));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_echo_state)

// The last state of `states` [T, 1, R] as [1, R].
Tensor<double> last_state(const Tensor<double>& states) {
  const std::int64_t T = states.shape()[0], R = states.shape()[2];
  return Tensor<double>::from(
      Shape{1, R}, std::vector<double>(states.data() + (T - 1) * R, states.data() + T * R));
}

BOOST_AUTO_TEST_CASE(the_reservoir_has_the_chosen_spectral_radius) {
  for (double radius : {0.5, 0.9, 1.2}) {
    EchoStateConfig c;
    c.spectral_radius = radius;
    c.reservoir = 100;
    EchoStateNetwork esn(1, 1, c);
    BOOST_TEST(esn.measured_spectral_radius() == radius, boost::test_tools::tolerance(0.01));
  }
  // A rotation by 90 degrees has eigenvalues +-i: radius 1 though no power of it converges.
  Generator rng(1);
  BOOST_TEST(spectral_radius(Tensor<double>::from({2, 2}, {0.0, -2.0, 2.0, 0.0}), rng) == 2.0,
             boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(ridge_regression_solves_the_normal_equations) {
  Generator rng(2);
  const Tensor<double> a = Tensor<double>::normal({40, 5}, 0.0, 1.0, rng);
  const Tensor<double> x = Tensor<double>::normal({5, 2}, 0.0, 1.0, rng);
  Tensor<double> b = Tensor<double>::zeros({40, 2});
  for (int i = 0; i < 40; ++i)
    for (int k = 0; k < 2; ++k)
      for (int j = 0; j < 5; ++j) b[i * 2 + k] += a[i * 5 + j] * x[j * 2 + k];
  const Tensor<double> exact = ridge_regression(a, b, 0.0);
  for (int i = 0; i < 10; ++i) BOOST_TEST(exact[i] == x[i], boost::test_tools::tolerance(1e-10));
  // With a penalty: (A^T A + 3 I) w = A^T b.
  const Tensor<double> w = ridge_regression(a, b, 3.0);
  for (int j = 0; j < 5; ++j) {
    for (int k = 0; k < 2; ++k) {
      double lhs = 3.0 * w[j * 2 + k], rhs = 0;
      for (int i = 0; i < 40; ++i) {
        double aw = 0;
        for (int p = 0; p < 5; ++p) aw += a[i * 5 + p] * w[p * 2 + k];
        lhs += a[i * 5 + j] * aw;
        rhs += a[i * 5 + j] * b[i * 2 + k];
      }
      BOOST_TEST(lhs == rhs, boost::test_tools::tolerance(1e-10));
    }
  }
  TAPELOOP_CHECK_THROW_MESSAGE(ridge_regression(Tensor<double>::zeros({3, 2}), b, 0.0), ValueError,
                               "ridge_regression: the normal equations are not positive definite");
}

BOOST_AUTO_TEST_CASE(a_sum_of_sinusoids_predicted_and_generated) {
  EchoStateConfig c;
  EchoStateNetwork esn(1, 1, c);
  Tensor<double> in, out;
  sequence(0, 1200, in, out);
  const Tensor<double> s = esn.states(in);
  esn.fit_ridge(s, out, 100);
  // One step ahead on a continuation never seen in training (the reservoir runs on).
  Tensor<double> next_in, next_out;
  sequence(1200, 300, next_in, next_out);
  const Tensor<double> start = last_state(s);
  const double one_step = rms(esn.readout(esn.states(next_in, &start)), next_out);
  // Generation: each prediction fed back as the next input, 300 steps.
  const Tensor<double> generated =
      esn.generate(start, Tensor<double>::from({1, 1}, {out[1199]}), 300);
  double generation = 0;
  for (std::int64_t t = 0; t < 300; ++t) generation += std::pow(generated[t] - wave(1201 + t), 2);
  generation = std::sqrt(generation / 300);
  BOOST_TEST_MESSAGE("sum of sinusoids (rms 0.40): one-step rms "
                     << one_step << ", 300 generated steps rms " << generation);
  BOOST_TEST(one_step < 0.02);
  BOOST_TEST(generation < 0.05);

  // The same readout by gradient descent, the reservoir frozen: its parameters stay as they
  // were and get no gradient.
  EchoStateNetwork trained(1, 1, c);
  const Tensor<double> w_res = trained.w_res.value();
  trained.fit_gradient(s, out, 100, 500, 0.01);
  for (std::int64_t i = 0; i < w_res.numel(); ++i) {
    BOOST_REQUIRE(trained.w_res.value()[i] == w_res[i]);
    BOOST_REQUIRE(trained.w_res.grad()[i] == 0.0);
  }
  const double gradient_one_step = rms(trained.readout(trained.states(next_in, &start)), next_out);
  BOOST_TEST_MESSAGE("gradient-trained readout: one-step rms " << gradient_one_step);
  BOOST_TEST(gradient_one_step < 0.05);
}

BOOST_AUTO_TEST_CASE(bad_settings_are_refused) {
  EchoStateConfig c;
  c.connectivity = 0.0;
  BOOST_CHECK_THROW(EchoStateNetwork(1, 1, c), ValueError);
  EchoStateNetwork esn(1, 1, EchoStateConfig{});
  Tensor<double> in, out;
  sequence(0, 10, in, out);
  TAPELOOP_CHECK_THROW_MESSAGE(esn.fit_ridge(esn.states(in), out, 10), ValueError,
                               "EchoStateNetwork: washout 10 leaves no step of 10");
}

BOOST_AUTO_TEST_SUITE_END()
