// Measures the choices behind the threading policy (docs/threading.md): OpenBLAS's own threads
// vs single-threaded OpenBLAS in TBB blocks, the cost of entering the kernel arena, and what an
// idle OpenBLAS pool does to the TBB work that follows a GEMM.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tapeloop/tensor.hpp"
#include "tapeloop/threading.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds per call of f, timed over enough calls to last ~`budget` seconds.
double time_per_call(const std::function<void()>& f, double budget = 0.02) {
  f();
  int reps = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (int i = 0; i < reps; ++i) f();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s >= budget || reps >= (1 << 24)) return s / reps;
    reps *= s > 0 ? std::max(2, static_cast<int>(budget / s * 1.2)) : 16;
  }
}

struct Gemm {
  std::string name;
  bool ta, tb;
  int m, n, k;
};

// C[m,n] = op(A) op(B), row-major, like tapeloop's matmul.
void sgemm(const Gemm& g, const float* a, const float* b, float* c, int m0, int m1, int n0,
           int n1) {
  const int lda = g.ta ? g.m : g.k;
  const int ldb = g.tb ? g.k : g.n;
  const float* pa = g.ta ? a + m0 : a + static_cast<long>(m0) * lda;
  const float* pb = g.tb ? b + static_cast<long>(n0) * ldb : b + n0;
  cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans,
              m1 - m0, n1 - n0, g.k, 1.0f, pa, lda, pb, ldb, 0.0f,
              c + static_cast<long>(m0) * g.n + n0, g.n);
}

// The alternative to OpenBLAS's threads: split C along its longer side into `parts` blocks
// (multiples of 16) and run each block single-threaded on the tapeloop arena.
void sgemm_blocks(const Gemm& g, const float* a, const float* b, float* c, int parts) {
  const bool split_n = g.n >= g.m;
  const int len = split_n ? g.n : g.m;
  const int step = ((len + parts - 1) / parts + 15) / 16 * 16;
  const int chunks = (len + step - 1) / step;
  tapeloop::detail::parallel_run(chunks, [&](std::int64_t i) {
    const int lo = static_cast<int>(i) * step, hi = std::min(len, lo + step);
    if (split_n) {
      sgemm(g, a, b, c, 0, g.m, lo, hi);
    } else {
      sgemm(g, a, b, c, lo, hi, 0, g.n);
    }
  });
}

// An LSTM step's gate nonlinearities on [rows, 4H] after its recurrent GEMM: elementwise work
// in two TBB chunks (scalar loops: the question here is scheduling, not SIMD).
void gates(float* z, int count, int chunks) {
  tapeloop::detail::parallel_run(chunks, [&](std::int64_t c) {
    const int lo = count / chunks * static_cast<int>(c);
    const int hi = c == chunks - 1 ? count : lo + count / chunks;
    for (int i = lo; i < hi; ++i) z[i] = std::tanh(z[i] * 0.01f);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 11;
  tapeloop::set_num_threads(2);
  // LSTM shapes of BENCHMARKS.md: the input projection of all steps [B*T, I] x [I, 4H], the
  // recurrent product [B, H] x [H, 4H], and the backward products of the latter.
  const std::vector<Gemm> gemms = {
      {"S x.W   [100,16]x[16,128]", false, false, 100, 128, 16},
      {"S h.U   [1,32]x[32,128]", false, false, 1, 128, 32},
      {"M x.W   [1600,128]x[128,1024]", false, false, 1600, 1024, 128},
      {"M h.U   [32,256]x[256,1024]", false, false, 32, 1024, 256},
      {"M dh=dz.U^T [32,1024]x[1024,256]^T", false, true, 32, 256, 1024},
      {"M dU=h^T.dz [256,32]^T x[32,1024]", true, false, 256, 1024, 32},
      {"L x.W   [6400,512]x[512,2048]", false, false, 6400, 2048, 512},
      {"L h.U   [64,512]x[512,2048]", false, false, 64, 2048, 512},
      {"L dh=dz.U^T [64,2048]x[2048,512]^T", false, true, 64, 512, 2048},
      {"L dU=h^T.dz [512,64]^T x[64,2048]", true, false, 512, 2048, 64},
      {"square 2048", false, false, 2048, 2048, 2048},
  };
  std::printf(
      "| GEMM (float) | GFLOP/s 1 thread | OpenBLAS 2 threads | OpenBLAS 1 thread x 2 TBB "
      "blocks | blocks / OpenBLAS |\n| --- | --- | --- | --- | --- |\n");
  for (const Gemm& g : gemms) {
    std::vector<float> a(static_cast<size_t>(g.m) * g.k, 0.5f),
        b(static_cast<size_t>(g.k) * g.n, 0.25f), c(static_cast<size_t>(g.m) * g.n);
    std::vector<double> one, own, blocks;
    for (int r = 0; r < rounds; ++r) {  // interleaved, so drifts hit all three alike
      openblas_set_num_threads(1);
      one.push_back(time_per_call([&] { sgemm(g, a.data(), b.data(), c.data(), 0, g.m, 0, g.n); }));
      blocks.push_back(time_per_call([&] { sgemm_blocks(g, a.data(), b.data(), c.data(), 2); }));
      openblas_set_num_threads(2);
      own.push_back(time_per_call([&] { sgemm(g, a.data(), b.data(), c.data(), 0, g.m, 0, g.n); }));
    }
    const double flop = 2.0 * g.m * g.n * g.k;
    std::printf("| %s | %.1f | %.1f | %.1f | %.2f |\n", g.name.c_str(), flop / median(one) * 1e-9,
                flop / median(own) * 1e-9, flop / median(blocks) * 1e-9,
                median(own) / median(blocks));
  }

  // An LSTM-M step's pattern: recurrent GEMM, then the gates on the arena's two threads.
  // If OpenBLAS's idle threads kept a core busy, the TBB half would be slowed.
  {
    const Gemm g = gemms[3];
    std::vector<float> a(static_cast<size_t>(g.m) * g.k, 0.5f),
        b(static_cast<size_t>(g.k) * g.n, 0.25f), c(static_cast<size_t>(g.m) * g.n),
        z(c.size(), 0.5f);
    const int count = static_cast<int>(z.size());
    std::vector<double> own_step, blocks_step, gates_alone, gates_after_gemm, gates_one;
    for (int r = 0; r < rounds; ++r) {
      openblas_set_num_threads(2);
      own_step.push_back(time_per_call([&] {
        sgemm(g, a.data(), b.data(), c.data(), 0, g.m, 0, g.n);
        gates(z.data(), count, 2);
      }));
      gates_after_gemm.push_back(time_per_call([&] {
        sgemm(g, a.data(), b.data(), c.data(), 0, g.m, 0, g.n);
        const auto t0 = Clock::now();
        gates(z.data(), count, 2);
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        static double sink = 0;
        sink += s;
      }));
      openblas_set_num_threads(1);
      blocks_step.push_back(time_per_call([&] {
        sgemm_blocks(g, a.data(), b.data(), c.data(), 2);
        gates(z.data(), count, 2);
      }));
      gates_alone.push_back(time_per_call([&] { gates(z.data(), count, 2); }));
      gates_one.push_back(time_per_call([&] { gates(z.data(), count, 1); }));
    }
    std::printf(
        "\n| LSTM-M step pattern (GEMM [32,256]x[256,1024] + tanh on 32K) | us |\n"
        "| --- | --- |\n");
    std::printf("| OpenBLAS 2 threads, then gates in 2 TBB chunks | %.1f |\n",
                median(own_step) * 1e6);
    std::printf("| OpenBLAS 1 thread x 2 TBB blocks, then gates in 2 TBB chunks | %.1f |\n",
                median(blocks_step) * 1e6);
    std::printf("| gates alone, 2 TBB chunks | %.1f |\n", median(gates_alone) * 1e6);
    std::printf("| gates alone, inline (1 chunk) | %.1f |\n", median(gates_one) * 1e6);
  }

  // What it costs to enter the arena and run two empty chunks, with the worker warm (called
  // back to back) and after it has gone to sleep (1 ms pause before each call).
  {
    std::vector<double> warm, cold;
    volatile int sink = 0;
    for (int r = 0; r < rounds; ++r) {
      warm.push_back(time_per_call(
          [&] { tapeloop::detail::parallel_run(2, [&](std::int64_t c) { sink = sink + c; }); }));
      std::vector<double> one_round;
      for (int i = 0; i < 50; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        const auto t0 = Clock::now();
        tapeloop::detail::parallel_run(2, [&](std::int64_t c) { sink = sink + c; });
        one_round.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      cold.push_back(median(one_round));
    }
    std::printf("\n| entering the arena, 2 empty chunks | ns |\n| --- | --- |\n");
    std::printf("| back to back (worker spinning) | %.0f |\n", median(warm) * 1e9);
    std::printf("| after 1 ms idle (worker asleep) | %.0f |\n", median(cold) * 1e9);
  }
  return 0;
}
