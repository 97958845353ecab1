// Fused RNN, LSTM and GRU cells: each step's gate arithmetic as one node whose forward and backward
// are one vectorized pass each (ops/src/kernels/recurrent_cells.cpp).
#include "tapeloop/ops/recurrent.hpp"

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "kernels/recurrent_cells.hpp"
#include "tapeloop/detail/replay_curvature.hpp"
#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/ops/unary.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {

void check_cell_shapes(const char* op, const char* state_name, const Shape& state,
                       std::initializer_list<std::pair<const char*, Shape>> gate_inputs,
                       int gates) {
  auto listed = [&] {
    std::string s = std::string(op) + ": ";
    for (const auto& [name, shape] : gate_inputs) s += std::string(name) + " " + shape.str() + ", ";
    return s + state_name + " " + state.str();
  };
  if (state.rank() != 2) throw ShapeError(listed() + ": expected " + state_name + " [B,H]");
  const Shape want{state[0], gates * state[1]};
  for (const auto& [name, shape] : gate_inputs) {
    if (shape != want) {
      const std::string g = gates == 1 ? "H" : std::to_string(gates) + "H";
      throw ShapeError(listed() + ": expected " + name + " " + want.str() + " ([B," + g +
                       "] for B = " + std::to_string(state[0]) +
                       ", H = " + std::to_string(state[1]) + ")");
    }
  }
}

namespace {

// h = act(gi + gh); inputs (gi, gh), or (gates) summed by the caller.
template <class T>
struct RnnCellRule {
  static constexpr const char* name = "rnn_cell_fused";
  RnnActivation act;

  Shape check(InputShapes s) const {
    if (s.size() == 2 && s[1] != s[0]) {
      throw ShapeError(std::string(name) + ": gi " + s[0].str() + ", gh " + s[1].str() +
                       ": expected the same shape");
    }
    return s[0];
  }
  void forward(ForwardContext<T>& c) const {
    kernels::rnn_cell_forward(act, c.in(0), c.inputs() == 2 ? c.in(1) : nullptr, c.out(),
                              c.out_shape().numel());
  }
  void backward(BackwardContext<T>& c) const {
    kernels::rnn_cell_backward(act, c.grad_out(), c.out(), c.grad(0),
                               c.inputs() == 2 ? c.grad(1) : nullptr, c.out_shape().numel());
  }
  // dh = act'(.) (dgi + dgh): the backward kernel run on each input's tangent.
  void tangent(TangentContext<T>& c) const {
    for (int i = 0; i < c.inputs(); ++i) {
      if (const T* t = c.tangent(i)) {
        kernels::rnn_cell_backward(act, t, c.out(), c.tangent_out(), static_cast<T*>(nullptr),
                                   c.out_shape().numel());
      }
    }
  }
  // relu is piecewise linear: no second-order term. tanh: replayed with generic operators.
  void curvature(CurvatureContext<T>& c) const {
    if (act == RnnActivation::relu) return;
    detail::curvature_by_replay(c, [](const std::vector<Var<T>>& in) {
      return tanh(in.size() == 2 ? in[0] + in[1] : in[0]);
    });
  }
};

// The LSTM step; inputs (gates, c_prev), or (gi, gh, c_prev) with the gates summed inside.
// Output [2,B,H]: h, then c.
template <class T>
struct LstmCellRule {
  static constexpr const char* name = "lstm_cell_fused";
  std::int64_t batch = 0, H = 0;
  T* saved = nullptr;  // i, f, g, o and tanh(c) per row; only when a gradient will flow

  Shape check(InputShapes s) {
    const Shape& cs = s[s.size() - 1];
    if (s.size() == 2) {
      check_cell_shapes(name, "c_prev", cs, {{"gates", s[0]}}, 4);
    } else {
      check_cell_shapes(name, "c_prev", cs, {{"gi", s[0]}, {"gh", s[1]}}, 4);
    }
    batch = cs[0];
    H = cs[1];
    return Shape{2, batch, H};
  }
  bool two_inputs(const OpContext<T>& c) const { return c.inputs() == 3; }
  void forward(ForwardContext<T>& c) {
    const std::int64_t n = batch * H;
    if (c.needs_grad()) saved = c.scratch(kernels::lstm_saved_per_row * n);
    T* h = c.out();
    kernels::lstm_cell_forward(c.in(0), two_inputs(c) ? c.in(1) : nullptr, c.in(c.inputs() - 1), h,
                               h + n, saved, batch, H);
  }
  void backward(BackwardContext<T>& c) const {
    const T* dh = c.grad_out();  // the h half, then the c half
    kernels::lstm_cell_backward(dh, dh + batch * H, saved, c.in(c.inputs() - 1), c.grad(0),
                                two_inputs(c) ? c.grad(1) : nullptr, c.grad(c.inputs() - 1), batch,
                                H);
  }
  // The gate tangents through the activations, then dc = df c_prev + f dc_prev + di g + i dg
  // and dh = do tanh(c) + o (1 - tanh(c)^2) dc.
  void tangent(TangentContext<T>& c) const {
    const T* t1 = c.tangent(0);
    const T* t2 = two_inputs(c) ? c.tangent(1) : nullptr;
    const T* tcp = c.tangent(c.inputs() - 1);
    const T* cp = c.in(c.inputs() - 1);
    T* th = c.tangent_out();
    T* tc = th + batch * H;
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* s = saved + b * kernels::lstm_saved_per_row * H;
      for (std::int64_t j = 0; j < H; ++j) {
        auto gate = [&](int k) {
          const std::int64_t at = b * 4 * H + k * H + j;
          return (t1 ? t1[at] : T(0)) + (t2 ? t2[at] : T(0));
        };
        const T i = s[j], f = s[H + j], g = s[2 * H + j], o = s[3 * H + j], tanh_c = s[4 * H + j];
        const T di = i * (T(1) - i) * gate(0);
        const T df = f * (T(1) - f) * gate(1);
        const T dg = (T(1) - g * g) * gate(2);
        const T d_o = o * (T(1) - o) * gate(3);
        const std::int64_t r = b * H + j;
        const T dc = df * cp[r] + (tcp ? f * tcp[r] : T(0)) + di * g + i * dg;
        tc[r] += dc;
        th[r] += d_o * tanh_c + o * (T(1) - tanh_c * tanh_c) * dc;
      }
    }
  }
  // The second-order term from the step replayed with generic operators, [h; c] stacked.
  void curvature(CurvatureContext<T>& c) const {
    const std::int64_t h = H;
    detail::curvature_by_replay(c, [h](const std::vector<Var<T>>& in) {
      const Var<T> gates = in.size() == 3 ? in[0] + in[1] : in[0];
      const Var<T>& c_prev = in.back();
      const Var<T> i = sigmoid(narrow(gates, 1, 0, h)), f = sigmoid(narrow(gates, 1, h, h));
      const Var<T> g = tanh(narrow(gates, 1, 2 * h, h)), o = sigmoid(narrow(gates, 1, 3 * h, h));
      const Var<T> cell = f * c_prev + i * g;
      return stack({o * tanh(cell), cell}, 0);
    });
  }
};

// Records the LSTM step and returns its two halves as views sharing its gradient.
template <class T>
LstmState<T> lstm_views(const Var<T>& out) {
  const Shape s = out.shape();
  const Shape half{s[1], s[2]};
  return {record_view("lstm_cell_fused.h", out, 0, half, true),
          record_view("lstm_cell_fused.c", out, half.numel(), half, true)};
}

// The GRU step; inputs (gi, gh, h_prev).
template <class T>
struct GruCellRule {
  static constexpr const char* name = "gru_cell_fused";
  std::int64_t batch = 0, H = 0;
  T* saved = nullptr;  // r, z and n per row; only when a gradient will flow

  Shape check(InputShapes s) {
    check_cell_shapes(name, "h_prev", s[2], {{"gi", s[0]}, {"gh", s[1]}}, 3);
    batch = s[2][0];
    H = s[2][1];
    return s[2];
  }
  void forward(ForwardContext<T>& c) {
    if (c.needs_grad()) saved = c.scratch(kernels::gru_saved_per_row * batch * H);
    kernels::gru_cell_forward(c.in(0), c.in(1), c.in(2), c.out(), saved, batch, H);
  }
  void backward(BackwardContext<T>& c) const {
    kernels::gru_cell_backward(c.grad_out(), saved, c.in(1), c.in(2), c.grad(0), c.grad(1),
                               c.grad(2), batch, H);
  }
  // dr, dz through the sigmoids, dn = (1 - n^2)(dgi_n + dr gh_n + r dgh_n), and
  // dh = -dz n + (1 - z) dn + dz h_prev + z dh_prev.
  void tangent(TangentContext<T>& c) const {
    const T* tgi = c.tangent(0);
    const T* tgh = c.tangent(1);
    const T* thp = c.tangent(2);
    const T* gh = c.in(1);
    const T* hp = c.in(2);
    T* th = c.tangent_out();
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* s = saved + b * kernels::gru_saved_per_row * H;
      for (std::int64_t j = 0; j < H; ++j) {
        const std::int64_t at = b * 3 * H + j;
        auto in = [&](const T* t, int k) { return t ? t[at + k * H] : T(0); };
        const T r = s[j], z = s[H + j], n = s[2 * H + j];
        const T dr = r * (T(1) - r) * (in(tgi, 0) + in(tgh, 0));
        const T dz = z * (T(1) - z) * (in(tgi, 1) + in(tgh, 1));
        const T dn = (T(1) - n * n) * (in(tgi, 2) + dr * gh[at + 2 * H] + r * in(tgh, 2));
        const std::int64_t o = b * H + j;
        th[o] += (hp[o] - n) * dz + (T(1) - z) * dn + (thp ? z * thp[o] : T(0));
      }
    }
  }
  // The second-order term from the step replayed with generic operators.
  void curvature(CurvatureContext<T>& c) const {
    const std::int64_t h = H;
    detail::curvature_by_replay(c, [h](const std::vector<Var<T>>& in) {
      auto part = [h](const Var<T>& x, int k) { return narrow(x, 1, k * h, h); };
      const Var<T> r = sigmoid(part(in[0], 0) + part(in[1], 0));
      const Var<T> z = sigmoid(part(in[0], 1) + part(in[1], 1));
      const Var<T> n = tanh(part(in[0], 2) + r * part(in[1], 2));
      return n + z * (in[2] - n);
    });
  }
};

}  // namespace

template <class T>
Var<T> rnn_cell_fused(const Var<T>& gi, const Var<T>& gh, RnnActivation act) {
  return record(RnnCellRule<T>{act}, gi, gh);
}

template <class T>
Var<T> rnn_cell_fused(const Var<T>& gates, RnnActivation act) {
  return record(RnnCellRule<T>{act}, gates);
}

template <class T>
LstmState<T> lstm_cell_fused(const Var<T>& gates, const Var<T>& c_prev) {
  return lstm_views(record(LstmCellRule<T>{}, gates, c_prev));
}

template <class T>
LstmState<T> lstm_cell_fused(const Var<T>& gi, const Var<T>& gh, const Var<T>& c_prev) {
  if (gh.empty()) throw TapeError("lstm_cell_fused: empty Var for gh (default-constructed)");
  return lstm_views(record(LstmCellRule<T>{}, gi, gh, c_prev));
}

template <class T>
Var<T> gru_cell_fused(const Var<T>& gi, const Var<T>& gh, const Var<T>& h_prev) {
  return record(GruCellRule<T>{}, gi, gh, h_prev);
}

#define TAPELOOP_INSTANTIATE(T)                                                       \
  template Var<T> rnn_cell_fused(const Var<T>&, const Var<T>&, RnnActivation);        \
  template Var<T> rnn_cell_fused(const Var<T>&, RnnActivation);                       \
  template LstmState<T> lstm_cell_fused(const Var<T>&, const Var<T>&);                \
  template LstmState<T> lstm_cell_fused(const Var<T>&, const Var<T>&, const Var<T>&); \
  template Var<T> gru_cell_fused(const Var<T>&, const Var<T>&, const Var<T>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
