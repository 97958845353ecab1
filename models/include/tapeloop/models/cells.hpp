// Recurrent cells from generic operators: Elman RNN (tanh, relu), LSTM and GRU, as in PyTorch.
#pragma once

#include "tapeloop/ops/recurrent.hpp"  // LstmState
#include "tapeloop/var.hpp"

namespace tapeloop::models {

// Every cell takes PyTorch's parameter shapes, with G gates (1 for the RNN, 4 for the LSTM in
// the order i, f, g, o, 3 for the GRU in the order r, z, n):
//   x [B,I], h and c [B,H], weight_ih [G*H, I], weight_hh [G*H, H], bias_ih and bias_hh [G*H].
// A bias may be an empty Var (Var<T>{}): that cell has no bias, as PyTorch's bias=False.
//
// Each cell also comes in a *_projected form taking xw = x W_ih^T + b_ih in place of x and the
// input weights. A layer computes xw for every time step at once, as one GEMM over the whole
// [T,B,I] sequence (linear(xs, weight_ih, bias_ih) -> [T,B,G*H]), and the per-step cell then
// needs only the recurrent weights: under scan, weights = {weight_hh, bias_hh} and
// x_t = select(xw, 0, t).
//
// These are written with generic operators only (linear, narrow, sigmoid, tanh, relu, +, *), so
// they double as the reference for the fused operators lstm_cell_fused and gru_cell_fused.
// Shapes that do not fit throw ShapeError naming the cell and the shapes.

/// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).
template <class T>
Var<T> rnn_cell_tanh(const Var<T>& x, const Var<T>& h, const Var<T>& weight_ih,
                     const Var<T>& weight_hh, const Var<T>& bias_ih = {},
                     const Var<T>& bias_hh = {});
/// h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh).
template <class T>
Var<T> rnn_cell_relu(const Var<T>& x, const Var<T>& h, const Var<T>& weight_ih,
                     const Var<T>& weight_hh, const Var<T>& bias_ih = {},
                     const Var<T>& bias_hh = {});
/// gates = x W_ih^T + b_ih + h W_hh^T + b_hh; i, f, o = sigmoid, g = tanh of its four quarters;
/// c' = f * c + i * g; h' = o * tanh(c').
template <class T>
LstmState<T> lstm_cell(const Var<T>& x, const LstmState<T>& state, const Var<T>& weight_ih,
                       const Var<T>& weight_hh, const Var<T>& bias_ih = {},
                       const Var<T>& bias_hh = {});
/// r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
/// h' = (1 - z) * n + z * h, with gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh.
template <class T>
Var<T> gru_cell(const Var<T>& x, const Var<T>& h, const Var<T>& weight_ih, const Var<T>& weight_hh,
                const Var<T>& bias_ih = {}, const Var<T>& bias_hh = {});

/// The same cells from the projected input xw [B,G*H] = x W_ih^T + b_ih.
template <class T>
Var<T> rnn_cell_tanh_projected(const Var<T>& xw, const Var<T>& h, const Var<T>& weight_hh,
                               const Var<T>& bias_hh = {});
template <class T>
Var<T> rnn_cell_relu_projected(const Var<T>& xw, const Var<T>& h, const Var<T>& weight_hh,
                               const Var<T>& bias_hh = {});
template <class T>
LstmState<T> lstm_cell_projected(const Var<T>& xw, const LstmState<T>& state,
                                 const Var<T>& weight_hh, const Var<T>& bias_hh = {});
template <class T>
Var<T> gru_cell_projected(const Var<T>& xw, const Var<T>& h, const Var<T>& weight_hh,
                          const Var<T>& bias_hh = {});

/// The same arithmetic after the recurrent product, which the caller made: for a product over
/// the whole sequence (RecurrentLinear, whose weight gradient is one GEMM over all steps, on a
/// packed weight), as the layers use. The LSTM takes gates = xw + h W_hh^T + b_hh [B,4H] (the
/// RNN's is just tanh or relu of its gates); the GRU takes gi = xw and gh = h W_hh^T + b_hh
/// [B,3H] apart, since r scales gh_n.
template <class T>
LstmState<T> lstm_cell_from_gates(const Var<T>& gates, const LstmState<T>& state);
template <class T>
Var<T> gru_cell_from_gates(const Var<T>& gi, const Var<T>& gh, const Var<T>& h);

}  // namespace tapeloop::models
