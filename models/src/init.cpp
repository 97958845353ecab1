// Weight initializers: fans, bounds and the Gram-Schmidt behind orthogonal().
#include "tapeloop/models/init.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tapeloop/errors.hpp"

namespace tapeloop::models::init {
namespace {

struct Fans {
  double in, out;
};

Fans fans(const char* op, const Shape& s) {
  if (s.rank() < 2) {
    throw ValueError(std::string("init::") + op + ": " + s.str() +
                     ": fans need a tensor with at least 2 dimensions");
  }
  double receptive = 1;
  for (int a = 2; a < s.rank(); ++a) receptive *= static_cast<double>(s[a]);
  return {static_cast<double>(s[1]) * receptive, static_cast<double>(s[0]) * receptive};
}

// Modified Gram-Schmidt on the n columns of a [m, n] row-major matrix (m >= n), in place: the
// columns become orthonormal and R's diagonal positive. Two passes ("twice is enough") keep
// Q^T Q = I to rounding even when the columns are nearly dependent.
void gram_schmidt(std::vector<double>& a, std::int64_t m, std::int64_t n) {
  auto at = [&](std::int64_t i, std::int64_t j) -> double& {
    return a[static_cast<std::size_t>(i * n + j)];
  };
  for (std::int64_t j = 0; j < n; ++j) {
    for (int pass = 0; pass < 2; ++pass) {
      for (std::int64_t k = 0; k < j; ++k) {
        double dot = 0;
        for (std::int64_t i = 0; i < m; ++i) dot += at(i, k) * at(i, j);
        for (std::int64_t i = 0; i < m; ++i) at(i, j) -= dot * at(i, k);
      }
    }
    double norm = 0;
    for (std::int64_t i = 0; i < m; ++i) norm += at(i, j) * at(i, j);
    norm = std::sqrt(norm);
    // A normal matrix has dependent columns with probability 0; guard against 0 / 0 anyway.
    if (norm == 0) throw ValueError("init::orthogonal: the random matrix is rank deficient");
    for (std::int64_t i = 0; i < m; ++i) at(i, j) /= norm;
  }
}

}  // namespace

template <class T>
void uniform(Tensor<T>& w, double bound, Generator& rng) {
  if (!(bound >= 0)) {
    throw ValueError("init::uniform: " + w.shape().str() + ": bound " + std::to_string(bound) +
                     " is negative");
  }
  for (T& v : w) v = static_cast<T>(rng.uniform(-bound, bound));
}

template <class T>
void rnn_default(Tensor<T>& w, std::int64_t hidden_size, Generator& rng) {
  if (hidden_size <= 0) {
    throw ValueError("init::rnn_default: " + w.shape().str() + ": hidden size " +
                     std::to_string(hidden_size) + " is not positive");
  }
  uniform(w, 1.0 / std::sqrt(static_cast<double>(hidden_size)), rng);
}

template <class T>
void xavier_uniform(Tensor<T>& w, Generator& rng, double gain) {
  const Fans f = fans("xavier_uniform", w.shape());
  uniform(w, gain * std::sqrt(6.0 / (f.in + f.out)), rng);
}

template <class T>
void xavier_normal(Tensor<T>& w, Generator& rng, double gain) {
  const Fans f = fans("xavier_normal", w.shape());
  const double stddev = gain * std::sqrt(2.0 / (f.in + f.out));
  for (T& v : w) v = static_cast<T>(stddev * rng.normal());
}

template <class T>
void orthogonal(Tensor<T>& w, Generator& rng, double gain) {
  const Shape& s = w.shape();
  if (s.rank() < 2) {
    throw ValueError("init::orthogonal: " + s.str() +
                     ": needs a tensor with at least 2 dimensions");
  }
  const std::int64_t rows = s[0];
  if (w.numel() == 0) return;
  const std::int64_t cols = w.numel() / rows;
  // Orthogonalize the columns of the tall one of [rows, cols] and its transpose, as PyTorch.
  const bool wide = rows < cols;
  const std::int64_t m = wide ? cols : rows, n = wide ? rows : cols;
  std::vector<double> a(static_cast<std::size_t>(m * n));
  for (double& v : a) v = rng.normal();
  gram_schmidt(a, m, n);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      const double q =
          wide ? a[static_cast<std::size_t>(c * n + r)] : a[static_cast<std::size_t>(r * n + c)];
      w[r * cols + c] = static_cast<T>(gain * q);
    }
  }
}

template <class T>
void identity(Tensor<T>& w, double scale) {
  const Shape& s = w.shape();
  if (s.rank() != 2) throw ValueError("init::identity: " + s.str() + ": needs a matrix");
  w.fill(T(0));
  for (std::int64_t i = 0; i < std::min(s[0], s[1]); ++i) w[i * s[1] + i] = static_cast<T>(scale);
}

template <class T>
void lstm_forget_gate_bias(Tensor<T>& bias, double value) {
  const Shape& s = bias.shape();
  if (s.rank() != 1 || s[0] % 4 != 0) {
    throw ValueError("init::lstm_forget_gate_bias: bias " + s.str() +
                     ": expected [4H] (gates i, f, g, o)");
  }
  const std::int64_t H = s[0] / 4;
  std::fill(bias.data() + H, bias.data() + 2 * H, static_cast<T>(value));
}

#define TAPELOOP_INSTANTIATE(T)                                    \
  template void uniform(Tensor<T>&, double, Generator&);           \
  template void rnn_default(Tensor<T>&, std::int64_t, Generator&); \
  template void xavier_uniform(Tensor<T>&, Generator&, double);    \
  template void xavier_normal(Tensor<T>&, Generator&, double);     \
  template void orthogonal(Tensor<T>&, Generator&, double);        \
  template void identity(Tensor<T>&, double);                      \
  template void lstm_forget_gate_bias(Tensor<T>&, double);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop::models::init
