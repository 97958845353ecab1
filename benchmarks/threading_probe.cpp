// Measures the choices behind the threading policy (docs/threading.md): OpenBLAS's own threads
// vs single-threaded OpenBLAS in TBB blocks, what an idle OpenBLAS pool does to TBB work after a
// GEMM, the cost of entering the kernel arena, and the grain size of elementwise kernels.
// The machine is shared: a round counts only if other processes used < 0.05 core during it.
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include "kernels/elementwise.hpp"
#include "kernels/parallel.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/tensor.hpp"
#include "tapeloop/threading.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Row = std::vector<double>;  // one round's measurements

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

// Busy clock ticks of the whole machine and of this process.
std::pair<long long, long long> ticks() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long user, nice, system, idle, iowait, irq, softirq, steal;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  std::ifstream self("/proc/self/stat");
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 1; i <= 15 && self >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return {user + nice + system + irq + softirq + steal, utime + stime};
}

// Runs round() until `rounds` of them ran while other processes used < 0.05 core, waiting out
// busy periods (up to TAPELOOP_PROBE_PATIENCE seconds in all, default 3600); returns the
// element-wise medians of the accepted rounds.
Row quiet_rounds(int rounds, const std::function<Row()>& round) {
  static const auto deadline =
      Clock::now() + std::chrono::seconds(std::getenv("TAPELOOP_PROBE_PATIENCE")
                                              ? std::atoi(std::getenv("TAPELOOP_PROBE_PATIENCE"))
                                              : 3600);
  std::vector<Row> kept;
  int attempts = 0;
  while (static_cast<int>(kept.size()) < rounds && (kept.empty() || Clock::now() < deadline)) {
    ++attempts;
    const auto before = ticks();
    const auto t0 = Clock::now();
    Row r = round();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto after = ticks();
    const double others =
        static_cast<double>((after.first - before.first) - (after.second - before.second)) /
        static_cast<double>(sysconf(_SC_CLK_TCK)) / seconds;
    if (others < 0.05) {
      kept.push_back(std::move(r));
    } else {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  Row out(kept[0].size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::vector<double> v;
    for (const Row& r : kept) v.push_back(r[i]);
    out[i] = median(v);
  }
  std::fprintf(stderr, "  %zu quiet rounds of %d\n", kept.size(), attempts);
  return out;
}

struct Gemm {
  std::string name;
  bool ta, tb;
  int m, n, k;
};

// C[m,n] = op(A) op(B) restricted to rows [m0, m1) and columns [n0, n1), row-major.
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

using tapeloop::kernels::Binary;
using tapeloop::kernels::Unary;

// Keeps this thread busy for `us` microseconds with no parallel work, as a training step does
// between large operators, so that the arena's worker goes to sleep.
void busy_gap(int us) {
  const auto until = Clock::now() + std::chrono::microseconds(us);
  while (Clock::now() < until) {
  }
}

// The time of f after 1 ms without parallel work (the TBB worker asleep).
double after_gap(const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < 9; ++i) {
    busy_gap(1000);
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return median(t);
}

void gemm_section(int rounds) {
  // LSTM shapes of docs/benchmarks/README.md: the input projection of all steps [B*T, I] x [I, 4H],
  // the recurrent product [B, H] x [H, 4H], and the backward products of the latter.
  const std::vector<Gemm> gemms = {
      {"S x.W [100,16]x[16,128]", false, false, 100, 128, 16},
      {"S h.U [1,32]x[32,128]", false, false, 1, 128, 32},
      {"M x.W [1600,128]x[128,1024]", false, false, 1600, 1024, 128},
      {"M h.U [32,256]x[256,1024]", false, false, 32, 1024, 256},
      {"M dh=dz.U^T [32,1024]x[1024,256]^T", false, true, 32, 256, 1024},
      {"M dU=h^T.dz [256,32]^T x[32,1024]", true, false, 256, 1024, 32},
      {"L x.W [6400,512]x[512,2048]", false, false, 6400, 2048, 512},
      {"L h.U [64,512]x[512,2048]", false, false, 64, 2048, 512},
      {"L dh=dz.U^T [64,2048]x[2048,512]^T", false, true, 64, 512, 2048},
      {"L dU=h^T.dz [512,64]^T x[64,2048]", true, false, 512, 2048, 64},
      {"square 2048", false, false, 2048, 2048, 2048},
  };
  std::printf(
      "| GEMM (float), GFLOP/s | 1 thread | OpenBLAS 2 threads | OpenBLAS 1 thread x 2 TBB "
      "blocks | blocks / OpenBLAS 2 threads | blocks, OpenBLAS pool spinning |\n"
      "| --- | --- | --- | --- | --- | --- |\n");
  for (const Gemm& g : gemms) {
    std::vector<float> a(static_cast<size_t>(g.m) * g.k, 0.5f),
        b(static_cast<size_t>(g.k) * g.n, 0.25f), c(static_cast<size_t>(g.m) * g.n);
    auto plain = [&] { sgemm(g, a.data(), b.data(), c.data(), 0, g.m, 0, g.n); };
    auto split = [&] { sgemm_blocks(g, a.data(), b.data(), c.data(), 2); };
    // OpenBLAS's idle pthreads spin for a while after a threaded call: each round lets them
    // fall asleep, times single-threaded OpenBLAS and the blocks, then OpenBLAS's threads, and
    // last the blocks again while OpenBLAS's pool still spins.
    const Row r = quiet_rounds(rounds, [&] {
      openblas_set_num_threads(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      Row row{time_per_call(plain), time_per_call(split)};
      openblas_set_num_threads(2);
      row.push_back(time_per_call(plain));
      openblas_set_num_threads(1);
      row.push_back(time_per_call(split, 0.01));
      return row;
    });
    const double flop = 2.0 * g.m * g.n * g.k * 1e-9;
    std::printf("| %s | %.1f | %.1f | %.1f | %.2f | %.1f |\n", g.name.c_str(), flop / r[0],
                flop / r[2], flop / r[1], r[2] / r[1], flop / r[3]);
  }
  openblas_set_num_threads(2);
}

void step_section(int rounds) {
  // An LSTM-M step's pattern: the recurrent GEMM, then elementwise gate work on the arena's two
  // threads; if OpenBLAS's spinning threads held the second core, the TBB half would slow.
  const Gemm g{"", false, false, 32, 1024, 256};
  std::vector<float> a(static_cast<size_t>(g.m) * g.k, 0.5f),
      b(static_cast<size_t>(g.k) * g.n, 0.25f), c(static_cast<size_t>(g.m) * g.n);
  const std::int64_t n = 4 * 32768;  // gate work large enough to go parallel
  std::vector<float> z(static_cast<size_t>(n));
  tapeloop::Generator rng(7);
  for (float& v : z) v = static_cast<float>(rng.uniform(-3.0, 3.0));
  std::vector<float> h(z.size());
  auto gates = [&] { tapeloop::kernels::unary(Unary::tanh, z.data(), h.data(), n); };
  const Row r = quiet_rounds(rounds, [&] {
    Row row;
    openblas_set_num_threads(2);
    row.push_back(time_per_call([&] {
      sgemm(g, a.data(), b.data(), c.data(), 0, g.m, 0, g.n);
      gates();
    }));
    openblas_set_num_threads(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    row.push_back(time_per_call([&] {
      sgemm_blocks(g, a.data(), b.data(), c.data(), 2);
      gates();
    }));
    row.push_back(time_per_call(gates));
    return row;
  });
  std::printf(
      "\n| GEMM [32,256]x[256,1024] then tanh on 128K floats, us | |\n| --- | --- |\n"
      "| OpenBLAS 2 threads, then tanh on the arena | %.1f |\n"
      "| OpenBLAS 1 thread x 2 TBB blocks, then tanh on the arena | %.1f |\n"
      "| tanh alone on the arena | %.1f |\n",
      r[0] * 1e6, r[1] * 1e6, r[2] * 1e6);
  openblas_set_num_threads(2);
}

void arena_section(int rounds) {
  volatile int sink = 0;
  auto empty = [&] {
    tapeloop::detail::parallel_run(2, [&](std::int64_t c) { sink = sink + static_cast<int>(c); });
  };
  const int gaps[] = {10, 100, 1000, 10000};
  const Row r = quiet_rounds(rounds, [&] {
    Row row{time_per_call(empty)};
    for (int gap_us : gaps) {
      std::vector<double> t;
      for (int i = 0; i < 20; ++i) {
        busy_gap(gap_us);
        const auto t0 = Clock::now();
        empty();
        t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      row.push_back(median(t));
    }
    return row;
  });
  std::printf("\n| entering the arena with 2 empty chunks | ns |\n| --- | --- |\n");
  std::printf("| back to back | %.0f |\n", r[0] * 1e9);
  for (int i = 0; i < 4; ++i) {
    std::printf("| after %d us without parallel work | %.0f |\n", gaps[i], r[i + 1] * 1e9);
  }
}

void grain_section(int rounds) {
  // An elementwise kernel inline vs in two chunks, for a streaming kernel (add) and a
  // transcendental one (tanh): back to back (the worker awake), and after 1 ms without parallel
  // work (the worker asleep; the inline run gets the same gap).
  std::printf(
      "\n| elements | add inline ns | 2 chunks | speedup | after 1 ms: inline | 2 chunks | "
      "tanh inline ns | 2 chunks | speedup | after 1 ms: inline | 2 chunks |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  const std::int64_t saved = tapeloop::kernels::parallel_grain();
  for (std::int64_t n : {1024, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 1048576}) {
    // Inputs spread over [-3, 3]: tanh's cost depends on the range (xsimd takes a cheaper
    // path when every lane of a batch is small), and real activations are spread.
    std::vector<float> a(static_cast<size_t>(n)), b(a), y(a);
    tapeloop::Generator rng(7);
    for (float& v : a) v = static_cast<float>(rng.uniform(-3.0, 3.0));
    for (float& v : b) v = static_cast<float>(rng.uniform(-3.0, 3.0));
    const auto plan = tapeloop::kernels::plan_broadcast(tapeloop::Shape{n}, tapeloop::Shape{n},
                                                        tapeloop::Shape{n});
    auto add = [&] { tapeloop::kernels::binary(Binary::add, plan, a.data(), b.data(), y.data()); };
    auto tanh = [&] { tapeloop::kernels::unary(Unary::tanh, a.data(), y.data(), n); };
    const Row r = quiet_rounds(rounds, [&] {
      Row row;
      for (std::int64_t grain : {std::int64_t{1} << 60, std::int64_t{1}}) {  // inline, parallel
        tapeloop::kernels::parallel_grain() = grain;
        row.push_back(time_per_call(add, 0.01));
        row.push_back(after_gap(add));
        row.push_back(time_per_call(tanh, 0.01));
        row.push_back(after_gap(tanh));
      }
      return row;
    });
    std::printf("| %lld | %.0f | %.0f | %.2f | %.0f | %.0f | %.0f | %.0f | %.2f | %.0f | %.0f |\n",
                static_cast<long long>(n), r[0] * 1e9, r[4] * 1e9, r[0] / r[4], r[1] * 1e9,
                r[5] * 1e9, r[2] * 1e9, r[6] * 1e9, r[2] / r[6], r[3] * 1e9, r[7] * 1e9);
  }
  tapeloop::kernels::parallel_grain() = saved;
}

void chunks_section(int rounds) {
  // Two threads on a 1M-float tanh: two halves handed out statically vs eight chunks taken by
  // whichever thread is free, 400 alternating calls per round (medians and 90th percentiles).
  const std::int64_t n = 1 << 20;
  std::vector<float> x(static_cast<size_t>(n)), y(x.size());
  tapeloop::Generator rng(3);
  for (float& v : x) v = static_cast<float>(rng.uniform(-3.0, 3.0));
  oneapi::tbb::task_arena arena(2);
  const std::int64_t saved = tapeloop::kernels::parallel_grain();
  tapeloop::kernels::parallel_grain() = std::int64_t{1} << 60;  // each chunk runs inline
  auto run = [&](std::int64_t c, std::int64_t chunks) {
    const std::int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    tapeloop::kernels::unary(Unary::tanh, x.data() + b, y.data() + b, e - b);
  };
  auto split = [&](std::int64_t chunks, bool dynamic) {
    arena.execute([&] {
      auto body = [&](const oneapi::tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t c = r.begin(); c < r.end(); ++c) run(c, chunks);
      };
      const oneapi::tbb::blocked_range<std::int64_t> range(0, chunks, 1);
      if (dynamic) {
        oneapi::tbb::parallel_for(range, body, oneapi::tbb::simple_partitioner());
      } else {
        oneapi::tbb::parallel_for(range, body, oneapi::tbb::static_partitioner());
      }
    });
  };
  auto once = [](const std::function<void()>& f) {
    const auto t0 = Clock::now();
    f();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  const Row r = quiet_rounds(rounds, [&] {
    std::vector<double> t1, t2, t8;
    for (int i = 0; i < 400; ++i) {
      t1.push_back(once([&] { run(0, 1); }));
      t2.push_back(once([&] { split(2, false); }));
      t8.push_back(once([&] { split(8, true); }));
    }
    auto p90 = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() * 9 / 10];
    };
    return Row{median(t1), median(t2), median(t8), p90(t1), p90(t2), p90(t8)};
  });
  std::printf(
      "\n| tanh on 1M floats, us | median | 90th percentile | speedup (medians) |\n"
      "| --- | --- | --- | --- |\n"
      "| 1 thread | %.0f | %.0f | |\n| 2 threads, 2 static halves | %.0f | %.0f | %.2fx |\n"
      "| 2 threads, 8 dynamic chunks | %.0f | %.0f | %.2fx |\n",
      r[0] * 1e6, r[3] * 1e6, r[1] * 1e6, r[4] * 1e6, r[0] / r[1], r[2] * 1e6, r[5] * 1e6,
      r[0] / r[2]);
  tapeloop::kernels::parallel_grain() = saved;
}

}  // namespace

int main(int argc, char** argv) {
  // threading_probe [rounds] [sections]: sections is any of gemm,step,arena,grain,chunks
  // (default all).
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
  const std::string sections = argc > 2 ? argv[2] : "gemm,step,arena,grain,chunks";
  auto want = [&](const char* name) { return sections.find(name) != std::string::npos; };
  tapeloop::set_num_threads(2);
  std::printf("(medians of %d rounds during which other processes used < 0.05 core)\n\n", rounds);
  if (want("gemm")) gemm_section(rounds);
  if (want("step")) step_section(rounds);
  if (want("arena")) arena_section(rounds);
  if (want("grain")) grain_section(rounds);
  if (want("chunks")) chunks_section(rounds);
  return 0;
}
