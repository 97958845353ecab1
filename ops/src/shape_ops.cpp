// Layout operators that take one input: reshape, permute/transpose, narrow/slice/select,
// split/chunk. Contiguous results are views; strided ones are copied with in-place backward.
#include <algorithm>
#include <array>
#include <string>

#include "axis.hpp"
#include "strided.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

template <class List>
std::string list_str(const List& values) {
  std::string s = "(";
  bool first = true;
  for (auto v : values) {
    if (!first) s += ',';
    s += std::to_string(v);
    first = false;
  }
  return s + ")";
}

std::string where(int axis, const Shape& shape) {
  return "axis " + std::to_string(axis) + " of " + shape.str() + " (size " +
         std::to_string(shape[axis]) + ")";
}

// A block of x copied out: `outer` runs of `block` elements, `step` apart in x from `start`.
// Backward adds into the parent's gradient window in place: no temporary. (narrow, slice and
// select record the same copy, named after the general one.)
template <class T>
struct BlockCopyRule {
  static constexpr const char* name = "narrow";
  static constexpr bool linear = true;  // backward reads no input's value
  Shape out_shape;
  std::int64_t start, outer, block, step;

  Shape check(InputShapes) const { return out_shape; }
  // visit(offset in y, offset in x) for every run.
  template <class Visit>
  void for_each_run(Visit visit) const {
    for (std::int64_t o = 0; o < outer; ++o) visit(o * block, start + o * step);
  }
  void forward(ForwardContext<T>& c) const {
    const T* px = c.in(0);
    T* py = c.out();
    for_each_run(
        [&](std::int64_t y, std::int64_t x) { std::copy(px + x, px + x + block, py + y); });
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    T* gx = c.grad(0);
    for_each_run([&](std::int64_t y, std::int64_t x) {
      for (std::int64_t j = 0; j < block; ++j) gx[x + j] += g[y + j];
    });
  }
  void tangent(TangentContext<T>& c) const {
    const T* tx = c.tangent(0);
    T* ty = c.tangent_out();
    for_each_run([&](std::int64_t y, std::int64_t x) {
      for (std::int64_t j = 0; j < block; ++j) ty[y + j] += tx[x + j];
    });
  }
};

// `length` elements from `start` along a normalized `axis`, with the result shaped `out_shape`
// (the same numel; select drops the axis). Views [outer, dim, inner] as blocks: with outer == 1,
// or the whole axis taken, the block is one contiguous run of memory and becomes a view.
template <class T>
Var<T> take_block(const char* op, const Var<T>& x, int axis, std::int64_t start,
                  std::int64_t length, const Shape& out_shape) {
  const Shape xs = x.shape();
  const std::int64_t outer = detail::outer_size(xs, axis);
  const std::int64_t dim = xs[axis];
  const std::int64_t inner = detail::inner_size(xs, axis);
  if (outer == 1 || length == dim || out_shape.numel() == 0) {
    const std::int64_t offset = out_shape.numel() == 0 ? 0 : start * inner;
    return record_view(op, x, offset, out_shape, true);
  }
  return record(BlockCopyRule<T>{out_shape, start * inner, outer, length * inner, dim * inner}, x);
}

// A permutation that moves data: y[i] = x at i's offset under x's strides. (transpose records
// the same.)
template <class T>
struct PermuteRule {
  static constexpr const char* name = "permute";
  static constexpr bool linear = true;  // backward reads no input's value
  Shape out_shape;
  std::array<std::int64_t, Shape::max_rank> strides;  // x's stride for each output axis

  Shape check(InputShapes) const { return out_shape; }
  void forward(ForwardContext<T>& c) const {
    const T* px = c.in(0);
    T* py = c.out();
    detail::strided_for_each(out_shape, strides.data(),
                             [=](std::int64_t i, std::int64_t src) { py[i] = px[src]; });
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    T* gx = c.grad(0);
    detail::strided_for_each(out_shape, strides.data(),
                             [=](std::int64_t i, std::int64_t src) { gx[src] += g[i]; });
  }
  void tangent(TangentContext<T>& c) const {
    const T* tx = c.tangent(0);
    T* ty = c.tangent_out();
    detail::strided_for_each(out_shape, strides.data(),
                             [=](std::int64_t i, std::int64_t src) { ty[i] += tx[src]; });
  }
};

template <class T>
Var<T> permute_impl(const char* op, const Var<T>& x, std::span<const int> axes) {
  const Shape xs = x.shape();
  const int rank = xs.rank();
  auto invalid = [&] {
    return ShapeError(std::string(op) + ": axes " + list_str(axes) +
                      " are not a permutation of the axes of " + xs.str());
  };
  if (static_cast<int>(axes.size()) != rank) throw invalid();
  std::array<int, Shape::max_rank> perm{};
  std::array<bool, Shape::max_rank> seen{};
  for (int i = 0; i < rank; ++i) {
    const int a = axes[static_cast<std::size_t>(i)] < 0 ? axes[static_cast<std::size_t>(i)] + rank
                                                        : axes[static_cast<std::size_t>(i)];
    if (a < 0 || a >= rank || seen[static_cast<std::size_t>(a)]) throw invalid();
    seen[static_cast<std::size_t>(a)] = true;
    perm[static_cast<std::size_t>(i)] = a;
  }
  Shape out_shape;
  std::array<std::int64_t, Shape::max_rank> strides{};  // x's stride for each output axis
  bool same_layout = true;                              // the axes of size > 1 keep their order
  int last_moved = -1;
  for (int i = 0; i < rank; ++i) {
    const int a = perm[static_cast<std::size_t>(i)];
    out_shape.push_back(xs[a]);
    strides[static_cast<std::size_t>(i)] = xs.stride(a);
    if (xs[a] != 1) {
      same_layout &= a > last_moved;
      last_moved = a;
    }
  }
  if (same_layout) return record_view(op, x, 0, out_shape, true);
  return record(PermuteRule<T>{out_shape, strides}, x);
}

}  // namespace

template <class T>
Var<T> reshape(const Var<T>& x, const Shape& shape) {
  const Shape xs = x.shape();
  if (xs.numel() != shape.numel()) {
    throw ShapeError("reshape: cannot view " + xs.str() + " (" + std::to_string(xs.numel()) +
                     " elements) as " + shape.str() + " (" + std::to_string(shape.numel()) +
                     " elements)");
  }
  return record_view("reshape", x, 0, shape, true);
}

template <class T>
Var<T> unsqueeze(const Var<T>& x, int axis) {
  const Shape xs = x.shape();
  // A new axis may go at any of rank + 1 places.
  if (axis < -(xs.rank() + 1) || axis > xs.rank()) {
    throw ShapeError("unsqueeze: axis " + std::to_string(axis) + " is outside [" +
                     std::to_string(-(xs.rank() + 1)) + ", " + std::to_string(xs.rank()) +
                     "] for " + xs.str());
  }
  const int at = axis < 0 ? axis + xs.rank() + 1 : axis;
  if (xs.rank() == Shape::max_rank) {
    throw ShapeError("unsqueeze: " + xs.str() + " already has the largest rank, " +
                     std::to_string(Shape::max_rank));
  }
  Shape out;
  for (int i = 0; i < xs.rank(); ++i) {
    if (i == at) out.push_back(1);
    out.push_back(xs[i]);
  }
  if (at == xs.rank()) out.push_back(1);
  return record_view("unsqueeze", x, 0, out, true);
}

template <class T>
Var<T> squeeze(const Var<T>& x, int axis) {
  const Shape xs = x.shape();
  const int at = detail::checked_axis("squeeze", axis, xs);
  if (xs[at] != 1) return x;
  Shape out;
  for (int i = 0; i < xs.rank(); ++i) {
    if (i != at) out.push_back(xs[i]);
  }
  return record_view("squeeze", x, 0, out, true);
}

template <class T>
Var<T> squeeze(const Var<T>& x) {
  const Shape xs = x.shape();
  Shape out;
  for (int i = 0; i < xs.rank(); ++i) {
    if (xs[i] != 1) out.push_back(xs[i]);
  }
  return record_view("squeeze", x, 0, out, true);
}

template <class T>
Var<T> permute(const Var<T>& x, std::span<const int> axes) {
  return permute_impl("permute", x, axes);
}

template <class T>
Var<T> permute(const Var<T>& x, std::initializer_list<int> axes) {
  return permute_impl("permute", x, std::span<const int>(axes.begin(), axes.size()));
}

template <class T>
Var<T> transpose(const Var<T>& x, int axis0, int axis1) {
  const Shape xs = x.shape();
  const int rank = xs.rank();
  const int a0 = axis0 < 0 ? axis0 + rank : axis0;
  const int a1 = axis1 < 0 ? axis1 + rank : axis1;
  if (a0 < 0 || a0 >= rank || a1 < 0 || a1 >= rank) {
    throw ShapeError("transpose: axes " + std::to_string(axis0) + " and " + std::to_string(axis1) +
                     " are not both axes of " + xs.str());
  }
  std::array<int, Shape::max_rank> perm{};
  for (int i = 0; i < rank; ++i) perm[static_cast<std::size_t>(i)] = i;
  std::swap(perm[static_cast<std::size_t>(a0)], perm[static_cast<std::size_t>(a1)]);
  return permute_impl("transpose", x,
                      std::span<const int>(perm.data(), static_cast<std::size_t>(rank)));
}

template <class T>
Var<T> narrow(const Var<T>& x, int axis, std::int64_t start, std::int64_t length) {
  const Shape xs = x.shape();
  const int a = normalize_axis("narrow", axis, xs.rank());
  if (start < 0 || length < 0 || start > xs[a] - length) {
    throw ValueError("narrow: start " + std::to_string(start) + ", length " +
                     std::to_string(length) + " is out of range for " + where(a, xs));
  }
  Shape out_shape = xs;
  out_shape[a] = length;
  return take_block("narrow", x, a, start, length, out_shape);
}

template <class T>
Var<T> slice(const Var<T>& x, int axis, std::int64_t start, std::int64_t stop) {
  const Shape xs = x.shape();
  const int a = normalize_axis("slice", axis, xs.rank());
  const std::int64_t dim = xs[a];
  const std::int64_t b = start < 0 ? start + dim : start;
  const std::int64_t e = stop < 0 ? stop + dim : stop;
  if (b < 0 || e > dim || b > e) {
    throw ValueError("slice: [" + std::to_string(start) + ":" + std::to_string(stop) +
                     "] is out of range for " + where(a, xs));
  }
  Shape out_shape = xs;
  out_shape[a] = e - b;
  return take_block("slice", x, a, b, e - b, out_shape);
}

template <class T>
Var<T> select(const Var<T>& x, int axis, std::int64_t index) {
  const Shape xs = x.shape();
  const int a = normalize_axis("select", axis, xs.rank());
  const std::int64_t i = index < 0 ? index + xs[a] : index;
  if (i < 0 || i >= xs[a]) {
    throw ValueError("select: index " + std::to_string(index) + " is out of range for " +
                     where(a, xs));
  }
  Shape out_shape;
  for (int d = 0; d < xs.rank(); ++d) {
    if (d != a) out_shape.push_back(xs[d]);
  }
  return take_block("select", x, a, i, 1, out_shape);
}

template <class T>
std::vector<Var<T>> split(const Var<T>& x, std::span<const std::int64_t> sizes, int axis) {
  const Shape xs = x.shape();
  const int a = normalize_axis("split", axis, xs.rank());
  std::int64_t total = 0;
  for (std::int64_t s : sizes) {
    if (s < 0) throw ValueError("split: negative size in " + list_str(sizes));
    total += s;
  }
  if (total != xs[a]) {
    throw ShapeError("split: sizes " + list_str(sizes) + " add up to " + std::to_string(total) +
                     ", not the size of " + where(a, xs));
  }
  std::vector<Var<T>> pieces;
  pieces.reserve(sizes.size());
  std::int64_t start = 0;
  for (std::int64_t s : sizes) {
    pieces.push_back(narrow(x, a, start, s));
    start += s;
  }
  return pieces;
}

template <class T>
std::vector<Var<T>> split(const Var<T>& x, std::initializer_list<std::int64_t> sizes, int axis) {
  return split(x, std::span<const std::int64_t>(sizes.begin(), sizes.size()), axis);
}

template <class T>
std::vector<Var<T>> chunk(const Var<T>& x, std::int64_t chunks, int axis) {
  const Shape xs = x.shape();
  const int a = normalize_axis("chunk", axis, xs.rank());
  if (chunks <= 0) {
    throw ValueError("chunk: " + std::to_string(chunks) + " chunks requested for " + where(a, xs) +
                     "; need at least 1");
  }
  const std::int64_t dim = xs[a];
  std::vector<Var<T>> pieces;
  if (dim == 0) {
    pieces.push_back(narrow(x, a, 0, 0));
    return pieces;
  }
  const std::int64_t size = (dim + chunks - 1) / chunks;
  pieces.reserve(static_cast<std::size_t>((dim + size - 1) / size));
  for (std::int64_t start = 0; start < dim; start += size) {
    pieces.push_back(narrow(x, a, start, std::min(size, dim - start)));
  }
  return pieces;
}

#define TAPELOOP_INSTANTIATE(T)                                                                \
  template Var<T> reshape(const Var<T>&, const Shape&);                                        \
  template Var<T> unsqueeze(const Var<T>&, int);                                               \
  template Var<T> squeeze(const Var<T>&, int);                                                 \
  template Var<T> squeeze(const Var<T>&);                                                      \
  template Var<T> permute(const Var<T>&, std::span<const int>);                                \
  template Var<T> permute(const Var<T>&, std::initializer_list<int>);                          \
  template Var<T> transpose(const Var<T>&, int, int);                                          \
  template Var<T> narrow(const Var<T>&, int, std::int64_t, std::int64_t);                      \
  template Var<T> slice(const Var<T>&, int, std::int64_t, std::int64_t);                       \
  template Var<T> select(const Var<T>&, int, std::int64_t);                                    \
  template std::vector<Var<T>> split(const Var<T>&, std::span<const std::int64_t>, int);       \
  template std::vector<Var<T>> split(const Var<T>&, std::initializer_list<std::int64_t>, int); \
  template std::vector<Var<T>> chunk(const Var<T>&, std::int64_t, int);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
