// Demo 7d: the adding problem at T = 100 for an LSTM, a tanh RNN and an identity-initialized
// ReLU RNN, against the constant baseline.
#include <string>

#include "tapeloop/models/adding_problem.hpp"
#include "tapeloop/models/lecture.hpp"
#include "tapeloop/models/metrics_log.hpp"
#include "tapeloop/models/progress.hpp"

namespace tapeloop::models {

void adding_problem_demo(Report& report, const DemoOptions& options) {
  const std::int64_t T = 100;
  const int steps = options.full ? 6000 : 2000;
  report.section("7d: a long-range task, the adding problem",
                 "Each sequence has " + std::to_string(T) +
                     " steps of (value, marker); two values are marked, one in each half, and "
                     "the net must output their sum at the end. Always answering 1 scores a mean "
                     "squared error of 1/6: the baseline. 32 hidden units, batches of 32, " +
                     std::to_string(steps) +
                     " steps; Adam (lr 0.01) for the LSTM and tanh RNN, "
                     "SGD with momentum 0.9 and gradient clipping for the IRNN (Le et al., 2015).");
  struct Net {
    const char* label;
    const char* stem;  // of its metrics file
    AddingNet net;
  };
  const Net nets[] = {{"LSTM", "adding_problem_lstm", AddingNet::lstm},
                      {"tanh RNN", "adding_problem_tanh_rnn", AddingNet::tanh_rnn}};
  Plot plot("Adding problem, T = " + std::to_string(T), "optimizer step", "held-out MSE");
  plot.log_y = true;
  plot.reference_lines.push_back({"baseline 1/6", adding_baseline_mse});
  std::vector<std::vector<std::string>> rows;
  std::vector<float> final_mse;
  auto train = [&](const std::string& label, const std::string& stem, AddingConfig c,
                   int report_every, Plot& into) {
    Series s{label, {}, {}, {}};
    Progress progress("adding, " + label, c.steps);
    // Written at each report (every report_every steps, and the last): at most 120 lines a net.
    MetricsLog metrics((report.dir() / (stem + "_metrics.jsonl")).string(),
                       {.format = MetricsFormat::jsonl});
    const AddingProgress last = train_adding_problem(c, report_every, [&](const AddingProgress& p) {
      progress.update(p.step, p.loss);
      metrics.log(p.step, {{"loss", p.loss}, {"held_out_mse", p.held_out_mse}});
      s.x.push_back(p.step);
      s.y.push_back(p.held_out_mse);
    });
    progress.finish();
    into.series.push_back(s);
    rows.push_back({label, std::to_string(c.steps), format_number(last.held_out_mse),
                    format_number(last.held_out_mse / adding_baseline_mse)});
    final_mse.push_back(last.held_out_mse);
  };
  for (const Net& n : nets) {
    AddingConfig c;
    c.net = n.net;
    c.sequence_length = T;
    c.steps = steps;
    train(n.label, n.stem, c, 50, plot);
  }
  report.plot("adding_problem", plot);
  // The IRNN (lecture 7d-08: a good initialization and momentum): slow, then sudden.
  AddingConfig irnn;
  irnn.net = AddingNet::irnn;
  irnn.sequence_length = T;
  irnn.batch = 16;
  irnn.steps = options.full ? 200000 : 120000;
  Plot slow("Adding problem, T = " + std::to_string(T) + ": the IRNN", "optimizer step",
            "held-out MSE");
  slow.log_y = true;
  slow.reference_lines.push_back({"baseline 1/6", adding_baseline_mse});
  train("IRNN (ReLU, W_hh = I)", "adding_problem_irnn", irnn, 2500, slow);
  report.plot("adding_problem_irnn", slow);
  report.table({"net", "steps", "held-out MSE", "of the baseline"}, rows);
  report.claim("the LSTM learns the task: held-out MSE " + format_number(final_mse[0]) +
                   ", below a tenth of the baseline",
               final_mse[0] < 0.1 * adding_baseline_mse);
  report.claim("the tanh RNN does not: held-out MSE " + format_number(final_mse[1]) +
                   ", still at the baseline",
               final_mse[1] > 0.7 * adding_baseline_mse);
  report.claim(
      "the IRNN, a ReLU RNN started at W_hh = I and trained with SGD, momentum 0.9 and "
      "clipping, learns it too — after a long plateau: held-out MSE " +
          format_number(final_mse[2]) + " after " + std::to_string(irnn.steps) + " steps",
      final_mse[2] < 0.1 * adding_baseline_mse);
}

}  // namespace tapeloop::models
