// Row-major GEMM through CBLAS, shared by matmul and linear: transposes are read in place.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace tapeloop::detail {

/// The largest matrix dimension CBLAS accepts (its sizes are int).
inline constexpr std::int64_t blas_max = std::numeric_limits<int>::max();

// C[m,n] = op(A)[m,k] op(B)[k,n] + beta * C, all row-major and contiguous. With a transpose flag
// the operand is read as stored (A as [k,m], B as [n,k]): no transposed copy is ever made. Empty
// products never reach BLAS, whose leading dimensions must be >= 1. beta is 0 or 1.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          const T* b, T beta, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // the sum over an empty inner dimension is zero
    if (beta == T(0)) std::fill(c, c + m * n, T(0));
    return;
  }
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  const int lda = static_cast<int>(trans_a ? m : k);
  const int ldb = static_cast<int>(trans_b ? k : n);
  const int ldc = static_cast<int>(n);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0f, a, lda, b, ldb, beta, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0, a, lda, b, ldb, beta, c, ldc);
  }
}

}  // namespace tapeloop::detail
