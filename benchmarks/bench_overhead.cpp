// Per-op overhead: a chain of 10,000 operators on a one-element tensor, recorded and
// backpropagated, per op — the bookkeeping cost that dominates small recurrent nets (config S).
// The "floor" chain makes nodes directly with a one-line scalar backward rule: what the tape
// itself costs per operator, whatever the operator does.
#include <string>

#include "bench_common.hpp"
#include "tapeloop/tapeloop.hpp"

namespace tapeloop::bench {
namespace {

constexpr int chain = 10000;

enum class Chain { mul, tanh, floor };

void op_chain(benchmark::State& state, Chain kind, bool backward) {
  set_num_threads(1);
  Parameter<float> x(Tensor<float>::full({1}, 0.5f));
  Parameter<float> w(Tensor<float>::full({1}, 1.0f));
  Tape<float> tape;
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
        const Var<float> in = y;
        y = tape.make_node("floor", Shape{1}, {in, wv});
        tape.mutable_value(y)[0] = in.value().data[0];
        Tape<float>* t = &tape;
        const Var<float> out = y;
        tape.set_backward(y, [=] { t->grad_of(in.index())[0] += t->grad_of(out.index())[0]; });
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
  }
}

}  // namespace tapeloop::bench
