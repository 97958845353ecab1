// tapeloop's RNN, LSTM and GRU layers on the benchmark configurations S, M, L: a training step,
// inference or an Adam step, timed the way its peers pytorch_rnn.py and onednn_rnn time theirs.
//
// Usage: recurrent_bench --mode lstm|gru|rnn --task train|inference|optimizer
//                        --cell fused|generic --threads N --repeats R [--lengths full|uniform]
//                        [--checkpoint K] [--build-info] [--dump FILE] CONFIG...
// CONFIG is S, M, L (docs/benchmarks/README.md) or a shape B<batch>T<steps>I<input>H<hidden>.
// Prints one JSON object per configuration: {"mode", "task", "cell", "config", "threads",
// "lengths", "checkpoint", "median_ms", "times_ms", "peak_mib"} (peak_mib: the resident memory the
// steps added, recurrent_common.hpp); --build-info first prints {"kernel_isa", "blas"}.
//
// - train: forward over the whole sequence, MSE of all outputs against a fixed random target,
//   backward to every parameter and to the input (docs/benchmarks/README.md). No optimizer step.
// - inference: the forward alone, recorded with gradients disabled (Tape::no_grad).
// - optimizer: one Adam step over the layer's parameters, after one training step made their
//   gradients.
// The layer and data come from Generator(0) (recurrent_common.hpp). --lengths uniform passes
// per-sequence lengths in [T/2, T] to forward.
//
// --dump FILE (one configuration): runs one training step and writes, instead of timing, a JSON
// file for `pytorch_rnn.py --check FILE`:
//   {"format": "tapeloop-recurrent-dump/1", "mode", "cell", "config", "batch", "steps",
//    "input", "hidden", "lengths": [per sequence, empty for full], "loss",
//    "tensors": {NAME: {"shape": [...], "data": [row-major floats]}, ...}}
// with NAME: "x" [T,B,I], "target" [T,B,H], each parameter under its PyTorch name
// ("weight_ih_l0", ...), "output" [T,B,H], and "grad.x", "grad.<parameter name>".
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "recurrent_common.hpp"
#include "tapeloop/models/recurrent.hpp"
#include "tapeloop/ops/build_info.hpp"
#include "tapeloop/tapeloop.hpp"
#include "tapeloop/threading.hpp"

using namespace tapeloop;
using namespace tapeloop::bench;

namespace {

constexpr const char* usage =
    "usage: recurrent_bench --mode lstm|gru|rnn --task train|inference|optimizer\n"
    "                       --cell fused|generic --threads N --repeats R\n"
    "                       [--lengths full|uniform] [--checkpoint K] [--build-info]\n"
    "                       [--dump FILE] S|M|L|B<n>T<n>I<n>H<n>...\n";

/// One training step on `tape`: forward, MSE against the target, backward. Returns the loss
/// node; the output and x's gradient stay readable until the tape is cleared.
struct TrainStep {
  Var<float> input, output, loss;
};

TrainStep train_step(Problem& p, Tape<float>& tape, const std::vector<std::int64_t>& lengths) {
  tape.clear();
  p.layer.zero_grad();
  TrainStep s;
  s.input = tape.input(p.x.ref(), /*requires_grad=*/true);
  s.output = p.layer.forward(tape, s.input, {}, lengths).output;
  s.loss = mse_loss(s.output, tape.constant(p.target.ref()));
  tape.backward(s.loss);
  return s;
}

void write_tensor(std::FILE* f, const char* name, TensorRef<const float> t, bool& first) {
  std::fprintf(f, "%s\n  \"%s\": {\"shape\": [", first ? "" : ",", name);
  first = false;
  for (int a = 0; a < t.shape.rank(); ++a) {
    std::fprintf(f, "%s%lld", a ? ", " : "", static_cast<long long>(t.shape[a]));
  }
  std::fputs("], \"data\": [", f);
  // %.9g: every float survives the round trip through text exactly.
  for (std::int64_t i = 0; i < t.numel(); ++i) std::fprintf(f, "%s%.9g", i ? "," : "", t[i]);
  std::fputs("]}", f);
}

void dump(const Options& o, const Config& c) {
  Problem p = make_problem(o.mode, c, o.fused, o.checkpoint);
  const std::vector<std::int64_t> lengths = sequence_lengths(c, o.uniform_lengths);
  Tape<float> tape;
  const TrainStep s = train_step(p, tape, lengths);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(o.dump.c_str(), "w"),
                                                       &std::fclose);
  if (!file) throw IoError("recurrent_bench: cannot write " + o.dump);
  std::FILE* f = file.get();
  std::fprintf(f,
               "{\"format\": \"tapeloop-recurrent-dump/1\", \"mode\": \"%s\", \"cell\": \"%s\", "
               "\"config\": \"%s\", \"batch\": %lld, \"steps\": %lld, \"input\": %lld, "
               "\"hidden\": %lld, \"lengths\": [",
               mode_name(o.mode), o.fused ? "fused" : "generic", c.name,
               static_cast<long long>(c.batch), static_cast<long long>(c.steps),
               static_cast<long long>(c.input), static_cast<long long>(c.hidden));
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    std::fprintf(f, "%s%lld", b ? ", " : "", static_cast<long long>(lengths[b]));
  }
  std::fprintf(f, "], \"loss\": %.9g, \"tensors\": {", s.loss.value()[0]);
  bool first = true;
  write_tensor(f, "x", p.x.ref(), first);
  write_tensor(f, "target", p.target.ref(), first);
  const auto params = p.layer.named_parameters();
  for (const auto& [name, param] : params)
    write_tensor(f, name.c_str(), param->value().ref(), first);
  write_tensor(f, "output", s.output.value(), first);
  write_tensor(f, "grad.x", s.input.grad(), first);
  for (const auto& [name, param] : params) {
    write_tensor(f, ("grad." + name).c_str(), param->grad().ref(), first);
  }
  std::fputs("}}\n", f);
  if (std::fflush(f) != 0 || std::ferror(f)) {
    throw IoError("recurrent_bench: writing " + o.dump + " failed");
  }
}

void measure(const Options& o, const Config& c) {
  set_num_threads(o.threads);
  Problem p = make_problem(o.mode, c, o.fused, o.checkpoint);
  const std::vector<std::int64_t> lengths = sequence_lengths(c, o.uniform_lengths);
  Tape<float> tape;
  Timing times;
  switch (o.task) {
    case Task::train:
      times = time_steps(o.repeats, [&] { train_step(p, tape, lengths); });
      break;
    case Task::inference:
      p.layer.eval();
      times = time_steps(o.repeats, [&] {
        tape.clear();
        const auto no_grad = tape.no_grad();
        // The input is read in place, as the peers read theirs (tape.input would copy it).
        const Var<float> xs = tape.external_leaf(p.x.data(), nullptr, p.x.shape());
        p.layer.forward(tape, xs, {}, lengths);
      });
      break;
    case Task::optimizer: {
      train_step(p, tape, lengths);  // the gradients every timed step applies
      const std::vector<Parameter<float>*> params = p.layer.parameters();
      Adam<float> adam(params);
      times = time_steps(o.repeats, [&] { adam.step(); });
      break;
    }
  }
  print_result(o, o.fused ? "fused" : "generic", c, times);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse_options(argc, argv, /*with_cell=*/true, /*with_dump=*/true);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "recurrent_bench: %s\n%s", e.what(), usage);
    return 2;
  }
  try {
    if (o.build_info) {
      // What the numbers were measured with, for the report.
      std::printf("{\"kernel_isa\": \"%s\", \"blas\": \"%s\"}\n", kernel_isa().c_str(),
                  blas_info().c_str());
    }
    if (!o.dump.empty()) {
      dump(o, *o.chosen.front());
      return 0;
    }
    for (const Config* c : o.chosen) measure(o, *c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "recurrent_bench: %s\n", e.what());
    return 1;
  }
}
