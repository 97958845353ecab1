// index_select and gather: copies chosen by integer indices; backward scatter-adds, so repeated
// indices accumulate.
#include "tapeloop/ops/index.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "strided.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

void check_index(const char* op, std::int64_t index, std::size_t position, int axis,
                 const Shape& shape) {
  if (index < 0 || index >= shape[axis]) {
    throw ValueError(std::string(op) + ": index " + std::to_string(index) + " at position " +
                     std::to_string(position) + " is out of range for axis " +
                     std::to_string(axis) + " of " + shape.str() + " (size " +
                     std::to_string(shape[axis]) + ")");
  }
}

// Whole slices of x along one axis, chosen by index (repeats allowed).
template <class T>
struct IndexSelectRule {
  static constexpr const char* name = "index_select";
  static constexpr bool linear = true;  // backward reads no input's value
  int axis;
  const std::int64_t* ids;  // the caller's in check() and forward(); the tape's copy after
  std::int64_t n;
  std::int64_t outer = 0, dim = 0, inner = 0;

  Shape check(InputShapes s) {
    const Shape& xs = s[0];
    const int a = normalize_axis(name, axis, xs.rank());
    for (std::int64_t k = 0; k < n; ++k)
      check_index(name, ids[k], static_cast<std::size_t>(k), a, xs);
    outer = detail::outer_size(xs, a);
    dim = xs[a];
    inner = detail::inner_size(xs, a);
    // Built through push_back, whose checks writing out[a] would skip: n copies of a slice
    // may pass the element limit even when x is empty.
    Shape out;
    for (int d = 0; d < xs.rank(); ++d) out.push_back(d == a ? n : xs[d]);
    return out;
  }
  // dst's slice (o, j) = or += src's slice (o, ids[j]) (forward, tangent); the reverse
  // direction scatter-adds (backward), so repeated indices accumulate.
  template <class Visit>
  void for_each_slice(Visit visit) const {
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t j = 0; j < n; ++j) visit((o * n + j) * inner, (o * dim + ids[j]) * inner);
    }
  }
  void forward(ForwardContext<T>& c) {
    const T* px = c.in(0);
    T* py = c.out();
    for_each_slice(
        [&](std::int64_t y, std::int64_t x) { std::copy(px + x, px + x + inner, py + y); });
    ids = c.keep(ids, static_cast<std::size_t>(n));
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    T* gx = c.grad(0);
    for_each_slice([&](std::int64_t y, std::int64_t x) {
      for (std::int64_t t = 0; t < inner; ++t) gx[x + t] += g[y + t];
    });
  }
  void tangent(TangentContext<T>& c) const {
    const T* tx = c.tangent(0);
    T* ty = c.tangent_out();
    for_each_slice([&](std::int64_t y, std::int64_t x) {
      for (std::int64_t t = 0; t < inner; ++t) ty[y + t] += tx[x + t];
    });
  }
};

// y[i] = x at i's coordinates with the gathered axis replaced by index[i].
template <class T>
struct GatherRule {
  static constexpr const char* name = "gather";
  static constexpr bool linear = true;  // backward reads no input's value
  int axis;
  std::span<const std::int64_t> index;  // the caller's; valid during the call only
  Shape index_shape;
  // With a gradient to come, the flat source offsets are kept (one int64 per element, the same
  // memory as a copy of the indices) so backward is a plain scatter-add.
  std::int64_t* offsets = nullptr;

  Shape check(InputShapes s) const {
    const Shape& xs = s[0];
    const int a = normalize_axis(name, axis, xs.rank());
    if (index_shape.rank() != xs.rank()) {
      throw ShapeError("gather: index shape " + index_shape.str() + " and x " + xs.str() +
                       " differ in rank");
    }
    if (static_cast<std::int64_t>(index.size()) != index_shape.numel()) {
      throw ShapeError("gather: " + std::to_string(index.size()) + " indices for index shape " +
                       index_shape.str() + " (" + std::to_string(index_shape.numel()) +
                       " elements)");
    }
    for (int d = 0; d < xs.rank(); ++d) {
      if (d != a && index_shape[d] > xs[d]) {
        throw ShapeError("gather: index shape " + index_shape.str() + " is larger than x " +
                         xs.str() + " along axis " + std::to_string(d));
      }
    }
    for (std::size_t k = 0; k < index.size(); ++k) check_index(name, index[k], k, a, xs);
    return index_shape;
  }
  void forward(ForwardContext<T>& c) {
    const Shape& xs = c.in_shape(0);
    const int a = normalize_axis(name, axis, xs.rank());
    // x's strides seen from the index's coordinates, the gathered axis supplied by the index.
    std::array<std::int64_t, Shape::max_rank> strides{};
    for (int d = 0; d < xs.rank(); ++d)
      strides[static_cast<std::size_t>(d)] = d == a ? 0 : xs.stride(d);
    const std::int64_t axis_stride = xs.stride(a);
    const T* px = c.in(0);
    T* py = c.out();
    if (c.needs_grad()) offsets = c.template scratch_as<std::int64_t>(index.size());
    std::int64_t* keep = offsets;
    const std::span<const std::int64_t> ids = index;
    detail::strided_for_each(index_shape, strides.data(), [&](std::int64_t i, std::int64_t base) {
      const std::int64_t src = base + ids[static_cast<std::size_t>(i)] * axis_stride;
      py[i] = px[src];
      if (keep) keep[i] = src;
    });
    index = {};  // not valid past this call
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    T* gx = c.grad(0);
    const std::int64_t n = index_shape.numel();
    for (std::int64_t i = 0; i < n; ++i) gx[offsets[i]] += g[i];
  }
  void tangent(TangentContext<T>& c) const {
    const T* tx = c.tangent(0);
    T* ty = c.tangent_out();
    const std::int64_t n = index_shape.numel();
    for (std::int64_t i = 0; i < n; ++i) ty[i] += tx[offsets[i]];
  }
};

}  // namespace

template <class T>
Var<T> index_select(const Var<T>& x, int axis, std::span<const std::int64_t> indices) {
  return record(IndexSelectRule<T>{axis, indices.data(), static_cast<std::int64_t>(indices.size())},
                x);
}

template <class T>
Var<T> index_select(const Var<T>& x, int axis, std::initializer_list<std::int64_t> indices) {
  return index_select(x, axis, std::span<const std::int64_t>(indices.begin(), indices.size()));
}

template <class T>
Var<T> gather(const Var<T>& x, int axis, std::span<const std::int64_t> index,
              const Shape& index_shape) {
  return record(GatherRule<T>{axis, index, index_shape}, x);
}

#define TAPELOOP_INSTANTIATE(T)                                                          \
  template Var<T> index_select(const Var<T>&, int, std::span<const std::int64_t>);       \
  template Var<T> index_select(const Var<T>&, int, std::initializer_list<std::int64_t>); \
  template Var<T> gather(const Var<T>&, int, std::span<const std::int64_t>, const Shape&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
