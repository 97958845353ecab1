// RecurrentLinear: per-step forward GEMMs into one shared node, per-step dh in backward, and the
// weight's gradient over all steps as one GEMM when the sweep reaches the shared node.
#include "tapeloop/ops/recurrent_linear.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "gemm.hpp"
#include "linear_dims.hpp"
#include "tapeloop/ops/linear.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

constexpr const char* op = "recurrent_linear";

// The shared node: inputs (W[, b]), value [N, O] written step by step (or, made on a base, the
// base's rows, to which the steps add). Recorded before every step, so the reverse sweep reaches
// it after all of them: by then the gradient of every step's output (a window of this node's) is
// complete. Only the rows written, [range[0], range[1]), take part.
template <class T>
struct SharedRule {
  static constexpr const char* name = "recurrent_linear";
  // Its backward reads no value of W or b (X is the steps' data); the cross term in X's tangent
  // is each step's (StepRule::curvature).
  static constexpr bool linear = true;
  Shape all;
  const T* x;                 // [N, I]: a copy of every step's input, row for row
  const std::int64_t* range;  // the rows written, counted by the steps
  std::int64_t in, out;
  const T* copy_from;  // a base without a gradient: its value, copied to start from

  Shape check(InputShapes) const { return all; }
  void forward(ForwardContext<T>& c) const {  // the steps write (or add to) the value
    if (copy_from) std::copy(copy_from, copy_from + all.numel(), c.out());
  }
  void backward(BackwardContext<T>& c) const {
    const std::int64_t first = range[0], m = range[1] - range[0];
    const T* g = c.grad_out() + first * out;
    if (T* gw = c.grad(0)) {  // dW += G^T X: [O, m] x [m, I], one GEMM over every step's rows
      detail::gemm<T>(true, false, out, in, m, g, x + first * in, T(1), gw);
    }
    if (T* gb = c.inputs() == 2 ? c.grad(1) : nullptr) {  // db += column sums of G
      for (std::int64_t r = 0; r < m; ++r) {
        const T* gr = g + r * out;
        for (std::int64_t o = 0; o < out; ++o) gb[o] += gr[o];
      }
    }
  }
  // dY += X dW^T + db over the rows written; each step adds its dx W^T to its own rows.
  void tangent(TangentContext<T>& c) const {
    const std::int64_t first = range[0], m = range[1] - range[0];
    T* ty = c.tangent_out() + first * out;
    if (const T* tw = c.tangent(0)) {
      detail::gemm<T>(false, true, m, out, in, x + first * in, tw, T(1), ty);
    }
    if (const T* tb = c.inputs() == 2 ? c.tangent(1) : nullptr) {
      for (std::int64_t r = 0; r < m; ++r) {
        for (std::int64_t o = 0; o < out; ++o) ty[r * out + o] += tb[o];
      }
    }
  }
};

[[noreturn]] void throw_bad_input(const Shape& x, std::int64_t in, std::int64_t rows,
                                  const Shape& weight) {
  throw ShapeError(std::string(op) + ": input " + x.str() + ": expected [r, " + std::to_string(in) +
                   "] with 1 <= r <= " + std::to_string(rows) + " (weight " + weight.str() + ")");
}

// One step: inputs (x, W[, b]). Recorded into its rows of the shared node when the weight's
// gradient is wanted, then its backward gives only dx += g W (needed at once by the step
// before) and W and b get theirs from the shared node; otherwise recorded as a node of its own.
template <class T>
struct StepRule {
  static constexpr const char* name = "recurrent_linear";
  Shape expected;  // [rows, I]: this call's rows
  std::int64_t max_rows;
  Shape weight;
  T* x_copy;  // where this step's input is kept for the shared node's dW (null: not kept)
  detail::PackedRecurrentWeight<T> packed;
  bool accumulate;     // the output starts as an addend (in place, or copied from copy_from)
  const T* copy_from;  // the addend when it is not already in the output's memory

  Shape check(InputShapes s) const {
    if (s[0] != expected) throw_bad_input(s[0], expected[1], max_rows, weight);
    return Shape{expected[0], weight[0]};
  }
  void forward(ForwardContext<T>& c) const {
    const std::int64_t rows = expected[0], in = expected[1], out = weight[0];
    T* y = c.out();
    if (copy_from) std::copy(copy_from, copy_from + rows * out, y);
    if (c.inputs() == 3) {  // the bias added to the addend, or prefilled; the GEMM adds onto it
      const T* b = c.in(2);
      for (std::int64_t r = 0; r < rows; ++r) {
        T* yr = y + r * out;
        if (accumulate) {
          for (std::int64_t o = 0; o < out; ++o) yr[o] += b[o];
        } else {
          std::copy(b, b + out, yr);
        }
      }
    }
    const T beta = accumulate || c.inputs() == 3 ? T(1) : T(0);
    product(rows, out, in, c.in(0), c.in(1), packed.forward, beta, y, true);
    if (x_copy) std::copy(c.in(0), c.in(0) + rows * in, x_copy);
  }
  void backward(BackwardContext<T>& c) const {
    if (T* gx = c.grad(0)) {  // dx += g W: [rows, O] x [O, I]
      const std::int64_t rows = expected[0], in = expected[1], out = weight[0];
      if (packed.backward && !*packed.backward_ready) {
        kernels::pack_b(false, in, out, c.in(1), packed.backward);
        *packed.backward_ready = true;
      }
      product(rows, in, out, c.grad_out(), c.in(1), packed.backward, T(1), gx, false);
    }
  }
  void tangent(TangentContext<T>& c) const {
    if (const T* tx = c.tangent(0)) {  // dy += dx W^T
      product(expected[0], weight[0], expected[1], tx, c.in(1), packed.forward, T(1),
              c.tangent_out(), true);
    }
  }
  // Bilinear in x and W: dgx += g tW and dgW += g^T tx, this step's share of what the shared
  // node's backward sums over every step (the bias enters linearly).
  void curvature(CurvatureContext<T>& c) const {
    const std::int64_t rows = expected[0], in = expected[1], out = weight[0];
    const T* g = c.grad_out();
    T* gx = c.grad(0);
    if (const T* tw = c.tangent(1); gx && tw) {
      detail::gemm<T>(false, false, rows, in, out, g, tw, T(1), gx);
    }
    T* gw = c.grad(1);
    if (const T* tx = c.tangent(0); gw && tx) {
      detail::gemm<T>(true, false, out, in, rows, g, tx, T(1), gw);
    }
  }

  // C[m,n] = A op(W) + beta C, op(W) = W^T when trans_w: on the packed weight when there is
  // one, else on W as stored.
  static void product(std::int64_t m, std::int64_t n, std::int64_t k, const T* a, const T* w,
                      const T* packed_w, T beta, T* c, bool trans_w) {
    if (packed_w) {
      detail::gemm_packed<T>(m, n, k, a, packed_w, beta, c);
    } else {
      detail::gemm<T>(false, trans_w, m, n, k, a, w, beta, c);
    }
  }
};

// Whether the steps run on a packed weight: from 4 rows, where the kernel's row tiles keep both
// FMA units busy; a product with fewer rows is a few dot products the small kernel does in
// place (docs/kernels.md).
inline bool packs_weight(std::int64_t rows) {
  return rows >= 4;
}

// This call's rows: any count up to `rows` (a batch of packed sequences shrinks); another shape is
// refused by the step's check.
template <class T>
std::int64_t rows_of(const Var<T>& x, std::int64_t rows) {
  return x.rank() == 2 && x.dim(0) >= 1 && x.dim(0) <= rows ? x.dim(0) : rows;
}

}  // namespace

template <class T>
RecurrentLinear<T>::RecurrentLinear(const Var<T>& weight, const Var<T>& bias, std::int64_t rows,
                                    std::int64_t steps)
    : weight_(weight), bias_(bias), rows_(rows), steps_(steps) {
  Tape<T>& tape = weight.tape();
  if (!bias.empty()) check_live(op, bias, tape);
  if (rows < 1 || steps < 1) {
    throw ValueError(std::string(op) + ": rows " + std::to_string(rows) + " and steps " +
                     std::to_string(steps) + " must be positive");
  }
  init(steps * rows);
}

template <class T>
RecurrentLinear<T>::RecurrentLinear(const Var<T>& weight, const Var<T>& bias, std::int64_t rows,
                                    const Var<T>& base)
    : weight_(weight), bias_(bias), base_(base), rows_(rows), steps_(0) {
  Tape<T>& tape = weight.tape();
  if (!bias.empty()) check_live(op, bias, tape);
  check_live(op, base, tape);
  if (rows < 1) {
    throw ValueError(std::string(op) + ": rows " + std::to_string(rows) + " must be positive");
  }
  const Shape ws = weight.shape(), bs = base.shape();
  const std::int64_t out = ws.rank() == 2 ? ws[0] : 0;  // another weight: init() says why
  if (ws.rank() == 2 && (bs.rank() < 1 || bs[bs.rank() - 1] != out)) {
    throw ShapeError(std::string(op) + ": base " + bs.str() + ": expected [..., " +
                     std::to_string(out) + "] for weight " + ws.str());
  }
  const std::string made_by = base.op();
  if (made_by != "linear" && made_by != "matmul") {
    throw ValueError(std::string(op) + ": base made by " + made_by +
                     ": expected the output of linear or matmul (its value is overwritten, so "
                     "no derivative may read it)");
  }
  init(out > 0 ? bs.numel() / out : 0);
}

template <class T>
void RecurrentLinear<T>::init(std::int64_t total_rows) {
  Tape<T>& tape = weight_.tape();
  const Shape ws = weight_.shape();
  const Shape bs = bias_.empty() ? Shape{} : bias_.shape();
  const detail::LinearDims d = detail::check_linear(op, Shape{rows_, ws.rank() == 2 ? ws[1] : 1},
                                                    ws, bias_.empty() ? nullptr : &bs);
  in_ = d.in;
  out_ = d.out;
  range_ = record_scratch<std::int64_t>(tape, 2);
  range_[0] = range_[1] = 0;
  if (packs_weight(rows_)) {
    T* forward = record_scratch<T>(tape, kernels::packed_size<T>(out_, in_), 64);
    kernels::pack_b(true, out_, in_, weight_.value().data, forward);
    packed_.forward = forward;
  }
  const bool grad_w = weight_.requires_grad(), grad_b = !bias_.empty() && bias_.requires_grad();
  batched_ = tape.grad_enabled() && (grad_w || grad_b);
  if (!tape.grad_enabled()) return;
  if (packed_.forward) {  // packed when the sweep first needs it
    packed_.backward = record_scratch<T>(tape, kernels::packed_size<T>(in_, out_), 64);
    packed_.backward_ready = record_scratch<bool>(tape, 1);
    *packed_.backward_ready = false;
  }
  if (!batched_) return;

  inputs_ = record_scratch<T>(tape, total_rows * in_);
  SharedRule<T> shared{Shape{total_rows, out_}, inputs_, range_, in_, out_, nullptr};
  if (!base_.empty() && base_.requires_grad()) {  // in place: base's value, base's gradient
    outputs_ = bias_.empty() ? record_into(base_, 0, shared, weight_)
                             : record_into(base_, 0, shared, weight_, bias_);
    return;
  }
  // A base without a gradient is copied: a node of its own carries the weight's.
  if (!base_.empty()) shared.copy_from = base_.value().data;
  outputs_ = bias_.empty() ? record(shared, weight_) : record(shared, weight_, bias_);
}

template <class T>
Var<T> RecurrentLinear<T>::record_step(const Var<T>& x, std::int64_t first, std::int64_t r,
                                       const T* copy_from) {
  const bool accumulate = !base_.empty();
  T* x_copy = batched_ ? inputs_ + first * in_ : nullptr;
  const StepRule<T> step{Shape{r, in_}, rows_,      weight_.shape(), x_copy,
                         packed_,       accumulate, copy_from};
  if (batched_) {  // into its rows of the shared node
    return bias_.empty() ? record_into(outputs_, first * out_, step, x, weight_)
                         : record_into(outputs_, first * out_, step, x, weight_, bias_);
  }
  if (accumulate && !copy_from) {  // into base's rows, in place
    return bias_.empty() ? record_into(base_, first * out_, step, x, weight_)
                         : record_into(base_, first * out_, step, x, weight_, bias_);
  }
  return bias_.empty() ? record(step, x, weight_) : record(step, x, weight_, bias_);
}

template <class T>
Var<T> RecurrentLinear<T>::operator()(const Var<T>& x) {
  if (!base_.empty()) {
    throw ValueError(std::string(op) + ": made on a base " + base_.shape().str() +
                     ": each call needs its addend, a window of the base's rows");
  }
  if (calls_ == steps_) {
    throw ValueError(std::string(op) + ": more than the " + std::to_string(steps_) +
                     " steps it was made for");
  }
  const std::int64_t r = rows_of(x, rows_);
  if (!batched_ && !packed_.forward) {
    const Var<T> y = bias_.empty() ? linear(x, weight_) : linear(x, weight_, bias_);
    ++calls_;
    return y;
  }
  const std::int64_t first = range_[1];  // this step's first row
  Var<T> y = record_step(x, first, r, nullptr);
  ++calls_;
  range_[1] = first + r;
  return y;
}

template <class T>
std::int64_t RecurrentLinear<T>::row_of(const Var<T>& x, const Var<T>& addend) const {
  Tape<T>& tape = weight_.tape();
  check_live(op, addend, tape);
  check_live(op, x, tape);
  const Shape xs = x.shape();
  if (xs.rank() != 2 || xs[0] < 1 || xs[0] > rows_ || xs[1] != in_) {
    throw_bad_input(xs, in_, rows_, weight_.shape());
  }
  const std::int64_t r = xs[0];
  const Shape as = addend.shape();
  if (as != Shape{r, out_}) {
    throw ShapeError(std::string(op) + ": addend " + as.str() + ": expected [" + std::to_string(r) +
                     ", " + std::to_string(out_) + "] for input " + x.shape().str());
  }
  // A window of base's value is a view of it: its memory lies inside base's.
  const auto at = reinterpret_cast<std::uintptr_t>(addend.value().data);
  const auto begin = reinterpret_cast<std::uintptr_t>(base_.value().data);
  const std::uintptr_t row_bytes = sizeof(T) * static_cast<std::uintptr_t>(out_);
  const std::int64_t total = base_.numel() / out_;
  const bool inside = at >= begin && (at - begin) % row_bytes == 0 &&
                      static_cast<std::int64_t>((at - begin) / row_bytes) + r <= total;
  if (!inside) {
    throw ValueError(std::string(op) + ": addend " + as.str() +
                     " is not a window of whole rows of base " + base_.shape().str());
  }
  const auto first = static_cast<std::int64_t>((at - begin) / row_bytes);
  if (calls_ > 0 && first != range_[1] && first + r != range_[0]) {
    throw ValueError(std::string(op) + ": addend at rows [" + std::to_string(first) + ", " +
                     std::to_string(first + r) + ") of base " + base_.shape().str() +
                     " is not next to the rows written so far, [" + std::to_string(range_[0]) +
                     ", " + std::to_string(range_[1]) +
                     "): steps fill the rows one after another, forwards or backwards");
  }
  return first;
}

template <class T>
Var<T> RecurrentLinear<T>::operator()(const Var<T>& x, const Var<T>& addend) {
  if (base_.empty()) {
    throw ValueError(std::string(op) + ": an addend given, but made without a base");
  }
  const std::int64_t first = row_of(x, addend), r = addend.dim(0);
  // In place unless that would lose a gradient: base without one while x needs one.
  Tape<T>& tape = weight_.tape();
  const bool in_place =
      batched_ || base_.requires_grad() || !tape.grad_enabled() || !x.requires_grad();
  Var<T> y = record_step(x, first, r, in_place ? nullptr : addend.value().data);
  if (calls_ == 0) {
    range_[0] = first;
    range_[1] = first + r;
  } else if (first == range_[1]) {
    range_[1] = first + r;
  } else {
    range_[0] = first;
  }
  ++calls_;
  return y;
}

template class RecurrentLinear<float>;
template class RecurrentLinear<double>;

}  // namespace tapeloop
