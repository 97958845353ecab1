// Products against a packed right operand (kernels/packed_gemm.hpp): for each panel of op(B), a
// depth block of it stays in L1 while register tiles of 6 (or 5, 4, ...) rows of A sweep past it.
#include "packed_gemm.hpp"

#include <algorithm>

#include "simd.hpp"

namespace tapeloop::kernels {
namespace {

template <class T>
constexpr std::int64_t width = 2 * lanes<T>;

// Rows of a panel summed per pass over C: 256 rows of 16 floats are 16 KiB, half of L1, so the
// panel block stays there while every row tile of A passes (measured best of 128, 256, 512 and
// the whole depth on the recurrent products of configs M and L).
constexpr std::int64_t depth_block = 256;

// C[0:MR, 0:cols] = A[0:MR, 0:depth] panel[0:depth, :] (+ C with beta): MR x 2 accumulators in
// registers (12 of the 16 with AVX2 at MR = 6: 8 loads per 12 multiply-adds). The last panel
// of a matrix may hold fewer than `width` real columns; the rest are stored with a mask.
template <class T, int MR>
void tile(const T* a, std::int64_t lda, const T* panel, std::int64_t depth, T beta, T* c,
          std::int64_t ldc, std::int64_t cols) {
  using V = Vec<T>;
  constexpr std::int64_t L = lanes<T>;
  V acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = V(T(0));
    // Unrolled: the loop's own instructions otherwise take issue slots from the loads and FMAs
    // (measured 61-69 -> 78-80 GFLOP/s on config M's products).
#pragma GCC unroll 4
  for (std::int64_t p = 0; p < depth; ++p) {
    const V b0 = V::load_aligned(panel + p * width<T>);
    const V b1 = V::load_aligned(panel + p * width<T> + L);
    for (int r = 0; r < MR; ++r) {
      const V ar(a[r * lda + p]);
      acc[r][0] = xsimd::fma(ar, b0, acc[r][0]);
      acc[r][1] = xsimd::fma(ar, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    T* row = c + r * ldc;
    for (int v = 0; v < 2; ++v) {
      const std::int64_t lanes_left = std::min(L, cols - v * L);
      if (lanes_left <= 0) break;
      T* out = row + v * L;
      if (lanes_left == L) {
        (beta == T(0) ? acc[r][v] : V::load_unaligned(out) + acc[r][v]).store_unaligned(out);
      } else {
        store_tail(beta == T(0) ? acc[r][v] : load_tail(out, lanes_left, T(0)) + acc[r][v], out,
                   lanes_left);
      }
    }
  }
}

// Rows of C in tiles of 6 where it can, never leaving 1 to 3 rows alone when 4 or 5 would do:
// a tile of r rows has 2r independent chains of multiply-adds, and it takes 8 to keep both FMA
// units busy (4 cycles of latency), so small tiles waste the machine.
inline int rows_of_next_tile(std::int64_t left) {
  if (left >= 10 || left == 6) return 6;
  if (left == 5 || left == 9) return 5;
  if (left >= 4) return 4;
  return static_cast<int>(left);
}

template <class T>
void rows_against_panel(std::int64_t m, const T* a, std::int64_t lda, const T* panel,
                        std::int64_t depth, T beta, T* c, std::int64_t ldc, std::int64_t cols) {
  using Tile =
      void (*)(const T*, std::int64_t, const T*, std::int64_t, T, T*, std::int64_t, std::int64_t);
  static constexpr Tile tiles[] = {nullptr,    tile<T, 1>, tile<T, 2>, tile<T, 3>,
                                   tile<T, 4>, tile<T, 5>, tile<T, 6>};
  for (std::int64_t i = 0; i < m;) {
    const int mr = rows_of_next_tile(m - i);
    tiles[mr](a + i * lda, lda, panel, depth, beta, c + i * ldc, ldc, cols);
    i += mr;
  }
}

}  // namespace

template <class T>
std::int64_t packed_panel_width() {
  return width<T>;
}

template <class T>
std::int64_t packed_size(std::int64_t n, std::int64_t k) {
  return (n + width<T> - 1) / width<T> * width<T> * k;
}

template <class T>
void pack_b(bool trans_b, std::int64_t n, std::int64_t k, const T* b, T* packed) {
  constexpr std::int64_t W = width<T>;
  if (trans_b) {  // B is [n,k]: column q of a panel is row j + q of B, read along its length
    for (std::int64_t j = 0; j < n; j += W) {
      T* panel = packed + j * k;
      const std::int64_t cols = std::min(W, n - j);
      for (std::int64_t q = 0; q < cols; ++q) {
        const T* row = b + (j + q) * k;
        for (std::int64_t p = 0; p < k; ++p) panel[p * W + q] = row[p];
      }
      for (std::int64_t q = cols; q < W; ++q) {
        for (std::int64_t p = 0; p < k; ++p) panel[p * W + q] = T(0);
      }
    }
    return;
  }
  // B is [k,n]: each row of B, read once from start to end, is cut into a piece per panel.
  for (std::int64_t p = 0; p < k; ++p) {
    const T* row = b + p * n;
    for (std::int64_t j = 0; j < n; j += W) {
      T* piece = packed + j * k + p * W;
      const std::int64_t cols = std::min(W, n - j);
      std::copy(row + j, row + j + cols, piece);
      std::fill(piece + cols, piece + W, T(0));
    }
  }
}

template <class T>
void packed_gemm(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, const T* packed,
                 T beta, T* c, std::int64_t n0, std::int64_t n1) {
  constexpr std::int64_t W = width<T>;
  for (std::int64_t j = n0; j < n1; j += W) {
    const T* panel = packed + j * k;
    const std::int64_t cols = std::min(W, n - j);
    for (std::int64_t p0 = 0; p0 < k; p0 += depth_block) {
      rows_against_panel<T>(m, a + p0, k, panel + p0 * W, std::min(depth_block, k - p0),
                            p0 == 0 ? beta : T(1), c + j, n, cols);
    }
  }
}

template std::int64_t packed_panel_width<float>();
template std::int64_t packed_panel_width<double>();
template std::int64_t packed_size<float>(std::int64_t, std::int64_t);
template std::int64_t packed_size<double>(std::int64_t, std::int64_t);
template void pack_b<float>(bool, std::int64_t, std::int64_t, const float*, float*);
template void pack_b<double>(bool, std::int64_t, std::int64_t, const double*, double*);
template void packed_gemm<float>(std::int64_t, std::int64_t, std::int64_t, const float*,
                                 const float*, float, float*, std::int64_t, std::int64_t);
template void packed_gemm<double>(std::int64_t, std::int64_t, std::int64_t, const double*,
                                  const double*, double, double*, std::int64_t, std::int64_t);

}  // namespace tapeloop::kernels
