// The blocked pairwise sum behind every reduction: fixed blocks of sum_block terms, each summed
// by four vector accumulators, combined by a balanced tree that depends on n only.
#pragma once

#include <algorithm>
#include <cstdint>

#include "reduce.hpp"
#include "simd.hpp"

namespace tapeloop::kernels::detail {

// What a reduction adds up, element i: x[i], a[i] b[i] or (a[i] - b[i])^2, a batch at a time;
// tail() pads with terms equal to 0.
template <class T>
struct Plain {
  const T* x;
  Vec<T> at(std::int64_t i) const { return Vec<T>::load_unaligned(x + i); }
  Vec<T> tail(std::int64_t i, std::int64_t r) const { return load_tail(x + i, r, T(0)); }
};
template <class T>
struct Product {
  const T* a;
  const T* b;
  Vec<T> at(std::int64_t i) const {
    return Vec<T>::load_unaligned(a + i) * Vec<T>::load_unaligned(b + i);
  }
  Vec<T> tail(std::int64_t i, std::int64_t r) const {
    return load_tail(a + i, r, T(0)) * load_tail(b + i, r, T(0));
  }
};
template <class T>
struct SquaredDifference {
  const T* a;
  const T* b;
  Vec<T> at(std::int64_t i) const {
    const Vec<T> d = Vec<T>::load_unaligned(a + i) - Vec<T>::load_unaligned(b + i);
    return d * d;
  }
  Vec<T> tail(std::int64_t i, std::int64_t r) const {
    const Vec<T> d = load_tail(a + i, r, T(0)) - load_tail(b + i, r, T(0));
    return d * d;
  }
};

// Sum of the terms [i0, i0 + n), n <= sum_block: four accumulators, then their lanes pairwise.
template <class T, class Terms>
T block_sum(const Terms& terms, std::int64_t i0, std::int64_t n) {
  using V = Vec<T>;
  constexpr std::int64_t L = lanes<T>;
  V acc[4] = {V(T(0)), V(T(0)), V(T(0)), V(T(0))};
  std::int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    for (int k = 0; k < 4; ++k) acc[k] += terms.at(i0 + i + k * L);
  }
  for (int k = 0; i + L <= n; i += L, ++k) acc[k] += terms.at(i0 + i);
  if (i < n) acc[3] += terms.tail(i0 + i, n - i);
  alignas(64) T lane[Vec<T>::size];
  ((acc[0] + acc[1]) + (acc[2] + acc[3])).store_aligned(lane);
  for (std::int64_t h = L / 2; h >= 1; h /= 2) {
    for (std::int64_t k = 0; k < h; ++k) lane[k] += lane[k + h];
  }
  return lane[0];
}

// Blocks [lo, hi) of n terms, combined by halving the block range.
template <class T, class Terms>
T tree_sum(const Terms& terms, std::int64_t n, std::int64_t lo, std::int64_t hi) {
  if (hi - lo == 1) {
    return block_sum<T>(terms, lo * sum_block, std::min(sum_block, n - lo * sum_block));
  }
  const std::int64_t mid = lo + (hi - lo) / 2;
  return tree_sum<T>(terms, n, lo, mid) + tree_sum<T>(terms, n, mid, hi);
}

/// The whole tree on the calling thread.
template <class T, class Terms>
T serial_sum(const Terms& terms, std::int64_t n) {
  return n > 0 ? tree_sum<T>(terms, n, 0, (n + sum_block - 1) / sum_block) : T(0);
}

}  // namespace tapeloop::kernels::detail
