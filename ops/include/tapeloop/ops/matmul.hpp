// Matrix products through BLAS: plain, batched, and a weight shared across a batch.
#pragma once

#include "tapeloop/var.hpp"

namespace tapeloop {

/// The matrix product, in three forms:
///   [M,K]   x [K,N]   -> [M,N]
///   [B,M,K] x [B,K,N] -> [B,M,N]   one product per batch entry
///   [B,M,K] x [K,N]   -> [B,M,N]   the same [K,N] weight for every batch entry
/// The forward pass and both gradients are single GEMM calls (B of them in the batched form);
/// the shared-weight gradient is one GEMM over the B*M flattened rows. Any other combination of
/// ranks, differing batch sizes or inner dimensions throws ShapeError naming both shapes.
template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b);

}  // namespace tapeloop
