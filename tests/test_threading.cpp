// Threading: the thread-count setting and TAPELOOP_NUM_THREADS, small work inline on the calling
// thread, parallel chunks covering everything once, on two threads at once, nested and from
// several threads at once, and GEMMs split into blocks across threads.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "kernels/parallel.hpp"
#include "kernels/reduce.hpp"
#include "support/check.hpp"
#include "tapeloop/threading.hpp"

using namespace tapeloop;

namespace {

// The CPUs this process may run on.
int allowed_cpus() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  return sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_threading)

BOOST_AUTO_TEST_CASE(small_work_runs_inline_on_the_calling_thread) {
  const int before = num_threads();
  set_num_threads(2);
  const std::thread::id caller = std::this_thread::get_id();
  bool inline_only = true;
  // A 32-element transcendental op, and the largest streaming op below the grain.
  kernels::parallel_elements(32, kernels::cost::tanh, [&](std::int64_t, std::int64_t) {
    inline_only = inline_only && std::this_thread::get_id() == caller;
  });
  kernels::parallel_elements(kernels::parallel_grain() - kernels::chunk_align,
                             kernels::cost::streaming, [&](std::int64_t b, std::int64_t e) {
                               inline_only = inline_only && b == 0 && e > 0 &&
                                             std::this_thread::get_id() == caller;
                             });
  BOOST_TEST(inline_only);
  // Work above the grain is cut into chunks on cache-line edges covering every element once.
  // (No Boost assertion inside: chunks run on other threads.)
  std::vector<int> seen(1 << 20, 0);
  std::atomic<bool> aligned{true};
  kernels::parallel_elements(std::int64_t{1} << 20, 1, [&](std::int64_t b, std::int64_t e) {
    if (b % kernels::chunk_align != 0) aligned = false;
    for (std::int64_t i = b; i < e; ++i) ++seen[static_cast<std::size_t>(i)];
  });
  BOOST_TEST(aligned.load());
  BOOST_TEST(std::count(seen.begin(), seen.end(), 1) == static_cast<long>(seen.size()));
  set_num_threads(before);
}

BOOST_AUTO_TEST_CASE(two_chunks_run_on_two_threads_at_once) {
  // Each chunk waits until both have started: only two threads running them at the same time
  // get past that (a deadline keeps a failure from hanging). One CPU gives TBB one thread.
  if (allowed_cpus() < 2) return;
  const int before = num_threads();
  set_num_threads(2);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> started{0};
    std::atomic<bool> met{true};
    detail::parallel_run(2, [&](std::int64_t) {
      started.fetch_add(1);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (started.load() < 2) {
        if (std::chrono::steady_clock::now() > deadline) {
          met = false;
          return;
        }
        std::this_thread::yield();
      }
    });
    BOOST_REQUIRE_MESSAGE(met.load(), "round " << round << ": the chunks ran one after the other");
  }
  set_num_threads(before);
}

BOOST_AUTO_TEST_CASE(nested_runs_cover_every_pair_once) {
  // Runs and kernels started from inside a chunk neither deadlock nor lose or repeat a chunk.
  const int before = num_threads();
  set_num_threads(2);
  const std::int64_t outer = 8, inner = 5;
  std::vector<int> seen(static_cast<std::size_t>(outer * inner), 0);
  std::vector<float> sums(static_cast<std::size_t>(outer), 0.0f);
  const std::vector<float> ones(std::size_t{1} << 19, 1.0f);
  detail::parallel_run(outer, [&](std::int64_t o) {
    detail::parallel_run(inner,
                         [&](std::int64_t i) { ++seen[static_cast<std::size_t>(o * inner + i)]; });
    sums[static_cast<std::size_t>(o)] =
        kernels::sum(ones.data(), static_cast<std::int64_t>(ones.size()));
  });
  set_num_threads(before);
  BOOST_TEST(std::count(seen.begin(), seen.end(), 1) == static_cast<long>(seen.size()));
  BOOST_TEST(std::count(sums.begin(), sums.end(), static_cast<float>(ones.size())) == outer);
}

BOOST_AUTO_TEST_CASE(runs_from_several_threads_at_once) {
  // Three application threads run chunks and a parallel sum at the same time, each getting its
  // own chunks exactly once and the sum one thread gets.
  const int before = num_threads();
  set_num_threads(2);
  Generator rng(4);
  std::vector<float> x(300000);
  for (float& v : x) v = static_cast<float>(rng.uniform(-1.0, 1.0));
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  const float want = kernels::sum(x.data(), n);
  const int rounds = 20;
  const std::int64_t chunks = 7;
  std::vector<std::vector<int>> seen(3, std::vector<int>(static_cast<std::size_t>(chunks), 0));
  std::vector<int> right_sums(3, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        detail::parallel_run(chunks,
                             [&](std::int64_t c) { ++seen[t][static_cast<std::size_t>(c)]; });
        right_sums[t] += kernels::sum(x.data(), n) == want;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  set_num_threads(before);
  for (std::size_t t = 0; t < 3; ++t) {
    BOOST_TEST(std::count(seen[t].begin(), seen[t].end(), rounds) == chunks, "thread " << t);
    BOOST_TEST(right_sums[t] == rounds, "thread " << t);
  }
}

BOOST_AUTO_TEST_CASE(large_matmul_in_blocks_matches_one_thread) {
  // Products above the split threshold run as single-threaded BLAS calls on blocks of C, one
  // per thread (split along n, and along m for tall C): forward and both backward products.
  const int before = num_threads();
  Generator rng(3);
  for (const auto& [m, k, n] : {std::tuple{64, 300, 700}, std::tuple{700, 300, 64}}) {
    const Tensor<float> a = Tensor<float>::normal({m, k}, 0.0f, 1.0f, rng);
    const Tensor<float> b = Tensor<float>::normal({k, n}, 0.0f, 1.0f, rng);
    auto run = [&](int threads) {
      set_num_threads(threads);
      Tape<float> tape;
      Var<float> va = tape.input(a.ref(), true), vb = tape.input(b.ref(), true);
      Var<float> y = matmul(va, vb);
      tape.backward(y, Tensor<float>::ones(y.shape()).ref());
      std::vector<float> out(y.value().begin(), y.value().end());
      out.insert(out.end(), va.grad().begin(), va.grad().end());
      out.insert(out.end(), vb.grad().begin(), vb.grad().end());
      return out;
    };
    const std::vector<float> one = run(1), two = run(2);
    // Run to run the blocks are the same, so the bits are; across thread counts the block
    // widths change and with them OpenBLAS's summation order: agreement to rounding only.
    BOOST_TEST((run(2) == two));
    float worst = 0;
    for (std::size_t i = 0; i < one.size(); ++i) {
      worst = std::max(worst, std::fabs(one[i] - two[i]) / (1.0f + std::fabs(one[i])));
    }
    BOOST_TEST(worst <= 1e-4f);
  }
  set_num_threads(before);
}

BOOST_AUTO_TEST_CASE(thread_count_setting) {
  const int before = num_threads();
  BOOST_TEST(before >= 1);
  TAPELOOP_CHECK_THROW_MESSAGE(set_num_threads(0), ValueError, "set_num_threads: 0 is not >= 1");
  set_num_threads(1);
  BOOST_TEST(num_threads() == 1);
  std::vector<std::int64_t> chunks;
  detail::parallel_run(5, [&](std::int64_t c) { chunks.push_back(c); });  // inline, in order
  BOOST_TEST(chunks == (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  set_num_threads(before);
  BOOST_TEST(num_threads() == before);
}

// Run by the next test in a child process, where the first use of the policy reads the
// environment; on its own (no TAPELOOP_EXPECT_THREADS) it checks nothing.
BOOST_AUTO_TEST_CASE(environment_sets_the_default) {
  const char* expect = std::getenv("TAPELOOP_EXPECT_THREADS");
  // 0 stands for the default: the CPUs this process may run on.
  const int allowed = allowed_cpus();
  if (expect != nullptr) {
    BOOST_TEST(num_threads() == (std::atoi(expect) == 0 ? allowed : std::atoi(expect)));
  }
  BOOST_TEST(num_threads() >= 1);
}

BOOST_AUTO_TEST_CASE(environment_variable_is_read_at_first_use) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  auto child = [&](const char* value, int expect) {
    const std::string command = "TAPELOOP_NUM_THREADS=" + std::string(value) +
                                " TAPELOOP_EXPECT_THREADS=" + std::to_string(expect) + " " + self +
                                " --run_test=test_threading/environment_sets_the_default" +
                                " > /dev/null 2>&1";
    return std::system(command.c_str());
  };
  BOOST_TEST(child("3", 3) == 0);
  BOOST_TEST(child("1", 1) == 0);
  // A value that is not a positive integer is ignored (with a warning): the core count.
  BOOST_TEST(child("lots", 0) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
