// index_select and gather: copies chosen by integer indices; backward scatter-adds, so repeated
// indices accumulate.
#include "tapeloop/ops/index.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "strided.hpp"
#include "tapeloop/tape.hpp"

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

}  // namespace

template <class T>
Var<T> index_select(const Var<T>& x, int axis, std::span<const std::int64_t> indices) {
  const Shape xs = x.shape();
  const int a = normalize_axis("index_select", axis, xs.rank());
  for (std::size_t k = 0; k < indices.size(); ++k)
    check_index("index_select", indices[k], k, a, xs);
  const auto n = static_cast<std::int64_t>(indices.size());
  Shape out_shape = xs;
  out_shape[a] = n;

  Tape<T>& tape = x.tape();
  Var<T> out = tape.make_node("index_select", out_shape, {x});
  const std::int64_t outer = detail::outer_size(xs, a);
  const std::int64_t dim = xs[a];
  const std::int64_t inner = detail::inner_size(xs, a);
  const T* px = x.value().data;
  T* py = tape.mutable_value(out);
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t j = 0; j < n; ++j) {
      const T* src = px + (o * dim + indices[static_cast<std::size_t>(j)]) * inner;
      std::copy(src, src + inner, py + (o * n + j) * inner);
    }
  }
  if (!out.requires_grad()) return out;
  // The caller's indices may not outlive the call; backward reads the tape's copy.
  auto* ids = static_cast<std::int64_t*>(tape.scratch_bytes(indices.size() * sizeof(std::int64_t)));
  std::copy(indices.begin(), indices.end(), ids);
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    const T* g = out.grad().data;
    T* gx = x.grad().data;
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t j = 0; j < n; ++j) {
        const T* src = g + (o * n + j) * inner;
        T* dst = gx + (o * dim + ids[j]) * inner;
        for (std::int64_t t = 0; t < inner; ++t) dst[t] += src[t];
      }
    }
  });
  return out;
}

template <class T>
Var<T> index_select(const Var<T>& x, int axis, std::initializer_list<std::int64_t> indices) {
  return index_select(x, axis, std::span<const std::int64_t>(indices.begin(), indices.size()));
}

template <class T>
Var<T> gather(const Var<T>& x, int axis, std::span<const std::int64_t> index,
              const Shape& index_shape) {
  const Shape xs = x.shape();
  const int a = normalize_axis("gather", axis, xs.rank());
  if (index_shape.rank() != xs.rank()) {
    throw ShapeError("gather: index shape " + index_shape.str() + " and x " + xs.str() +
                     " differ in rank");
  }
  if (static_cast<std::int64_t>(index.size()) != index_shape.numel()) {
    throw ShapeError("gather: " + std::to_string(index.size()) + " indices for index shape " +
                     index_shape.str() + " (" + std::to_string(index_shape.numel()) + " elements)");
  }
  for (int d = 0; d < xs.rank(); ++d) {
    if (d != a && index_shape[d] > xs[d]) {
      throw ShapeError("gather: index shape " + index_shape.str() + " is larger than x " +
                       xs.str() + " along axis " + std::to_string(d));
    }
  }
  for (std::size_t k = 0; k < index.size(); ++k) check_index("gather", index[k], k, a, xs);

  Tape<T>& tape = x.tape();
  Var<T> out = tape.make_node("gather", index_shape, {x});
  const auto n = static_cast<std::size_t>(index_shape.numel());
  // x's strides seen from the index's coordinates, with the gathered axis supplied by the index.
  std::array<std::int64_t, Shape::max_rank> strides{};
  for (int d = 0; d < xs.rank(); ++d)
    strides[static_cast<std::size_t>(d)] = d == a ? 0 : xs.stride(d);
  const std::int64_t axis_stride = xs.stride(a);
  const T* px = x.value().data;
  T* py = tape.mutable_value(out);
  // With a gradient to come, the flat source offsets are kept (one int64 per element, the same
  // memory as a copy of the indices) so backward is a plain scatter-add.
  std::int64_t* offsets = nullptr;
  if (out.requires_grad()) {
    offsets = static_cast<std::int64_t*>(tape.scratch_bytes(n * sizeof(std::int64_t)));
  }
  detail::strided_for_each(index_shape, strides.data(), [&](std::int64_t i, std::int64_t base) {
    const std::int64_t src = base + index[static_cast<std::size_t>(i)] * axis_stride;
    py[i] = px[src];
    if (offsets) offsets[i] = src;
  });
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    const T* g = out.grad().data;
    T* gx = x.grad().data;
    for (std::size_t i = 0; i < n; ++i) gx[offsets[i]] += g[i];
  });
  return out;
}

#define TAPELOOP_INSTANTIATE(T)                                                          \
  template Var<T> index_select(const Var<T>&, int, std::span<const std::int64_t>);       \
  template Var<T> index_select(const Var<T>&, int, std::initializer_list<std::int64_t>); \
  template Var<T> gather(const Var<T>&, int, std::span<const std::int64_t>, const Shape&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
