// Demo 7c: the binary-addition RNN trained, tested far past its training length, over many
// seeds, and its hidden states shown to be the adding automaton's states.
#include <algorithm>
#include <cmath>
#include <string>

#include "tapeloop/models/binary_addition.hpp"
#include "tapeloop/models/lecture.hpp"
#include "tapeloop/models/metrics_log.hpp"
#include "tapeloop/models/progress.hpp"

namespace tapeloop::models {

void binary_addition_demo(Report& report, const DemoOptions& options) {
  report.section("7c: an RNN that learns binary addition",
                 "The lecture's net: 3 logistic hidden units read one bit of each number per "
                 "step, least significant first, and output one bit of the sum; trained by "
                 "backpropagation through time with SGD and momentum on 8-bit sums.");
  BinaryAdditionConfig config;
  Generator rng(config.seed);
  BinaryAdditionRnn model(config.hidden, rng);
  Series loss{"training loss", {}, {}, {}}, accuracy{"held-out sums right", {}, {}, {}};
  Progress progress("binary addition", config.steps);
  // A line at each report, every 25 steps: 120 lines for the 3000 steps.
  MetricsLog metrics((report.dir() / "binary_addition_metrics.jsonl").string(),
                     {.format = MetricsFormat::jsonl});
  const BinaryAdditionProgress last =
      train_binary_addition(model, rng, config, 25, [&](const BinaryAdditionProgress& p) {
        progress.update(p.step, p.loss);
        metrics.log(
            p.step,
            {{"loss", p.loss}, {"bit_accuracy", p.bit_accuracy}, {"sum_accuracy", p.sum_accuracy}});
        loss.x.push_back(p.step);
        loss.y.push_back(p.loss);
        accuracy.x.push_back(p.step);
        accuracy.y.push_back(p.sum_accuracy);
      });
  progress.finish();
  Plot curve{"Binary addition: learning", "optimizer step", "loss / fraction", {loss, accuracy}};
  report.plot("binary_addition_learning", curve);
  Generator test_rng(1000);
  const AdditionAccuracy long_sums =
      evaluate_addition(model, make_addition_batch(64, 1000, test_rng));
  report.claim("every held-out 8-bit sum right after " + std::to_string(config.steps) + " steps (" +
                   format_number(100 * last.sum_accuracy) + "%)",
               last.sum_accuracy == 1.0f);
  report.claim("trained on 8-bit sums, it adds 1000 random 64-bit numbers exactly (" +
                   format_number(100 * long_sums.sums) + "% of sums right)",
               long_sums.sums == 1.0f);

  // How often a seed fails with 3 hidden units, and with 8.
  const int seeds = options.full ? 20 : 10;
  std::vector<std::vector<std::string>> rows;
  for (int hidden : {3, 8}) {
    int learned = 0, general = 0;
    Progress over_seeds("seeds, " + std::to_string(hidden) + " hidden", seeds);
    for (int seed = 1; seed <= seeds; ++seed) {
      BinaryAdditionConfig c;
      c.hidden = hidden;
      Generator seed_rng(static_cast<std::uint64_t>(seed));
      BinaryAdditionRnn net(hidden, seed_rng);
      const BinaryAdditionProgress p =
          train_binary_addition(net, seed_rng, c, c.steps, [](const BinaryAdditionProgress&) {});
      Generator t_rng(2000 + static_cast<std::uint64_t>(seed));
      learned += p.sum_accuracy == 1.0f;
      general += evaluate_addition(net, make_addition_batch(64, 200, t_rng)).sums == 1.0f;
      over_seeds.update(seed, p.loss);
    }
    over_seeds.finish();
    rows.push_back({std::to_string(hidden), std::to_string(seeds), std::to_string(learned),
                    std::to_string(general)});
    if (hidden == 3) {
      report.claim("with 3 hidden units most seeds learn, some do not (" + std::to_string(learned) +
                       " of " + std::to_string(seeds) + ")",
                   learned >= seeds * 7 / 10 && learned <= seeds);
    } else {
      report.claim("with 8 hidden units every seed learns (" + std::to_string(learned) + " of " +
                       std::to_string(seeds) + ")",
                   learned == seeds);
    }
  }
  report.table({"hidden units", "seeds", "learn 8-bit sums", "add 64-bit sums"}, rows);

  // What the hidden units learnt: four patterns of activity, the automaton's states.
  Generator state_rng(7);
  const AdderStates states = cluster_hidden_states(model, make_addition_batch(8, 200, state_rng));
  const char* names[] = {"wrote 0, no carry", "wrote 1, no carry", "wrote 0, carry",
                         "wrote 1, carry"};
  std::vector<std::vector<std::string>> means;
  for (int s = 0; s < 4; ++s) {
    std::vector<std::string> row{names[s]};
    for (std::int64_t j = 0; j < states.hidden; ++j) {
      row.push_back(
          format_number(states.state_means[static_cast<std::size_t>(s * states.hidden + j)]));
    }
    means.push_back(row);
  }
  std::vector<std::string> header{"automaton state"};
  for (std::int64_t j = 0; j < states.hidden; ++j) {
    // Appended rather than "h" + ...: GCC 12 warns (-Wrestrict) on a literal + temporary string.
    std::string name = "h";
    name += std::to_string(j + 1);
    header.push_back(name + " (mean)");
  }
  report.paragraph(
      "Every hidden state of 200 held-out additions, next to the state the adding "
      "automaton is in after that step (lecture 7c-04):");
  report.table(header, means);
  std::vector<std::vector<std::string>> moves;
  for (int s = 0; s < 4; ++s) {
    std::vector<std::string> row{names[s]};
    for (int input = 0; input < 4; ++input) {
      const int next =
          states.transitions[static_cast<std::size_t>(s)][static_cast<std::size_t>(input)];
      row.push_back(next < 0 ? "-" : names[next]);
    }
    moves.push_back(row);
  }
  report.paragraph(
      "The clusters' transitions, each cluster read as its majority state: where the "
      "net's hidden state goes on each pair of input bits.");
  report.table({"from", "a=0 b=0", "a=1 b=0", "a=0 b=1", "a=1 b=1"}, moves);
  report.claim("the clusters move as the adding automaton does on every input pair",
               states.transitions_match);
  report.claim("the hidden states form four distinct patterns, the automaton's states: " +
                   format_number(100 * states.separation) +
                   "% lie nearest their own state's mean; k-means finds them with purity " +
                   format_number(100 * states.purity) + "%",
               states.separation >= 0.99);
  // Scatter of the two hidden units that vary most.
  Tape<float> tape;
  auto no_grad = tape.no_grad();
  Generator plot_rng(7);
  const AdditionBatch batch = make_addition_batch(8, 100, plot_rng);
  const Var<float> h = model.hidden(tape, tape.constant(batch.inputs.ref()));
  const std::int64_t T = h.dim(0), B = h.dim(1), H = h.dim(2);
  Series points{"hidden states", {}, {}, {}};
  const std::vector<int> automaton = adder_states(batch);
  for (std::int64_t i = 0; i < T * B; ++i) {
    points.x.push_back(h.value().data[i * H]);
    points.y.push_back(h.value().data[i * H + 1]);
    points.classes.push_back(automaton[static_cast<std::size_t>(i)]);
  }
  Plot scatter{"Hidden states by automaton state", "h1", "h2", {points}};
  scatter.scatter = true;
  scatter.class_names = {names[0], names[1], names[2], names[3]};
  report.plot("binary_addition_states", scatter);
}

}  // namespace tapeloop::models
