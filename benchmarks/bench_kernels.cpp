// Kernel microbenchmarks: elementwise kernels, a backward rule and sum at 32 to 1M elements,
// float and double, on 1 and 2 threads, and the scalar std:: loops the vector math replaces.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <memory>
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

// The benchmark's arrays carved from one page-aligned block, each starting 320 bytes further
// into a page than the last: every benchmark gets the same layout (separate allocations put
// arrays at offsets that depend on what was allocated before, and arrays at equal offsets
// modulo 4 KiB slow loads down by false store-to-load dependencies), which made small kernels
// differ by 40% from one benchmark to the next.
template <class T>
struct Arrays {
  static constexpr std::size_t count = 5;
  std::size_t stride;  // elements
  std::unique_ptr<T, void (*)(void*)> block{nullptr, std::free};
  explicit Arrays(std::int64_t n) {
    const std::size_t bytes = (static_cast<std::size_t>(n) * sizeof(T) + 4095) / 4096 * 4096;
    stride = (bytes + 320) / sizeof(T);
    block.reset(static_cast<T*>(
        std::aligned_alloc(4096, (stride * count * sizeof(T) + 4095) / 4096 * 4096)));
    Generator rng(1);
    for (std::size_t i = 0; i < stride * count; ++i) {
      block.get()[i] = static_cast<T>(rng.uniform(-3.0, 3.0));
    }
  }
  T* operator[](std::size_t i) const { return block.get() + i * stride; }
};

enum class Kind { add, mul, exp, tanh, sigmoid, relu, tanh_backward, sum };

Kind kind_of(const std::string& op) {
  const char* names[] = {"add", "mul", "exp", "tanh", "sigmoid", "relu", "tanh_backward", "sum"};
  for (int i = 0; i < 8; ++i) {
    if (op == names[i]) return static_cast<Kind>(i);
  }
  return Kind::add;
}

// Bytes one element moves (read + written), as STREAM counts them.
double bytes_per_element(Kind k) {
  if (k == Kind::add || k == Kind::mul) return 3;  // a, b read; y written
  if (k == Kind::tanh_backward) return 4;          // g, y, gx read; gx written
  if (k == Kind::sum) return 1;
  return 2;  // unary: x read, y written
}

template <class T>
void kernel(benchmark::State& state, std::string op, std::int64_t n, int threads) {
  set_num_threads(threads);
  const Kind k = kind_of(op);
  const Arrays<T> arrays(n);
  const T* a = arrays[0];
  T* b = arrays[1];
  T* y = arrays[2];
  T* g = arrays[3];
  T* gx = arrays[4];
  for (std::int64_t i = 0; i < n; ++i) b[i] = T(1.25) + b[i] / T(4);  // divisors in [0.5, 2]
  const Unary u = k == Kind::exp       ? Unary::exp
                  : k == Kind::tanh    ? Unary::tanh
                  : k == Kind::sigmoid ? Unary::sigmoid
                                       : Unary::relu;
  kernels::unary(Unary::tanh, a, y, n);  // y = tanh(a) for the backward rule
  for (auto _ : state) {
    if (k == Kind::add || k == Kind::mul) {
      kernels::binary(k == Kind::add ? Binary::add : Binary::mul, a, b, y, n);
    } else if (k == Kind::tanh_backward) {
      kernels::unary_backward(Unary::tanh, g, a, y, gx, n);
    } else if (k == Kind::sum) {
      benchmark::DoNotOptimize(kernels::sum(a, n));
    } else {
      kernels::unary(u, a, y, n);
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * n *
                          static_cast<std::int64_t>(bytes_per_element(k) * sizeof(T)));
}

// The scalar loop a vector kernel replaces (one thread): std::exp, std::tanh, and the stable
// sigmoid the operators used before.
template <class T>
void scalar_std(benchmark::State& state, std::string op, std::int64_t n) {
  const Arrays<T> arrays(n);
  const T* x = arrays[0];
  T* out = arrays[2];
  const Kind k = kind_of(op);
  for (auto _ : state) {
    if (k == Kind::exp) {
      for (std::int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i]);
    } else if (k == Kind::tanh) {
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
