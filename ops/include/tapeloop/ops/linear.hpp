// linear: the affine map of PyTorch's F.linear, y = x W^T + b, as one GEMM.
#pragma once

#include "tapeloop/var.hpp"

namespace tapeloop {

/// y = x W^T + b for x [..., I] (any rank >= 1; the leading dims are flattened into rows),
/// weight [O, I] and bias [O], giving [..., O]. The weight is read as stored (CblasTrans), never
/// copied transposed. The forward pass is one GEMM onto rows prefilled with the bias; backward
/// is one GEMM per input that accumulates (beta = 1): dx += g W, dW += g^T x, db += column sums
/// of g. A weight that is not [O, I], a bias that is not [O], or an input whose last dimension
/// is not I throws ShapeError naming the shapes, e.g. "linear: input [32,128] and weight
/// [256,512]: input features 128 and 512 differ".
template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& weight, const Var<T>& bias);
/// y = x W^T, without a bias.
template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& weight);

}  // namespace tapeloop
