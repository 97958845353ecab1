// Deterministic sums: the order of every addition depends on the sizes only, never on the
// thread count or the scheduling, so results are bit-identical run after run and across thread
// counts; blocked pairwise summation keeps float sums of millions of elements accurate.
#pragma once

#include <cstdint>

#include "tapeloop/shape.hpp"

namespace tapeloop::kernels {

/// x[0] + ... + x[n-1]. Blocks of `sum_block` elements are each summed by 4 vector accumulators
/// (so each lane adds at most sum_block / (4 * lanes) numbers in sequence), the lanes and the
/// block sums are combined by a balanced binary tree fixed by n; subtrees run in parallel.
/// Error bound ~ (sum_block / (4 lanes) + log2 n) eps * sum |x|, vs n eps for a plain loop.
template <class T>
T sum(const T* x, std::int64_t n);

inline constexpr std::int64_t sum_block = 2048;

/// sum((a - b)^2) with sum()'s blocking and tree (mse_loss).
template <class T>
T sum_squared_difference(const T* a, const T* b, std::int64_t n);

/// sum() and sum(a * b) on the calling thread, for kernels that are parallel over rows; the
/// same tree as sum(), so the same result.
template <class T>
T row_sum(const T* x, std::int64_t n);
template <class T>
T row_dot(const T* a, const T* b, std::int64_t n);

/// A row-major [outer, n, inner] array summed over its middle axis:
/// y[o, k] = scale * sum_j x[o, j, k], or y[o, k] += that with `accumulate`. Contiguous rows
/// (inner = 1) use sum()'s blocking; strided ones sum leaves of a few rows and combine the
/// leaves by a balanced tree, for column blocks of up to 128 in parallel.
template <class T>
void sum_middle(const T* x, std::int64_t outer, std::int64_t n, std::int64_t inner, T* y, T scale,
                bool accumulate);

/// dst[o, j, k] += scale * g[o, k]: the backward rule of sum_middle.
template <class T>
void expand_middle(const T* g, std::int64_t outer, std::int64_t n, std::int64_t inner, T* dst,
                   T scale);

/// dst += scale * src summed over the axes along which dst is broadcast: src is a dense array
/// of `rank` dims, dst_strides[d] is dst's element stride along axis d, 0 where dst is
/// broadcast (the backward rule of broadcasting). Runs as one sum_middle after merging axes;
/// layouts that do not reduce to [kept, summed, kept] take a serial loop.
template <class T>
void sum_broadcast(const T* src, int rank, const std::int64_t* dims,
                   const std::int64_t* dst_strides, T* dst, T scale);

/// sum_broadcast for shapes: dst (shape `to`) += scale * src (shape `from`, which `to`
/// broadcasts to) summed down to `to`.
template <class T>
void sum_to(const T* src, const Shape& from, T* dst, const Shape& to, T scale = T(1));

}  // namespace tapeloop::kernels
