// The lecture's toy recurrent net (7c): an RNN that reads two binary numbers one bit per time
// step, least significant bit first, and outputs the bits of their sum.
#pragma once

#include <array>
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

/// Random additions of two `bits`-bit numbers (uniform in [0, 2^bits), any number of bits: 64-bit
/// sums too), whose sum fits in bits + 1 bits. ValueError for bits or batch below 1.
AdditionBatch make_addition_batch(int bits, int batch, Generator& rng);

/// h_t = sigmoid(x_t W_xh + h_{t-1} W_hh + b_h), y_t = h_t W_hy + b_y (logits), h_{-1} = 0.
class BinaryAdditionRnn {
 public:
  BinaryAdditionRnn(int hidden, Generator& rng);

  /// Logits [T, B, 1] for inputs [T, B, 2].
  Var<float> forward(Tape<float>& tape, const Var<float>& inputs);
  /// The hidden states h_t [T, B, H] for inputs [T, B, 2].
  Var<float> hidden(Tape<float>& tape, const Var<float>& inputs);
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

/// Trains a new net with SGD + momentum and BPTT through all bits; calls `report` every
/// `report_every` steps and at the end. Returns the final progress.
BinaryAdditionProgress train_binary_addition(
    const BinaryAdditionConfig& config, int report_every,
    const std::function<void(const BinaryAdditionProgress&)>& report);

/// The same for a given net, drawing data from `rng` (config.seed and config.hidden unused).
BinaryAdditionProgress train_binary_addition(
    BinaryAdditionRnn& model, Generator& rng, const BinaryAdditionConfig& config, int report_every,
    const std::function<void(const BinaryAdditionProgress&)>& report);

/// The fraction of output bits right, and of sums with every bit right.
struct AdditionAccuracy {
  float bits;
  float sums;
};
/// The net's accuracy on `batch` (any number of bits: generalization past the training length).
AdditionAccuracy evaluate_addition(BinaryAdditionRnn& model, const AdditionBatch& batch);

/// The adding automaton's state after every step of every addition of `batch`, time-major
/// [T * B]: the sum bit it just wrote + 2 * the carry it keeps (4 states).
std::vector<int> adder_states(const AdditionBatch& batch);

/// What the hidden states learnt (lecture 7c-04): every h_t of `batch` clustered into 4 groups
/// by k-means (best of 8 seeded starts), next to the state of the adding automaton after step t
/// (the sum bit it wrote, and the carry it keeps: 4 states).
struct AdderStates {
  /// counts[cluster][state]: state = sum bit + 2 * carry.
  std::array<std::array<std::int64_t, 4>, 4> counts{};
  /// The fraction of hidden states in their cluster's majority automaton state (1: the
  /// clusters are the automaton's states).
  double purity = 0;
  std::vector<double> centres;  // [4, H]
  /// The mean hidden state of each automaton state [4, H], and the fraction of hidden states
  /// nearer their own state's mean than any other's (1: four distinct patterns of activity).
  std::vector<double> state_means;
  double separation = 0;
  /// The clusters' transitions, each cluster read as its majority automaton state:
  /// transitions[state][input] is the state the net moves to on input bits a + 2 b (-1: never
  /// seen), and transitions_match whether every one is the adding automaton's.
  std::array<std::array<int, 4>, 4> transitions{};
  bool transitions_match = false;
  std::int64_t hidden = 0;
};
AdderStates cluster_hidden_states(BinaryAdditionRnn& model, const AdditionBatch& batch,
                                  std::uint64_t seed = 1);

}  // namespace tapeloop::models
