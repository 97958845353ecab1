// The HMM's forward algorithm as a scan cell, sampling, and the HMM-versus-RNN experiment.
#include "tapeloop/models/hmm.hpp"

#include <cmath>

#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/recurrent.hpp"
#include "tapeloop/ops.hpp"
#include "tapeloop/optim.hpp"

namespace tapeloop::models {
namespace {

// One step of the forward algorithm: state {log alpha [B, K]}, x_t one-hot [B, V];
// weights {log A [K, K], log B^T [V, K]}.
struct ForwardStep {
  StepResult<double> operator()(std::span<const Var<double>> w, const State<double>& s,
                                const Var<double>& x) const {
    const Var<double>& alpha = s[0];
    const std::int64_t B = alpha.dim(0), K = alpha.dim(1);
    // [B, K, 1] + [K, K] -> [B, K(from), K(to)], summed (in log space) over "from".
    const Var<double> moved = logsumexp(reshape(alpha, Shape{B, K, 1}) + w[0], 1);
    return {State<double>{moved + matmul(x, w[1])}, {}};
  }
};

// Draws an index from the probabilities p[0..n).
std::int64_t draw(const double* p, std::int64_t n, Generator& rng) {
  double u = rng.uniform();
  for (std::int64_t i = 0; i + 1 < n; ++i) {
    if ((u -= p[i]) < 0) return i;
  }
  return n - 1;
}

// Rows of logits as probabilities.
Tensor<double> softmax_rows(const Tensor<double>& logits) {
  const std::int64_t rows = logits.shape().rank() == 1 ? 1 : logits.shape()[0];
  const std::int64_t n = logits.numel() / rows;
  Tensor<double> p(logits.shape());
  for (std::int64_t r = 0; r < rows; ++r) {
    double m = logits[r * n], z = 0;
    for (std::int64_t i = 1; i < n; ++i) m = std::max(m, logits[r * n + i]);
    for (std::int64_t i = 0; i < n; ++i) z += p[r * n + i] = std::exp(logits[r * n + i] - m);
    for (std::int64_t i = 0; i < n; ++i) p[r * n + i] /= z;
  }
  return p;
}

}  // namespace

Hmm::Hmm(std::int64_t states, std::int64_t symbols, Generator& rng, double spread)
    : initial(Tensor<double>::normal({states}, 0.0, spread, rng), "initial"),
      transition(Tensor<double>::normal({states, states}, 0.0, spread, rng), "transition"),
      emission(Tensor<double>::normal({states, symbols}, 0.0, spread, rng), "emission") {}

Var<double> Hmm::log_likelihood(Tape<double>& tape, const Var<double>& x) {
  const Var<double> log_pi = log_softmax(initial.var(tape), 0);
  const Var<double> log_a = log_softmax(transition.var(tape), 1);
  const Var<double> log_b_t = transpose(log_softmax(emission.var(tape), 1), 0, 1);  // [V, K]
  // alpha_1 = log pi + log B(., x_1); scan runs the steps after the first.
  const Var<double> alpha1 = log_pi + matmul(select(x, 0, 0), log_b_t);
  const std::int64_t T = x.dim(0);
  if (T == 1) return logsumexp(alpha1, 1);
  ScanOptions o;
  o.collect_outputs = false;
  const ScanResult<double> r =
      scan(tape, ForwardStep{}, narrow(x, 0, 1, T - 1), State<double>{alpha1}, {log_a, log_b_t}, o);
  return logsumexp(r.state[0], 1);
}

std::vector<std::int64_t> Hmm::sample(std::int64_t steps, std::int64_t batch,
                                      Generator& rng) const {
  const Tensor<double> pi = softmax_rows(initial.value()), a = softmax_rows(transition.value()),
                       b = softmax_rows(emission.value());
  const std::int64_t K = states(), V = symbols();
  std::vector<std::int64_t> out(static_cast<std::size_t>(steps * batch));
  for (std::int64_t n = 0; n < batch; ++n) {
    std::int64_t s = draw(pi.data(), K, rng);
    for (std::int64_t t = 0; t < steps; ++t) {
      if (t > 0) s = draw(a.data() + s * K, K, rng);
      out[static_cast<std::size_t>(t * batch + n)] = draw(b.data() + s * V, V, rng);
    }
  }
  return out;
}

Tensor<double> Hmm::transitions() const {
  return softmax_rows(transition.value());
}

Tensor<double> one_hot(const std::vector<std::int64_t>& symbols, std::int64_t steps,
                       std::int64_t batch, std::int64_t vocabulary) {
  Tensor<double> out = Tensor<double>::zeros({steps, batch, vocabulary});
  for (std::int64_t i = 0; i < steps * batch; ++i)
    out[i * vocabulary + symbols[static_cast<std::size_t>(i)]] = 1.0;
  return out;
}

HmmVersusRnnResult hmm_versus_rnn(const HmmVersusRnnConfig& c,
                                  const std::function<void(int, double, double)>& report) {
  Generator rng(c.seed);
  const std::int64_t K = c.states, V = c.symbols, T = c.steps;
  // The data: an HMM that stays in a state for a while (a strong diagonal) and emits
  // distinctly from each.
  Hmm truth(K, V, rng, 2.0);
  for (std::int64_t k = 0; k < K; ++k) truth.transition.value()[k * K + k] += 3.0;
  Hmm hmm(K, V, rng);
  RecurrentOptions ro;
  ro.input_size = V;
  ro.hidden_size = K;
  RecurrentLayer<double> rnn(RecurrentMode::rnn_tanh, ro, rng);
  Linear<double> readout(K, V, rng);
  std::vector<Parameter<double>*> rnn_params = rnn.parameters();
  for (Parameter<double>* p : readout.parameters()) rnn_params.push_back(p);
  Adam<double> hmm_opt({&hmm.initial, &hmm.transition, &hmm.emission}, {.lr = c.learning_rate});
  Adam<double> rnn_opt(rnn_params, {.lr = c.learning_rate});

  // Negative log-likelihood per symbol of each model on the sequences `x`.
  Tape<double> tape;
  auto hmm_nll = [&](Hmm& model, const Tensor<double>& x, std::int64_t batch) {
    return neg(sum(model.log_likelihood(tape, tape.constant(x.ref())))) /
           static_cast<double>(T * batch);
  };
  // The RNN predicts x_t from x_1..x_{t-1}: its input is the sequence shifted by one, a zero
  // vector first.
  auto rnn_nll = [&](const Tensor<double>& x, const std::vector<std::int64_t>& symbols,
                     std::int64_t batch) {
    const Var<double> xs = tape.constant(x.ref());
    const Var<double> shifted = concat({tape.zeros({1, batch, V}), narrow(xs, 0, 0, T - 1)}, 0);
    const Var<double> logits = readout.forward(rnn.forward(tape, shifted).output);
    return cross_entropy(reshape(logits, Shape{T * batch, V}), symbols);
  };
  const std::int64_t held = 256;
  const std::vector<std::int64_t> held_symbols = truth.sample(T, held, rng);
  const Tensor<double> held_x = one_hot(held_symbols, T, held, V);
  for (int step = 1; step <= c.train_steps; ++step) {
    const std::vector<std::int64_t> symbols = truth.sample(T, c.batch, rng);
    const Tensor<double> x = one_hot(symbols, T, c.batch, V);
    tape.clear();
    hmm_opt.zero_grad();
    tape.backward(hmm_nll(hmm, x, c.batch));
    hmm_opt.step();
    tape.clear();
    rnn_opt.zero_grad();
    tape.backward(rnn_nll(x, symbols, c.batch));
    rnn_opt.step();
    if (step % std::max(1, c.train_steps / 10) == 0 || step == c.train_steps) {
      tape.clear();
      auto no_grad = tape.no_grad();
      report(step, hmm_nll(hmm, held_x, held).item(), rnn_nll(held_x, held_symbols, held).item());
    }
  }
  HmmVersusRnnResult out;
  tape.clear();
  auto no_grad = tape.no_grad();
  out.true_model = hmm_nll(truth, held_x, held).item();
  out.hmm = hmm_nll(hmm, held_x, held).item();
  out.rnn = rnn_nll(held_x, held_symbols, held).item();
  std::vector<double> counts(static_cast<std::size_t>(V), 0.0);
  for (std::int64_t s : held_symbols) counts[static_cast<std::size_t>(s)] += 1;
  out.unigram = 0;
  for (double n : counts) {
    if (n > 0) out.unigram -= n * std::log(n / static_cast<double>(held_symbols.size()));
  }
  out.unigram /= static_cast<double>(held_symbols.size());
  out.true_transitions = truth.transitions();
  out.learned_transitions = hmm.transitions();
  return out;
}

}  // namespace tapeloop::models
