// The packed-weight GEMM of the recurrent product: against a long double reference for both
// layouts the weight is packed from, every tile height, panel tails and depths over one block;
// guard elements that stay untouched; column blocks and thread counts that change no bit.
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "gemm.hpp"
#include "kernels/packed_gemm.hpp"
#include "support/check.hpp"
#include "support/gemm_reference.hpp"
#include "tapeloop/threading.hpp"

using namespace tapeloop;
using tapeloop::testing::GuardedMatrix;
using tapeloop::testing::random_values;
using tapeloop::testing::wrong_elements;

namespace {

// op(B) packed into a 64-byte aligned buffer with a guard element after it, which pack_b
// must leave alone.
template <class T>
struct Packed {
  std::vector<T> storage;
  T* data = nullptr;
  std::int64_t size = 0;

  Packed(bool trans_b, std::int64_t n, std::int64_t k, const std::vector<T>& b) {
    size = kernels::packed_size<T>(n, k);
    storage.assign(static_cast<std::size_t>(size + 64), T(777));
    auto address = reinterpret_cast<std::uintptr_t>(storage.data());
    data = storage.data() + (64 - address % 64) % 64 / sizeof(T);
    kernels::pack_b<T>(trans_b, n, k, b.data(), data);
  }
  bool guard_intact() const { return data[size] == T(777); }
};

// C = A op(B) + beta C through the packed kernel on the whole matrix, checked element by
// element against a long double reference, with guard elements around C and after op(B).
template <class T>
int check_packed_gemm(bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T beta) {
  const std::vector<T> a = random_values<T>(m * k, static_cast<std::uint64_t>(m * 1000 + k));
  const std::vector<T> b = random_values<T>(k * n, static_cast<std::uint64_t>(n * 1000 + k + 7));
  const Packed<T> packed(tb, n, k, b);
  GuardedMatrix<T> c(m, n, static_cast<std::uint64_t>(m + n + k));
  kernels::packed_gemm<T>(m, n, k, a.data(), packed.data, beta, c.data(), 0, n);
  const int bad =
      (packed.guard_intact() ? 0 : 1) + c.guards_touched() +
      wrong_elements(
          c, m, n, k, beta,
          [&](std::int64_t i, std::int64_t p) { return a[static_cast<std::size_t>(i * k + p)]; },
          [&](std::int64_t p, std::int64_t j) {
            return b[static_cast<std::size_t>(tb ? j * k + p : p * n + j)];
          });
  if (bad) {
    BOOST_ERROR("packed_gemm tb=" << tb << " m=" << m << " n=" << n << " k=" << k
                                  << " beta=" << beta << ": " << bad << " wrong elements");
  }
  return bad;
}

template <class T>
void check_every_tile_and_tail() {
  const std::int64_t W = kernels::packed_panel_width<T>();
  int bad = 0;
  for (bool tb : {false, true}) {
    // Every row count up to 13 (tiles of 6, 5, 4 and the 1..3 left over), and two panels'
    // worth of columns around the panel width and half of it (the masked second batch).
    for (std::int64_t m = 1; m <= 13; ++m) {
      for (std::int64_t n :
           {std::int64_t{1}, W / 2 - 1, W / 2, W / 2 + 1, W - 1, W, W + 1, 2 * W + 3}) {
        if (n < 1) continue;
        // Depths within one block, at it, and over several blocks of 256.
        for (std::int64_t k : {1, 7, 256, 257, 600}) {
          bad += check_packed_gemm<T>(tb, m, n, k, T(0));
          bad += check_packed_gemm<T>(tb, m, n, k, T(1));
        }
      }
    }
  }
  BOOST_TEST(bad == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_packed_gemm)

BOOST_AUTO_TEST_CASE(packed_gemm_matches_the_reference_float) {
  check_every_tile_and_tail<float>();
}

BOOST_AUTO_TEST_CASE(packed_gemm_matches_the_reference_double) {
  check_every_tile_and_tail<double>();
}

BOOST_AUTO_TEST_CASE(column_blocks_and_threads_change_no_bit) {
  // gemm_packed cuts C into blocks of whole panels, one per thread: every cut gives the
  // product of one call, bit for bit.
  const std::int64_t W = kernels::packed_panel_width<float>();
  const int before = num_threads();
  for (auto [m, n, k] :
       {std::array<std::int64_t, 3>{32, 1024, 256}, {64, 300, 700}, {7, 77, 300}}) {
    const auto a = random_values<float>(m * k, 5), b = random_values<float>(k * n, 6);
    const Packed<float> packed(true, n, k, b);
    std::vector<float> whole(static_cast<std::size_t>(m * n), 0.25f), pieces = whole;
    kernels::packed_gemm<float>(m, n, k, a.data(), packed.data, 1.0f, whole.data(), 0, n);
    for (std::int64_t j0 = 0; j0 < n; j0 += 3 * W) {
      kernels::packed_gemm<float>(m, n, k, a.data(), packed.data, 1.0f, pieces.data(), j0,
                                  std::min(n, j0 + 3 * W));
    }
    BOOST_TEST((whole == pieces), m << "x" << n << "x" << k);
    for (int t = 1; t <= 3; ++t) {
      set_num_threads(t);
      std::vector<float> threaded(static_cast<std::size_t>(m * n), 0.25f);
      detail::gemm_packed<float>(m, n, k, a.data(), packed.data, 1.0f, threaded.data());
      BOOST_TEST((threaded == whole), m << "x" << n << "x" << k << " on " << t << " threads");
    }
  }
  set_num_threads(before);
}

BOOST_AUTO_TEST_SUITE_END()
