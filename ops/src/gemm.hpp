// Row-major GEMM shared by matmul, linear and the recurrent product: small products on
// tapeloop's own kernel, larger ones through CBLAS; transposes read in place, large products
// split into blocks on tapeloop's threads.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/packed_gemm.hpp"
#include "kernels/small_gemm.hpp"
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

// How a product is run: on which kernel, cut into how many blocks along which side of C.
struct GemmPlan {
  bool small = true;      // tapeloop's kernel (kernels::small_gemm) rather than the BLAS
  bool split_n = true;    // blocks are column ranges of C (else row ranges)
  std::int64_t side = 0;  // the length of the side that is cut
  std::int64_t step = 0;  // block length along it: a multiple of 16, the last block may be shorter
  std::int64_t blocks = 1;
};

// Products of up to kernels::small_gemm_mnk multiply-adds run on tapeloop's own kernel (no call
// overhead, no allocation, the same result on every CPU: docs/kernels.md), larger ones on the
// BLAS. Products of at least gemm_parallel_mnk are cut along the longer side of C into one
// block per thread (edges on 16 elements). A BLAS block is never smaller than small_gemm_mnk
// (fewer blocks instead), so the BLAS never takes its small-matrix path, which allocates on
// some CPUs. m, n, k >= 1.
inline GemmPlan plan_gemm(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t threads) {
  GemmPlan plan;
  const std::int64_t mnk = m * n * k;
  plan.small = mnk <= kernels::small_gemm_mnk;
  plan.split_n = n >= m;
  plan.side = plan.split_n ? n : m;
  plan.step = plan.side;
  if (mnk < gemm_parallel_mnk) return plan;
  const std::int64_t per_line = mnk / plan.side;  // multiply-adds per row or column of C
  for (; threads > 1; --threads) {
    plan.step = ((plan.side + threads - 1) / threads + 15) / 16 * 16;
    plan.blocks = (plan.side + plan.step - 1) / plan.step;
    const std::int64_t last = plan.side - (plan.blocks - 1) * plan.step;  // the smallest block
    if (plan.small || last * per_line > kernels::small_gemm_mnk) return plan;
  }
  plan.step = plan.side;
  plan.blocks = 1;
  return plan;
}

// C[m,n] = op(A)[m,k] op(B)[k,n] + beta * C, all row-major and contiguous. With a transpose
// flag the operand is read as stored (A as [k,m], B as [n,k]): no transposed copy is ever made.
// Blocks run on the kernel arena, each a single-threaded call (plan_gemm; docs/threading.md
// measures this against OpenBLAS's own threads). Empty products never reach BLAS, whose
// leading dimensions must be >= 1. beta is 0 or 1.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          const T* b, T beta, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // the sum over an empty inner dimension is zero
    if (beta == T(0)) std::fill(c, c + m * n, T(0));
    return;
  }
  // num_threads() also applies the threading policy before the first BLAS call.
  const GemmPlan plan = plan_gemm(m, n, k, num_threads());
  auto block = [&](std::int64_t m0, std::int64_t m1, std::int64_t n0, std::int64_t n1) {
    if (plan.small) {
      kernels::small_gemm(trans_a, trans_b, m, n, k, a, b, beta, c, m0, m1, n0, n1);
    } else {
      gemm_block(trans_a, trans_b, m, n, k, a, b, beta, c, m0, m1, n0, n1);
    }
  };
  if (plan.blocks == 1) {
    block(0, m, 0, n);
    return;
  }
  parallel_run(plan.blocks, [&](std::int64_t i) {
    const std::int64_t lo = i * plan.step, hi = std::min(plan.side, lo + plan.step);
    if (plan.split_n) {
      block(0, m, lo, hi);
    } else {
      block(lo, hi, 0, n);
    }
  });
}

// C[m,n] = A[m,k] op(B) + beta C with op(B) packed by kernels::pack_b: the product of an operand
// used by many calls (the recurrent weight at every step), packed once instead of by the BLAS
// on every call. Products of at least gemm_parallel_mnk are cut into column blocks of whole
// panels, one per thread; the result is the same bits on any number of threads.
template <class T>
void gemm_packed(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, const T* packed,
                 T beta, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == T(0)) std::fill(c, c + m * n, T(0));
    return;
  }
  const std::int64_t width = kernels::packed_panel_width<T>();
  const std::int64_t panels = (n + width - 1) / width;
  const std::int64_t blocks =
      m * n * k < gemm_parallel_mnk ? 1 : std::min<std::int64_t>(num_threads(), panels);
  if (blocks == 1) {
    kernels::packed_gemm(m, n, k, a, packed, beta, c, 0, n);
    return;
  }
  const std::int64_t per_block = (panels + blocks - 1) / blocks * width;
  parallel_run(blocks, [&](std::int64_t i) {
    const std::int64_t lo = i * per_block;
    if (lo < n) kernels::packed_gemm(m, n, k, a, packed, beta, c, lo, std::min(n, lo + per_block));
  });
}

}  // namespace tapeloop::detail
