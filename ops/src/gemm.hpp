// Row-major GEMM through CBLAS, shared by matmul and linear: transposes are read in place, large
// products split into blocks on tapeloop's threads.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tapeloop/threading.hpp"

namespace tapeloop::detail {

/// The largest matrix dimension CBLAS accepts (its sizes are int).
inline constexpr std::int64_t blas_max = std::numeric_limits<int>::max();

// One BLAS call for the block C[m0:m1, n0:n1] of C = op(A) op(B) + beta C (row-major, ld* the
// full matrices' leading dimensions). OpenBLAS runs it on the calling thread: tapeloop sets its
// thread count to 1 (lib/src/threading.cpp) and parallelizes by calling it on several blocks.
template <class T>
void gemm_block(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                const T* a, const T* b, T beta, T* c, std::int64_t m0, std::int64_t m1,
                std::int64_t n0, std::int64_t n1) {
  const int lda = static_cast<int>(trans_a ? m : k);
  const int ldb = static_cast<int>(trans_b ? k : n);
  const T* pa = trans_a ? a + m0 : a + m0 * lda;  // rows m0.. of op(A)
  const T* pb = trans_b ? b + n0 * ldb : b + n0;  // columns n0.. of op(B)
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  const int bm = static_cast<int>(m1 - m0), bn = static_cast<int>(n1 - n0);
  T* pc = c + m0 * n + n0;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, bm, bn, static_cast<int>(k), 1.0f, pa, lda, pb, ldb, beta,
                pc, static_cast<int>(n));
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, bm, bn, static_cast<int>(k), 1.0, pa, lda, pb, ldb, beta, pc,
                static_cast<int>(n));
  }
}

// Products with fewer multiply-adds run as one call: about 8 us on one core of the target, where
// waking a second thread (3-12 us when it sleeps) stops paying off. OpenBLAS's own threshold
// for going multi-threaded is the same, m n k > 4 * 65536.
inline constexpr std::int64_t gemm_parallel_mnk = 4 * 65536;

// C[m,n] = op(A)[m,k] op(B)[k,n] + beta * C, all row-major and contiguous. With a transpose
// flag the operand is read as stored (A as [k,m], B as [n,k]): no transposed copy is ever made.
// Large products are cut along the longer side of C into one block per thread (edges on 16
// elements), each a single-threaded BLAS call on the kernel arena: docs/threading.md measures
// this against OpenBLAS's own threads. Empty products never reach BLAS, whose leading
// dimensions must be >= 1. beta is 0 or 1.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          const T* b, T beta, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // the sum over an empty inner dimension is zero
    if (beta == T(0)) std::fill(c, c + m * n, T(0));
    return;
  }
  const std::int64_t threads = num_threads();  // also applies the policy before the first call
  const bool split_n = n >= m;
  const std::int64_t side = split_n ? n : m;
  const std::int64_t step = ((side + threads - 1) / threads + 15) / 16 * 16;
  const std::int64_t blocks = (side + step - 1) / step;
  if (threads == 1 || m * n * k < gemm_parallel_mnk || blocks < 2) {
    gemm_block(trans_a, trans_b, m, n, k, a, b, beta, c, 0, m, 0, n);
    return;
  }
  parallel_run(blocks, [&](std::int64_t i) {
    const std::int64_t lo = i * step, hi = std::min(side, lo + step);
    if (split_n) {
      gemm_block(trans_a, trans_b, m, n, k, a, b, beta, c, 0, m, lo, hi);
    } else {
      gemm_block(trans_a, trans_b, m, n, k, a, b, beta, c, lo, hi, 0, n);
    }
  });
}

}  // namespace tapeloop::detail
