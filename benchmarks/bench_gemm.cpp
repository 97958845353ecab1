// GEMM at the LSTM shapes of docs/benchmarks/README.md: tapeloop's matmul (forward, and forward +
// backward) against the same products as direct cblas_sgemm calls, OpenBLAS running its own
// threads.
#include <cblas.h>

#include <string>
#include <tuple>
#include <vector>

#include "bench_common.hpp"
#include "gemm.hpp"
#include "tapeloop/rule.hpp"
#include "tapeloop/tapeloop.hpp"
#include "tapeloop/threading.hpp"

namespace tapeloop::bench {
namespace {

// C[m,n] = A[m,k] B[k,n]: the input projection of all steps (x.W, m = B*T) and the recurrent
// product of one step (h.U, m = B) of configs S, M and L, with 4H gate columns.
struct GemmShape {
  const char* name;
  int m, n, k;
};
// sq64 and sq100 are square products below and at the size where tapeloop's own kernel hands
// over to the BLAS (kernels::small_gemm_mnk = 100^3).
const GemmShape shapes[] = {
    {"S_xW", 100, 128, 16},    {"S_hU", 1, 128, 32},      {"sq64", 64, 64, 64},
    {"sq100", 100, 100, 100},  {"M_xW", 1600, 1024, 128}, {"M_hU", 32, 1024, 256},
    {"L_xW", 6400, 2048, 512}, {"L_hU", 64, 2048, 512},
};

void flops(benchmark::State& state, double per_iteration) {
  state.counters["FLOPS"] = benchmark::Counter(
      per_iteration * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void tapeloop_matmul(benchmark::State& state, GemmShape s, bool backward, int threads) {
  set_num_threads(threads);
  Generator rng(1);
  Parameter<float> a(Tensor<float>::normal({s.m, s.k}, 0.0f, 1.0f, rng));
  Parameter<float> b(Tensor<float>::normal({s.k, s.n}, 0.0f, 1.0f, rng));
  const Tensor<float> seed = Tensor<float>::normal({s.m, s.n}, 0.0f, 1.0f, rng);
  Tape<float> tape;
  auto step = [&] {
    tape.clear();
    Var<float> y = matmul(a.var(tape), b.var(tape));
    if (backward) tape.backward(y, seed.ref());  // dA += dY B^T, dB += A^T dY (beta = 1)
  };
  // Two untimed steps: the first grows the arena, the second gets it as one block (clear()
  // coalesces), so the timed steps reuse memory already paged in, as a training loop does.
  step();
  step();
  for (auto _ : state) {
    step();
    benchmark::ClobberMemory();
  }
  flops(state, (backward ? 6.0 : 2.0) * s.m * s.n * s.k);
}

// A node of a given shape whose rules do nothing.
struct ProbeRule {
  static constexpr const char* name = "probe";
  static constexpr bool no_tangent = true;
  Shape shape;
  Shape check(InputShapes) const { return shape; }
  void forward(ForwardContext<float>&) const {}
  void backward(BackwardContext<float>&) const {}
};

// What tape.backward(y, seed) costs before any rule runs, for y of the output's shape: the
// zero-filled gradient buffer of y and the seed added into it (the direct calls have neither).
void seeding(benchmark::State& state, GemmShape s) {
  set_num_threads(1);
  Generator rng(1);
  Parameter<float> p(Tensor<float>::zeros({1}));
  const Tensor<float> seed = Tensor<float>::normal({s.m, s.n}, 0.0f, 1.0f, rng);
  Tape<float> tape;
  auto step = [&] {
    tape.clear();
    Var<float> y = record(ProbeRule{Shape{s.m, s.n}}, p.var(tape));
    tape.backward(y, seed.ref());
  };
  step();
  step();
  for (auto _ : state) {
    step();
    benchmark::ClobberMemory();
  }
}

void cblas(benchmark::State& state, GemmShape s, bool backward, int threads) {
  set_num_threads(threads);
  openblas_set_num_threads(threads);  // the baseline: OpenBLAS with its own threads
  std::vector<float> a(static_cast<std::size_t>(s.m) * s.k, 0.5f);
  std::vector<float> b(static_cast<std::size_t>(s.k) * s.n, 0.25f);
  std::vector<float> y(static_cast<std::size_t>(s.m) * s.n), g(y.size(), 0.1f);
  std::vector<float> ga(a.size()), gb(b.size());
  auto step = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0f, a.data(), s.k,
                b.data(), s.n, 0.0f, y.data(), s.n);
    if (backward) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.m, s.k, s.n, 1.0f, g.data(), s.n,
                  b.data(), s.n, 1.0f, ga.data(), s.k);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s.k, s.n, s.m, 1.0f, a.data(), s.k,
                  g.data(), s.n, 1.0f, gb.data(), s.n);
    }
  };
  step();  // as for tapeloop, one untimed call first
  for (auto _ : state) {
    step();
    benchmark::ClobberMemory();
  }
  flops(state, (backward ? 6.0 : 2.0) * s.m * s.n * s.k);
}

// The products that run on tapeloop's own kernel (at most 100^3 multiply-adds), in each layout
// the operators use (NN forward of matmul, NT forward of linear and dA, TN the weight
// gradients), against one single-threaded cblas_sgemm call of the same product.
struct SmallShape {
  const char* name;
  int m, n, k;
};
const SmallShape small_shapes[] = {
    {"1x128x32", 1, 128, 32},     {"1x32x128", 1, 32, 128},       {"4x256x256", 4, 256, 256},
    {"16x1024x61", 16, 1024, 61}, {"32x128x100", 32, 128, 100},   {"100x128x16", 100, 128, 16},
    {"64x64x64", 64, 64, 64},     {"100x100x100", 100, 100, 100},
};

void small_product(benchmark::State& state, SmallShape s, bool ta, bool tb, bool blas) {
  set_num_threads(1);
  std::vector<float> a(static_cast<std::size_t>(s.m) * s.k, 0.5f);
  std::vector<float> b(static_cast<std::size_t>(s.k) * s.n, 0.25f);
  std::vector<float> c(static_cast<std::size_t>(s.m) * s.n, 0.0f);
  for (auto _ : state) {
    if (blas) {
      detail::gemm_block(ta, tb, s.m, s.n, s.k, a.data(), b.data(), 1.0f, c.data(), 0, s.m, 0, s.n);
    } else {
      detail::gemm(ta, tb, s.m, s.n, s.k, a.data(), b.data(), 1.0f, c.data());
    }
    benchmark::ClobberMemory();
  }
  flops(state, 2.0 * s.m * s.n * s.k);
}

}  // namespace

void register_gemm_benchmarks() {
  for (const SmallShape& s : small_shapes) {
    for (auto [layout, ta, tb] : {std::tuple{"NN", false, false}, std::tuple{"NT", false, true},
                                  std::tuple{"TN", true, false}}) {
      for (bool blas : {false, true}) {
        register_benchmark(
            bench_name(blas ? "gemm/small/cblas" : "gemm/small/tapeloop", layout, s.name, 0, 1),
            [=](benchmark::State& st) { small_product(st, s, ta, tb, blas); });
      }
    }
  }
  for (const GemmShape& s : shapes) {
    register_benchmark(bench_name("gemm/seed", "fwdbwd", s.name, 0, 1),
                       [=](benchmark::State& st) { seeding(st, s); });
    for (int threads : {1, 2}) {
      for (bool backward : {false, true}) {
        const char* pass = backward ? "fwdbwd" : "fwd";
        register_benchmark(
            bench_name("gemm/tapeloop", pass, s.name, 0, threads),
            [=](benchmark::State& st) { tapeloop_matmul(st, s, backward, threads); });
        register_benchmark(bench_name("gemm/cblas", pass, s.name, 0, threads),
                           [=](benchmark::State& st) { cblas(st, s, backward, threads); });
      }
    }
  }
}

}  // namespace tapeloop::bench
