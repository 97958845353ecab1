// Fused RNN, LSTM and GRU cells: each step's gate arithmetic as one node whose forward and backward
// are one vectorized pass each (ops/src/kernels/recurrent_cells.cpp).
#include "tapeloop/ops/recurrent.hpp"

#include <initializer_list>
#include <string>
#include <utility>

#include "kernels/recurrent_cells.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace {

// Throws ShapeError unless `state` is [B,H] and every gate input is [B, gates*H]. The message
// is built only on failure: recording must not touch the heap.
void check_cell(const char* op, const char* state_name, const Shape& state,
                std::initializer_list<std::pair<const char*, Shape>> gate_inputs, int gates) {
  auto listed = [&] {
    std::string s = std::string(op) + ": ";
    for (const auto& [name, shape] : gate_inputs) s += std::string(name) + " " + shape.str() + ", ";
    return s + state_name + " " + state.str();
  };
  if (state.rank() != 2) throw ShapeError(listed() + ": expected " + state_name + " [B,H]");
  const Shape want{state[0], gates * state[1]};
  for (const auto& [name, shape] : gate_inputs) {
    if (shape != want) {
      throw ShapeError(listed() + ": expected " + name + " " + want.str() + " ([B," +
                       std::to_string(gates) + "H] for B = " + std::to_string(state[0]) +
                       ", H = " + std::to_string(state[1]) + ")");
    }
  }
}

// The gradient buffer of an input of a node whose backward rule is running, or null when the
// input needs none. The rule runs inside backward() of the recording that made it, so the Var
// is live; node()'s liveness check is two inline compares.
template <class T>
T* grad_if_needed(const Var<T>& v) {
  Tape<T>& tape = *v.tape_ptr();
  return (tape.node(v).flags & Node<T>::requires_grad) ? tape.grad_of(v.index()) : nullptr;
}

// Records the LSTM step; gh is empty for the one-input form.
template <class T>
LstmState<T> record_lstm_cell(const Var<T>& gi, const Var<T>& gh, const Var<T>& c_prev) {
  Tape<T>& tape = gi.tape();
  const Shape cs = c_prev.shape();
  if (gh.empty()) {
    check_cell("lstm_cell_fused", "c_prev", cs, {{"gates", gi.shape()}}, 4);
  } else {
    check_cell("lstm_cell_fused", "c_prev", cs, {{"gi", gi.shape()}, {"gh", gh.shape()}}, 4);
  }
  const std::int64_t batch = cs[0], H = cs[1], n = batch * H;
  const Shape out_shape{2, batch, H};
  Var<T> out = gh.empty() ? tape.make_node("lstm_cell_fused", out_shape, {gi, c_prev})
                          : tape.make_node("lstm_cell_fused", out_shape, {gi, gh, c_prev});
  const T* pcp = c_prev.value().data;
  T* ph = tape.mutable_value(out);
  // Saved for backward: i, f, g, o and tanh(c) per row. Nothing when no gradient flows.
  T* saved = out.requires_grad() ? tape.scratch(kernels::lstm_saved_per_row * n) : nullptr;
  kernels::lstm_cell_forward(gi.value().data, gh.empty() ? nullptr : gh.value().data, pcp, ph,
                             ph + n, saved, batch, H);

  tape.set_backward(out, [=] {
    const T* dh = out.tape_ptr()->grad_of(out.index());  // the h half, then the c half
    kernels::lstm_cell_backward(dh, dh + n, saved, pcp, grad_if_needed(gi),
                                gh.empty() ? nullptr : grad_if_needed(gh), grad_if_needed(c_prev),
                                batch, H);
  });
  return {tape.make_view("lstm_cell_fused.h", out, 0, Shape{batch, H}, true),
          tape.make_view("lstm_cell_fused.c", out, n, Shape{batch, H}, true)};
}

}  // namespace

template <class T>
Var<T> rnn_cell_fused(const Var<T>& gi, const Var<T>& gh, RnnActivation act) {
  Tape<T>& tape = gi.tape();
  const Shape shape = gi.shape();
  if (gh.shape() != shape) {
    throw ShapeError(std::string("rnn_cell_fused: gi ") + shape.str() + ", gh " + gh.shape().str() +
                     ": expected the same shape");
  }
  Var<T> out = tape.make_node("rnn_cell_fused", shape, {gi, gh});
  T* ph = tape.mutable_value(out);
  const std::int64_t n = shape.numel();
  kernels::rnn_cell_forward(act, gi.value().data, gh.value().data, ph, n);
  tape.set_backward(out, [=] {
    kernels::rnn_cell_backward(act, out.tape_ptr()->grad_of(out.index()), ph, grad_if_needed(gi),
                               grad_if_needed(gh), n);
  });
  return out;
}

template <class T>
LstmState<T> lstm_cell_fused(const Var<T>& gates, const Var<T>& c_prev) {
  return record_lstm_cell(gates, Var<T>{}, c_prev);
}

template <class T>
LstmState<T> lstm_cell_fused(const Var<T>& gi, const Var<T>& gh, const Var<T>& c_prev) {
  if (gh.empty()) throw TapeError("lstm_cell_fused: empty Var for gh (default-constructed)");
  return record_lstm_cell(gi, gh, c_prev);
}

template <class T>
Var<T> gru_cell_fused(const Var<T>& gi, const Var<T>& gh, const Var<T>& h_prev) {
  Tape<T>& tape = gi.tape();
  const Shape hs = h_prev.shape();
  check_cell("gru_cell_fused", "h_prev", hs, {{"gi", gi.shape()}, {"gh", gh.shape()}}, 3);
  const std::int64_t batch = hs[0], H = hs[1];
  Var<T> out = tape.make_node("gru_cell_fused", hs, {gi, gh, h_prev});
  const T* pgh = gh.value().data;
  const T* php = h_prev.value().data;
  // Saved for backward: r, z and n per row.
  T* saved = out.requires_grad() ? tape.scratch(kernels::gru_saved_per_row * batch * H) : nullptr;
  kernels::gru_cell_forward(gi.value().data, pgh, php, tape.mutable_value(out), saved, batch, H);

  tape.set_backward(out, [=] {
    kernels::gru_cell_backward(out.tape_ptr()->grad_of(out.index()), saved, pgh, php,
                               grad_if_needed(gi), grad_if_needed(gh), grad_if_needed(h_prev),
                               batch, H);
  });
  return out;
}

#define TAPELOOP_INSTANTIATE(T)                                                       \
  template Var<T> rnn_cell_fused(const Var<T>&, const Var<T>&, RnnActivation);        \
  template LstmState<T> lstm_cell_fused(const Var<T>&, const Var<T>&);                \
  template LstmState<T> lstm_cell_fused(const Var<T>&, const Var<T>&, const Var<T>&); \
  template Var<T> gru_cell_fused(const Var<T>&, const Var<T>&, const Var<T>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
