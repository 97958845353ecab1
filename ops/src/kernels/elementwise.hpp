// Elementwise kernels: unary functions and their backward rules, binary arithmetic on equal
// shapes and under broadcasting. Vectorized with xsimd, parallel above the grain size.
#pragma once

#include <array>
#include <cstdint>

#include "tapeloop/shape.hpp"

namespace tapeloop::kernels {

/// Every unary function with a kernel, as X(name, Functor): the one list that makes the enum
/// below, the kernels' dispatch (kernels/unary.cpp) and, for PLAIN ones, the public operator
/// (ops/src/unary.cpp). Adding a function: its functor in kernels/unary.cpp, one line here, and
/// its declaration with a comment in the public header.
#define TAPELOOP_UNARY_PLAIN(X) \
  X(neg, Neg)                   \
  X(exp, Exp)                   \
  X(log, Log)                   \
  X(sqrt, Sqrt)                 \
  X(abs, Abs)                   \
  X(tanh, Tanh)                 \
  X(sigmoid, Sigmoid)           \
  X(relu, Relu)
/// The ones that take numbers, read from p0 (x + s, x * s, x / s, s - x, s / x) or p0 and p1
/// (clamp: low, high); their public operators check the numbers and are written by hand.
#define TAPELOOP_UNARY_WITH_NUMBERS(X) \
  X(add_scalar, AddScalar)             \
  X(mul_scalar, MulScalar)             \
  X(div_scalar, DivScalar)             \
  X(rsub_scalar, RsubScalar)           \
  X(rdiv_scalar, RdivScalar)           \
  X(clamp, Clamp)

#define TAPELOOP_UNARY_ENUM(name, Functor) name,
enum class Unary : std::uint8_t {
  TAPELOOP_UNARY_PLAIN(TAPELOOP_UNARY_ENUM) TAPELOOP_UNARY_WITH_NUMBERS(TAPELOOP_UNARY_ENUM)
};
#undef TAPELOOP_UNARY_ENUM

/// Every function of the list, for tests that cover them all.
#define TAPELOOP_UNARY_VALUE(name, Functor) Unary::name,
inline constexpr Unary all_unary[] = {TAPELOOP_UNARY_PLAIN(TAPELOOP_UNARY_VALUE)
                                          TAPELOOP_UNARY_WITH_NUMBERS(TAPELOOP_UNARY_VALUE)};
#undef TAPELOOP_UNARY_VALUE

/// The operator name of f ("exp"), for node names and messages.
constexpr const char* unary_name(Unary f) {
#define TAPELOOP_UNARY_NAME(name, Functor) \
  if (f == Unary::name) return #name;
  TAPELOOP_UNARY_PLAIN(TAPELOOP_UNARY_NAME)
  TAPELOOP_UNARY_WITH_NUMBERS(TAPELOOP_UNARY_NAME)
#undef TAPELOOP_UNARY_NAME
  return "unary";
}

/// y[i] = f(x[i]) for i < n. x and y may be the same array.
template <class T>
void unary(Unary f, const T* x, T* y, std::int64_t n, T p0 = T(0), T p1 = T(0));

/// gx[i] += f'(x[i]) g[i], the backward rule of f, written with the output y = f(x) where that
/// is cheaper (exp: g y; tanh: g (1 - y^2); sigmoid: g y (1 - y); relu: g where y > 0).
template <class T>
void unary_backward(Unary f, const T* g, const T* x, const T* y, T* gx, std::int64_t n, T p0 = T(0),
                    T p1 = T(0));

enum class Binary : std::uint8_t { add, sub, mul, div };
enum class Operand : std::uint8_t { a, b };

/// Two operands broadcast to an output, reduced to the fewest axes: size-1 output axes are
/// dropped and neighbouring axes merged wherever both operands step through them as one
/// (so [B,H] + [H] is a loop over B rows of H, and [B,T,H] + [B,T,H] one flat loop).
struct Broadcast {
  int rank = 0;
  std::int64_t numel = 1;
  bool same = true;          // both operands have the output's shape: one flat loop
  bool broadcast_a = false;  // a has fewer elements than the output
  bool broadcast_b = false;
  std::array<std::int64_t, Shape::max_rank> dims{};
  std::array<std::int64_t, Shape::max_rank> stride_a{};  // 0 along broadcast axes
  std::array<std::int64_t, Shape::max_rank> stride_b{};
};

/// The plan for out = a op b (out is the numpy broadcast of a and b, checked by the caller).
Broadcast plan_broadcast(const Shape& out, const Shape& a, const Shape& b);

/// y = a op b over the plan.
template <class T>
void binary(Binary f, const Broadcast& plan, const T* a, const T* b, T* y);

/// y = a op b for equal shapes (n elements each).
template <class T>
void binary(Binary f, const T* a, const T* b, T* y, std::int64_t n);

/// The backward rule for equal shapes: dst += d(a op b)/d(operand) * g, n elements.
template <class T>
void binary_backward(Binary f, Operand which, const T* g, const T* a, const T* b, const T* y,
                     T* dst, std::int64_t n);

/// The backward rule of a op b for one operand: dst (that operand's gradient, of its own
/// shape) += d(a op b)/d(operand) * g, summed over the axes the operand was broadcast along.
/// `scratch` must hold plan.numel elements when binary_backward_scratch() says so (the
/// per-element terms are formed there, then summed down), and may be null otherwise.
template <class T>
void binary_backward(Binary f, Operand which, const Broadcast& plan, const T* g, const T* a,
                     const T* b, const T* y, T* dst, T* scratch);

/// Whether binary_backward needs scratch for this operand: only a broadcast operand whose
/// derivative is not just ±g (mul, div).
bool binary_backward_scratch(Binary f, Operand which, const Broadcast& plan);

}  // namespace tapeloop::kernels
