// An echo state network (lecture 7d): a fixed random recurrent reservoir whose spectral radius is
// chosen, fixed input weights, and only a linear readout learned — in closed form (ridge
// regression) or by gradient descent with the reservoir's parameters frozen.
#pragma once

#include <cstdint>
#include <vector>

#include "tapeloop/parameter.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop::models {

struct EchoStateConfig {
  std::int64_t reservoir = 200;
  /// The largest |eigenvalue| W_res is scaled to: below 1 the echo of an input fades.
  double spectral_radius = 0.9;
  /// Each reservoir unit connects to this fraction of the others (sparse, as in Jaeger's).
  double connectivity = 0.1;
  double input_scale = 0.5;
  /// Ridge regression's penalty on the readout's weights.
  double ridge = 1e-6;
  std::uint64_t seed = 1;
};

/// h_t = tanh(x_t W_in + h_{t-1} W_res + b), y_t = [h_t, 1] W_out. W_in, W_res and b are
/// Parameters with requires_grad off: only W_out learns.
class EchoStateNetwork {
 public:
  /// Throws ValueError for sizes below 1, a spectral radius or input scale below 0, or a
  /// connectivity outside (0, 1].
  EchoStateNetwork(std::int64_t inputs, std::int64_t outputs, const EchoStateConfig& config);

  /// The reservoir's states [T, B, R] for inputs [T, B, I], from h = 0 (or from `start` [B, R]).
  Tensor<double> states(const Tensor<double>& inputs, const Tensor<double>* start = nullptr);

  /// Fits W_out in closed form to targets [T, B, O] from `states` [T, B, R], ignoring the first
  /// `washout` steps (the reservoir forgetting its zero start): ridge regression.
  void fit_ridge(const Tensor<double>& states, const Tensor<double>& targets, std::int64_t washout);

  /// Fits W_out by gradient descent (Adam, full batch) on the same mean squared error, the
  /// reservoir's parameters frozen on the tape; returns the final training MSE.
  double fit_gradient(const Tensor<double>& states, const Tensor<double>& targets,
                      std::int64_t washout, int steps, double learning_rate);

  /// The readout of states [T, B, R]: [T, B, O].
  Tensor<double> readout(const Tensor<double>& states) const;

  /// Generation: from the reservoir state `start` [1, R] and the last output `last` [1, O] (with
  /// inputs = outputs, one-step prediction), feeds each prediction back as the next input
  /// for `steps` steps; returns [steps, 1, O].
  Tensor<double> generate(const Tensor<double>& start, const Tensor<double>& last,
                          std::int64_t steps);

  /// The spectral radius of W_res, estimated by power iteration (for tests and reports).
  double measured_spectral_radius() const;

  Parameter<double> w_in, w_res, bias, w_out;  // w_out: [R + 1, O], the last row the bias

 private:
  double ridge_;
};

/// The largest |eigenvalue| of a square matrix [n, n] (row-major), from the growth rate of
/// repeated products with a random vector: correct for complex eigenvalue pairs too.
double spectral_radius(const Tensor<double>& square, Generator& rng);

/// The solution of (A^T A + ridge I) w = A^T b for A [m, n], b [m, k] by Cholesky
/// factorization in double: [n, k]. Throws ValueError if the system is not positive definite.
Tensor<double> ridge_regression(const Tensor<double>& a, const Tensor<double>& b, double ridge);

}  // namespace tapeloop::models
