// Row kernels for softmax, log_softmax and logsumexp over the last axis (contiguous rows):
// vectorized, parallel over rows, row sums by the deterministic blocked tree of reduce.hpp.
#pragma once

#include <cstdint>

namespace tapeloop::kernels {

/// y = softmax(x) (or log_softmax with `log`) of each of `rows` rows of n elements.
template <class T>
void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t n, bool log);

/// gx += the backward rule of softmax_rows given its output y and the gradient g:
/// y (g - sum(g y)) for softmax, g - exp(y) sum(g) for log_softmax.
template <class T>
void softmax_rows_backward(const T* g, const T* y, T* gx, std::int64_t rows, std::int64_t n,
                           bool log);

/// y[r] = log(sum(exp(x[r, :]))), computed as m + log(sum(exp(x - m))) with m the row maximum
/// (0 when that is infinite, so an all -inf row gives -inf); NaN propagates.
template <class T>
void logsumexp_rows(const T* x, T* y, std::int64_t rows, std::int64_t n);

/// gx[r, :] += g[r] exp(x[r, :] - y[r]): the backward rule of logsumexp_rows.
template <class T>
void logsumexp_rows_backward(const T* g, const T* x, const T* y, T* gx, std::int64_t rows,
                             std::int64_t n);

}  // namespace tapeloop::kernels
