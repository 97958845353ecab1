// Packed sequences: the layout computed once per batch in tape memory, and packing and
// unpacking as row gathers (index_select) whose backward scatters the gradient back.
#include "tapeloop/ops/packed_sequence.hpp"

#include <algorithm>
#include <string>

#include "tapeloop/ops/index.hpp"
#include "tapeloop/ops/sequence_checks.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

// x's shape with its first `drop` axes replaced by `lead`.
Shape replace_leading(const Shape& x, int drop, std::initializer_list<std::int64_t> lead) {
  Shape s;
  for (std::int64_t d : lead) s.push_back(d);
  for (int i = drop; i < x.rank(); ++i) s.push_back(x[i]);
  return s;
}

}  // namespace

template <class T>
PackedLayout packed_layout(Tape<T>& tape, std::span<const std::int64_t> lengths,
                           std::int64_t steps) {
  const char* who = "packed_layout";
  const auto batch = static_cast<std::int64_t>(lengths.size());
  if (steps < 1 || batch < 1) {
    throw ValueError(std::string(who) + ": " + std::to_string(batch) + " sequences of " +
                     std::to_string(steps) + " steps: both must be at least 1");
  }
  check_sequence_lengths(who, lengths, batch, steps, "steps", Shape{steps, batch});

  auto* sorted = record_scratch<std::int64_t>(tape, batch);
  auto* unsorted = record_scratch<std::int64_t>(tape, batch);
  for (std::int64_t b = 0; b < batch; ++b) sorted[b] = b;
  // Longest first, equal lengths in batch order: a strict order, so std::sort (which needs no
  // heap, unlike stable_sort) gives one answer.
  std::sort(sorted, sorted + batch, [&](std::int64_t a, std::int64_t b) {
    return lengths[a] != lengths[b] ? lengths[a] > lengths[b] : a < b;
  });
  PackedLayout layout;
  layout.steps = steps;
  layout.batch = batch;
  for (std::int64_t j = 0; j < batch; ++j) {
    unsorted[sorted[j]] = j;
    layout.sorted = layout.sorted && sorted[j] == j;
  }

  auto* sizes = record_scratch<std::int64_t>(tape, steps);
  auto* offsets = record_scratch<std::int64_t>(tape, steps);
  std::int64_t running = batch, rows = 0;
  for (std::int64_t t = 0; t < steps; ++t) {
    while (running > 0 && lengths[sorted[running - 1]] <= t) --running;
    sizes[t] = running;
    offsets[t] = rows;
    rows += running;
  }
  layout.rows = rows;

  auto* pack = record_scratch<std::int64_t>(tape, rows);
  auto* unpack = record_scratch<std::int64_t>(tape, steps * batch);
  std::fill(unpack, unpack + steps * batch, rows);
  for (std::int64_t t = 0; t < steps; ++t) {
    for (std::int64_t j = 0; j < sizes[t]; ++j) {
      pack[offsets[t] + j] = t * batch + sorted[j];
      unpack[t * batch + sorted[j]] = offsets[t] + j;
    }
  }
  const auto n = [](std::int64_t k) { return static_cast<std::size_t>(k); };
  layout.batch_sizes = {sizes, n(steps)};
  layout.offsets = {offsets, n(steps)};
  layout.sorted_indices = {sorted, n(batch)};
  layout.unsorted_indices = {unsorted, n(batch)};
  layout.pack_rows = {pack, n(rows)};
  layout.unpack_rows = {unpack, n(steps * batch)};
  return layout;
}

template <class T>
Var<T> pack_sequence(const Var<T>& x, const PackedLayout& layout) {
  const Shape s = x.shape();
  if (s.rank() < 2 || s[0] != layout.steps || s[1] != layout.batch) {
    throw ShapeError("pack_sequence: x " + s.str() + " must be [T, B, ...] with T " +
                     std::to_string(layout.steps) + " and B " + std::to_string(layout.batch) +
                     " of the layout");
  }
  const Var<T> rows = reshape(x, replace_leading(s, 2, {s[0] * s[1]}));
  return index_select(rows, 0, layout.pack_rows);
}

template <class T>
Var<T> unpack_sequence(const Var<T>& packed, const PackedLayout& layout) {
  const Shape s = packed.shape();
  if (s.rank() < 1 || s[0] != layout.rows) {
    throw ShapeError("unpack_sequence: packed " + s.str() + " must have the layout's " +
                     std::to_string(layout.rows) + " rows along axis 0");
  }
  // One row of +0.0 after the packed rows: every padded (t, b) reads it.
  const Var<T> zero = packed.tape().zeros(replace_leading(s, 1, {1}));
  const Var<T> with_zero = concat({packed, zero}, 0);
  const Var<T> rows = index_select(with_zero, 0, layout.unpack_rows);
  return reshape(rows, replace_leading(s, 1, {layout.steps, layout.batch}));
}

#define TAPELOOP_INSTANTIATE(T)                                                               \
  template PackedLayout packed_layout(Tape<T>&, std::span<const std::int64_t>, std::int64_t); \
  template Var<T> pack_sequence(const Var<T>&, const PackedLayout&);                          \
  template Var<T> unpack_sequence(const Var<T>&, const PackedLayout&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
