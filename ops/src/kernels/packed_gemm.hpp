// Matrix products whose right operand is reused by many calls — the recurrent weight, multiplied
// by every time step's state — with that operand packed once into the kernel's panel layout.
#pragma once

#include <cstdint>

namespace tapeloop::kernels {

/// Columns of op(B) per packed panel: two SIMD batches (16 floats or 8 doubles with 256-bit
/// kernels). Block edges of a packed product fall on multiples of it.
template <class T>
std::int64_t packed_panel_width();

/// Elements a packed op(B) [k,n] takes: n rounded up to whole panels, times k.
template <class T>
std::int64_t packed_size(std::int64_t n, std::int64_t k);

/// Packs op(B) [k,n] — B stored [k,n], or [n,k] with trans_b — into `packed` (packed_size
/// elements, 64-byte aligned): panel after panel of panel_width columns, each panel k rows of
/// panel_width contiguous elements, the columns past n zero. One pass over B.
template <class T>
void pack_b(bool trans_b, std::int64_t n, std::int64_t k, const T* b, T* packed);

/// The columns [n0, n1) of C[m,n] = A[m,k] op(B) + beta C, op(B) given packed by pack_b, A and
/// C row-major and contiguous, beta 0 or 1 (with 1 the product is added to C a depth block of
/// 256 at a time). n0 is a multiple of the panel width; m, k >= 1. Every element is summed in one
/// order whatever the block, so blocks run on several threads give the one-call result bit for bit.
template <class T>
void packed_gemm(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, const T* packed,
                 T beta, T* c, std::int64_t n0, std::int64_t n1);

}  // namespace tapeloop::kernels
