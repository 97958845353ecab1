// The lecture's toy recurrent net (7c): an RNN that reads two binary numbers one bit per time
// step, least significant bit first, and outputs the bits of their sum.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "tapeloop/parameter.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::models {

/// Settings of the binary-addition experiment.
struct BinaryAdditionConfig {
  int hidden = 3;  // the lecture's net has 3 logistic hidden units
  int bits = 8;    // length of each number (the sum gets one bit more)
  int batch = 32;
  int steps = 3000;  // optimizer steps
  float learning_rate = 0.5f;
  float momentum = 0.9f;
  std::uint64_t seed = 1;
};

/// A batch of additions: inputs [T, B, 2] (bit t of a and of b), targets [T, B, 1] (bit t of
/// a + b), T = bits + 1 so the final carry is an output too.
struct AdditionBatch {
  Tensor<float> inputs;
  Tensor<float> targets;
};

/// Random additions of two `bits`-bit numbers whose sum fits in bits + 1 bits.
AdditionBatch make_addition_batch(int bits, int batch, Generator& rng);

/// h_t = sigmoid(x_t W_xh + h_{t-1} W_hh + b_h), y_t = h_t W_hy + b_y (logits), h_{-1} = 0.
class BinaryAdditionRnn {
 public:
  BinaryAdditionRnn(int hidden, Generator& rng);

  /// Logits [T, B, 1] for inputs [T, B, 2].
  Var<float> forward(Tape<float>& tape, const Var<float>& inputs);
  std::vector<Parameter<float>*> parameters();

 private:
  Parameter<float> w_xh_, w_hh_, b_h_, w_hy_, b_y_;
};

/// One progress report of train_binary_addition.
struct BinaryAdditionProgress {
  int step;
  float loss;          // mean binary cross-entropy per output bit
  float bit_accuracy;  // on a fixed held-out batch
  float sum_accuracy;  // fraction of held-out sums with every bit right
};

/// Trains the net with SGD + momentum and BPTT through all bits; calls `report` every
/// `report_every` steps and at the end. Returns the final progress.
BinaryAdditionProgress train_binary_addition(
    const BinaryAdditionConfig& config, int report_every,
    const std::function<void(const BinaryAdditionProgress&)>& report);

}  // namespace tapeloop::models
