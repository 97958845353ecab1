// Losses: one node each, summing per-element terms forward; mean scales by 1/N.
#include "tapeloop/ops/loss.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "kernels/reduce.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace {

// The factor turning a sum of `count` terms into the requested reduction.
template <class T>
T reduction_scale(Reduction reduction, std::int64_t count) {
  if (reduction == Reduction::sum) return T(1);
  return count > 0 ? T(1) / static_cast<T>(count) : std::numeric_limits<T>::quiet_NaN();
}

void require_same_shape(const char* op, const Shape& a, const Shape& b, const char* what) {
  if (a != b) {
    throw ShapeError(std::string(op) + ": " + a.str() + " and " + b.str() + ": " + what);
  }
}

// 1 / (1 + e^-x) exponentiating only non-positive numbers (see sigmoid in unary.cpp).
template <class T>
T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace

template <class T>
Var<T> mse_loss(const Var<T>& pred, const Var<T>& target, Reduction reduction) {
  Tape<T>& tape = pred.tape();
  require_same_shape("mse_loss", pred.shape(), target.shape(),
                     "pred and target must have the same shape");
  Var<T> out = tape.make_node("mse_loss", Shape{}, {pred, target});
  const T* pp = pred.value().data;
  const T* pt = target.value().data;
  const std::int64_t n = pred.numel();
  const T scale = reduction_scale<T>(reduction, n);
  // The blocked pairwise sum: accurate and the same for any thread count.
  tape.mutable_value(out)[0] = kernels::sum_squared_difference(pp, pt, n) * scale;
  tape.set_backward(out, [=] {
    const T gs = T(2) * out.grad().data[0] * scale;
    if (pred.requires_grad()) {
      T* gp = pred.grad().data;
      for (std::int64_t i = 0; i < n; ++i) gp[i] += gs * (pp[i] - pt[i]);
    }
    if (target.requires_grad()) {
      T* gt = target.grad().data;
      for (std::int64_t i = 0; i < n; ++i) gt[i] -= gs * (pp[i] - pt[i]);
    }
  });
  return out;
}

template <class T>
Var<T> binary_cross_entropy_with_logits(const Var<T>& logits, const Var<T>& target,
                                        Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  Tape<T>& tape = logits.tape();
  require_same_shape(op, logits.shape(), target.shape(),
                     "logits and target must have the same shape");
  Var<T> out = tape.make_node(op, Shape{}, {logits, target});
  const T* px = logits.value().data;
  const T* pt = target.value().data;
  const std::int64_t n = logits.numel();
  const T scale = reduction_scale<T>(reduction, n);
  T acc = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    // -t log s(x) - (1-t) log(1 - s(x)) = log(1 + e^x) - x t, and
    // log(1 + e^x) = max(x, 0) + log1p(e^-|x|) never overflows.
    const T x = px[i];
    acc += (x > T(0) ? x : T(0)) - x * pt[i] + std::log1p(std::exp(-std::abs(x)));
  }
  tape.mutable_value(out)[0] = acc * scale;
  tape.set_backward(out, [=] {
    const T gs = out.grad().data[0] * scale;
    if (logits.requires_grad()) {
      T* gx = logits.grad().data;
      for (std::int64_t i = 0; i < n; ++i) gx[i] += gs * (stable_sigmoid(px[i]) - pt[i]);
    }
    if (target.requires_grad()) {
      T* gt = target.grad().data;
      for (std::int64_t i = 0; i < n; ++i) gt[i] -= gs * px[i];
    }
  });
  return out;
}

template <class T>
Var<T> cross_entropy(const Var<T>& logits, std::span<const std::int64_t> targets,
                     Reduction reduction) {
  Tape<T>& tape = logits.tape();
  const Shape& shape = logits.shape();
  if (shape.rank() != 2) {
    throw ShapeError("cross_entropy: logits " + shape.str() + ": expected rank 2 [N,C]");
  }
  const std::int64_t rows = shape[0];
  const std::int64_t classes = shape[1];
  if (static_cast<std::int64_t>(targets.size()) != rows) {
    throw ShapeError("cross_entropy: logits " + shape.str() + " and " +
                     std::to_string(targets.size()) + " targets: expected one target per row (" +
                     std::to_string(rows) + ")");
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] < 0 || targets[i] >= classes) {
      throw ValueError("cross_entropy: logits " + shape.str() + ": target " +
                       std::to_string(targets[i]) + " at position " + std::to_string(i) +
                       " is out of range [0," + std::to_string(classes) +
                       ") for C = " + std::to_string(classes));
    }
  }
  Var<T> out = tape.make_node("cross_entropy", Shape{}, {logits});
  const T* px = logits.value().data;
  const T scale = reduction_scale<T>(reduction, rows);
  // Backward needs each row's logsumexp and the targets (the caller's span may be gone by
  // then); both go to scratch, and only when there will be a backward.
  T* lse = nullptr;
  std::int64_t* saved = nullptr;
  if (out.requires_grad()) {
    lse = tape.scratch(rows);
    saved = static_cast<std::int64_t*>(
        tape.scratch_bytes(static_cast<std::size_t>(rows) * sizeof(std::int64_t)));
    if (rows > 0) {
      std::memcpy(saved, targets.data(), static_cast<std::size_t>(rows) * sizeof(std::int64_t));
    }
  }
  T acc = 0;
  for (std::int64_t i = 0; i < rows; ++i) {
    const T* x = px + i * classes;
    T m = x[0];  // classes >= 1 here: a target exists and lies in [0, C)
    for (std::int64_t j = 1; j < classes; ++j) m = x[j] > m ? x[j] : m;
    if (std::isinf(m)) m = T(0);  // as in logsumexp: keep -inf and +inf rows out of inf - inf
    T s = 0;
    for (std::int64_t j = 0; j < classes; ++j) s += std::exp(x[j] - m);
    const T l = m + std::log(s);
    if (lse) lse[i] = l;
    acc += l - x[targets[static_cast<std::size_t>(i)]];
  }
  tape.mutable_value(out)[0] = acc * scale;
  tape.set_backward(out, [=] {
    if (!logits.requires_grad()) return;
    const T gs = out.grad().data[0] * scale;
    T* gx = logits.grad().data;
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* x = px + i * classes;
      T* g = gx + i * classes;
      for (std::int64_t j = 0; j < classes; ++j) g[j] += gs * std::exp(x[j] - lse[i]);
      g[saved[i]] -= gs;
    }
  });
  return out;
}

#define TAPELOOP_INSTANTIATE(T)                                                              \
  template Var<T> mse_loss(const Var<T>&, const Var<T>&, Reduction);                         \
  template Var<T> binary_cross_entropy_with_logits(const Var<T>&, const Var<T>&, Reduction); \
  template Var<T> cross_entropy(const Var<T>&, std::span<const std::int64_t>, Reduction);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
