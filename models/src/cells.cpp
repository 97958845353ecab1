// Recurrent cells written with generic operators only; the fused operators are checked against
// them.
#include "tapeloop/models/cells.hpp"

#include <string>

#include "tapeloop/errors.hpp"
#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/linear.hpp"
#include "tapeloop/ops/recurrent.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/ops/unary.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::models {
namespace {

// x W^T + b, or x W^T for an empty bias.
template <class T>
Var<T> affine(const Var<T>& x, const Var<T>& w, const Var<T>& b) {
  return b.empty() ? linear(x, w) : linear(x, w, b);
}

std::string gates_of(int gates) {
  return gates == 1 ? std::string("H") : std::to_string(gates) + "H";
}

// Checks weight_hh [G*H,H], h [B,H], c (if any) like h, and xw [B,G*H]; returns H.
std::int64_t check_recurrence(const char* cell, int gates, const Shape& xw, const Shape& h,
                              const Shape* c, const Shape& w_hh) {
  // Messages are built only on failure: recording a step must not touch the heap.
  auto head = [&] { return std::string(cell) + ": "; };
  if (w_hh.rank() != 2 || w_hh[0] != gates * w_hh[1]) {
    throw ShapeError(head() + "weight_hh " + w_hh.str() + ": expected [" + gates_of(gates) + ",H]" +
                     (w_hh.rank() == 2 ? " = " + Shape{gates * w_hh[1], w_hh[1]}.str() : ""));
  }
  const std::int64_t H = w_hh[1];
  if (h.rank() != 2 || h[1] != H) {
    throw ShapeError(head() + "h " + h.str() + " and weight_hh " + w_hh.str() + ": expected h [B," +
                     std::to_string(H) + "]");
  }
  if (c && *c != h) {
    throw ShapeError(head() + "c " + c->str() + " and h " + h.str() + ": expected equal shapes");
  }
  check_cell_shapes(cell, "h", h, {{"projected input", xw}}, gates);
  return H;
}

// Checks that weight_ih has the G*H rows weight_hh implies; linear() checks x against it.
void check_input_weight(const char* cell, int gates, const Shape& w_ih, const Shape& w_hh) {
  if (w_ih.rank() != 2 || w_hh.rank() != 2 || w_ih[0] != w_hh[0]) {
    throw ShapeError(std::string(cell) + ": weight_ih " + w_ih.str() + " and weight_hh " +
                     w_hh.str() + ": expected [" + gates_of(gates) + ",I] and [" + gates_of(gates) +
                     ",H]");
  }
}

template <class T>
Var<T> rnn_projected(const char* cell, bool use_relu, const Var<T>& xw, const Var<T>& h,
                     const Var<T>& w_hh, const Var<T>& b_hh) {
  check_recurrence(cell, 1, xw.shape(), h.shape(), nullptr, w_hh.shape());
  const Var<T> pre = xw + affine(h, w_hh, b_hh);
  return use_relu ? relu(pre) : tanh(pre);
}

// The LSTM's arithmetic after the products: gates [B,4H] -> (h, c).
template <class T>
LstmState<T> lstm_gates(const Var<T>& gates, const LstmState<T>& state, std::int64_t H) {
  const Var<T> i = sigmoid(narrow(gates, 1, 0, H));
  const Var<T> f = sigmoid(narrow(gates, 1, H, H));
  const Var<T> g = tanh(narrow(gates, 1, 2 * H, H));
  const Var<T> o = sigmoid(narrow(gates, 1, 3 * H, H));
  const Var<T> c = f * state.c + i * g;
  return {o * tanh(c), c};
}

template <class T>
LstmState<T> lstm_projected(const char* cell, const Var<T>& xw, const LstmState<T>& state,
                            const Var<T>& w_hh, const Var<T>& b_hh) {
  const Shape cs = state.c.shape();
  const std::int64_t H = check_recurrence(cell, 4, xw.shape(), state.h.shape(), &cs, w_hh.shape());
  return lstm_gates(xw + affine(state.h, w_hh, b_hh), state, H);
}

// The GRU's arithmetic after the products gi and gh [B,3H].
template <class T>
Var<T> gru_gates(const Var<T>& gi, const Var<T>& gh, const Var<T>& h, std::int64_t H) {
  const Var<T> r = sigmoid(narrow(gi, 1, 0, H) + narrow(gh, 1, 0, H));
  const Var<T> z = sigmoid(narrow(gi, 1, H, H) + narrow(gh, 1, H, H));
  const Var<T> n = tanh(narrow(gi, 1, 2 * H, H) + r * narrow(gh, 1, 2 * H, H));
  return (T(1) - z) * n + z * h;
}

template <class T>
Var<T> gru_projected(const char* cell, const Var<T>& gi, const Var<T>& h, const Var<T>& w_hh,
                     const Var<T>& b_hh) {
  const std::int64_t H = check_recurrence(cell, 3, gi.shape(), h.shape(), nullptr, w_hh.shape());
  // gh keeps b_hn with h W_hn^T: r multiplies both, which is where PyTorch's GRU differs from
  // the original formulation r * (h W_hn^T) + b_hn.
  return gru_gates(gi, affine(h, w_hh, b_hh), h, H);
}

}  // namespace

template <class T>
Var<T> rnn_cell_tanh(const Var<T>& x, const Var<T>& h, const Var<T>& weight_ih,
                     const Var<T>& weight_hh, const Var<T>& bias_ih, const Var<T>& bias_hh) {
  check_input_weight("rnn_cell_tanh", 1, weight_ih.shape(), weight_hh.shape());
  return rnn_projected("rnn_cell_tanh", false, affine(x, weight_ih, bias_ih), h, weight_hh,
                       bias_hh);
}

template <class T>
Var<T> rnn_cell_relu(const Var<T>& x, const Var<T>& h, const Var<T>& weight_ih,
                     const Var<T>& weight_hh, const Var<T>& bias_ih, const Var<T>& bias_hh) {
  check_input_weight("rnn_cell_relu", 1, weight_ih.shape(), weight_hh.shape());
  return rnn_projected("rnn_cell_relu", true, affine(x, weight_ih, bias_ih), h, weight_hh, bias_hh);
}

template <class T>
LstmState<T> lstm_cell(const Var<T>& x, const LstmState<T>& state, const Var<T>& weight_ih,
                       const Var<T>& weight_hh, const Var<T>& bias_ih, const Var<T>& bias_hh) {
  check_input_weight("lstm_cell", 4, weight_ih.shape(), weight_hh.shape());
  return lstm_projected("lstm_cell", affine(x, weight_ih, bias_ih), state, weight_hh, bias_hh);
}

template <class T>
Var<T> gru_cell(const Var<T>& x, const Var<T>& h, const Var<T>& weight_ih, const Var<T>& weight_hh,
                const Var<T>& bias_ih, const Var<T>& bias_hh) {
  check_input_weight("gru_cell", 3, weight_ih.shape(), weight_hh.shape());
  return gru_projected("gru_cell", affine(x, weight_ih, bias_ih), h, weight_hh, bias_hh);
}

template <class T>
Var<T> rnn_cell_tanh_projected(const Var<T>& xw, const Var<T>& h, const Var<T>& weight_hh,
                               const Var<T>& bias_hh) {
  return rnn_projected("rnn_cell_tanh_projected", false, xw, h, weight_hh, bias_hh);
}

template <class T>
Var<T> rnn_cell_relu_projected(const Var<T>& xw, const Var<T>& h, const Var<T>& weight_hh,
                               const Var<T>& bias_hh) {
  return rnn_projected("rnn_cell_relu_projected", true, xw, h, weight_hh, bias_hh);
}

template <class T>
LstmState<T> lstm_cell_projected(const Var<T>& xw, const LstmState<T>& state,
                                 const Var<T>& weight_hh, const Var<T>& bias_hh) {
  return lstm_projected("lstm_cell_projected", xw, state, weight_hh, bias_hh);
}

template <class T>
Var<T> gru_cell_projected(const Var<T>& xw, const Var<T>& h, const Var<T>& weight_hh,
                          const Var<T>& bias_hh) {
  return gru_projected("gru_cell_projected", xw, h, weight_hh, bias_hh);
}

template <class T>
LstmState<T> lstm_cell_from_gates(const Var<T>& gates, const LstmState<T>& state) {
  const Shape cs = state.c.shape(), hs = state.h.shape();
  check_cell_shapes("lstm_cell_from_gates", "c", cs, {{"gates", gates.shape()}}, 4);
  if (hs != cs) {
    throw ShapeError("lstm_cell_from_gates: h " + hs.str() + " and c " + cs.str() +
                     ": expected equal shapes");
  }
  return lstm_gates(gates, state, cs[1]);
}

template <class T>
Var<T> gru_cell_from_gates(const Var<T>& gi, const Var<T>& gh, const Var<T>& h) {
  const Shape hs = h.shape();
  check_cell_shapes("gru_cell_from_gates", "h", hs, {{"gi", gi.shape()}, {"gh", gh.shape()}}, 3);
  return gru_gates(gi, gh, h, hs[1]);
}

#define TAPELOOP_INSTANTIATE(T)                                                                   \
  template Var<T> rnn_cell_tanh(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&,       \
                                const Var<T>&, const Var<T>&);                                    \
  template Var<T> rnn_cell_relu(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&,       \
                                const Var<T>&, const Var<T>&);                                    \
  template LstmState<T> lstm_cell(const Var<T>&, const LstmState<T>&, const Var<T>&,              \
                                  const Var<T>&, const Var<T>&, const Var<T>&);                   \
  template Var<T> gru_cell(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&,            \
                           const Var<T>&, const Var<T>&);                                         \
  template Var<T> rnn_cell_tanh_projected(const Var<T>&, const Var<T>&, const Var<T>&,            \
                                          const Var<T>&);                                         \
  template Var<T> rnn_cell_relu_projected(const Var<T>&, const Var<T>&, const Var<T>&,            \
                                          const Var<T>&);                                         \
  template LstmState<T> lstm_cell_projected(const Var<T>&, const LstmState<T>&, const Var<T>&,    \
                                            const Var<T>&);                                       \
  template Var<T> gru_cell_projected(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&); \
  template LstmState<T> lstm_cell_from_gates(const Var<T>&, const LstmState<T>&);                 \
  template Var<T> gru_cell_from_gates(const Var<T>&, const Var<T>&, const Var<T>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop::models
