// Exploding and vanishing gradients, measured (lecture 7d): how the gradient of a loss at the
// last step reaches each earlier hidden state of a tanh RNN and of an LSTM.
#pragma once

#include <cstdint>
#include <vector>

namespace tapeloop::models {

enum class FlowCell { tanh_rnn, lstm };

/// One measurement: a random input sequence through one recurrent layer, the loss a fixed random
/// projection of the last hidden state.
struct GradientFlowConfig {
  FlowCell cell = FlowCell::tanh_rnn;
  std::int64_t steps = 100;
  std::int64_t batch = 16;
  std::int64_t inputs = 8;
  std::int64_t hidden = 32;
  /// tanh RNN: W_hh = scale * an orthogonal matrix, so every singular value is `scale`: below
  /// 1 the backward pass shrinks the gradient at every step, above 1 it can grow it (until tanh
  /// saturates). LSTM: PyTorch's default weights.
  double recurrent_scale = 1.0;
  /// LSTM: the forget gate's bias. The memory cell passes its gradient back through
  /// f = sigmoid(bias + ...) at every step: at 1 it keeps ~0.73 of it per step, at 5 ~0.99.
  double forget_bias = 1.0;
  /// The input weights' scale: small inputs keep tanh in its linear range, where the
  /// recurrent weights alone decide the gradient's fate.
  double input_scale = 0.1;
  std::uint64_t seed = 1;
};

/// ‖dLoss/dh_t‖ (Frobenius norm over the batch) for every step, ordered by distance from the
/// loss: element k is the step steps - 1 - k. Computed in double by one backward pass over the
/// unrolled layer. Throws ValueError for sizes below 1.
std::vector<double> gradient_norms(const GradientFlowConfig& config);

}  // namespace tapeloop::models
