// Kernel microbenchmarks: elementwise kernels, a backward rule and sum at 32 to 1M elements,
// float and double, on 1 and 2 threads, and the scalar std:: loops the vector math replaces.
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/reduce.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/threading.hpp"

namespace tapeloop::bench {
namespace {

using kernels::Binary;
using kernels::Unary;

template <class T>
std::vector<T> values(std::int64_t n, double lo, double hi, std::uint64_t seed) {
  Generator rng(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (T& x : v) x = static_cast<T>(rng.uniform(lo, hi));
  return v;
}

// Bytes one element moves (read + written), as STREAM counts them.
double bytes_per_element(const std::string& op) {
  if (op == "add" || op == "mul") return 3;  // a, b read; y written
  if (op == "tanh_backward") return 4;       // g, y, gx read; gx written
  if (op == "sum") return 1;
  return 2;  // unary: x read, y written
}

template <class T>
void kernel(benchmark::State& state, std::string op, std::int64_t n, int threads) {
  set_num_threads(threads);
  const std::vector<T> a = values<T>(n, -3.0, 3.0, 1), b = values<T>(n, 0.5, 2.0, 2);
  std::vector<T> y(static_cast<std::size_t>(n)), g = values<T>(n, -1.0, 1.0, 3), gx(y);
  const kernels::Broadcast plan = kernels::plan_broadcast(Shape{n}, Shape{n}, Shape{n});
  const Unary u = op == "exp"       ? Unary::exp
                  : op == "tanh"    ? Unary::tanh
                  : op == "sigmoid" ? Unary::sigmoid
                                    : Unary::relu;
  kernels::unary(Unary::tanh, a.data(), y.data(), n);  // y = tanh(a) for the backward rule
  for (auto _ : state) {
    if (op == "add" || op == "mul") {
      kernels::binary(op == "add" ? Binary::add : Binary::mul, plan, a.data(), b.data(), y.data());
    } else if (op == "tanh_backward") {
      kernels::unary_backward(Unary::tanh, g.data(), a.data(), y.data(), gx.data(), n);
    } else if (op == "sum") {
      benchmark::DoNotOptimize(kernels::sum(a.data(), n));
    } else {
      kernels::unary(u, a.data(), y.data(), n);
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * n *
                          static_cast<std::int64_t>(bytes_per_element(op) * sizeof(T)));
}

// The scalar loop a vector kernel replaces (one thread): std::exp, std::tanh, and the stable
// sigmoid the operators used before.
template <class T>
void scalar_std(benchmark::State& state, std::string op, std::int64_t n) {
  const std::vector<T> a = values<T>(n, -3.0, 3.0, 1);
  std::vector<T> y(static_cast<std::size_t>(n));
  for (auto _ : state) {
    const T* x = a.data();
    T* out = y.data();
    if (op == "exp") {
      for (std::int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i]);
    } else if (op == "tanh") {
      for (std::int64_t i = 0; i < n; ++i) out[i] = std::tanh(x[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i) {
        const T v = x[i];
        if (v >= T(0)) {
          out[i] = T(1) / (T(1) + std::exp(-v));
        } else {
          const T e = std::exp(v);
          out[i] = e / (T(1) + e);
        }
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * n * 2 *
                          static_cast<std::int64_t>(sizeof(T)));
}

}  // namespace

void register_kernel_benchmarks() {
  const std::int64_t sizes[] = {32, 1024, 65536, 1048576};
  const char* ops[] = {"add", "mul", "exp", "tanh", "sigmoid", "relu", "tanh_backward", "sum"};
  for (const char* op : ops) {
    for (std::int64_t n : sizes) {
      for (int threads : {1, 2}) {
        register_benchmark(bench_name("kernel", op, "float", n, threads),
                           [=](benchmark::State& s) { kernel<float>(s, op, n, threads); });
        register_benchmark(bench_name("kernel", op, "double", n, threads),
                           [=](benchmark::State& s) { kernel<double>(s, op, n, threads); });
      }
    }
  }
  for (const char* op : {"exp", "tanh", "sigmoid"}) {
    for (std::int64_t n : sizes) {
      register_benchmark(bench_name("std", op, "float", n, 1),
                         [=](benchmark::State& s) { scalar_std<float>(s, op, n); });
      register_benchmark(bench_name("std", op, "double", n, 1),
                         [=](benchmark::State& s) { scalar_std<double>(s, op, n); });
    }
  }
}

}  // namespace tapeloop::bench
