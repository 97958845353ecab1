// linear: shape checks, and forward and backward as GEMMs that read the weight transposed in place.
#include "tapeloop/ops/linear.hpp"

#include <algorithm>
#include <string>

#include "gemm.hpp"
#include "linear_dims.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace detail {

LinearDims check_linear(const char* op, const Shape& xs, const Shape& ws, const Shape* bs) {
  // Messages are built only on failure: recording must not touch the heap.
  auto head = [&] { return std::string(op) + ": input " + xs.str() + " and weight " + ws.str(); };
  if (ws.rank() != 2) {
    throw ShapeError(std::string(op) + ": weight " + ws.str() +
                     ": expected [out_features, in_features]");
  }
  if (xs.rank() < 1) throw ShapeError(head() + ": the input needs at least one dimension");
  const std::int64_t in = ws[1];
  const std::int64_t out = ws[0];
  if (xs[xs.rank() - 1] != in) {
    throw ShapeError(head() + ": input features " + std::to_string(xs[xs.rank() - 1]) + " and " +
                     std::to_string(in) + " differ");
  }
  if (bs && (bs->rank() != 1 || (*bs)[0] != out)) {
    throw ShapeError(std::string(op) + ": weight " + ws.str() + " and bias " + bs->str() +
                     ": expected bias [" + std::to_string(out) + "]");
  }
  LinearDims d{1, in, out, xs};
  for (int a = 0; a + 1 < xs.rank(); ++a) d.rows *= xs[a];  // numel / in fails for in = 0
  d.out_shape[xs.rank() - 1] = out;
  if (d.rows > detail::blas_max || in > detail::blas_max || out > detail::blas_max) {
    throw ShapeError(head() + ": a matrix dimension exceeds the BLAS limit of " +
                     std::to_string(detail::blas_max));
  }
  return d;
}

}  // namespace detail

namespace {

template <class T>
Var<T> linear_impl(const Var<T>& x, const Var<T>& weight, const Var<T>* bias) {
  Tape<T>& tape = x.tape();
  const Shape bs = bias ? bias->shape() : Shape{};  // copies: make_node may move node storage
  const detail::LinearDims d =
      detail::check_linear("linear", x.shape(), weight.shape(), bias ? &bs : nullptr);
  Var<T> out = bias ? tape.make_node("linear", d.out_shape, {x, weight, *bias})
                    : tape.make_node("linear", d.out_shape, {x, weight});
  const std::int64_t rows = d.rows, in = d.in, n_out = d.out;
  const T* px = x.value().data;
  const T* pw = weight.value().data;
  const T* pb = bias ? bias->value().data : nullptr;
  T* py = tape.mutable_value(out);
  // Prefill every row with the bias so the GEMM adds onto it (beta = 1): no second pass.
  if (pb) {
    for (std::int64_t r = 0; r < rows; ++r) std::copy(pb, pb + n_out, py + r * n_out);
  }
  detail::gemm<T>(false, true, rows, n_out, in, px, pw, pb ? T(1) : T(0), py);

  const Var<T> b = bias ? *bias : Var<T>();  // captured by value; empty without a bias
  tape.set_backward(out, [=] {
    const T* g = out.grad().data;
    if (x.requires_grad()) {  // dx += g W: [rows,O] x [O,I]
      detail::gemm<T>(false, false, rows, in, n_out, g, pw, T(1), x.grad().data);
    }
    if (weight.requires_grad()) {  // dW += g^T x: [O,rows] x [rows,I], g read transposed
      detail::gemm<T>(true, false, n_out, in, rows, g, px, T(1), weight.grad().data);
    }
    if (!b.empty() && b.requires_grad()) {  // db += column sums of g
      T* gb = b.grad().data;
      for (std::int64_t r = 0; r < rows; ++r) {
        const T* gr = g + r * n_out;
        for (std::int64_t o = 0; o < n_out; ++o) gb[o] += gr[o];
      }
    }
  });
  return out;
}

}  // namespace

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& weight, const Var<T>& bias) {
  return linear_impl(x, weight, &bias);
}

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& weight) {
  return linear_impl<T>(x, weight, nullptr);
}

#define TAPELOOP_INSTANTIATE(T)                                        \
  template Var<T> linear(const Var<T>&, const Var<T>&, const Var<T>&); \
  template Var<T> linear(const Var<T>&, const Var<T>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
