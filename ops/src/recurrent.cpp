// Fused LSTM and GRU cells: each step's gate arithmetic as one node, one pass forward and back.
#include "tapeloop/ops/recurrent.hpp"

#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>

#include "sigmoid.hpp"
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

}  // namespace

template <class T>
LstmState<T> lstm_cell_fused(const Var<T>& gates, const Var<T>& c_prev) {
  Tape<T>& tape = gates.tape();
  const Shape cs = c_prev.shape();
  check_cell("lstm_cell_fused", "c_prev", cs, {{"gates", gates.shape()}}, 4);
  const std::int64_t batch = cs[0], H = cs[1], n = batch * H;
  Var<T> out = tape.make_node("lstm_cell_fused", Shape{2, batch, H}, {gates, c_prev});
  const T* pg = gates.value().data;
  const T* pcp = c_prev.value().data;
  T* ph = tape.mutable_value(out);
  T* pc = ph + n;
  // Saved for backward, per row: i, f, g, o and tanh(c), H each. Nothing when no gradient flows.
  T* act = out.requires_grad() ? tape.scratch(5 * n) : nullptr;
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* gr = pg + b * 4 * H;
    T* a = act ? act + b * 5 * H : nullptr;
    for (std::int64_t j = 0; j < H; ++j) {
      const std::int64_t k = b * H + j;
      const T i = detail::stable_sigmoid(gr[j]);
      const T f = detail::stable_sigmoid(gr[H + j]);
      const T g = std::tanh(gr[2 * H + j]);
      const T o = detail::stable_sigmoid(gr[3 * H + j]);
      const T c = f * pcp[k] + i * g;
      const T tc = std::tanh(c);
      pc[k] = c;
      ph[k] = o * tc;
      if (a) {
        a[j] = i;
        a[H + j] = f;
        a[2 * H + j] = g;
        a[3 * H + j] = o;
        a[4 * H + j] = tc;
      }
    }
  }

  tape.set_backward(out, [=] {
    const T* gh = out.grad().data;  // the h half, then the c half
    const T* gc = gh + n;
    T* dgates = gates.requires_grad() ? gates.grad().data : nullptr;
    T* dcp = c_prev.requires_grad() ? c_prev.grad().data : nullptr;
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* a = act + b * 5 * H;
      T* dg = dgates ? dgates + b * 4 * H : nullptr;
      for (std::int64_t j = 0; j < H; ++j) {
        const std::int64_t k = b * H + j;
        const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j], tc = a[4 * H + j];
        // c reaches the output directly and through h = o tanh(c).
        const T dc = gc[k] + gh[k] * o * (T(1) - tc * tc);
        if (dg) {
          dg[j] += dc * g * i * (T(1) - i);
          dg[H + j] += dc * pcp[k] * f * (T(1) - f);
          dg[2 * H + j] += dc * i * (T(1) - g * g);
          dg[3 * H + j] += gh[k] * tc * o * (T(1) - o);
        }
        if (dcp) dcp[k] += dc * f;
      }
    }
  });
  return {tape.make_view("lstm_cell_fused.h", out, 0, Shape{batch, H}, true),
          tape.make_view("lstm_cell_fused.c", out, n, Shape{batch, H}, true)};
}

template <class T>
Var<T> gru_cell_fused(const Var<T>& gi, const Var<T>& gh, const Var<T>& h_prev) {
  Tape<T>& tape = gi.tape();
  const Shape hs = h_prev.shape();
  check_cell("gru_cell_fused", "h_prev", hs, {{"gi", gi.shape()}, {"gh", gh.shape()}}, 3);
  const std::int64_t batch = hs[0], H = hs[1];
  Var<T> out = tape.make_node("gru_cell_fused", hs, {gi, gh, h_prev});
  const T* pi = gi.value().data;
  const T* ph = gh.value().data;
  const T* php = h_prev.value().data;
  T* py = tape.mutable_value(out);
  // Saved for backward, per row: r, z and n, H each.
  T* act = out.requires_grad() ? tape.scratch(3 * batch * H) : nullptr;
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* xi = pi + b * 3 * H;
    const T* xh = ph + b * 3 * H;
    T* a = act ? act + b * 3 * H : nullptr;
    for (std::int64_t j = 0; j < H; ++j) {
      const std::int64_t k = b * H + j;
      const T r = detail::stable_sigmoid(xi[j] + xh[j]);
      const T z = detail::stable_sigmoid(xi[H + j] + xh[H + j]);
      const T nn = std::tanh(xi[2 * H + j] + r * xh[2 * H + j]);
      py[k] = (T(1) - z) * nn + z * php[k];
      if (a) {
        a[j] = r;
        a[H + j] = z;
        a[2 * H + j] = nn;
      }
    }
  }

  tape.set_backward(out, [=] {
    const T* g = out.grad().data;
    T* dgi = gi.requires_grad() ? gi.grad().data : nullptr;
    T* dgh = gh.requires_grad() ? gh.grad().data : nullptr;
    T* dhp = h_prev.requires_grad() ? h_prev.grad().data : nullptr;
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* a = act + b * 3 * H;
      const T* xh = ph + b * 3 * H;
      for (std::int64_t j = 0; j < H; ++j) {
        const std::int64_t k = b * H + j;
        const T r = a[j], z = a[H + j], nn = a[2 * H + j];
        const T dn = g[k] * (T(1) - z) * (T(1) - nn * nn);   // through tanh
        const T dz = g[k] * (php[k] - nn) * z * (T(1) - z);  // through the sigmoid
        const T dr = dn * xh[2 * H + j] * r * (T(1) - r);
        // gi and gh feed r and z identically; only n sees gh through r.
        if (dgi) {
          T* d = dgi + b * 3 * H;
          d[j] += dr;
          d[H + j] += dz;
          d[2 * H + j] += dn;
        }
        if (dgh) {
          T* d = dgh + b * 3 * H;
          d[j] += dr;
          d[H + j] += dz;
          d[2 * H + j] += dn * r;
        }
        if (dhp) dhp[k] += g[k] * z;
      }
    }
  });
  return out;
}

#define TAPELOOP_INSTANTIATE(T)                                        \
  template LstmState<T> lstm_cell_fused(const Var<T>&, const Var<T>&); \
  template Var<T> gru_cell_fused(const Var<T>&, const Var<T>&, const Var<T>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
