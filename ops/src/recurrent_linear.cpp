// RecurrentLinear: per-step forward GEMMs into one shared node, per-step dh in backward, and the
// weight's gradient over all steps as one GEMM when the sweep reaches the shared node.
#include "tapeloop/ops/recurrent_linear.hpp"

#include <algorithm>
#include <string>

#include "gemm.hpp"
#include "linear_dims.hpp"
#include "tapeloop/ops/linear.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

constexpr const char* op = "recurrent_linear";

// The shared node: inputs (W[, b]), value [steps * rows, O] written step by step. Recorded
// before every step, so the reverse sweep reaches it after all of them: by then the gradient of
// every step's output (a window of this node's) is complete.
template <class T>
struct SharedRule {
  static constexpr const char* name = "recurrent_linear";
  Shape all;
  const T* x;                     // [steps * rows, I]: a copy of every step's input
  const std::int64_t* rows_used;  // rows written so far, counted by the steps
  std::int64_t in, out;

  Shape check(InputShapes) const { return all; }
  void forward(ForwardContext<T>&) const {}  // the steps write the value
  void backward(BackwardContext<T>& c) const {
    const std::int64_t m = *rows_used;
    const T* g = c.grad_out();
    if (T* gw = c.grad(0)) {  // dW += G^T X: [O, m] x [m, I], one GEMM over every step's rows
      detail::gemm<T>(true, false, out, in, m, g, x, T(1), gw);
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
    const std::int64_t m = *rows_used;
    T* ty = c.tangent_out();
    if (const T* tw = c.tangent(0)) detail::gemm<T>(false, true, m, out, in, x, tw, T(1), ty);
    if (const T* tb = c.inputs() == 2 ? c.tangent(1) : nullptr) {
      for (std::int64_t r = 0; r < m; ++r) {
        for (std::int64_t o = 0; o < out; ++o) ty[r * out + o] += tb[o];
      }
    }
  }
};

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

  Shape check(InputShapes s) const {
    if (s[0] != expected) {
      throw ShapeError(std::string(op) + ": input " + s[0].str() + ": expected [r, " +
                       std::to_string(expected[1]) + "] with 1 <= r <= " +
                       std::to_string(max_rows) + " (weight " + weight.str() + ")");
    }
    return Shape{expected[0], weight[0]};
  }
  void forward(ForwardContext<T>& c) const {
    const std::int64_t rows = expected[0], in = expected[1], out = weight[0];
    T* y = c.out();
    if (c.inputs() == 3) {  // prefill with the bias; the GEMM adds onto it
      const T* b = c.in(2);
      for (std::int64_t r = 0; r < rows; ++r) std::copy(b, b + out, y + r * out);
    }
    product(rows, out, in, c.in(0), c.in(1), packed.forward, c.inputs() == 3 ? T(1) : T(0), y,
            true);
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
  const Shape ws = weight.shape();
  const Shape bs = bias.empty() ? Shape{} : bias.shape();
  const detail::LinearDims d = detail::check_linear(op, Shape{rows, ws.rank() == 2 ? ws[1] : 1}, ws,
                                                    bias.empty() ? nullptr : &bs);
  in_ = d.in;
  out_ = d.out;
  if (packs_weight(rows)) {
    T* forward = record_scratch<T>(tape, kernels::packed_size<T>(out_, in_), 64);
    kernels::pack_b(true, out_, in_, weight.value().data, forward);
    packed_.forward = forward;
  }
  const bool grad_w = weight.requires_grad(), grad_b = !bias.empty() && bias.requires_grad();
  batched_ = tape.grad_enabled() && (grad_w || grad_b);
  if (!tape.grad_enabled()) return;
  if (packed_.forward) {  // packed when the sweep first needs it
    packed_.backward = record_scratch<T>(tape, kernels::packed_size<T>(in_, out_), 64);
    packed_.backward_ready = record_scratch<bool>(tape, 1);
    *packed_.backward_ready = false;
  }
  if (!batched_) return;

  inputs_ = record_scratch<T>(tape, steps * rows * in_);
  rows_used_ = record_scratch<std::int64_t>(tape, 1);
  *rows_used_ = 0;
  const SharedRule<T> shared{Shape{steps * rows, out_}, inputs_, rows_used_, in_, out_};
  outputs_ = bias.empty() ? record(shared, weight) : record(shared, weight, bias);
}

template <class T>
Var<T> RecurrentLinear<T>::operator()(const Var<T>& x) {
  if (calls_ == steps_) {
    throw ValueError(std::string(op) + ": more than the " + std::to_string(steps_) +
                     " steps it was made for");
  }
  // This call's rows: any count up to rows_ (a batch of packed sequences shrinks); another
  // shape is refused by the step's check.
  const std::int64_t r = x.rank() == 2 && x.dim(0) >= 1 && x.dim(0) <= rows_ ? x.dim(0) : rows_;
  if (!batched_) {
    if (!packed_.forward) {
      const Var<T> y = bias_.empty() ? linear(x, weight_) : linear(x, weight_, bias_);
      ++calls_;
      return y;
    }
    const StepRule<T> step{Shape{r, in_}, rows_, weight_.shape(), nullptr, packed_};
    const Var<T> y = bias_.empty() ? record(step, x, weight_) : record(step, x, weight_, bias_);
    ++calls_;
    return y;
  }
  const std::int64_t first = *rows_used_;  // this step's first row
  const StepRule<T> step{Shape{r, in_}, rows_, weight_.shape(), inputs_ + first * in_, packed_};
  Var<T> y = bias_.empty() ? record_into(outputs_, first * out_, step, x, weight_)
                           : record_into(outputs_, first * out_, step, x, weight_, bias_);
  ++calls_;
  *rows_used_ = first + r;
  return y;
}

template class RecurrentLinear<float>;
template class RecurrentLinear<double>;

}  // namespace tapeloop
