// Per-op overhead: a chain of 10,000 operators on a one-element tensor, recorded and
// backpropagated, per op — the bookkeeping cost that dominates small recurrent nets (config S).
// The "floor" chain records a rule that copies one number forward and adds one back: what the
// tape and record() cost per operator, whatever the operator does. The "anomaly" runs repeat the
// chains with anomaly detection on: what checking every value and gradient costs.
#include <string>

#include "bench_common.hpp"
#include "tapeloop/rule.hpp"
#include "tapeloop/tapeloop.hpp"

namespace tapeloop::bench {
namespace {

constexpr int chain = 10000;

enum class Chain { mul, tanh, floor };

// The least an operator can do: copy one number forward and add one back.
struct FloorRule {
  static constexpr const char* name = "floor";
  static constexpr bool no_tangent = true;
  Shape check(InputShapes s) const { return s[0]; }
  void forward(ForwardContext<float>& c) const { c.out()[0] = c.in(0)[0]; }
  void backward(BackwardContext<float>& c) const { c.grad(0)[0] += c.grad_out()[0]; }
};

void op_chain(benchmark::State& state, Chain kind, bool backward, bool anomaly = false) {
  set_num_threads(1);
  Parameter<float> x(Tensor<float>::full({1}, 0.5f));
  Parameter<float> w(Tensor<float>::full({1}, 1.0f));
  Tape<float> tape;
  tape.set_anomaly_detection(anomaly);
  for (auto _ : state) {
    tape.clear();
    x.zero_grad();
    w.zero_grad();
    Var<float> y = x.var(tape);
    const Var<float> wv = w.var(tape);
    for (int i = 0; i < chain; ++i) {
      if (kind == Chain::mul) {
        y = y * wv;
      } else if (kind == Chain::tanh) {
        y = tanh(y);
      } else {
        y = record(FloorRule{}, y, wv);
      }
    }
    if (backward) tape.backward(y);
    benchmark::DoNotOptimize(x.grad()[0]);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * chain);
}

}  // namespace

void register_overhead_benchmarks() {
  const std::pair<const char*, Chain> chains[] = {
      {"mul", Chain::mul}, {"tanh", Chain::tanh}, {"floor", Chain::floor}};
  for (const auto& [name, kind] : chains) {
    register_benchmark(bench_name("overhead", name, "float", 1, 1),
                       [kind = kind](benchmark::State& s) { op_chain(s, kind, true); });
    register_benchmark(bench_name("overhead_record", name, "float", 1, 1),
                       [kind = kind](benchmark::State& s) { op_chain(s, kind, false); });
    register_benchmark(bench_name("overhead_anomaly", name, "float", 1, 1),
                       [kind = kind](benchmark::State& s) { op_chain(s, kind, true, true); });
  }
}

}  // namespace tapeloop::bench
