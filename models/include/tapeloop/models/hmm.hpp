// A hidden Markov model whose forward algorithm is a scan cell in log space, trained by gradient
// descent on the tape, next to an RNN on the same sequences (lecture 7a: HMMs and RNNs).
#pragma once

#include <cstdint>
#include <functional>

#include "tapeloop/parameter.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::models {

/// An HMM with K states over V symbols, as unnormalized log-probabilities (logits): the initial
/// state [K], the transitions [K, K] (row: from), the emissions [K, V]. log_softmax makes them
/// distributions, so any values are a valid model and gradient descent needs no constraints.
class Hmm {
 public:
  Hmm(std::int64_t states, std::int64_t symbols, Generator& rng, double spread = 0.5);

  /// log p(x_1..x_T) of each sequence of `one_hot` [T, B, V] by the forward algorithm,
  /// alpha_t = logsumexp over i of (alpha_{t-1}(i) + log A(i, j)) + log B(j, x_t), unrolled by
  /// scan: [B].
  Var<double> log_likelihood(Tape<double>& tape, const Var<double>& one_hot);
  /// Sequences drawn from the model: symbols [T * B], time-major.
  std::vector<std::int64_t> sample(std::int64_t steps, std::int64_t batch, Generator& rng) const;
  /// The transition probabilities [K, K].
  Tensor<double> transitions() const;

  std::int64_t states() const { return initial.shape()[0]; }
  std::int64_t symbols() const { return emission.shape()[1]; }

  Parameter<double> initial, transition, emission;
};

/// Symbols [T * B] (time-major) as one-hot vectors [T, B, V].
Tensor<double> one_hot(const std::vector<std::int64_t>& symbols, std::int64_t steps,
                       std::int64_t batch, std::int64_t vocabulary);

struct HmmVersusRnnConfig {
  std::int64_t states = 4, symbols = 6;
  std::int64_t steps = 50, batch = 32;  // training sequences per step, of `steps` symbols
  int train_steps = 600;
  double learning_rate = 0.05;
  std::uint64_t seed = 1;
};

/// Negative log-likelihood per symbol on held-out sequences, in nats.
struct HmmVersusRnnResult {
  double true_model;  // the HMM that generated the data: the best any model can do
  double hmm;         // an HMM of the same size, trained by gradient through its forward algorithm
  double rnn;         // a tanh RNN with as many hidden units as the HMM has states
  double unigram;     // symbol frequencies alone, no memory
  Tensor<double> true_transitions, learned_transitions;
};

/// Data from a sticky random HMM; both models trained with Adam for train_steps on fresh
/// sequences. `report(step, hmm_nll, rnn_nll)` at every tenth of the training.
HmmVersusRnnResult hmm_versus_rnn(const HmmVersusRnnConfig& config,
                                  const std::function<void(int, double, double)>& report);

}  // namespace tapeloop::models
