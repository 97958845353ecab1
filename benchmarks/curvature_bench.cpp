// What a second-order product costs next to a gradient, on the recurrent layers of the benchmark
// configurations S, M, L: one training step (record, forward, backward) against a jvp, a
// Gauss-Newton-vector product and a Hessian-vector product on one recording, as HessianFree's
// conjugate gradient makes them.
//
// Usage: curvature_bench --mode lstm|gru|rnn --cell fused|generic --threads N --repeats R S M L
//
// Prints one JSON object per configuration: {"mode", "cell", "config", "threads",
// "gradient_ms", "forward_ms", "jvp_ms", "gnvp_ms", "hvp_ms", "gnvp_over_gradient",
// "hvp_over_gradient"}, each time the median of R rounds. The five are timed in turn within
// every round, so a noisy neighbour slows them alike. The loss is the training step's of
// recurrent_bench: MSE of every output against a fixed target; the Gauss-Newton split is at the
// layer's output.
#include <cstdio>
#include <exception>
#include <vector>

#include "recurrent_common.hpp"
#include "tapeloop/ops/loss.hpp"
#include "tapeloop/threading.hpp"

using namespace tapeloop;
using namespace tapeloop::bench;

namespace {

struct Recording {
  Var<float> output, loss;
  std::vector<Var<float>> leaves;  // every parameter's leaves, in the layer's order
};

Recording record(Problem& p, Tape<float>& tape) {
  tape.clear();
  Recording r;
  r.output = p.layer.forward(tape, tape.constant(p.x.ref())).output;
  r.loss = mse_loss(r.output, tape.constant(p.target.ref()));
  for (Parameter<float>* param : p.layer.parameters()) {
    for (const Var<float>& leaf : tape.parameter_leaves(param->anchor().get())) {
      r.leaves.push_back(leaf);
    }
  }
  return r;
}

void run(const Options& o, const Config& c) {
  Problem p = make_problem(o.mode, c, o.fused);
  Tape<float> tape;
  Recording r = record(p, tape);
  Generator rng(2);
  std::vector<Tensor<float>> v, out;
  std::vector<TensorRef<const float>> directions;
  std::vector<TensorRef<float>> products;
  for (const Var<float>& leaf : r.leaves) {
    v.push_back(Tensor<float>::normal(leaf.shape(), 0.0f, 1.0f, rng));
    out.emplace_back(leaf.shape());
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    directions.push_back(v[i].ref());
    products.push_back(out[i].ref());
  }
  std::vector<double> gradient, forward, jvp, gnvp, hvp;
  auto time = [](std::vector<double>& into, auto&& what) {
    const auto start = std::chrono::steady_clock::now();
    what();
    into.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  };
  for (int round = -3; round < o.repeats; ++round) {  // 3 rounds of warm-up
    std::vector<double> discard;
    const bool timed = round >= 0;
    time(timed ? gradient : discard, [&] {
      r = record(p, tape);
      p.layer.zero_grad();
      tape.backward(r.loss);
    });
    time(timed ? forward : discard, [&] {
      auto guard = tape.no_grad();
      p.layer.forward(tape, tape.constant(p.x.ref()));
    });
    r = record(p, tape);  // the products run on one recording, as CG's do
    time(timed ? jvp : discard, [&] { tape.jvp(r.leaves, directions); });
    time(timed ? gnvp : discard,
         [&] { tape.gnvp(r.loss, r.output, r.leaves, directions, products); });
    time(timed ? hvp : discard, [&] { tape.hvp(r.loss, r.leaves, directions, products); });
  }
  const double g = median(gradient);
  std::printf(
      "{\"mode\": \"%s\", \"cell\": \"%s\", \"config\": \"%s\", \"threads\": %d, "
      "\"gradient_ms\": %.4f, \"forward_ms\": %.4f, \"jvp_ms\": %.4f, \"gnvp_ms\": %.4f, "
      "\"hvp_ms\": %.4f, \"gnvp_over_gradient\": %.3f, \"hvp_over_gradient\": %.3f}\n",
      mode_name(o.mode), o.fused ? "fused" : "generic", c.name, o.threads, g, median(forward),
      median(jvp), median(gnvp), median(hvp), median(gnvp) / g, median(hvp) / g);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse_options(argc, argv, /*with_cell=*/true, /*with_dump=*/false);
    set_num_threads(o.threads);
    for (const Config* c : o.chosen) run(o, *c);
  } catch (const UsageError& e) {
    std::fprintf(stderr,
                 "curvature_bench: %s\nusage: curvature_bench --mode lstm|gru|rnn --cell "
                 "fused|generic --threads N --repeats R S M L\n",
                 e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "curvature_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
