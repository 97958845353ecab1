// Gradient clipping: rescale all gradients to a maximum total norm, or clamp each element,
// as torch.nn.utils.clip_grad_norm_ and clip_grad_value_ do. Frozen parameters are ignored.
#pragma once

#include <span>

#include "tapeloop/parameter.hpp"

namespace tapeloop {

/// The norm of all gradients of the parameters that require one, taken together as one vector:
/// (sum |g|^norm_type)^(1/norm_type), or max |g| for norm_type = infinity. If it exceeds
/// max_norm, every such gradient is multiplied by max_norm / (norm + 1e-6). Returns the norm
/// before clipping (0 when no parameter requires a gradient), accumulated in double.
///
/// A NaN or infinite norm is returned with the gradients left untouched, so the caller can skip
/// the step; PyTorch would instead scale them by NaN or 0. With `error_if_nonfinite` (PyTorch's
/// option of that name) it throws instead, leaving the gradients untouched too: NonFiniteError
/// naming the first parameter whose gradient has a NaN or infinite element, with their counts
/// and the first one's index, or ValueError if every element is finite and the norm overflowed
/// (|g|^norm_type past the largest double). Checking costs nothing: the norm is NaN or infinite
/// exactly when there is something to report, or an overflow.
///
/// Throws ValueError unless max_norm is finite and >= 0 and norm_type is > 0 (infinity
/// allowed). Performs no heap allocation unless it throws.
double clip_grad_norm(std::span<Parameter<float>* const> params, double max_norm,
                      double norm_type = 2.0, bool error_if_nonfinite = false);
double clip_grad_norm(std::span<Parameter<double>* const> params, double max_norm,
                      double norm_type = 2.0, bool error_if_nonfinite = false);

/// Clamps every gradient element of the parameters that require one to [-clip, clip]
/// (NaN stays NaN). Throws ValueError unless clip is >= 0 (infinity allowed: no-op).
void clip_grad_value(std::span<Parameter<float>* const> params, double clip);
void clip_grad_value(std::span<Parameter<double>* const> params, double clip);

}  // namespace tapeloop
