// matmul: shape checks, and forward and backward as GEMM calls that accumulate in place, split
// into blocks on tapeloop's threads when large.
#include "tapeloop/ops/matmul.hpp"

#include <string>

#include "gemm.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

// [M,K] x [K,N], [B,M,K] x [B,K,N] (batched) or [B,M,K] x [K,N] (a shared weight).
template <class T>
struct MatmulRule {
  static constexpr const char* name = "matmul";
  // Set by check(): `products` GEMMs of rows x n x k, b advancing by step_b between them.
  std::int64_t products = 1, rows = 0, n = 0, k = 0, step_b = 0;

  Shape check(InputShapes s) {
    const Shape& sa = s[0];
    const Shape& sb = s[1];
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
    k = sa[ra - 1];
    if (k != sb[rb - 2]) {
      throw ShapeError(shapes(sa, sb) + ": inner dimensions " + std::to_string(k) + " and " +
                       std::to_string(sb[rb - 2]) + " differ");
    }
    const std::int64_t batch = ra == 3 ? sa[0] : 1;
    const std::int64_t m = sa[ra - 2];
    n = sb[rb - 1];
    const bool shared = ra == 3 && rb == 2;
    // A shared weight makes [B,M,K] one contiguous [B*M,K] matrix: a single GEMM.
    rows = shared ? batch * m : m;
    products = shared ? 1 : batch;
    step_b = shared ? 0 : k * n;
    using detail::blas_max;
    if (rows > blas_max || n > blas_max || k > blas_max) {
      throw ShapeError(shapes(sa, sb) + ": a matrix dimension exceeds the BLAS limit of " +
                       std::to_string(blas_max));
    }
    return ra == 3 ? Shape{batch, m, n} : Shape{m, n};
  }
  // y (+)= a b for every product.
  void product(const T* a, const T* b, T beta, T* y) const {
    for (std::int64_t i = 0; i < products; ++i) {
      detail::gemm<T>(false, false, rows, n, k, a + i * rows * k, b + i * step_b, beta,
                      y + i * rows * n);
    }
  }
  void forward(ForwardContext<T>& c) const { product(c.in(0), c.in(1), T(0), c.out()); }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    if (T* ga = c.grad(0)) {  // dA += dY B^T
      for (std::int64_t i = 0; i < products; ++i) {
        detail::gemm<T>(false, true, rows, k, n, g + i * rows * n, c.in(1) + i * step_b, T(1),
                        ga + i * rows * k);
      }
    }
    if (T* gb = c.grad(1)) {  // dB += A^T dY; for a shared weight the B*M rows sum in one GEMM
      for (std::int64_t i = 0; i < products; ++i) {
        detail::gemm<T>(true, false, k, n, rows, c.in(0) + i * rows * k, g + i * rows * n, T(1),
                        gb + i * step_b);
      }
    }
  }
  // dY = dA B + A dB.
  void tangent(TangentContext<T>& c) const {
    if (const T* ta = c.tangent(0)) product(ta, c.in(1), T(1), c.tangent_out());
    if (const T* tb = c.tangent(1)) product(c.in(0), tb, T(1), c.tangent_out());
  }
  // Bilinear: backward with the other factor replaced by its tangent, dgA += g tB^T,
  // dgB += tA^T g.
  void curvature(CurvatureContext<T>& c) const {
    const T* g = c.grad_out();
    T* ga = c.grad(0);
    if (const T* tb = c.tangent(1); ga && tb) {
      for (std::int64_t i = 0; i < products; ++i) {
        detail::gemm<T>(false, true, rows, k, n, g + i * rows * n, tb + i * step_b, T(1),
                        ga + i * rows * k);
      }
    }
    T* gb = c.grad(1);
    if (const T* ta = c.tangent(0); gb && ta) {
      for (std::int64_t i = 0; i < products; ++i) {
        detail::gemm<T>(true, false, k, n, rows, ta + i * rows * k, g + i * rows * n, T(1),
                        gb + i * step_b);
      }
    }
  }

 private:
  static std::string shapes(const Shape& a, const Shape& b) {
    return "matmul: " + a.str() + " x " + b.str();
  }
};

}  // namespace

template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  return record(MatmulRule<T>{}, a, b);
}

template Var<float> matmul(const Var<float>&, const Var<float>&);
template Var<double> matmul(const Var<double>&, const Var<double>&);

}  // namespace tapeloop
