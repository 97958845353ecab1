// What the optimizers' non-finite gradient check costs: SGD's and Adam's step() on the parameters
// of an LSTM layer (input 128, hidden 256: 395,264 weights), with NonFiniteGradPolicy::raise (the
// default: every gradient is read once more before the update) and unchecked.
#include <memory>
#include <vector>

#include "bench_common.hpp"
#include "tapeloop/tapeloop.hpp"

namespace tapeloop::bench {
namespace {

constexpr std::int64_t input = 128, hidden = 256;

// w_ih, w_hh, b_ih, b_hh as torch.nn.LSTM lays them out, with gradients from a backward pass.
struct LstmParameters {
  std::vector<std::unique_ptr<Parameter<float>>> owned;
  std::vector<Parameter<float>*> list;
  std::int64_t numel = 0;

  LstmParameters() {
    Generator rng(7);
    const Shape shapes[] = {{4 * hidden, input}, {4 * hidden, hidden}, {4 * hidden}, {4 * hidden}};
    for (const Shape& shape : shapes) {
      owned.push_back(
          std::make_unique<Parameter<float>>(Tensor<float>::normal(shape, 0.0f, 0.06f, rng)));
      owned.back()->grad() = Tensor<float>::normal(shape, 0.0f, 1e-3f, rng);
      list.push_back(owned.back().get());
      numel += shape.numel();
    }
  }
};

template <class Optim>
void optimizer_step(benchmark::State& state, NonFiniteGradPolicy policy) {
  set_num_threads(1);
  LstmParameters p;
  Optim optimizer(p.list);
  optimizer.set_nonfinite_policy(policy);
  for (auto _ : state) {
    optimizer.step();
    benchmark::DoNotOptimize(p.list[0]->value().data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * p.numel);
}

}  // namespace

void register_optim_benchmarks() {
  const std::int64_t numel = 4 * hidden * (input + hidden + 2);
  const std::pair<const char*, NonFiniteGradPolicy> policies[] = {
      {"raise", NonFiniteGradPolicy::raise}, {"unchecked", NonFiniteGradPolicy::unchecked}};
  for (const auto& [name, policy] : policies) {
    register_benchmark(
        bench_name("optim_step", (std::string("adam_") + name).c_str(), "float", numel, 1),
        [policy = policy](benchmark::State& s) { optimizer_step<Adam<float>>(s, policy); });
    register_benchmark(
        bench_name("optim_step", (std::string("sgd_") + name).c_str(), "float", numel, 1),
        [policy = policy](benchmark::State& s) { optimizer_step<SGD<float>>(s, policy); });
  }
}

}  // namespace tapeloop::bench
