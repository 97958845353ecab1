// RecurrentLinear: per-step forward GEMMs into one shared node, per-step dh in backward, and the
// weight's gradient over all steps as one GEMM when the sweep reaches the shared node.
#include "tapeloop/ops/recurrent_linear.hpp"

#include <algorithm>
#include <string>

#include "gemm.hpp"
#include "linear_dims.hpp"
#include "tapeloop/ops/linear.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace {

constexpr const char* op = "recurrent_linear";

template <class T>
bool needs_grad(const Var<T>& v) {
  return !v.empty() && v.requires_grad();
}

}  // namespace

template <class T>
RecurrentLinear<T>::RecurrentLinear(const Var<T>& weight, const Var<T>& bias, std::int64_t rows,
                                    std::int64_t steps)
    : weight_(weight), bias_(bias), rows_(rows), steps_(steps) {
  Tape<T>& tape = weight.tape();
  if (!bias.empty()) tape.check_live(bias, op);
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
  const bool grad_w = needs_grad(weight), grad_b = needs_grad(bias);
  batched_ = tape.grad_enabled() && (grad_w || grad_b);
  if (!batched_) return;

  const Shape all{steps * rows, out_};
  outputs_ =
      bias.empty() ? tape.make_node(op, all, {weight}) : tape.make_node(op, all, {weight, bias});
  inputs_ = tape.scratch(steps * rows * in_);
  rows_used_ = static_cast<std::int64_t*>(tape.scratch_bytes(sizeof(std::int64_t)));
  *rows_used_ = 0;
  // Recorded before every step, so the reverse sweep reaches this rule after all of them: by
  // then the gradient of every step's output is complete in this node's gradient.
  tape.set_backward(
      outputs_, [=, all_out = outputs_, x = inputs_, used = rows_used_, in = in_, out = out_] {
        const std::int64_t m = *used;
        Tape<T>& t = *all_out.tape_ptr();
        const T* g = t.grad_of(all_out.index());
        if (grad_w) {  // dW += G^T X: [O, m] x [m, I], one GEMM over every step's rows
          detail::gemm<T>(true, false, out, in, m, g, x, T(1), t.grad_of(weight.index()));
        }
        if (grad_b) {  // db += column sums of G, row after row (vectorized along the row)
      T* gb = t.grad_of(bias.index());
      for (std::int64_t r = 0; r < m; ++r) {
        const T* gr = g + r * out;
        for (std::int64_t o = 0; o < out; ++o) gb[o] += gr[o];
      }
    }
      });
}

template <class T>
Var<T> RecurrentLinear<T>::operator()(const Var<T>& x) {
  if (!batched_) return bias_.empty() ? linear(x, weight_) : linear(x, weight_, bias_);
  Tape<T>& tape = x.tape();
  tape.check_live(x, op);
  const Shape xs = x.shape();
  if (xs != Shape{rows_, in_}) {
    throw ShapeError(std::string(op) + ": input " + xs.str() + ": expected [" +
                     std::to_string(rows_) + "," + std::to_string(in_) + "] (rows " +
                     std::to_string(rows_) + ", weight " + weight_.shape().str() + ")");
  }
  if (calls_ == steps_) {
    throw ValueError(std::string(op) + ": more than the " + std::to_string(steps_) +
                     " steps it was made for");
  }
  const std::int64_t first = calls_ * rows_;  // this step's first row
  Var<T> y = tape.make_view(op, outputs_, first * out_, Shape{rows_, out_}, true);
  const T* px = x.value().data;
  const T* pw = weight_.value().data;
  T* py = tape.mutable_value(y);
  const std::int64_t rows = rows_, in = in_, out = out_;
  if (!bias_.empty()) {  // prefill with the bias; the GEMM adds onto it
    const T* pb = bias_.value().data;
    for (std::int64_t r = 0; r < rows; ++r) std::copy(pb, pb + out, py + r * out);
  }
  detail::gemm<T>(false, true, rows, out, in, px, pw, bias_.empty() ? T(0) : T(1), py);
  std::copy(px, px + rows * in, inputs_ + first * in);
  ++calls_;
  *rows_used_ = calls_ * rows_;
  if (x.requires_grad()) {  // dx += g W: [rows, O] x [O, I], needed by the step before
    tape.set_backward(y, [=] {
      Tape<T>& t = *y.tape_ptr();
      detail::gemm<T>(false, false, rows, in, out, t.grad_of(y.index()), pw, T(1),
                      t.grad_of(x.index()));
    });
  }
  return y;
}

template class RecurrentLinear<float>;
template class RecurrentLinear<double>;

}  // namespace tapeloop
