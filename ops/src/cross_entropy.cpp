// Classification losses over class-index targets: cross_entropy (from logits) and nll_loss
// (from log-probabilities), with PyTorch's ignore_index, class weights and label smoothing.
#include <cmath>
#include <limits>
#include <string>

#include "axis.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/ops/loss.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

// Both losses see the input as [N, C, S] (S = d1 * ... * dk, 1 for [N,C]; N = 1 for a single
// sample [C]): element (n, c, s) at (n C + c) S + s, its target at n S + s.
//
// With w the class weights (all 1 without), y a target, eps the label smoothing and
// lp = log_softmax(x) (cross_entropy) or x itself (nll_loss), each kept position contributes
//   (1 - eps) w[y] (-lp[y]) + (eps / C) sum_c w[c] (-lp[c])
// and mean divides the sum by D = sum over kept positions of w[y], as PyTorch does (with no
// weights, D is the number of kept positions). Ignored positions contribute nothing to either.
template <class T, bool FromLogits>
struct ClassLossRule {
  static constexpr const char* name = FromLogits ? "cross_entropy" : "nll_loss";
  static constexpr const char* input = FromLogits ? ": logits " : ": log_probs ";
  Reduction reduction;
  const std::int64_t* targets;  // the caller's in check() and forward(); the tape's copy after
  std::int64_t count;
  const T* weight;  // null for none; like targets, the tape's copy after forward()
  std::int64_t weight_count;
  std::int64_t ignore_index;
  T smoothing;
  detail::AxisView v{};  // outer = N, n = C, inner = S
  T scale = T(1);        // d(loss)/d(sum of the terms)
  T weight_total = T(0);
  T* lse = nullptr;  // each position's logsumexp (cross_entropy, when a gradient will flow)

  T w(std::int64_t c) const { return weight ? weight[c] : T(1); }
  bool kept(std::int64_t i) const { return targets[i] != ignore_index; }

  Shape check(InputShapes s) {
    const Shape& shape = s[0];
    if (shape.rank() == 0) {
      throw ShapeError(std::string(name) + input + shape.str() +
                       ": expected [C], [N,C] or [N,C,d1,...]");
    }
    v = shape.rank() == 1 ? detail::AxisView{1, shape[0], 1} : detail::axis_view(shape, 1);
    if (count != v.outer * v.inner) {
      throw ShapeError(std::string(name) + input + shape.str() + " and " + std::to_string(count) +
                       " targets: expected one target per position (" +
                       std::to_string(v.outer * v.inner) + ")");
    }
    if (weight && weight_count != v.n) {
      throw ShapeError(std::string(name) + input + shape.str() + " and " +
                       std::to_string(weight_count) +
                       " class weights: expected C = " + std::to_string(v.n));
    }
    if (!(smoothing >= T(0) && smoothing <= T(1))) {
      throw ValueError(std::string(name) + ": label_smoothing " + std::to_string(smoothing) +
                       " is outside [0, 1]");
    }
    weight_total = 0;
    for (std::int64_t c = 0; c < weight_count; ++c) weight_total += weight[c];
    for (std::int64_t i = 0; i < count; ++i) {
      if (kept(i) && (targets[i] < 0 || targets[i] >= v.n)) {
        throw ValueError(std::string(name) + input + shape.str() + ": target " +
                         std::to_string(targets[i]) + " at position " + std::to_string(i) +
                         " is out of range [0," + std::to_string(v.n) +
                         ") for C = " + std::to_string(v.n) + " (and is not ignore_index " +
                         std::to_string(ignore_index) + ")");
      }
    }
    return Shape{};
  }

  // The log-probability of class c at position (o, k), given that position's logsumexp.
  T log_prob(const T* x, std::int64_t o, std::int64_t c, std::int64_t k, T l) const {
    const T xc = x[(o * v.n + c) * v.inner + k];
    return FromLogits ? xc - l : xc;
  }

  void forward(ForwardContext<T>& c) {
    const T* x = c.in(0);
    targets = c.keep(targets, static_cast<std::size_t>(count));
    if (weight) weight = c.keep(weight, static_cast<std::size_t>(weight_count));
    if (FromLogits && c.needs_grad()) lse = c.scratch(count);
    T acc = 0, denominator = 0;
    for (std::int64_t o = 0; o < v.outer; ++o) {
      for (std::int64_t k = 0; k < v.inner; ++k) {
        const std::int64_t i = o * v.inner + k;
        if (!kept(i)) continue;
        T l = 0;
        if constexpr (FromLogits) {
          T m = x[o * v.n * v.inner + k];
          for (std::int64_t j = 1; j < v.n; ++j) {
            const T xj = x[(o * v.n + j) * v.inner + k];
            m = xj > m ? xj : m;
          }
          if (std::isinf(m)) m = T(0);  // as in logsumexp: keep +-inf out of inf - inf
          T s = 0;
          for (std::int64_t j = 0; j < v.n; ++j) s += std::exp(x[(o * v.n + j) * v.inner + k] - m);
          l = m + std::log(s);
          if (lse) lse[i] = l;
        }
        const std::int64_t y = targets[i];
        T term = -(T(1) - smoothing) * w(y) * log_prob(x, o, y, k, l);
        if (smoothing != T(0)) {
          T spread = 0;
          for (std::int64_t j = 0; j < v.n; ++j) spread += w(j) * log_prob(x, o, j, k, l);
          term -= smoothing / static_cast<T>(v.n) * spread;
        }
        acc += term;
        denominator += w(y);
      }
    }
    // A mean over no kept position is 0/0 = NaN, as PyTorch's.
    if (reduction == Reduction::sum) {
      scale = T(1);
    } else {
      scale = denominator != T(0) ? T(1) / denominator : std::numeric_limits<T>::quiet_NaN();
    }
    c.out()[0] = acc * scale;
  }

  // d(term at position i)/d(input[o, j, k]) for each class j, passed to visit(flat index,
  // derivative): for logits (1 - eps) w[y] (p_j - [j = y]) + (eps / C) (W p_j - w[j]) with W the
  // total weight; for log-probabilities (nll_loss, never smoothed) -w[y] at j = y only.
  template <class Visit>
  void for_each_derivative(const T* x, Visit visit) const {
    const T total = weight ? weight_total : static_cast<T>(v.n);
    const T spread = smoothing / static_cast<T>(v.n);
    for (std::int64_t o = 0; o < v.outer; ++o) {
      for (std::int64_t k = 0; k < v.inner; ++k) {
        const std::int64_t i = o * v.inner + k;
        if (!kept(i)) continue;
        const std::int64_t y = targets[i];
        const T main = (T(1) - smoothing) * w(y);
        if constexpr (!FromLogits) {  // no smoothing: only the target's entry has a derivative
          visit((o * v.n + y) * v.inner + k, -main);
          continue;
        }
        for (std::int64_t j = 0; j < v.n; ++j) {
          const std::int64_t at = (o * v.n + j) * v.inner + k;
          const T p = std::exp(x[at] - lse[i]);
          T d = main * p + spread * (total * p - w(j));
          if (j == y) d -= main;
          visit(at, d);
        }
      }
    }
  }

  void backward(BackwardContext<T>& c) const {
    T* gx = c.grad(0);
    const T gs = c.grad_out()[0] * scale;
    for_each_derivative(c.in(0), [&](std::int64_t at, T d) { gx[at] += gs * d; });
  }
  void tangent(TangentContext<T>& c) const {
    const T* tx = c.tangent(0);
    T acc = 0;
    for_each_derivative(c.in(0), [&](std::int64_t at, T d) { acc += d * tx[at]; });
    c.tangent_out()[0] += scale * acc;
  }
  // nll_loss is linear in its input. For logits, each kept position's derivative is
  // a p_j - (terms without x), a = (1 - eps) w[y] + (eps / C) W, so its Hessian is
  // a (diag(p) - p p^T): dgx_j += gs a p_j (tx_j - sum_m p_m tx_m).
  static constexpr bool linear = !FromLogits;
  void curvature(CurvatureContext<T>& c) const requires(FromLogits) {
    const T* x = c.in(0);
    const T* tx = c.tangent(0);
    T* gx = c.grad(0);
    const T gs = c.grad_out()[0] * scale;
    const T total = weight ? weight_total : static_cast<T>(v.n);
    for (std::int64_t o = 0; o < v.outer; ++o) {
      for (std::int64_t k = 0; k < v.inner; ++k) {
        const std::int64_t i = o * v.inner + k;
        if (!kept(i)) continue;
        const T a = (T(1) - smoothing) * w(targets[i]) + smoothing / static_cast<T>(v.n) * total;
        auto at = [&](std::int64_t j) { return (o * v.n + j) * v.inner + k; };
        T mean = 0;  // sum_m p_m tx_m
        for (std::int64_t j = 0; j < v.n; ++j) mean += std::exp(x[at(j)] - lse[i]) * tx[at(j)];
        for (std::int64_t j = 0; j < v.n; ++j) {
          gx[at(j)] += gs * a * std::exp(x[at(j)] - lse[i]) * (tx[at(j)] - mean);
        }
      }
    }
  }
};

template <bool FromLogits, class T>
Var<T> class_loss(const Var<T>& input, std::span<const std::int64_t> targets,
                  const CrossEntropyOptions<T>& options) {
  return record(
      ClassLossRule<T, FromLogits>{options.reduction, targets.data(),
                                   static_cast<std::int64_t>(targets.size()),
                                   options.weight.empty() ? nullptr : options.weight.data(),
                                   static_cast<std::int64_t>(options.weight.size()),
                                   options.ignore_index, static_cast<T>(options.label_smoothing)},
      input);
}

}  // namespace

template <class T>
Var<T> cross_entropy(const Var<T>& logits, std::span<const std::int64_t> targets,
                     const CrossEntropyOptions<T>& options) {
  return class_loss<true>(logits, targets, options);
}

template <class T>
Var<T> cross_entropy(const Var<T>& logits, std::span<const std::int64_t> targets,
                     Reduction reduction) {
  CrossEntropyOptions<T> options;
  options.reduction = reduction;
  return class_loss<true>(logits, targets, options);
}

template <class T>
Var<T> nll_loss(const Var<T>& log_probs, std::span<const std::int64_t> targets,
                const CrossEntropyOptions<T>& options) {
  if (options.label_smoothing != 0.0) {
    throw ValueError("nll_loss: label_smoothing " + std::to_string(options.label_smoothing) +
                     ": only cross_entropy smooths labels");
  }
  return class_loss<false>(log_probs, targets, options);
}

#define TAPELOOP_INSTANTIATE(T)                                                           \
  template Var<T> cross_entropy(const Var<T>&, std::span<const std::int64_t>,             \
                                const CrossEntropyOptions<T>&);                           \
  template Var<T> cross_entropy(const Var<T>&, std::span<const std::int64_t>, Reduction); \
  template Var<T> nll_loss(const Var<T>&, std::span<const std::int64_t>,                  \
                           const CrossEntropyOptions<T>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
