// Demo 7a: an HMM, its forward algorithm a scan cell on the tape, trained by gradient descent next
// to an RNN with as many hidden units as the HMM has states, on sequences an HMM made.
#include <string>

#include "tapeloop/models/hmm.hpp"
#include "tapeloop/models/lecture.hpp"
#include "tapeloop/models/metrics_log.hpp"
#include "tapeloop/models/progress.hpp"

namespace tapeloop::models {
namespace {

std::vector<std::vector<std::string>> matrix_rows(const Tensor<double>& m) {
  std::vector<std::vector<std::string>> rows;
  const std::int64_t n = m.shape()[0];
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::string> row{"from " + std::to_string(i)};
    for (std::int64_t j = 0; j < n; ++j) row.push_back(format_number(m[i * n + j]));
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

void hmm_demo(Report& report, const DemoOptions& options) {
  HmmVersusRnnConfig c;
  if (options.full) c.train_steps = 3000;
  report.section("7a: a hidden Markov model next to an RNN",
                 "Sequences of " + std::to_string(c.steps) + " symbols (" +
                     std::to_string(c.symbols) + " kinds) from a random HMM of " +
                     std::to_string(c.states) +
                     " sticky states. An HMM of the same size, written as a scan cell whose state "
                     "is log alpha (the forward algorithm with logsumexp), is trained by gradient "
                     "descent on its log-likelihood — a user-defined model on the tape — next to a "
                     "tanh RNN with " +
                     std::to_string(c.states) +
                     " hidden units predicting each symbol from the ones before. Adam, " +
                     std::to_string(c.train_steps) + " steps.");
  Series hmm{"HMM", {}, {}, {}}, rnn{"RNN", {}, {}, {}};
  Progress progress("HMM and RNN", c.train_steps, "steps", "HMM nats");
  // The held-out nats per symbol of both models, at each tenth of the training.
  MetricsLog metrics((report.dir() / "hmm_versus_rnn_metrics.jsonl").string(),
                     {.format = MetricsFormat::jsonl});
  const HmmVersusRnnResult r = hmm_versus_rnn(c, [&](int step, double h, double n) {
    progress.update(step, h);
    metrics.log(step, {{"hmm_nll", h}, {"rnn_nll", n}});
    hmm.x.push_back(step);
    hmm.y.push_back(h);
    rnn.x.push_back(step);
    rnn.y.push_back(n);
  });
  progress.finish();
  Plot plot("Held-out negative log-likelihood", "optimizer step", "nats per symbol", {hmm, rnn});
  plot.reference_lines = {{"the HMM that made the data", r.true_model},
                          {"symbol frequencies only", r.unigram}};
  report.plot("hmm_versus_rnn", plot);
  report.table({"model", "nats per symbol (held out)"},
               {{"the true HMM", format_number(r.true_model)},
                {"trained HMM", format_number(r.hmm)},
                {"RNN", format_number(r.rnn)},
                {"symbol frequencies", format_number(r.unigram)}});
  report.paragraph(
      "What the HMM learnt: its transition probabilities (its states are numbered "
      "in its own order), next to the true ones. Both are sticky: the states persist, "
      "which is the memory both models use.");
  std::vector<std::string> header{"true"};
  for (std::int64_t j = 0; j < c.states; ++j) header.push_back("to " + std::to_string(j));
  report.table(header, matrix_rows(r.true_transitions));
  header[0] = "learnt";
  report.table(header, matrix_rows(r.learned_transitions));
  report.claim("the trained HMM comes within 0.03 nats of the true model (" +
                   format_number(r.hmm - r.true_model) + ")",
               r.hmm - r.true_model < 0.03);
  report.claim(
      "so does the RNN with as many hidden units (" + format_number(r.rnn - r.true_model) + ")",
      r.rnn - r.true_model < 0.03);
}

}  // namespace tapeloop::models
