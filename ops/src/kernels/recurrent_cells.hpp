// Kernels of the fused LSTM and GRU steps: the gate arithmetic of one time step over [B,H],
// vectorized with xsimd and split across the kernel threads for large batches.
#pragma once

#include <cstdint>

#include "tapeloop/ops/recurrent.hpp"  // RnnActivation

namespace tapeloop::kernels {

/// What the LSTM and GRU backward rules read, per batch row, in blocks of `hidden` numbers.
/// LSTM: i, f, g, o and tanh(c) (5 blocks); GRU: r, z and n (3 blocks).
inline constexpr std::int64_t lstm_saved_per_row = 5;
inline constexpr std::int64_t gru_saved_per_row = 3;

/// One plain RNN step over n = B*H elements: h = act(gi + gh), or act(gi) when gh is null.
template <class T>
void rnn_cell_forward(RnnActivation act, const T* gi, const T* gh, T* h, std::int64_t n);

/// Its backward rule from the output h: adds act'(.) dh into dgi and dgh (either may be null).
template <class T>
void rnn_cell_backward(RnnActivation act, const T* dh, const T* h, T* dgi, T* dgh, std::int64_t n);

/// One LSTM step in PyTorch's gate order i, f, g, o over rows of gates = gi + gh ([B,4H] each;
/// gh may be null, then gates = gi):
///   c = sigmoid(f) c_prev + sigmoid(i) tanh(g),  h = sigmoid(o) tanh(c).
/// Writes h and c ([B,H]) and, when `saved` is not null, the activations backward needs
/// ([B, 5H]: lstm_saved_per_row blocks of H per row).
template <class T>
void lstm_cell_forward(const T* gi, const T* gh, const T* c_prev, T* h, T* c, T* saved,
                       std::int64_t batch, std::int64_t hidden);

/// The backward rule of lstm_cell_forward: from the incoming dh and dc ([B,H]) adds the gate
/// gradient ([B,4H]) into dgates and into dgates2, and dc f into dc_prev. Any of the three
/// outputs may be null (no gradient wanted).
template <class T>
void lstm_cell_backward(const T* dh, const T* dc, const T* saved, const T* c_prev, T* dgates,
                        T* dgates2, T* dc_prev, std::int64_t batch, std::int64_t hidden);

/// One GRU step in PyTorch's gate order r, z, n from gi and gh ([B,3H] each):
///   r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r gh_n),
///   h = (1 - z) n + z h_prev.
/// Writes h ([B,H]) and, when `saved` is not null, r, z and n ([B,3H]).
template <class T>
void gru_cell_forward(const T* gi, const T* gh, const T* h_prev, T* h, T* saved, std::int64_t batch,
                      std::int64_t hidden);

/// The backward rule of gru_cell_forward: from dh ([B,H]) adds into dgi and dgh ([B,3H]) and
/// dh_prev ([B,H]); any of them may be null. Reads gh's n block (r scales it).
template <class T>
void gru_cell_backward(const T* dh, const T* saved, const T* gh, const T* h_prev, T* dgi, T* dgh,
                       T* dh_prev, std::int64_t batch, std::int64_t hidden);

}  // namespace tapeloop::kernels
