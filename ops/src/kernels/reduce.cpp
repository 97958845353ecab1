// Deterministic, accurate, parallel sums: fixed blocks combined by a fixed tree (reduce.hpp).
#include "reduce.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "parallel.hpp"
#include "simd.hpp"
#include "tree_sum.hpp"

namespace tapeloop::kernels {
namespace {

using detail::Plain;
using detail::Product;
using detail::serial_sum;
using detail::SquaredDifference;
using detail::tree_sum;

// The same tree cut at `depth`: collects the subtrees' block ranges, left to right...
void collect(std::int64_t lo, std::int64_t hi, int depth, std::array<std::int64_t, 65>& edges,
             int& count) {
  if (depth == 0 || hi - lo == 1) {
    edges[static_cast<std::size_t>(++count)] = hi;
    return;
  }
  const std::int64_t mid = lo + (hi - lo) / 2;
  collect(lo, mid, depth - 1, edges, count);
  collect(mid, hi, depth - 1, edges, count);
}

// ...and combines the subtrees' sums with the same additions tree_sum would have made.
template <class T>
T combine(std::int64_t lo, std::int64_t hi, int depth, const T* partial, int& next) {
  if (depth == 0 || hi - lo == 1) return partial[next++];
  const std::int64_t mid = lo + (hi - lo) / 2;
  const T left = combine(lo, mid, depth - 1, partial, next);
  return left + combine(mid, hi, depth - 1, partial, next);
}

// Column blocks of strided sums are at most this wide (a stack buffer per tree level) and
// leaves sum this many rows in sequence.
constexpr std::int64_t col_block = 128;
constexpr std::int64_t leaf_rows = 32;

// out[0..w) = sum of rows [j0, j1) of x, rows `stride` apart: leaves of leaf_rows rows
// combined by halving the row range.
template <class T>
void column_tree(const T* x, std::int64_t stride, std::int64_t j0, std::int64_t j1, std::int64_t w,
                 T* out) {
  using V = Vec<T>;
  if (j1 - j0 <= leaf_rows) {
    for_batches<T>(
        w,
        [&](std::int64_t k) {
          V acc(T(0));
          for (std::int64_t j = j0; j < j1; ++j) acc += V::load_unaligned(x + j * stride + k);
          acc.store_unaligned(out + k);
        },
        [&](std::int64_t k, std::int64_t r) {
          V acc(T(0));
          for (std::int64_t j = j0; j < j1; ++j) acc += load_tail(x + j * stride + k, r, T(0));
          store_tail(acc, out + k, r);
        });
    return;
  }
  const std::int64_t mid = j0 + (j1 - j0) / 2;
  column_tree(x, stride, j0, mid, w, out);
  alignas(64) T right[col_block];
  column_tree(x, stride, mid, j1, w, right);
  for (std::int64_t k = 0; k < w; ++k) out[k] += right[k];
}

template <class T>
void store(T* y, T s, T scale, bool accumulate) {
  *y = accumulate ? *y + scale * s : scale * s;
}

}  // namespace

namespace {

// The tree of tree_sum, cut into up to 4 subtrees per thread that run in parallel; the cut
// changes what runs where, not which additions are made, so the result is serial_sum's bit for
// bit.
template <class T, class Terms>
T parallel_sum(const Terms& terms, std::int64_t n, std::int64_t work_per_element) {
  if (n <= 0) return T(0);
  const std::int64_t blocks = (n + sum_block - 1) / sum_block;
  // A term of a plain sum is one load, a third of a streaming kernel's element: the grain is
  // counted in half units here, so plain sums go parallel from 2 grains of elements.
  if (blocks == 1 || n * work_per_element < 2 * parallel_grain() || num_threads() == 1) {
    return tree_sum<T>(terms, n, 0, blocks);
  }
  int depth = 0;
  while (depth < 6 && (std::int64_t{1} << depth) < 4 * num_threads()) ++depth;
  std::array<std::int64_t, 65> edges{};
  int count = 0;
  collect(0, blocks, depth, edges, count);
  std::array<T, 64> partial{};
  parallel_for(count, n / count * work_per_element, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t s = b; s < e; ++s) {
      const auto i = static_cast<std::size_t>(s);
      partial[i] = tree_sum<T>(terms, n, edges[i], edges[i + 1]);
    }
  });
  int next = 0;
  return combine(std::int64_t{0}, blocks, depth, partial.data(), next);
}

}  // namespace

template <class T>
T sum(const T* x, std::int64_t n) {
  return parallel_sum<T>(Plain<T>{x}, n, 1);
}

template <class T>
T sum_squared_difference(const T* a, const T* b, std::int64_t n) {
  return parallel_sum<T>(SquaredDifference<T>{a, b}, n, 3);
}

template <class T>
T row_sum(const T* x, std::int64_t n) {
  return serial_sum<T>(Plain<T>{x}, n);
}

template <class T>
T row_dot(const T* a, const T* b, std::int64_t n) {
  return serial_sum<T>(Product<T>{a, b}, n);
}

template <class T>
void sum_middle(const T* x, std::int64_t outer, std::int64_t n, std::int64_t inner, T* y, T scale,
                bool accumulate) {
  if (outer <= 0 || inner <= 0) return;
  if (inner == 1) {
    if (outer == 1) {
      store(y, sum(x, n), scale, accumulate);
      return;
    }
    parallel_for(outer, n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o) {
        store(y + o, row_sum(x + o * n, n), scale, accumulate);
      }
    });
    return;
  }
  const std::int64_t blocks_per_row = (inner + col_block - 1) / col_block;
  parallel_for(outer * blocks_per_row, n * col_block, [&](std::int64_t b, std::int64_t e) {
    alignas(64) T s[col_block];
    for (std::int64_t t = b; t < e; ++t) {
      const std::int64_t o = t / blocks_per_row;
      const std::int64_t k0 = (t % blocks_per_row) * col_block;
      const std::int64_t w = std::min(col_block, inner - k0);
      if (n > 0) {
        column_tree(x + o * n * inner + k0, inner, 0, n, w, s);
      } else {
        std::fill(s, s + w, T(0));
      }
      T* yo = y + o * inner + k0;
      for (std::int64_t k = 0; k < w; ++k) store(yo + k, s[k], scale, accumulate);
    }
  });
}

template <class T>
void expand_middle(const T* g, std::int64_t outer, std::int64_t n, std::int64_t inner, T* dst,
                   T scale) {
  using V = Vec<T>;
  const std::int64_t total = outer * n * inner;
  parallel_elements(total, cost::streaming, [&](std::int64_t begin, std::int64_t end) {
    std::int64_t i = begin;
    while (i < end) {
      const std::int64_t row = i / inner, k = i % inner;
      const std::int64_t o = row / n;
      // A run shares one g element (inner = 1: the rest of the slice) or reads g densely.
      const std::int64_t len =
          inner == 1 ? std::min(n - row % n, end - i) : std::min(inner - k, end - i);
      T* d = dst + i;
      if (inner == 1) {
        const V c(scale * g[o]);
        for_batches<T>(
            len, [&](std::int64_t q) { (V::load_unaligned(d + q) + c).store_unaligned(d + q); },
            [&](std::int64_t q, std::int64_t r) { store_tail(load_tail(d + q, r) + c, d + q, r); });
      } else {
        const T* gr = g + o * inner + k;
        const V s(scale);
        for_batches<T>(
            len,
            [&](std::int64_t q) {
              xsimd::fma(V::load_unaligned(gr + q), s, V::load_unaligned(d + q))
                  .store_unaligned(d + q);
            },
            [&](std::int64_t q, std::int64_t r) {
              store_tail(xsimd::fma(load_tail(gr + q, r), s, load_tail(d + q, r)), d + q, r);
            });
      }
      i += len;
    }
  });
}

template <class T>
void sum_broadcast(const T* src, int rank, const std::int64_t* dims,
                   const std::int64_t* dst_strides, T* dst, T scale) {
  // Merge neighbouring axes into groups that are all summed (stride 0) or all kept.
  std::int64_t size[Shape::max_rank];
  bool summed[Shape::max_rank];
  std::int64_t inner_stride = 0;  // stride of the innermost axis of the last group
  int groups = 0;
  for (int d = 0; d < rank; ++d) {
    if (dims[d] == 1) continue;
    const bool s = dst_strides[d] == 0;
    if (groups > 0 && summed[groups - 1] == s && (s || inner_stride == dst_strides[d] * dims[d])) {
      size[groups - 1] *= dims[d];
    } else {
      size[groups] = dims[d];
      summed[groups] = s;
      ++groups;
    }
    inner_stride = dst_strides[d];
  }
  // [kept?, summed?, kept?] is one sum_middle; anything else is rare and summed serially.
  int q = 0;
  std::int64_t outer = 1, n = 1, inner = 1;
  const bool any_summed = std::find(summed, summed + groups, true) != summed + groups;
  if (q < groups && !summed[q] && any_summed) outer = size[q++];
  if (q < groups && summed[q]) n = size[q++];
  if (q < groups && !summed[q]) inner = size[q++];
  if (q == groups) {
    sum_middle(src, outer, n, inner, dst, scale, true);
    return;
  }
  std::int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= dims[d];
  std::int64_t index[Shape::max_rank] = {};
  std::int64_t offset = 0;
  for (std::int64_t i = 0; i < total; ++i) {
    dst[offset] += scale * src[i];
    for (int d = rank - 1; d >= 0; --d) {
      offset += dst_strides[d];
      if (++index[d] < dims[d]) break;
      offset -= dst_strides[d] * dims[d];
      index[d] = 0;
    }
  }
}

template <class T>
void sum_to(const T* src, const Shape& from, T* dst, const Shape& to, T scale) {
  std::int64_t strides[Shape::max_rank] = {};
  const int offset = from.rank() - to.rank();
  for (int d = 0; d < from.rank(); ++d) {
    const int t = d - offset;
    strides[d] = (t >= 0 && to[t] != 1) ? to.stride(t) : 0;
  }
  sum_broadcast(src, from.rank(), from.begin(), strides, dst, scale);
}

#define TAPELOOP_INSTANTIATE(T)                                                                   \
  template T sum<T>(const T*, std::int64_t);                                                      \
  template T sum_squared_difference<T>(const T*, const T*, std::int64_t);                         \
  template T row_sum<T>(const T*, std::int64_t);                                                  \
  template T row_dot<T>(const T*, const T*, std::int64_t);                                        \
  template void sum_middle<T>(const T*, std::int64_t, std::int64_t, std::int64_t, T*, T, bool);   \
  template void expand_middle<T>(const T*, std::int64_t, std::int64_t, std::int64_t, T*, T);      \
  template void sum_broadcast<T>(const T*, int, const std::int64_t*, const std::int64_t*, T*, T); \
  template void sum_to<T>(const T*, const Shape&, T*, const Shape&, T);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop::kernels
