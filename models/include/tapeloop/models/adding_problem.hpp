// The adding problem (lecture 7d): a long-range dependency that an LSTM learns and a plain tanh
// RNN does not, and the identity-initialized ReLU RNN trained with momentum and clipping.
#pragma once

#include <cstdint>
#include <functional>

#include "tapeloop/random.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop::models {

/// A batch of the adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): inputs
/// [T, B, 2] hold a value ~ U(0, 1) and a marker per step, exactly two markers per sequence (one
/// in each half); targets [B, 1] the sum of the two marked values. Always answering 1 gives
/// a mean squared error of 1/6 ≈ 0.167: the baseline a model must beat.
struct AddingBatch {
  Tensor<float> inputs;
  Tensor<float> targets;
};

/// A batch of `batch` sequences of `steps` steps (steps >= 2; ValueError otherwise).
AddingBatch make_adding_batch(std::int64_t steps, std::int64_t batch, Generator& rng);

/// The mean squared error of always answering 1, the best constant: 1/6.
inline constexpr double adding_baseline_mse = 1.0 / 6.0;

/// The recurrent net under test; a linear readout of its last hidden state makes the answer.
enum class AddingNet {
  tanh_rnn,  // PyTorch's default initialization
  lstm,      // PyTorch's default initialization, forget-gate bias 1
  irnn,      // ReLU RNN, W_hh = I, zero biases, small input weights
};

/// How the net is trained.
enum class AddingOptimizer {
  automatic,     // Adam for the LSTM and the tanh RNN, SGD with momentum for the IRNN
  adam,          // Adam at learning_rate
  sgd_momentum,  // SGD at learning_rate with `momentum`, gradient norm clipped to `clip`
  hessian_free,  // HessianFree (Martens & Sutskever 2011), the settings below
};

struct AddingConfig {
  AddingNet net = AddingNet::lstm;
  AddingOptimizer optimizer = AddingOptimizer::automatic;
  std::int64_t sequence_length = 100;
  std::int64_t hidden = 32;
  std::int64_t batch = 32;
  int steps = 2000;             // optimizer steps
  double learning_rate = 0.01;  // Adam; the IRNN's SGD uses its own below
  /// The IRNN learns slowly and then suddenly: at T = 100 with these settings and batches of 16
  /// its held-out MSE leaves the baseline after ~50000 steps and is ~0.01 by 80000.
  double irnn_learning_rate = 0.001;
  double irnn_momentum = 0.9;
  double irnn_clip = 1.0;  // the gradient's norm is clipped to this
  /// AddingOptimizer::sgd_momentum (at learning_rate).
  double momentum = 0.9;
  double clip = 1.0;
  /// AddingOptimizer::hessian_free: each step draws `batch` sequences for the gradient and
  /// measures the curvature on the first `curvature_batch` of them; CG runs at most
  /// `max_cg_iterations`; `structural_damping` is mu (0: off), on every hidden state.
  std::int64_t curvature_batch = 100;
  int max_cg_iterations = 50;
  double structural_damping = 1.0 / 30.0;
  double initial_damping = 1.0;
  std::int64_t held_out = 512;
  std::uint64_t seed = 1;
};

struct AddingProgress {
  int step;
  float loss;              // the training batch's MSE
  float held_out_mse;      // on a fixed held-out batch
  double seconds;          // wall-clock time spent training so far (held-out evaluations excluded)
  std::int64_t sequences;  // training sequences drawn so far
};

/// Trains the net; calls `report` every `report_every` steps and at the end. Returns the final
/// progress. Throws ValueError for sizes below 1 (sequence_length below 2).
AddingProgress train_adding_problem(const AddingConfig& config, int report_every,
                                    const std::function<void(const AddingProgress&)>& report);

}  // namespace tapeloop::models
