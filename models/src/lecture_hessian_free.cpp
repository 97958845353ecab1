// Demo 7d-05: Hessian-free optimization trains a plain tanh RNN on the adding problem at T = 100,
// where SGD with momentum and Adam, given ten times the data, leave it at the baseline.
#include <string>
#include <vector>

#include "tapeloop/models/adding_problem.hpp"
#include "tapeloop/models/lecture.hpp"
#include "tapeloop/models/metrics_log.hpp"
#include "tapeloop/models/progress.hpp"

namespace tapeloop::models {

void hessian_free_demo(Report& report, const DemoOptions& options) {
  const std::int64_t T = 100;
  const int hf_steps = options.full ? 150 : 60;
  const std::int64_t hf_batch = 500, curvature_batch = 100, first_order_batch = 32;
  // The first-order runs get ten times the sequences HF draws.
  const int first_order_steps = static_cast<int>(10 * hf_steps * hf_batch / first_order_batch);
  report.section(
      "7d-05: Hessian-free optimization of a tanh RNN",
      "The adding problem again (T = " + std::to_string(T) +
          ", 32 hidden units), now for a plain tanh RNN under four optimizers. HessianFree "
          "(Martens & Sutskever 2011) takes " +
          std::to_string(hf_steps) + " steps, each on " + std::to_string(hf_batch) +
          " new sequences: the gradient on all of them, Gauss-Newton products (Tape::gnvp: one "
          "forward-mode and one reverse sweep) on the first " +
          std::to_string(curvature_batch) +
          ", conjugate gradient for at most 50 iterations, Levenberg-Marquardt damping, and "
          "structural damping (mu = 1/30) of the hidden states; once more without structural "
          "damping. SGD with momentum 0.9 (lr 0.01, clipping at norm 1) and Adam (lr 0.01) take " +
          std::to_string(first_order_steps) + " steps of " + std::to_string(first_order_batch) +
          " sequences: ten times HF's data. The LSTM under Adam, with the same budget, is the "
          "reference.");
  struct Run {
    const char* label;
    const char* stem;  // of its metrics file
    AddingNet net;
    AddingOptimizer optimizer;
    double structural_damping;
  };
  const Run runs[] = {
      {"tanh RNN, HF", "hessian_free_tanh_rnn_hf", AddingNet::tanh_rnn,
       AddingOptimizer::hessian_free, 1.0 / 30.0},
      {"tanh RNN, HF without structural damping", "hessian_free_tanh_rnn_hf_mu0",
       AddingNet::tanh_rnn, AddingOptimizer::hessian_free, 0.0},
      {"tanh RNN, SGD + momentum", "hessian_free_tanh_rnn_sgd", AddingNet::tanh_rnn,
       AddingOptimizer::sgd_momentum, 0.0},
      {"tanh RNN, Adam", "hessian_free_tanh_rnn_adam", AddingNet::tanh_rnn, AddingOptimizer::adam,
       0.0},
      {"LSTM, Adam", "hessian_free_lstm_adam", AddingNet::lstm, AddingOptimizer::adam, 0.0},
  };
  Plot by_time("Adding problem, T = " + std::to_string(T) + ", against time", "seconds of training",
               "held-out MSE");
  Plot by_data("Adding problem, T = " + std::to_string(T) + ", against data",
               "training sequences drawn", "held-out MSE");
  for (Plot* p : {&by_time, &by_data}) {
    p->log_y = true;
    p->reference_lines.push_back({"baseline 1/6", adding_baseline_mse});
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<AddingProgress> last;
  for (const Run& run : runs) {
    AddingConfig c;
    c.net = run.net;
    c.optimizer = run.optimizer;
    c.sequence_length = T;
    c.structural_damping = run.structural_damping;
    const bool hf = run.optimizer == AddingOptimizer::hessian_free;
    c.batch = hf ? hf_batch : first_order_batch;
    c.curvature_batch = curvature_batch;
    c.steps = hf ? hf_steps : first_order_steps;
    const int report_every = hf ? 2 : first_order_steps / 60;
    Series time{run.label, {}, {}, {}}, data{run.label, {}, {}, {}};
    Progress progress(std::string("adding, ") + run.label, c.steps);
    // Written at each report: at most ~75 lines a run.
    MetricsLog metrics((report.dir() / (std::string(run.stem) + "_metrics.jsonl")).string(),
                       {.format = MetricsFormat::jsonl});
    last.push_back(train_adding_problem(c, report_every, [&](const AddingProgress& p) {
      progress.update(p.step, p.loss);
      metrics.log(p.step, {{"seconds", p.seconds},
                           {"sequences", static_cast<double>(p.sequences)},
                           {"loss", p.loss},
                           {"held_out_mse", p.held_out_mse}});
      time.x.push_back(p.seconds);
      time.y.push_back(p.held_out_mse);
      data.x.push_back(static_cast<double>(p.sequences));
      data.y.push_back(p.held_out_mse);
    }));
    progress.finish();
    by_time.series.push_back(time);
    by_data.series.push_back(data);
    const AddingProgress& l = last.back();
    rows.push_back({run.label, std::to_string(c.steps), std::to_string(l.sequences),
                    format_number(l.seconds), format_number(l.held_out_mse),
                    format_number(l.held_out_mse / adding_baseline_mse)});
  }
  report.plot("hessian_free_time", by_time);
  report.plot("hessian_free_data", by_data);
  report.table(
      {"net, optimizer", "steps", "sequences", "seconds", "held-out MSE", "of the baseline"}, rows);
  report.claim("HF trains the tanh RNN: held-out MSE " + format_number(last[0].held_out_mse) +
                   " after " + std::to_string(last[0].sequences) +
                   " sequences, below a tenth of the baseline",
               last[0].held_out_mse < 0.1 * adding_baseline_mse);
  report.claim(
      "SGD with momentum leaves the same net at the baseline with ten times the data: "
      "held-out MSE " +
          format_number(last[2].held_out_mse),
      last[2].held_out_mse > 0.7 * adding_baseline_mse);
  report.claim("so does Adam: held-out MSE " + format_number(last[3].held_out_mse),
               last[3].held_out_mse > 0.7 * adding_baseline_mse);
  report.claim("the LSTM learns it under Adam: held-out MSE " + format_number(last[4].held_out_mse),
               last[4].held_out_mse < 0.1 * adding_baseline_mse);
}

}  // namespace tapeloop::models
