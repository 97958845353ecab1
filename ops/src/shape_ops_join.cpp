// concat and stack: several inputs copied side by side along one axis; backward hands each
// input its block of the gradient.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include "strided.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace {

template <class T>
std::string shapes_str(std::span<const Var<T>> inputs) {
  std::string s;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (i) s += ", ";
    s += inputs[i].shape().str();
  }
  return s;
}

// Both operators see the output as [outer, sum of widths]: input i contributes a run of
// width_i = numel_i / outer elements to every outer row, in input order.
template <class T>
Var<T> join(const char* op, std::span<const Var<T>> inputs, std::int64_t outer,
            const Shape& out_shape) {
  Tape<T>& tape = inputs[0].tape();
  Var<T> out = tape.make_node(op, out_shape, inputs.data(), inputs.size());
  const std::size_t count = inputs.size();
  T* py = tape.mutable_value(out);
  const std::int64_t row = outer == 0 ? 0 : out_shape.numel() / outer;
  std::int64_t column = 0;
  for (const Var<T>& in : inputs) {
    const T* px = in.value().data;
    const std::int64_t width = outer == 0 ? 0 : in.numel() / outer;
    for (std::int64_t o = 0; o < outer; ++o) {
      std::copy(px + o * width, px + (o + 1) * width, py + o * row + column);
    }
    column += width;
  }
  if (!out.requires_grad()) return out;
  // The closure must be plain data: the input list goes to the arena, captured by pointer.
  static_assert(std::is_trivially_copyable_v<Var<T>>);
  auto* saved = static_cast<Var<T>*>(tape.scratch_bytes(count * sizeof(Var<T>)));
  std::memcpy(static_cast<void*>(saved), inputs.data(), count * sizeof(Var<T>));
  tape.set_backward(out, [=] {
    const T* g = out.grad().data;
    std::int64_t col = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const std::int64_t width = outer == 0 ? 0 : saved[i].numel() / outer;
      if (saved[i].requires_grad()) {
        T* gx = saved[i].grad().data;
        for (std::int64_t o = 0; o < outer; ++o) {
          const T* src = g + o * row + col;
          T* dst = gx + o * width;
          for (std::int64_t j = 0; j < width; ++j) dst[j] += src[j];
        }
      }
      col += width;
    }
  });
  return out;
}

}  // namespace

template <class T>
Var<T> concat(std::span<const Var<T>> inputs, int axis) {
  if (inputs.empty()) throw ValueError("concat: no inputs");
  const Shape first = inputs[0].shape();
  const int a = normalize_axis("concat", axis, first.rank());
  Shape out_shape = first;
  std::int64_t total = 0;
  for (const Var<T>& in : inputs) {
    const Shape& s = in.shape();
    bool fits = s.rank() == first.rank();
    for (int d = 0; fits && d < s.rank(); ++d) fits = d == a || s[d] == first[d];
    if (!fits) {
      throw ShapeError("concat: shapes " + shapes_str(inputs) + " differ outside axis " +
                       std::to_string(axis));
    }
    total += s[a];
  }
  out_shape[a] = total;
  return join("concat", inputs, detail::outer_size(first, a), out_shape);
}

template <class T>
Var<T> concat(std::initializer_list<Var<T>> inputs, int axis) {
  return concat(std::span<const Var<T>>(inputs.begin(), inputs.size()), axis);
}

template <class T>
Var<T> stack(std::span<const Var<T>> inputs, int axis) {
  if (inputs.empty()) throw ValueError("stack: no inputs");
  const Shape first = inputs[0].shape();
  const int a = normalize_axis("stack", axis, first.rank() + 1);
  for (const Var<T>& in : inputs) {
    if (in.shape() != first) {
      throw ShapeError("stack: shapes " + shapes_str(inputs) + " are not all equal");
    }
  }
  if (first.rank() == Shape::max_rank) {
    throw ShapeError("stack: stacking " + first.str() + " would exceed rank " +
                     std::to_string(Shape::max_rank));
  }
  Shape out_shape;
  for (int d = 0; d <= first.rank(); ++d) {
    if (d == a) out_shape.push_back(static_cast<std::int64_t>(inputs.size()));
    if (d < first.rank()) out_shape.push_back(first[d]);
  }
  return join("stack", inputs, detail::outer_size(first, a), out_shape);
}

template <class T>
Var<T> stack(std::initializer_list<Var<T>> inputs, int axis) {
  return stack(std::span<const Var<T>>(inputs.begin(), inputs.size()), axis);
}

#define TAPELOOP_INSTANTIATE(T)                               \
  template Var<T> concat(std::span<const Var<T>>, int);       \
  template Var<T> concat(std::initializer_list<Var<T>>, int); \
  template Var<T> stack(std::span<const Var<T>>, int);        \
  template Var<T> stack(std::initializer_list<Var<T>>, int);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
