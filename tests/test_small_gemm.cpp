// The GEMM path: tapeloop's small-product kernel against a long double reference for every
// transpose, both beta, and every size around the batch width; block cuts and thread counts
// that leave results unchanged; and the plan that keeps BLAS calls off its small-matrix path.
#include <cmath>
#include <limits>
#include <vector>

#include "gemm.hpp"
#include "kernels/simd.hpp"
#include "support/check.hpp"
#include "support/gemm_reference.hpp"
#include "tapeloop/threading.hpp"

using namespace tapeloop;
using tapeloop::testing::GuardedMatrix;
using tapeloop::testing::random_values;
using tapeloop::testing::wrong_elements;

namespace {

// C = op(A) op(B) + beta C through kernels::small_gemm on the whole matrix, checked against a
// long double reference element by element, with guard elements around C.
template <class T>
int check_small_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T beta) {
  const std::vector<T> a = random_values<T>(m * k, static_cast<std::uint64_t>(m * 1000 + k));
  const std::vector<T> b = random_values<T>(k * n, static_cast<std::uint64_t>(n * 1000 + k + 7));
  GuardedMatrix<T> c(m, n, static_cast<std::uint64_t>(m + n + k));
  kernels::small_gemm<T>(ta, tb, m, n, k, a.data(), b.data(), beta, c.data(), 0, m, 0, n);
  const int bad =
      c.guards_touched() + wrong_elements(
                               c, m, n, k, beta,
                               [&](std::int64_t i, std::int64_t p) {
                                 return a[static_cast<std::size_t>(ta ? p * m + i : i * k + p)];
                               },
                               [&](std::int64_t p, std::int64_t j) {
                                 return b[static_cast<std::size_t>(tb ? j * k + p : p * n + j)];
                               });
  if (bad) {
    BOOST_ERROR("small_gemm ta=" << ta << " tb=" << tb << " m=" << m << " n=" << n << " k=" << k
                                 << " beta=" << beta << ": " << bad << " wrong elements");
  }
  return bad;
}

template <class T>
void check_every_size_around_the_batch_width() {
  constexpr std::int64_t L = kernels::lanes<T>;
  std::vector<std::int64_t> sizes;
  for (std::int64_t s = 1; s <= 2 * L + 1; ++s) sizes.push_back(s);
  sizes.push_back(4 * L + 3);
  int bad = 0;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      // Few rows read B in place (B^T as dot products), more rows pack op(B) into panels
      // (deeper than 256 in several slices); every tile height of 1 to 6 rows occurs.
      for (std::int64_t m : {1, 2, 3, 4, 5, 9, 16, 23}) {
        for (std::int64_t n : sizes) {
          for (std::int64_t k : {std::int64_t{1}, std::int64_t{2}, L - 1, L, L + 1, 2 * L + 1,
                                 std::int64_t{37}, std::int64_t{300}}) {
            if (k < 1) continue;
            bad += check_small_gemm<T>(ta, tb, m, n, k, T(0));
            bad += check_small_gemm<T>(ta, tb, m, n, k, T(1));
          }
        }
      }
    }
  }
  BOOST_TEST(bad == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_small_gemm)

BOOST_AUTO_TEST_CASE(small_gemm_matches_the_reference_float) {
  check_every_size_around_the_batch_width<float>();
}

BOOST_AUTO_TEST_CASE(small_gemm_matches_the_reference_double) {
  check_every_size_around_the_batch_width<double>();
}

BOOST_AUTO_TEST_CASE(blocks_compute_the_same_numbers_as_the_whole_product) {
  // Any cut of C into blocks gives the product of one call, bit for bit: what lets gemm split
  // a product over threads without changing its result. Shapes for the packed panels (also
  // several slices deep) and for the in-place tiles.
  for (auto [m, n, k] : {std::array<std::int64_t, 3>{23, 37, 29}, {7, 37, 29}, {23, 37, 300}}) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        const auto a = random_values<float>(m * k, 1), b = random_values<float>(k * n, 2);
        std::vector<float> whole(m * n), pieces(m * n);
        kernels::small_gemm<float>(ta, tb, m, n, k, a.data(), b.data(), 0.0f, whole.data(), 0, m, 0,
                                   n);
        for (auto [i0, i1] : {std::pair<std::int64_t, std::int64_t>{0, 5}, {5, 6}, {6, m}}) {
          for (std::int64_t j0 = 0; j0 < n; j0 += 16) {
            kernels::small_gemm<float>(ta, tb, m, n, k, a.data(), b.data(), 0.0f, pieces.data(), i0,
                                       i1, j0, std::min(n, j0 + 16));
          }
        }
        BOOST_TEST((whole == pieces), m << "x" << n << "x" << k << " ta=" << ta << " tb=" << tb);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(gemm_results_do_not_depend_on_the_thread_count) {
  // Small products above the parallel threshold run in blocks on the kernel threads.
  const int before = num_threads();
  for (auto [m, n, k] :
       {std::array<std::int64_t, 3>{64, 96, 100}, {100, 100, 100}, {7, 300, 300}}) {
    const auto a = random_values<float>(m * k, 3), b = random_values<float>(k * n, 4);
    std::vector<float> results[3];
    for (int t = 1; t <= 3; ++t) {
      set_num_threads(t);
      results[t - 1].assign(static_cast<std::size_t>(m * n), 0.5f);
      detail::gemm<float>(false, true, m, n, k, a.data(), b.data(), 1.0f, results[t - 1].data());
    }
    BOOST_TEST((results[0] == results[1] && results[1] == results[2]), m << "x" << n << "x" << k);
  }
  set_num_threads(before);
}

BOOST_AUTO_TEST_CASE(blas_blocks_are_never_small_enough_for_the_blas_small_matrix_path) {
  // OpenBLAS takes its small-matrix kernels (which allocate on AVX-512 CPUs) for calls of at
  // most 100^3 multiply-adds: every BLAS block the plan makes must be larger, on any thread
  // count, and every product up to that size must run on tapeloop's kernel.
  int bad = 0;
  for (std::int64_t m : {1, 7, 16, 33, 64, 100, 129, 250, 1000, 4000}) {
    for (std::int64_t n : {1, 9, 32, 100, 128, 255, 1024, 3000}) {
      for (std::int64_t k : {1, 16, 100, 256, 1000}) {
        for (std::int64_t threads = 1; threads <= 8; ++threads) {
          const detail::GemmPlan plan = detail::plan_gemm(m, n, k, threads);
          const std::int64_t mnk = m * n * k, per_line = mnk / plan.side;
          if (plan.small != (mnk <= kernels::small_gemm_mnk)) ++bad;
          BOOST_TEST_REQUIRE(plan.blocks >= 1);
          BOOST_TEST_REQUIRE(plan.blocks <= std::max<std::int64_t>(threads, 1));
          BOOST_TEST_REQUIRE((plan.blocks - 1) * plan.step < plan.side);
          BOOST_TEST_REQUIRE(plan.blocks * plan.step >= plan.side);
          if (plan.small) continue;
          for (std::int64_t i = 0; i < plan.blocks; ++i) {
            const std::int64_t len = std::min(plan.step, plan.side - i * plan.step);
            if (len * per_line <= kernels::small_gemm_mnk) {
              if (bad++ < 5)
                BOOST_ERROR("BLAS block of " << len * per_line << " for " << m << "x" << n << "x"
                                             << k << " on " << threads << " threads");
            }
          }
        }
      }
    }
  }
  BOOST_TEST(bad == 0);
}

BOOST_AUTO_TEST_SUITE_END()
