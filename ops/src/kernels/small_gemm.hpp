// Matrix products too small for a BLAS call to pay: register-blocked xsimd kernels that read the
// operands where they are (no packing), allocate nothing and run the same code on every CPU.
#pragma once

#include <cstdint>

namespace tapeloop::kernels {

/// Products of at most this many multiply-adds (m n k) run on small_gemm, larger ones on the
/// BLAS. It is also OpenBLAS's bound for its AVX-512 small-matrix kernels (SkylakeX and
/// Cooperlake), which allocate memory on every call: detail::gemm never hands the BLAS a
/// product or a block this small, so a training step allocates nothing on any CPU.
inline constexpr std::int64_t small_gemm_mnk = 100 * 100 * 100;

/// The block C[m0:m1, n0:n1] of C[m,n] = op(A) op(B) + beta C, row-major and contiguous: A is
/// [m,k] ([k,m] with trans_a), B is [k,n] ([n,k] with trans_b), beta is 0 or 1 (with 1 the
/// product is formed first, then added to C). k >= 1. Every element is summed in the same order
/// wherever the block edges fall, so a product cut into blocks for several threads equals the
/// product in one call, bit for bit.
template <class T>
void small_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                const T* a, const T* b, T beta, T* c, std::int64_t m0, std::int64_t m1,
                std::int64_t n0, std::int64_t n1);

}  // namespace tapeloop::kernels
