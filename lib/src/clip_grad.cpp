// Gradient clipping by total norm and by value.
#include "tapeloop/optim/clip_grad.hpp"

#include <cmath>

#include "nonfinite.hpp"
#include "optim_checks.hpp"

namespace tapeloop {

namespace {

template <class T>
[[noreturn]] void throw_nonfinite_norm(std::span<Parameter<T>* const> params, double total,
                                       double norm_type) {
  const char* consequence =
      "the gradients were not clipped and are as they were (error_if_nonfinite is set)";
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Parameter<T>& p = *params[i];
    if (p.requires_grad() && !detail::all_finite(p.grad().data(), p.grad().numel())) {
      detail::throw_nonfinite_grad("clip_grad_norm", i, p, consequence);
    }
  }
  throw ValueError("clip_grad_norm: the total " + detail::number_str(norm_type) + "-norm is " +
                   detail::number_str(total) +
                   " although every gradient element is finite: sum |g|^norm_type overflowed a "
                   "double; the gradients were not clipped and are as they were "
                   "(error_if_nonfinite is set)");
}

template <class T>
double clip_norm(std::span<Parameter<T>* const> params, double max_norm, double norm_type,
                 bool error_if_nonfinite) {
  detail::require_non_negative("clip_grad_norm", "max_norm", max_norm);
  if (!(norm_type > 0.0)) {
    throw ValueError("clip_grad_norm: norm_type must be > 0 or infinity, got " +
                     detail::number_str(norm_type));
  }
  const bool inf_norm = std::isinf(norm_type);
  // Accumulating in double keeps a float model's norm from overflowing or losing small terms.
  double acc = 0.0;
  for (Parameter<T>* p : params) {
    if (!p->requires_grad()) continue;
    for (const T g : p->grad()) {
      const double a = std::abs(static_cast<double>(g));
      if (inf_norm) {
        acc = (a > acc || std::isnan(a)) ? a : acc;  // NaN must reach the result
      } else if (norm_type == 2.0) {
        acc += a * a;
      } else if (norm_type == 1.0) {
        acc += a;
      } else {
        acc += std::pow(a, norm_type);
      }
    }
  }
  const double total = inf_norm         ? acc
                       : norm_type == 2 ? std::sqrt(acc)
                       : norm_type == 1 ? acc
                                        : std::pow(acc, 1.0 / norm_type);
  if (!std::isfinite(total)) {  // nothing sensible to scale by; see the header
    if (error_if_nonfinite) throw_nonfinite_norm(params, total, norm_type);
    return total;
  }
  // PyTorch's coefficient, with its 1e-6 guard against dividing by a zero norm.
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    const T scale = static_cast<T>(coef);
    for (Parameter<T>* p : params) {
      if (!p->requires_grad()) continue;
      for (T& g : p->grad()) g *= scale;
    }
  }
  return total;
}

template <class T>
void clip_value(std::span<Parameter<T>* const> params, double clip) {
  if (!(clip >= 0.0)) {
    throw ValueError("clip_grad_value: clip must be >= 0, got " + detail::number_str(clip));
  }
  // Infinity casts to an infinite T and clamps nothing, as intended.
  const T hi = static_cast<T>(clip);
  const T lo = -hi;
  for (Parameter<T>* p : params) {
    if (!p->requires_grad()) continue;
    for (T& g : p->grad()) {
      if (g > hi) g = hi;
      if (g < lo) g = lo;  // comparisons with NaN are false: NaN stays NaN, as in torch.clamp
    }
  }
}

}  // namespace

double clip_grad_norm(std::span<Parameter<float>* const> params, double max_norm, double norm_type,
                      bool error_if_nonfinite) {
  return clip_norm(params, max_norm, norm_type, error_if_nonfinite);
}
double clip_grad_norm(std::span<Parameter<double>* const> params, double max_norm, double norm_type,
                      bool error_if_nonfinite) {
  return clip_norm(params, max_norm, norm_type, error_if_nonfinite);
}
void clip_grad_value(std::span<Parameter<float>* const> params, double clip) {
  clip_value(params, clip);
}
void clip_grad_value(std::span<Parameter<double>* const> params, double clip) {
  clip_value(params, clip);
}

}  // namespace tapeloop
