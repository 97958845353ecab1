// Small matrix products (kernels/small_gemm.hpp): rows of op(B) against broadcast elements of
// op(A), in register tiles, op(B) packed a panel at a time into a stack buffer when enough rows
// of C reuse it; for a few rows B is read in place, B^T as dot products of rows of A and B.
#include "small_gemm.hpp"

#include <algorithm>
#include <type_traits>

#include "simd.hpp"

namespace tapeloop::kernels {
namespace {

// op(A) read in place: element (i, p) of A [m,k], or of A^T for A stored as [k,m]. The
// transpose is a template parameter so that the inner loops hold no branch.
template <class T, bool Trans>
struct OperandA {
  const T* a;
  std::int64_t m, k;
  T at(std::int64_t i, std::int64_t p) const { return Trans ? a[p * m + i] : a[i * k + p]; }
  // The same matrix from column p0 of op(A) on.
  OperandA from(std::int64_t p0) const { return {Trans ? a + p0 * m : a + p0, m, k}; }
};

// A row-major [k, cols] block of op(B): row p starts at data + p * ld.
template <class T>
struct RowsB {
  const T* data;
  std::int64_t ld;
};

// c[0..cols) = acc (+ c with beta), cols <= L: the last batch of a row may be partial.
template <class T>
inline void store_row(const Vec<T>& acc, T* c, std::int64_t cols, T beta) {
  if (cols == lanes<T>) {
    (beta == T(0) ? acc : Vec<T>::load_unaligned(c) + acc).store_unaligned(c);
  } else {
    store_tail(beta == T(0) ? acc : load_tail(c, cols, T(0)) + acc, c, cols);
  }
}

// C[i0:i0+MR, 0:cols] = sum over p of MR broadcast elements of op(A) times NV batches of row p
// of B: MR * NV accumulators in registers (6 x 2 with AVX2: 12 of the 16 vector registers,
// 8 loads per 12 multiply-adds). cols is at most NV * L and more than (NV - 1) * L; only the
// last batch may be partial, and it is read and written with masks, so nothing past a row is
// touched. c points at row 0, column 0 of the tile's columns in C.
template <class T, int MR, int NV, class A>
void broadcast_tile(const A& a, RowsB<T> b, std::int64_t k, std::int64_t i0, std::int64_t cols,
                    T beta, T* c, std::int64_t ldc) {
  using V = Vec<T>;
  constexpr std::int64_t L = lanes<T>;
  const std::int64_t last = cols - (NV - 1) * L;  // lanes of the last batch: 1..L
  V acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = V(T(0));
  for (std::int64_t p = 0; p < k; ++p) {
    const T* row = b.data + p * b.ld;
    V bv[NV];
    for (int v = 0; v + 1 < NV; ++v) bv[v] = V::load_unaligned(row + v * L);
    bv[NV - 1] = last == L ? V::load_unaligned(row + (NV - 1) * L)
                           : load_tail(row + (NV - 1) * L, last, T(0));
    for (int r = 0; r < MR; ++r) {
      const V ar(a.at(i0 + r, p));
      for (int v = 0; v < NV; ++v) acc[r][v] = xsimd::fma(ar, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    T* row = c + (i0 + r) * ldc;
    for (int v = 0; v + 1 < NV; ++v) store_row(acc[r][v], row + v * L, L, beta);
    store_row(acc[r][NV - 1], row + (NV - 1) * L, last, beta);
  }
}

// Rows [i0, i0 + MR) of C against `width` columns of B: two-batch tiles, then one batch at a
// time (the last one masked).
template <class T, int MR, int NV, class A>
void broadcast_rows(const A& a, RowsB<T> b, std::int64_t k, std::int64_t i0, std::int64_t width,
                    T beta, T* c, std::int64_t ldc) {
  constexpr std::int64_t L = lanes<T>;
  std::int64_t j = 0;
  for (; j + NV * L <= width; j += NV * L)
    broadcast_tile<T, MR, NV, A>(a, RowsB<T>{b.data + j, b.ld}, k, i0, NV * L, beta, c + j, ldc);
  for (; j < width; j += L) {
    broadcast_tile<T, MR, 1, A>(a, RowsB<T>{b.data + j, b.ld}, k, i0, std::min(L, width - j), beta,
                                c + j, ldc);
  }
}

// Rows [m0, m1) of C against `width` columns of B: six rows at a time; a single row gets four
// batches, so that a matrix-vector product (the per-step product of a batch-1 RNN) still has
// four independent chains of multiply-adds.
template <class T, class A>
void broadcast_block(const A& a, RowsB<T> b, std::int64_t k, std::int64_t m0, std::int64_t m1,
                     std::int64_t width, T beta, T* c, std::int64_t ldc) {
  std::int64_t i = m0;
  for (; i + 6 <= m1; i += 6) broadcast_rows<T, 6, 2, A>(a, b, k, i, width, beta, c, ldc);
  switch (m1 - i) {
    case 5:
      return broadcast_rows<T, 5, 2, A>(a, b, k, i, width, beta, c, ldc);
    case 4:
      return broadcast_rows<T, 4, 2, A>(a, b, k, i, width, beta, c, ldc);
    case 3:
      return broadcast_rows<T, 3, 2, A>(a, b, k, i, width, beta, c, ldc);
    case 2:
      return broadcast_rows<T, 2, 2, A>(a, b, k, i, width, beta, c, ldc);
    case 1:
      return broadcast_rows<T, 1, 4, A>(a, b, k, i, width, beta, c, ldc);
    default:
      return;
  }
}

// The L batches' sums as one batch: lane q is the sum of the lanes of v[q]. xsimd::haddp does
// it in one pass, but xsimd 8.1 (Debian 12) returns 512-bit float batches with lanes 2-3 and 4-5
// of each half exchanged; there each batch is reduced on its own instead (another tree, so
// other last bits than haddp would give, the same wherever the block edges fall).
template <class T>
Vec<T> sums_of(const Vec<T> (&v)[lanes<T>]) {
  constexpr std::int64_t L = lanes<T>;
  if constexpr (std::is_same_v<T, float> && L == 16) {
    alignas(64) T out[L];
    for (std::int64_t q = 0; q < L; ++q) out[q] = xsimd::hadd(v[q]);
    return Vec<T>::load_aligned(out);
  } else {
    return xsimd::haddp(v);
  }
}

// C[i0:i0+MR, j0:j0+cols] for op(B) = B^T with B stored [n,k] and op(A) = A: every element is
// the dot product of a row of A with a row of B, both contiguous. L accumulators per row of C
// (one per column) run along k, then sums_of reduces the L of them at once into one batch
// of L results, stored as a row segment. cols <= L; the columns past cols repeat the last
// valid row of B and are not stored.
template <class T, int MR>
void dot_tile(const T* a, const T* b, std::int64_t n, std::int64_t k, std::int64_t i0,
              std::int64_t j0, std::int64_t cols, T beta, T* c) {
  using V = Vec<T>;
  constexpr std::int64_t L = lanes<T>;
  const T* brow[L];
  for (std::int64_t q = 0; q < L; ++q) brow[q] = b + (j0 + std::min(q, cols - 1)) * k;
  V acc[MR][L];
  for (int r = 0; r < MR; ++r)
    for (std::int64_t q = 0; q < L; ++q) acc[r][q] = V(T(0));
  auto step = [&](std::int64_t p, auto load) {
    V av[MR];
    for (int r = 0; r < MR; ++r) av[r] = load(a + (i0 + r) * k + p);
    for (std::int64_t q = 0; q < L; ++q) {
      const V bv = load(brow[q] + p);
      for (int r = 0; r < MR; ++r) acc[r][q] = xsimd::fma(av[r], bv, acc[r][q]);
    }
  };
  std::int64_t p = 0;
  for (; p + L <= k; p += L) step(p, [](const T* x) { return V::load_unaligned(x); });
  if (p < k) {
    const std::int64_t rest = k - p;
    step(p, [rest](const T* x) { return load_tail(x, rest, T(0)); });
  }
  for (int r = 0; r < MR; ++r) store_row(sums_of<T>(acc[r]), c + (i0 + r) * n + j0, cols, beta);
}

template <class T>
void dot_block(const T* a, const T* b, std::int64_t n, std::int64_t k, std::int64_t m0,
               std::int64_t m1, std::int64_t n0, std::int64_t n1, T beta, T* c) {
  constexpr std::int64_t L = lanes<T>;
  // Each tile keeps MR * L accumulators in registers: 8 with AVX2 (8 floats, or 2 rows of 4
  // doubles), 16 with 512-bit floats.
  constexpr int MR = L <= 4 ? 2 : 1;
  std::int64_t i = m0;
  for (; i + MR <= m1; i += MR) {
    for (std::int64_t j = n0; j < n1; j += L)
      dot_tile<T, MR>(a, b, n, k, i, j, std::min(L, n1 - j), beta, c);
  }
  for (; i < m1; ++i) {
    for (std::int64_t j = n0; j < n1; j += L)
      dot_tile<T, 1>(a, b, n, k, i, j, std::min(L, n1 - j), beta, c);
  }
}

// op(B) packed: panels of 2L columns of op(B) and up to packed_depth of its rows copied into an
// aligned stack buffer, then multiplied by the broadcast tiles. B read in place has rows n
// elements apart, which for n near a multiple of 1024 floats fall into the same few L1 sets,
// and loads that straddle cache lines; a panel has neither. Copying costs one pass over B per
// call (B^T is transposed on the way), which pays from packed_min_rows rows of C. Deeper
// products are summed a panel depth at a time into C.
constexpr std::int64_t packed_depth = 256;

inline std::int64_t packed_min_rows(bool trans_b) {
  return trans_b ? 16 : 8;
}

template <class T, bool TransB, class A>
void packed_block(const A& a, const T* b, std::int64_t n, std::int64_t k, std::int64_t m0,
                  std::int64_t m1, std::int64_t n0, std::int64_t n1, T beta, T* c) {
  constexpr std::int64_t width = 2 * lanes<T>;
  alignas(64) T panel[packed_depth * width];
  for (std::int64_t j = n0; j < n1; j += width) {
    const std::int64_t cols = std::min(width, n1 - j);
    for (std::int64_t p0 = 0; p0 < k; p0 += packed_depth) {
      const std::int64_t depth = std::min(packed_depth, k - p0);
      if constexpr (TransB) {  // B is [n,k]: column q of the panel is row j + q of B
        for (std::int64_t q = 0; q < cols; ++q) {
          const T* row = b + (j + q) * k + p0;
          for (std::int64_t p = 0; p < depth; ++p) panel[p * width + q] = row[p];
        }
      } else {  // B is [k,n]: row p of the panel is part of row p0 + p of B
        for (std::int64_t p = 0; p < depth; ++p) {
          const T* row = b + (p0 + p) * n + j;
          for (std::int64_t v = 0; v < cols; v += lanes<T>) {
            const std::int64_t r = cols - v;
            (r >= lanes<T> ? Vec<T>::load_unaligned(row + v) : load_tail(row + v, r, T(0)))
                .store_aligned(panel + p * width + v);
          }
        }
      }
      broadcast_block<T>(a.from(p0), RowsB<T>{panel, width}, depth, m0, m1, cols,
                         p0 == 0 ? beta : T(1), c + j, n);
    }
  }
}

}  // namespace

template <class T>
void small_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                const T* a, const T* b, T beta, T* c, std::int64_t m0, std::int64_t m1,
                std::int64_t n0, std::int64_t n1) {
  const OperandA<T, false> plain_a{a, m, k};
  const OperandA<T, true> transposed_a{a, m, k};
  auto with_a = [&](auto run) { return trans_a ? run(transposed_a) : run(plain_a); };
  // The way is chosen by the whole product's shape, never by the block's, so that every
  // block of a product sums each element in the same order.
  if (m >= packed_min_rows(trans_b)) {
    with_a([&](const auto& op_a) {
      if (trans_b) {
        packed_block<T, true>(op_a, b, n, k, m0, m1, n0, n1, beta, c);
      } else {
        packed_block<T, false>(op_a, b, n, k, m0, m1, n0, n1, beta, c);
      }
    });
  } else if (!trans_b) {
    with_a([&](const auto& op_a) {
      broadcast_block<T>(op_a, RowsB<T>{b + n0, n}, k, m0, m1, n1 - n0, beta, c + n0, n);
    });
  } else if (!trans_a) {
    dot_block(a, b, n, k, m0, m1, n0, n1, beta, c);
  } else {
    // A^T B^T for a few rows: no operator forms it; a plain loop keeps it correct.
    for (std::int64_t i = m0; i < m1; ++i) {
      for (std::int64_t j = n0; j < n1; ++j) {
        T sum = T(0);
        for (std::int64_t p = 0; p < k; ++p) sum += a[p * m + i] * b[j * k + p];
        c[i * n + j] = beta == T(0) ? sum : c[i * n + j] + sum;
      }
    }
  }
}

template void small_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*,
                                const float*, float, float*, std::int64_t, std::int64_t,
                                std::int64_t, std::int64_t);
template void small_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t,
                                 const double*, const double*, double, double*, std::int64_t,
                                 std::int64_t, std::int64_t, std::int64_t);

}  // namespace tapeloop::kernels
