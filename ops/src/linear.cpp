// linear: shape checks, and forward and backward as GEMMs that read the weight transposed in place.
#include "tapeloop/ops/linear.hpp"

#include <algorithm>
#include <string>

#include "gemm.hpp"
#include "linear_dims.hpp"
#include "tapeloop/rule.hpp"

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

// y = x W^T (+ b): x [..., I], W [O, I], b [O].
template <class T>
struct LinearRule {
  static constexpr const char* name = "linear";
  detail::LinearDims d;

  Shape check(InputShapes s) {
    d = detail::check_linear(name, s[0], s[1], s.size() == 3 ? &s[2] : nullptr);
    return d.out_shape;
  }
  // Every row prefilled with the bias so the GEMM adds onto it (beta = 1): no second pass.
  void forward(ForwardContext<T>& c) const {
    if (c.inputs() == 3) {
      const T* b = c.in(2);
      T* y = c.out();
      for (std::int64_t r = 0; r < d.rows; ++r) std::copy(b, b + d.out, y + r * d.out);
    }
    detail::gemm<T>(false, true, d.rows, d.out, d.in, c.in(0), c.in(1),
                    c.inputs() == 3 ? T(1) : T(0), c.out());
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    if (T* gx = c.grad(0)) {  // dx += g W: [rows,O] x [O,I]
      detail::gemm<T>(false, false, d.rows, d.in, d.out, g, c.in(1), T(1), gx);
    }
    if (T* gw = c.grad(1)) {  // dW += g^T x: [O,rows] x [rows,I], g read transposed
      detail::gemm<T>(true, false, d.out, d.in, d.rows, g, c.in(0), T(1), gw);
    }
    if (T* gb = c.inputs() == 3 ? c.grad(2) : nullptr) {  // db += column sums of g
      for (std::int64_t r = 0; r < d.rows; ++r) {
        const T* gr = g + r * d.out;
        for (std::int64_t o = 0; o < d.out; ++o) gb[o] += gr[o];
      }
    }
  }
  // dy = dx W^T + x dW^T + db.
  void tangent(TangentContext<T>& c) const {
    T* ty = c.tangent_out();
    if (const T* tx = c.tangent(0))
      detail::gemm<T>(false, true, d.rows, d.out, d.in, tx, c.in(1), T(1), ty);
    if (const T* tw = c.tangent(1))
      detail::gemm<T>(false, true, d.rows, d.out, d.in, c.in(0), tw, T(1), ty);
    if (const T* tb = c.inputs() == 3 ? c.tangent(2) : nullptr) {
      for (std::int64_t r = 0; r < d.rows; ++r) {
        T* yr = ty + r * d.out;
        for (std::int64_t o = 0; o < d.out; ++o) yr[o] += tb[o];
      }
    }
  }
  // Bilinear in x and W: backward with the other factor replaced by its tangent,
  // dgx += g tW, dgW += g^T tx. The bias enters linearly.
  void curvature(CurvatureContext<T>& c) const {
    const T* g = c.grad_out();
    T* gx = c.grad(0);
    if (const T* tw = c.tangent(1); gx && tw) {
      detail::gemm<T>(false, false, d.rows, d.in, d.out, g, tw, T(1), gx);
    }
    T* gw = c.grad(1);
    if (const T* tx = c.tangent(0); gw && tx) {
      detail::gemm<T>(true, false, d.out, d.in, d.rows, g, tx, T(1), gw);
    }
  }
};

}  // namespace

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& weight, const Var<T>& bias) {
  return record(LinearRule<T>{}, x, weight, bias);
}

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& weight) {
  return record(LinearRule<T>{}, x, weight);
}

#define TAPELOOP_INSTANTIATE(T)                                        \
  template Var<T> linear(const Var<T>&, const Var<T>&, const Var<T>&); \
  template Var<T> linear(const Var<T>&, const Var<T>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
