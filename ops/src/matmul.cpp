// matmul: shape checks, and forward and backward as GEMM calls that accumulate in place, split
// into blocks on tapeloop's threads when large.
#include "tapeloop/ops/matmul.hpp"

#include <string>

#include "gemm.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace {

std::string shapes(const Shape& a, const Shape& b) {
  return "matmul: " + a.str() + " x " + b.str();
}

}  // namespace

template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = a.tape();
  // Value and shape read once per input (copies: make_node may move the node storage; the
  // values themselves live in the arena and stay put).
  const TensorRef<const T> va = a.value();
  const TensorRef<const T> vb = b.value();
  const Shape& sa = va.shape;
  const Shape& sb = vb.shape;
  const int ra = sa.rank();
  const int rb = sb.rank();
  if (!((ra == 2 && rb == 2) || (ra == 3 && rb == 3) || (ra == 3 && rb == 2))) {
    throw ShapeError(shapes(sa, sb) +
                     ": expected [M,K] x [K,N], [B,M,K] x [B,K,N] or [B,M,K] x [K,N]");
  }
  if (ra == 3 && rb == 3 && sa[0] != sb[0]) {
    throw ShapeError(shapes(sa, sb) + ": batch sizes " + std::to_string(sa[0]) + " and " +
                     std::to_string(sb[0]) + " differ");
  }
  const std::int64_t k = sa[ra - 1];
  if (k != sb[rb - 2]) {
    throw ShapeError(shapes(sa, sb) + ": inner dimensions " + std::to_string(k) + " and " +
                     std::to_string(sb[rb - 2]) + " differ");
  }
  const std::int64_t batch = ra == 3 ? sa[0] : 1;
  const std::int64_t m = sa[ra - 2];
  const std::int64_t n = sb[rb - 1];
  const bool shared = ra == 3 && rb == 2;
  const Shape out_shape = ra == 3 ? Shape{batch, m, n} : Shape{m, n};
  // A shared weight makes [B,M,K] one contiguous [B*M,K] matrix: a single GEMM.
  const std::int64_t rows = shared ? batch * m : m;
  using detail::blas_max;
  if (rows > blas_max || n > blas_max || k > blas_max) {
    throw ShapeError(shapes(sa, sb) + ": a matrix dimension exceeds the BLAS limit of " +
                     std::to_string(blas_max));
  }

  Var<T> out = tape.make_node("matmul", out_shape, {a, b});
  const T* pa = va.data;
  const T* pb = vb.data;
  T* py = tape.mutable_value(out);
  const std::int64_t products = shared ? 1 : batch;
  const std::int64_t step_b = shared ? 0 : k * n;  // elements between batch entries of b
  for (std::int64_t i = 0; i < products; ++i) {
    detail::gemm<T>(false, false, rows, n, k, pa + i * rows * k, pb + i * step_b, T(0),
                    py + i * rows * n);
  }

  tape.set_backward(out, [=] {
    const T* g = out.grad().data;
    if (a.requires_grad()) {
      T* ga = a.grad().data;
      // dA += dY B^T
      for (std::int64_t i = 0; i < products; ++i) {
        detail::gemm<T>(false, true, rows, k, n, g + i * rows * n, pb + i * step_b, T(1),
                        ga + i * rows * k);
      }
    }
    if (b.requires_grad()) {
      T* gb = b.grad().data;
      // dB += A^T dY; for a shared weight the B*M rows are summed by the one GEMM.
      for (std::int64_t i = 0; i < products; ++i) {
        detail::gemm<T>(true, false, k, n, rows, pa + i * rows * k, g + i * rows * n, T(1),
                        gb + i * step_b);
      }
    }
  });
  return out;
}

template Var<float> matmul(const Var<float>&, const Var<float>&);
template Var<double> matmul(const Var<double>&, const Var<double>&);

}  // namespace tapeloop
