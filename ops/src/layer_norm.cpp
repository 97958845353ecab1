// layer_norm: per-slice mean and reciprocal standard deviation saved forward, one fused pass
// backward (the three-term formula instead of a graph of means, subtractions and divisions).
#include "tapeloop/ops/layer_norm.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "kernels/parallel.hpp"
#include "tapeloop/detail/replay_curvature.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/reduce.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/ops/unary.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

// x seen as [rows, width]: each row is one normalized slice. Inputs: x, then weight (Affine >=
// 1), then bias (Affine == 2).
template <class T, int Affine>
struct LayerNormRule {
  static constexpr const char* name = "layer_norm";
  Shape normalized;
  T eps;
  std::int64_t rows = 0, width = 0;
  T* mean = nullptr;  // per row, kept when a gradient or tangent will be asked for
  T* rstd = nullptr;

  Shape check(InputShapes s) {
    const Shape& x = s[0];
    const int k = normalized.rank();
    bool fits = x.rank() >= k;
    for (int i = 0; fits && i < k; ++i) fits = x[x.rank() - k + i] == normalized[i];
    if (!fits) {
      throw ShapeError("layer_norm: x " + x.str() + " does not end in normalized_shape " +
                       normalized.str());
    }
    for (int i = 1; i <= Affine; ++i) {
      if (s[i] != normalized) {
        throw ShapeError(std::string("layer_norm: ") + (i == 1 ? "weight " : "bias ") + s[i].str() +
                         ": expected normalized_shape " + normalized.str());
      }
    }
    width = normalized.numel();
    rows = width > 0 ? x.numel() / width : 0;
    return x;
  }

  // Two passes over the row (mean, then the centred sum of squares): exact for rows far from
  // zero where E[x^2] - E[x]^2 would cancel.
  static void moments(const T* x, std::int64_t n, T eps, T& mu, T& r) {
    T s = 0;
    for (std::int64_t j = 0; j < n; ++j) s += x[j];
    mu = s / static_cast<T>(n);
    T ss = 0;
    for (std::int64_t j = 0; j < n; ++j) ss += (x[j] - mu) * (x[j] - mu);
    r = T(1) / std::sqrt(ss / static_cast<T>(n) + eps);
  }

  void forward(ForwardContext<T>& c) {
    if (width == 0) return;
    if (c.needs_grad()) {
      mean = c.scratch(rows);
      rstd = c.scratch(rows);
    }
    const T* px = c.in(0);
    const T* w = Affine >= 1 ? c.in(1) : nullptr;
    const T* b = Affine == 2 ? c.in(2) : nullptr;
    T* py = c.out();
    kernels::parallel_for(rows, 4 * width, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        const T* x = px + r * width;
        T* y = py + r * width;
        T mu, rs;
        moments(x, width, eps, mu, rs);
        if (mean) {
          mean[r] = mu;
          rstd[r] = rs;
        }
        for (std::int64_t j = 0; j < width; ++j) {
          T v = (x[j] - mu) * rs;
          if (w) v *= w[j];
          if (b) v += b[j];
          y[j] = v;
        }
      }
    });
  }

  // For each row: the two means the input gradient needs, of u = g w and of u xhat.
  void backward(BackwardContext<T>& c) const {
    if (width == 0) return;
    const T* px = c.in(0);
    const T* w = Affine >= 1 ? c.in(1) : nullptr;
    const T* g = c.grad_out();
    if (T* gx = c.grad(0)) {
      kernels::parallel_for(rows, 6 * width, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
          const T* x = px + r * width;
          const T* gr = g + r * width;
          T* d = gx + r * width;
          const T mu = mean[r], rs = rstd[r];
          T mean_u = 0, mean_ux = 0;
          for (std::int64_t j = 0; j < width; ++j) {
            const T u = w ? gr[j] * w[j] : gr[j];
            mean_u += u;
            mean_ux += u * (x[j] - mu) * rs;
          }
          mean_u /= static_cast<T>(width);
          mean_ux /= static_cast<T>(width);
          for (std::int64_t j = 0; j < width; ++j) {
            const T u = w ? gr[j] * w[j] : gr[j];
            d[j] += rs * (u - mean_u - (x[j] - mu) * rs * mean_ux);
          }
        }
      });
    }
    // Sums over rows, serial in row order so the bits do not depend on the thread count.
    T* gw = Affine >= 1 ? c.grad(1) : nullptr;
    T* gb = Affine == 2 ? c.grad(2) : nullptr;
    if (!gw && !gb) return;
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* x = px + r * width;
      const T* gr = g + r * width;
      const T mu = mean[r], rs = rstd[r];
      if (gw) {
        for (std::int64_t j = 0; j < width; ++j) gw[j] += gr[j] * (x[j] - mu) * rs;
      }
      if (gb) {
        for (std::int64_t j = 0; j < width; ++j) gb[j] += gr[j];
      }
    }
  }

  // dy = dxhat w + xhat dw + db, dxhat = rstd (dx - mean(dx) - xhat mean(dx xhat)).
  void tangent(TangentContext<T>& c) const {
    if (width == 0) return;
    const T* px = c.in(0);
    const T* w = Affine >= 1 ? c.in(1) : nullptr;
    const T* tx = c.tangent(0);
    const T* tw = Affine >= 1 ? c.tangent(1) : nullptr;
    const T* tb = Affine == 2 ? c.tangent(2) : nullptr;
    T* ty = c.tangent_out();
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* x = px + r * width;
      T* t = ty + r * width;
      const T mu = mean[r], rs = rstd[r];
      T mean_d = 0, mean_dx = 0;
      if (tx) {
        const T* d = tx + r * width;
        for (std::int64_t j = 0; j < width; ++j) {
          mean_d += d[j];
          mean_dx += d[j] * (x[j] - mu) * rs;
        }
        mean_d /= static_cast<T>(width);
        mean_dx /= static_cast<T>(width);
      }
      for (std::int64_t j = 0; j < width; ++j) {
        const T xhat = (x[j] - mu) * rs;
        T v = 0;
        if (tx) {
          const T dxhat = rs * (tx[r * width + j] - mean_d - xhat * mean_dx);
          v += w ? dxhat * w[j] : dxhat;
        }
        if (tw) v += xhat * tw[j];
        if (tb) v += tb[j];
        t[j] += v;
      }
    }
  }
  // The second-order term from the normalization replayed with generic operators on
  // [rows, width]: mean, centring, variance, rsqrt, then the affine part.
  void curvature(CurvatureContext<T>& c) const {
    if (width == 0) return;
    const std::int64_t r = rows, w = width;
    const T e = eps;
    const Shape shape = c.in_shape(0);
    detail::curvature_by_replay(c, [r, w, e, shape](const std::vector<Var<T>>& in) {
      const Var<T> x = reshape(in[0], Shape{r, w});
      const Var<T> centred = x - tapeloop::mean(x, 1, true);  // not the member
      const Var<T> var = tapeloop::mean(centred * centred, 1, true);
      Var<T> y = centred / sqrt(var + e);
      if (Affine >= 1) y = y * reshape(in[1], Shape{w});
      if (Affine == 2) y = y + reshape(in[2], Shape{w});
      return reshape(y, shape);
    });
  }
};

}  // namespace

template <class T>
Var<T> layer_norm(const Var<T>& x, const Shape& normalized_shape, const Var<T>& weight,
                  const Var<T>& bias, double eps) {
  if (!(eps >= 0.0)) {
    throw ValueError("layer_norm: eps = " + std::to_string(eps) + " must be >= 0");
  }
  const T e = static_cast<T>(eps);
  if (weight.empty()) {
    if (!bias.empty()) throw ValueError("layer_norm: a bias needs a weight");
    return record(LayerNormRule<T, 0>{normalized_shape, e}, x);
  }
  if (bias.empty()) return record(LayerNormRule<T, 1>{normalized_shape, e}, x, weight);
  return record(LayerNormRule<T, 2>{normalized_shape, e}, x, weight, bias);
}

template Var<float> layer_norm(const Var<float>&, const Shape&, const Var<float>&,
                               const Var<float>&, double);
template Var<double> layer_norm(const Var<double>&, const Shape&, const Var<double>&,
                                const Var<double>&, double);

}  // namespace tapeloop
