// Softmax, log_softmax and logsumexp along contiguous rows: one row per task item, vector
// exp, row sums by the blocked tree (so every row's result is fixed by its values alone).
#include "softmax.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

#include "parallel.hpp"
#include "simd.hpp"
#include "tree_sum.hpp"

namespace tapeloop::kernels {
namespace {

using detail::Plain;
using detail::Product;
using detail::serial_sum;

// Per element the row kernels run an exp and a few streaming passes.
constexpr std::int64_t row_cost = cost::exp + 2;

// The row maximum, NaN if the row holds one (a lane takes v when v is larger or NaN).
template <class T>
T row_max(const T* x, std::int64_t n) {
  using V = Vec<T>;
  const T lowest = -std::numeric_limits<T>::infinity();
  V m(lowest);
  auto take = [&](const V& v) { m = xsimd::select((v > m) | (v != v), v, m); };
  for_batches<T>(
      n, [&](std::int64_t i) { take(V::load_unaligned(x + i)); },
      [&](std::int64_t i, std::int64_t r) { take(load_tail(x + i, r, lowest)); });
  alignas(64) T lane[Vec<T>::size];
  m.store_aligned(lane);
  T best = lane[0];
  for (std::int64_t k = 1; k < lanes<T>; ++k) {
    if (lane[k] > best || (lane[k] != lane[k] && best == best)) best = lane[k];
  }
  return best;
}

// y[0..n) = f(x[0..n)) for a batch function f.
template <class T, class F>
void map_row(const T* x, T* y, std::int64_t n, F f) {
  using V = Vec<T>;
  for_batches<T>(
      n, [&](std::int64_t i) { f(V::load_unaligned(x + i)).store_unaligned(y + i); },
      [&](std::int64_t i, std::int64_t r) { store_tail(f(load_tail(x + i, r)), y + i, r); });
}

// exp(x[i] - m) as reduction terms; the tail pads with -inf, whose exp adds 0.
template <class T>
struct ExpShifted {
  const T* x;
  T m;
  Vec<T> at(std::int64_t i) const { return vexp(Vec<T>::load_unaligned(x + i) - Vec<T>(m)); }
  Vec<T> tail(std::int64_t i, std::int64_t r) const {
    return vexp(load_tail(x + i, r, -std::numeric_limits<T>::infinity()) - Vec<T>(m));
  }
};

}  // namespace

template <class T>
void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t n, bool log) {
  using V = Vec<T>;
  parallel_for(rows, n * row_cost, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      const T* xr = x + r * n;
      T* yr = y + r * n;
      const V m(row_max(xr, n));
      // y = exp(x - m) first; its sum normalizes softmax and gives log_softmax's log term.
      map_row(xr, yr, n, [&](const V& v) { return vexp(v - m); });
      const T s = serial_sum<T>(Plain<T>{yr}, n);
      if (log) {
        // (x - m) - log s, in that order: x - m is exact near the maximum, where folding
        // m + log s into one number would round at the scale of m.
        const V ls(std::log(s));
        map_row(xr, yr, n, [&](const V& v) { return (v - m) - ls; });
      } else {
        const V inv(T(1) / s);
        map_row(yr, yr, n, [&](const V& v) { return v * inv; });
      }
    }
  });
}

template <class T>
void softmax_rows_backward(const T* g, const T* y, T* gx, std::int64_t rows, std::int64_t n,
                           bool log) {
  using V = Vec<T>;
  parallel_for(rows, n * row_cost, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      const T* gr = g + r * n;
      const T* yr = y + r * n;
      T* dr = gx + r * n;
      const V s(log ? serial_sum<T>(Plain<T>{gr}, n) : serial_sum<T>(Product<T>{gr, yr}, n));
      auto rule = [&](const V& vg, const V& vy, const V& vd) {
        return log ? vd + (vg - vexp(vy) * s) : vd + vy * (vg - s);
      };
      for_batches<T>(
          n,
          [&](std::int64_t i) {
            rule(V::load_unaligned(gr + i), V::load_unaligned(yr + i), V::load_unaligned(dr + i))
                .store_unaligned(dr + i);
          },
          [&](std::int64_t i, std::int64_t q) {
            store_tail(rule(load_tail(gr + i, q), load_tail(yr + i, q), load_tail(dr + i, q)),
                       dr + i, q);
          });
    }
  });
}

template <class T>
void logsumexp_rows(const T* x, T* y, std::int64_t rows, std::int64_t n) {
  parallel_for(rows, n * row_cost, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      const T* xr = x + r * n;
      T m = row_max(xr, n);
      if (std::isinf(m)) m = T(0);  // +inf - +inf would be NaN; all -inf must give -inf
      y[r] = m + std::log(serial_sum<T>(ExpShifted<T>{xr, m}, n));
    }
  });
}

template <class T>
void logsumexp_rows_backward(const T* g, const T* x, const T* y, T* gx, std::int64_t rows,
                             std::int64_t n) {
  using V = Vec<T>;
  parallel_for(rows, n * row_cost, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      const T* xr = x + r * n;
      T* dr = gx + r * n;
      const V gy(g[r]), yv(y[r]);
      // d/dx_j = exp(x_j - y): the softmax, read off the output.
      for_batches<T>(
          n,
          [&](std::int64_t i) {
            xsimd::fma(gy, vexp(V::load_unaligned(xr + i) - yv), V::load_unaligned(dr + i))
                .store_unaligned(dr + i);
          },
          [&](std::int64_t i, std::int64_t q) {
            store_tail(xsimd::fma(gy, vexp(load_tail(xr + i, q) - yv), load_tail(dr + i, q)),
                       dr + i, q);
          });
    }
  });
}

#define TAPELOOP_INSTANTIATE(T)                                                              \
  template void softmax_rows<T>(const T*, T*, std::int64_t, std::int64_t, bool);             \
  template void softmax_rows_backward<T>(const T*, const T*, T*, std::int64_t, std::int64_t, \
                                         bool);                                              \
  template void logsumexp_rows<T>(const T*, T*, std::int64_t, std::int64_t);                 \
  template void logsumexp_rows_backward<T>(const T*, const T*, const T*, T*, std::int64_t,   \
                                           std::int64_t);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop::kernels
