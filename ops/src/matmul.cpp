// matmul: shape checks, and forward and backward as GEMM calls that accumulate in place, split
// into blocks on tapeloop's threads when large.
#include "tapeloop/ops/matmul.hpp"

#include <cblas.h>

#include <algorithm>
#include <limits>
#include <string>
#include <type_traits>

#include "tapeloop/tape.hpp"
#include "tapeloop/threading.hpp"

namespace tapeloop {
namespace {

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
constexpr std::int64_t gemm_parallel_mnk = 4 * 65536;

// C[m,n] = op(A)[m,k] op(B)[k,n] + beta * C, all row-major and contiguous. With a transpose
// flag the operand is read as stored (A as [k,m], B as [n,k]): no transposed copy is ever made.
// Large products are cut along the longer side of C into one block per thread (edges on 16
// elements), each a single-threaded BLAS call on the kernel arena: docs/threading.md measures
// this against OpenBLAS's own threads. Empty products never reach BLAS, whose leading
// dimensions must be >= 1.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          const T* b, T beta, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // the sum over an empty inner dimension is zero
    if (beta == T(0)) std::fill(c, c + m * n, T(0));
    return;  // beta is 0 or 1 in this file
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
  detail::parallel_run(blocks, [&](std::int64_t i) {
    const std::int64_t lo = i * step, hi = std::min(side, lo + step);
    if (split_n) {
      gemm_block(trans_a, trans_b, m, n, k, a, b, beta, c, 0, m, lo, hi);
    } else {
      gemm_block(trans_a, trans_b, m, n, k, a, b, beta, c, lo, hi, 0, n);
    }
  });
}

std::string shapes(const Shape& a, const Shape& b) {
  return "matmul: " + a.str() + " x " + b.str();
}

}  // namespace

template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = a.tape();
  // Value and shape read once per input (copies: make_node may move the node storage; the
  // values themselves live in the arena and stay put).
  const TensorRef<const T> va = a.value();
  const TensorRef<const T> vb = b.value();
  const Shape& sa = va.shape;
  const Shape& sb = vb.shape;
  const int ra = sa.rank();
  const int rb = sb.rank();
  if (!((ra == 2 && rb == 2) || (ra == 3 && rb == 3) || (ra == 3 && rb == 2))) {
    throw ShapeError(shapes(sa, sb) +
                     ": expected [M,K] x [K,N], [B,M,K] x [B,K,N] or [B,M,K] x [K,N]");
  }
  if (ra == 3 && rb == 3 && sa[0] != sb[0]) {
    throw ShapeError(shapes(sa, sb) + ": batch sizes " + std::to_string(sa[0]) + " and " +
                     std::to_string(sb[0]) + " differ");
  }
  const std::int64_t k = sa[ra - 1];
  if (k != sb[rb - 2]) {
    throw ShapeError(shapes(sa, sb) + ": inner dimensions " + std::to_string(k) + " and " +
                     std::to_string(sb[rb - 2]) + " differ");
  }
  const std::int64_t batch = ra == 3 ? sa[0] : 1;
  const std::int64_t m = sa[ra - 2];
  const std::int64_t n = sb[rb - 1];
  const bool shared = ra == 3 && rb == 2;
  const Shape out_shape = ra == 3 ? Shape{batch, m, n} : Shape{m, n};
  // A shared weight makes [B,M,K] one contiguous [B*M,K] matrix: a single GEMM.
  const std::int64_t rows = shared ? batch * m : m;
  constexpr std::int64_t blas_max = std::numeric_limits<int>::max();  // CBLAS sizes are int
  if (rows > blas_max || n > blas_max || k > blas_max) {
    throw ShapeError(shapes(sa, sb) + ": a matrix dimension exceeds the BLAS limit of " +
                     std::to_string(blas_max));
  }

  Var<T> out = tape.make_node("matmul", out_shape, {a, b});
  const T* pa = va.data;
  const T* pb = vb.data;
  T* py = tape.mutable_value(out);
  const std::int64_t products = shared ? 1 : batch;
  const std::int64_t step_b = shared ? 0 : k * n;  // elements between batch entries of b
  for (std::int64_t i = 0; i < products; ++i) {
    gemm<T>(false, false, rows, n, k, pa + i * rows * k, pb + i * step_b, T(0), py + i * rows * n);
  }

  tape.set_backward(out, [=] {
    const T* g = out.grad().data;
    if (a.requires_grad()) {
      T* ga = a.grad().data;
      // dA += dY B^T
      for (std::int64_t i = 0; i < products; ++i) {
        gemm<T>(false, true, rows, k, n, g + i * rows * n, pb + i * step_b, T(1),
                ga + i * rows * k);
      }
    }
    if (b.requires_grad()) {
      T* gb = b.grad().data;
      // dB += A^T dY; for a shared weight the B*M rows are summed by the one GEMM.
      for (std::int64_t i = 0; i < products; ++i) {
        gemm<T>(true, false, k, n, rows, pa + i * rows * k, g + i * rows * n, T(1),
                gb + i * step_b);
      }
    }
  });
  return out;
}

template Var<float> matmul(const Var<float>&, const Var<float>&);
template Var<double> matmul(const Var<double>&, const Var<double>&);

}  // namespace tapeloop
