// concat and stack: several inputs copied side by side along one axis; backward hands each
// input its block of the gradient.
#include <algorithm>
#include <string>

#include "strided.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

std::string shapes_str(InputShapes s) {
  std::string out;
  for (int i = 0; i < s.size(); ++i) out += (i ? ", " : "") + s[i].str();
  return out;
}

// concat (Stack = false) joins along an existing axis, stack along a new one. Both see the
// output as [outer, sum of widths]: input i contributes a run of width_i = numel_i / outer
// elements to every outer row, in input order.
template <class T, bool Stack>
struct JoinRule {
  static constexpr const char* name = Stack ? "stack" : "concat";
  static constexpr bool linear = true;  // backward reads no input's value
  int axis;
  Shape out_shape{};
  std::int64_t outer = 0;

  Shape check(InputShapes s) {
    const Shape& first = s[0];
    const int a = normalize_axis(name, axis, first.rank() + (Stack ? 1 : 0));
    out_shape = first;
    if (Stack) {
      for (int i = 0; i < s.size(); ++i) {
        if (s[i] != first)
          throw ShapeError("stack: shapes " + shapes_str(s) + " are not all equal");
      }
      if (first.rank() == Shape::max_rank) {
        throw ShapeError("stack: stacking " + first.str() + " would exceed rank " +
                         std::to_string(Shape::max_rank));
      }
      out_shape = Shape{};
      for (int d = 0; d <= first.rank(); ++d) {
        if (d == a) out_shape.push_back(s.size());
        if (d < first.rank()) out_shape.push_back(first[d]);
      }
    } else {
      std::int64_t total = 0;
      for (int i = 0; i < s.size(); ++i) {
        bool fits = s[i].rank() == first.rank();
        for (int d = 0; fits && d < first.rank(); ++d) fits = d == a || s[i][d] == first[d];
        if (!fits) {
          throw ShapeError("concat: shapes " + shapes_str(s) + " differ outside axis " +
                           std::to_string(axis));
        }
        if (__builtin_add_overflow(total, s[i][a], &total)) {
          throw ShapeError("concat: shapes " + shapes_str(s) + ": the sizes along axis " +
                           std::to_string(axis) + " add up past the int64 range");
        }
      }
      // Rebuilt through push_back, whose checks writing out_shape[a] would skip.
      out_shape = Shape{};
      for (int d = 0; d < first.rank(); ++d) out_shape.push_back(d == a ? total : first[d]);
    }
    outer = detail::outer_size(first, a);
    return out_shape;
  }
  // visit(i, offset in each output row, width) for every input i.
  template <class Visit>
  void for_each_input(const OpContext<T>& c, Visit visit) const {
    std::int64_t column = 0;
    for (int i = 0; i < c.inputs(); ++i) {
      const std::int64_t width = outer == 0 ? 0 : c.in_shape(i).numel() / outer;
      visit(i, column, width);
      column += width;
    }
  }
  std::int64_t row() const { return outer == 0 ? 0 : out_shape.numel() / outer; }
  void forward(ForwardContext<T>& c) const {
    T* py = c.out();
    const std::int64_t r = row();
    for_each_input(c, [&](int i, std::int64_t column, std::int64_t width) {
      const T* px = c.in(i);
      for (std::int64_t o = 0; o < outer; ++o) {
        std::copy(px + o * width, px + (o + 1) * width, py + o * r + column);
      }
    });
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    const std::int64_t r = row();
    for_each_input(c, [&](int i, std::int64_t column, std::int64_t width) {
      T* gx = c.grad(i);
      if (!gx) return;
      for (std::int64_t o = 0; o < outer; ++o) {
        const T* src = g + o * r + column;
        T* dst = gx + o * width;
        for (std::int64_t j = 0; j < width; ++j) dst[j] += src[j];
      }
    });
  }
  void tangent(TangentContext<T>& c) const {
    T* ty = c.tangent_out();
    const std::int64_t r = row();
    for_each_input(c, [&](int i, std::int64_t column, std::int64_t width) {
      const T* tx = c.tangent(i);
      if (!tx) return;
      for (std::int64_t o = 0; o < outer; ++o) {
        std::copy(tx + o * width, tx + (o + 1) * width, ty + o * r + column);
      }
    });
  }
};

}  // namespace

template <class T>
Var<T> concat(std::span<const Var<T>> inputs, int axis) {
  return record_list(JoinRule<T, false>{axis}, inputs);
}

template <class T>
Var<T> concat(std::initializer_list<Var<T>> inputs, int axis) {
  return concat(std::span<const Var<T>>(inputs.begin(), inputs.size()), axis);
}

template <class T>
Var<T> stack(std::span<const Var<T>> inputs, int axis) {
  return record_list(JoinRule<T, true>{axis}, inputs);
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
