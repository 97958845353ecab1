// Fused recurrent cells: the LSTM and GRU gate arithmetic of one time step as a single node each.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "tapeloop/shape.hpp"

#include "tapeloop/var.hpp"

namespace tapeloop {

/// The nonlinearity of a plain (Elman) RNN step.
enum class RnnActivation : std::uint8_t { tanh, relu };

/// One plain RNN step after the matrix products: h = act(gi + gh) with gi = x W_ih^T + b_ih and
/// gh = h_prev W_hh^T + b_hh, both [B,H] — the bias add and the activation in one node and one
/// pass over memory each way (backward reads only h). gi and gh must have the same shape
/// (ShapeError otherwise).
template <class T>
Var<T> rnn_cell_fused(const Var<T>& gi, const Var<T>& gh, RnnActivation act);

/// The same step on gates = gi + gh summed by the caller: h = act(gates), [B,H] (as a layer whose
/// recurrent product adds into its input projection has them; RecurrentLinear on a base).
template <class T>
Var<T> rnn_cell_fused(const Var<T>& gates, RnnActivation act);

/// The shape check of every recurrent cell, fused or written with generic operators: throws
/// ShapeError naming `op` and every shape unless `state` is [B,H] and each gate input is
/// [B, gates*H], e.g. "lstm_cell_fused: gi [2,16], gh [2,12], c_prev [2,4]: expected gh [2,16]
/// ([B,4H] for B = 2, H = 4)". Builds no string unless it throws.
void check_cell_shapes(const char* op, const char* state_name, const Shape& state,
                       std::initializer_list<std::pair<const char*, Shape>> gate_inputs, int gates);

/// The state an LSTM carries from one time step to the next: hidden state h and cell state c,
/// both [B,H].
template <class T>
struct LstmState {
  Var<T> h;
  Var<T> c;
};

/// One LSTM step after the matrix products, in PyTorch's gate order i, f, g, o:
///   gates = x W_ih^T + b_ih + h W_hh^T + b_hh        [B,4H], computed by the caller
///   i = sigmoid(gates[:, 0:H])     f = sigmoid(gates[:, H:2H])
///   g = tanh(gates[:, 2H:3H])      o = sigmoid(gates[:, 3H:4H])
///   c = f * c_prev + i * g         h = o * tanh(c)
/// One node whose value is [2,B,H] ([h; c] contiguously): the returned h and c are views of its
/// two halves sharing its gradient, so the backward rule sees both incoming gradients at once
/// (a c nobody uses contributes zero). Forward and backward are one pass over memory each;
/// backward keeps the four activations and tanh(c) (5BH numbers) and nothing else. The sigmoid
/// is evaluated without overflow for any input. gates must be [B,4H] and c_prev [B,H]
/// (ShapeError otherwise).
template <class T>
LstmState<T> lstm_cell_fused(const Var<T>& gates, const Var<T>& c_prev);

/// The same step with gates = gi + gh summed inside the node: gi = x W_ih^T + b_ih and
/// gh = h W_hh^T + b_hh, both [B,4H], as a layer has them. Saves recording an add of [B,4H]
/// and storing its result at every time step; both gi and gh receive the gate gradient.
template <class T>
LstmState<T> lstm_cell_fused(const Var<T>& gi, const Var<T>& gh, const Var<T>& c_prev);

/// One GRU step after the matrix products, in PyTorch's gate order r, z, n and with its formula:
///   gi = x W_ih^T + b_ih,  gh = h_prev W_hh^T + b_hh     both [B,3H], computed by the caller
///   r = sigmoid(gi_r + gh_r)       z = sigmoid(gi_z + gh_z)
///   n = tanh(gi_n + r * gh_n)      h = (1 - z) * n + z * h_prev
/// gh is separate from gi because r multiplies all of gh_n, including b_hn. One node [B,H];
/// backward keeps r, z and n (3BH numbers). gi and gh must be [B,3H] and h_prev [B,H]
/// (ShapeError otherwise).
template <class T>
Var<T> gru_cell_fused(const Var<T>& gi, const Var<T>& gh, const Var<T>& h_prev);

}  // namespace tapeloop
