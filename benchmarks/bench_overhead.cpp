// Per-op overhead: a chain of 10,000 operators on a one-element tensor, recorded and
// backpropagated, per op — the bookkeeping cost that dominates small recurrent nets (config S).
#include <string>

#include "bench_common.hpp"
#include "tapeloop/tapeloop.hpp"

namespace tapeloop::bench {
namespace {

constexpr int chain = 10000;

void op_chain(benchmark::State& state, bool binary) {
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
    for (int i = 0; i < chain; ++i) y = binary ? y * wv : tanh(y);
    tape.backward(y);
    benchmark::DoNotOptimize(x.grad()[0]);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * chain);
}

}  // namespace

void register_overhead_benchmarks() {
  register_benchmark(bench_name("overhead", "mul", "float", 1, 1),
                     [](benchmark::State& s) { op_chain(s, true); });
  register_benchmark(bench_name("overhead", "tanh", "float", 1, 1),
                     [](benchmark::State& s) { op_chain(s, false); });
}

}  // namespace tapeloop::bench
