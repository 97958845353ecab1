// Weight initializers in place on a tensor: uniform, PyTorch's RNN default, Glorot, orthogonal,
// identity, and the LSTM forget-gate bias.
#pragma once

#include <cstdint>

#include "tapeloop/random.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop::models::init {

// Every initializer overwrites all of `w` and draws from `rng` in row-major order, so a seed
// fixes the weights. Fans follow PyTorch: for w of shape [out, in, k...], fan_in = in * k...
// and fan_out = out * k... (a [4H, I] LSTM weight counts as one matrix, as in PyTorch).

/// U(-bound, bound). Throws ValueError for a negative bound.
template <class T>
void uniform(Tensor<T>& w, double bound, Generator& rng);

/// PyTorch's default for every RNN, LSTM and GRU weight and bias: U(±1/sqrt(hidden_size)).
/// Throws ValueError unless hidden_size > 0.
template <class T>
void rnn_default(Tensor<T>& w, std::int64_t hidden_size, Generator& rng);

/// Glorot uniform: U(±gain * sqrt(6 / (fan_in + fan_out))). w needs rank >= 2 (ValueError).
template <class T>
void xavier_uniform(Tensor<T>& w, Generator& rng, double gain = 1.0);

/// Glorot normal: N(0, gain * sqrt(2 / (fan_in + fan_out))). w needs rank >= 2 (ValueError).
template <class T>
void xavier_normal(Tensor<T>& w, Generator& rng, double gain = 1.0);

/// A (semi-)orthogonal matrix times `gain`, as PyTorch's orthogonal_: w viewed as [rows, cols]
/// (cols = the product of the other dims) is the Q of a normal matrix, with orthonormal columns
/// when rows >= cols (Q^T Q = I) and orthonormal rows otherwise (Q Q^T = I). Q is computed by
/// Gram-Schmidt in double, orthogonalizing twice for accuracy, with R's diagonal positive so
/// the result is uniformly distributed. w needs rank >= 2 (ValueError).
template <class T>
void orthogonal(Tensor<T>& w, Generator& rng, double gain = 1.0);

/// `scale` on the diagonal, 0 elsewhere (the IRNN recurrent weight, W_hh = scale * I; for a
/// non-square matrix the leading diagonal). w must have rank 2 (ValueError).
template <class T>
void identity(Tensor<T>& w, double scale = 1.0);

/// Sets the forget-gate quarter [H, 2H) of an LSTM bias [4H] (gate order i, f, g, o) to
/// `value`, leaving the rest. The forget gate sees b_ih + b_hh, so to start it at 1 set one of
/// them to 1 and the other to 0. Throws ValueError unless the bias is [4H].
template <class T>
void lstm_forget_gate_bias(Tensor<T>& bias, double value);

}  // namespace tapeloop::models::init
