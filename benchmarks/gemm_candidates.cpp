// The GEMM libraries tapeloop could use, measured at the products of an LSTM training step
// (configs M and L of docs/benchmarks/README.md): OpenBLAS as tapeloop calls it, tapeloop's kernel
// on a weight packed once, oneDNN's matmul (its own layout for the weight, and the weight as
// stored), and BLIS. The numbers and the choice are in docs/kernels.md.
//
// Usage: gemm_candidates [--threads N] [--repeats R]
// Prints one JSON object per product and candidate: {"product", "candidate", "threads",
// "median_us", "gflops"}.
#include <blis.h>
#include <dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "gemm.hpp"
#include "kernels/packed_gemm.hpp"
#include "tapeloop/threading.hpp"

#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif

namespace {

// C[m,n] = A[m,k] op(B): xW the input projection of all steps (B = W_ih [n,k]), fwd one step's
// h W_hh^T (B = W_hh [n,k]), bwd one step's dh = g W_hh (B = W_hh [k,n]).
struct Product {
  const char* name;
  int m, n, k;
  bool trans_b;
};
const Product products[] = {
    {"M_xW", 1600, 1024, 128, true}, {"M_fwd", 32, 1024, 256, true},
    {"M_bwd", 32, 256, 1024, false}, {"L_xW", 6400, 2048, 512, true},
    {"L_fwd", 64, 2048, 512, true},  {"L_bwd", 64, 512, 2048, false},
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A candidate: its name and one call of it.
struct Candidate {
  const char* name;
  std::function<void()> call;
  int per_batch;
};

// Times every candidate in turn, `repeats` rounds of one batch each (so that a burst of load
// on the shared machine hits them all alike), after one untimed call; returns the median time
// of one call, per candidate.
std::vector<double> time_interleaved(const std::vector<Candidate>& candidates, int repeats) {
  std::vector<std::vector<double>> times(candidates.size());
  for (const Candidate& c : candidates) c.call();
  for (int r = 0; r < repeats; ++r) {
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      // oneDNN's OpenMP threads spin for a while after each parallel region; on 2 cores they
      // would take a core from the next candidate's threads. A pause lets them go to sleep.
      // One untimed call after it brings the caches and the clock back.
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      candidates[i].call();
      const auto start = std::chrono::steady_clock::now();
      for (int b = 0; b < candidates[i].per_batch; ++b) candidates[i].call();
      times[i].push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count() /
          candidates[i].per_batch);
    }
  }
  std::vector<double> medians;
  for (auto& t : times) medians.push_back(median(t));
  return medians;
}

// One line of results. The packing alone has no GFLOP/s (printed as 0).
void report(const Product& p, const char* candidate, int threads, double us) {
  const bool packing = !std::strcmp(candidate, "tapeloop-pack-once");
  const double flops = packing ? 0.0 : 2.0 * p.m * p.n * p.k;
  std::printf(
      "{\"product\": \"%s\", \"shape\": \"%dx%dx%d\", \"candidate\": \"%s\", \"threads\": %d, "
      "\"median_us\": %.2f, \"gflops\": %.2f}\n",
      p.name, p.m, p.n, p.k, candidate, threads, us, flops / us * 1e-3);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, repeats = 7;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: gemm_candidates [--threads N] [--repeats R]\n");
      return 2;
    }
  }
  if (threads < 1 || repeats < 1) {
    std::fprintf(stderr, "gemm_candidates: --threads and --repeats must be positive\n");
    return 2;
  }
  tapeloop::set_num_threads(threads);  // tapeloop's blocks on its threads, OpenBLAS on 1 each
  bli_thread_set_num_threads(threads);
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  omp_set_num_threads(threads);
#endif
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;

  for (const Product& p : products) {
    std::vector<float> a(static_cast<std::size_t>(p.m) * p.k),
        b(static_cast<std::size_t>(p.k) * p.n);
    std::vector<float> c(static_cast<std::size_t>(p.m) * p.n);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 13) * 0.05f - 0.3f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 7) * 0.1f - 0.3f;
    const int per_batch = std::max(1, static_cast<int>(1e9 / (2.0 * p.m * p.n * p.k)));

    std::vector<Candidate> candidates;
    candidates.push_back({"openblas",
                          [&] {
                            tapeloop::detail::gemm<float>(false, p.trans_b, p.m, p.n, p.k, a.data(),
                                                          b.data(), 0.0f, c.data());
                          },
                          per_batch});

    std::vector<float> packed_storage(
        static_cast<std::size_t>(tapeloop::kernels::packed_size<float>(p.n, p.k)) + 16);
    float* packed = packed_storage.data() +
                    (64 - reinterpret_cast<std::uintptr_t>(packed_storage.data()) % 64) % 64 / 4;
    tapeloop::kernels::pack_b<float>(p.trans_b, p.n, p.k, b.data(), packed);
    candidates.push_back({"tapeloop-packed",
                          [&] {
                            tapeloop::detail::gemm_packed<float>(p.m, p.n, p.k, a.data(), packed,
                                                                 0.0f, c.data());
                          },
                          per_batch});
    candidates.push_back(
        {"tapeloop-pack-once",
         [&] { tapeloop::kernels::pack_b<float>(p.trans_b, p.n, p.k, b.data(), packed); }, 1});

    // oneDNN matmul: the weight as stored, and reordered once into the layout it chooses.
    const dnnl::memory::desc a_md({p.m, p.k}, dt::f32, tag::ab);
    const dnnl::memory::desc b_md({p.k, p.n}, dt::f32, p.trans_b ? tag::ba : tag::ab);
    const dnnl::memory::desc b_any({p.k, p.n}, dt::f32, tag::any);
    const dnnl::memory::desc c_md({p.m, p.n}, dt::f32, tag::ab);
    dnnl::memory am(a_md, engine, a.data()), bm(b_md, engine, b.data()), cm(c_md, engine, c.data());
    const dnnl::matmul::primitive_desc plain_pd(dnnl::matmul::desc(a_md, b_md, c_md), engine);
    const dnnl::matmul::primitive_desc any_pd(dnnl::matmul::desc(a_md, b_any, c_md), engine);
    dnnl::memory reordered(any_pd.weights_desc(), engine);
    dnnl::reorder(bm, reordered).execute(stream, bm, reordered);
    stream.wait();
    const dnnl::matmul plain(plain_pd), chosen(any_pd);
    candidates.push_back(
        {"onednn",
         [&] {
           plain.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
           stream.wait();
         },
         per_batch});
    candidates.push_back(
        {"onednn-reordered",
         [&] {
           chosen.execute(stream,
                          {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, reordered}, {DNNL_ARG_DST, cm}});
           stream.wait();
         },
         per_batch});

    float one = 1.0f, zero = 0.0f;
    candidates.push_back({"blis",
                          [&] {
                            bli_sgemm(BLIS_NO_TRANSPOSE,
                                      p.trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, p.m, p.n, p.k,
                                      &one, a.data(), p.k, 1, b.data(), p.trans_b ? p.k : p.n, 1,
                                      &zero, c.data(), p.n, 1);
                          },
                          per_batch});

    const std::vector<double> us = time_interleaved(candidates, repeats);
    for (std::size_t i = 0; i < candidates.size(); ++i)
      report(p, candidates[i].name, threads, us[i]);
  }
}
