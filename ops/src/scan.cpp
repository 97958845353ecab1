// scan's non-template parts: argument checks, length masks, and the step-result check.
#include <string>

#include "tapeloop/rule.hpp"
#include "tapeloop/scan.hpp"

namespace tapeloop::detail {

template <class T>
void check_packed_arguments(const char* who, const Var<T>& xs, const State<T>& state0,
                            const ScanOptions& options) {
  const std::span<const std::int64_t> sizes = options.batch_sizes;
  auto head = [&] { return std::string(who) + ": packed xs " + xs.shape().str() + ": "; };
  if (!options.lengths.empty()) {
    throw ValueError(head() + "give lengths or batch_sizes, not both");
  }
  if (state0.empty()) throw ValueError(std::string(who) + ": the initial state has no parts");
  const std::int64_t batch = state0[0].rank() < 1 ? -1 : state0[0].dim(0);
  for (const Var<T>& part : state0) {
    check_live(who, part, xs.tape());
    if (part.rank() < 1 || part.dim(0) != batch) {
      throw ShapeError(head() + "every state part must have the batch as axis 0, and " +
                       part.shape().str() + " differs from " + state0[0].shape().str());
    }
  }
  std::int64_t rows = 0;
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    const std::int64_t limit = t == 0 ? batch : sizes[t - 1];
    if (sizes[t] < 0 || sizes[t] > limit) {
      throw ValueError(
          head() + "batch_sizes[" + std::to_string(t) + "] = " + std::to_string(sizes[t]) +
          " is outside [0, " + std::to_string(limit) + "] (" +
          (t == 0 ? "the state's batch" : "the step before") + "): the sizes must not increase");
    }
    rows += sizes[t];
  }
  if (xs.rank() < 1 || xs.dim(0) != rows) {
    throw ShapeError(head() + "expected " + std::to_string(rows) +
                     " rows (the sum of batch_sizes) along axis 0");
  }
  check_truncation(who, options.truncate, 0);
}

template <class T>
void check_scan_arguments(const char* who, const Var<T>& xs, const State<T>& state0,
                          const ScanOptions& options) {
  const Shape shape = xs.shape();
  if (!options.batch_sizes.empty()) {
    check_packed_arguments(who, xs, state0, options);
    return;
  }
  if (shape.rank() < 2) {
    throw ShapeError(std::string(who) + ": xs " + shape.str() +
                     " must be [T, B, ...] (rank 2 or more)");
  }
  if (state0.empty()) throw ValueError(std::string(who) + ": the initial state has no parts");
  for (const Var<T>& part : state0) {
    check_live(who, part, xs.tape());
    if (!options.lengths.empty() && (part.rank() < 1 || part.dim(0) != shape[1])) {
      throw ShapeError(std::string(who) + ": state part " + part.shape().str() +
                       " does not start with the batch size " + std::to_string(shape[1]) +
                       " of xs " + shape.str() + " (needed with lengths)");
    }
  }
  check_truncation(who, options.truncate, 0);
  check_sequence_lengths(who, options.lengths, shape[1], shape[0], "xs", shape);
}

template <class T>
Var<T> length_mask(Tape<T>& tape, std::span<const std::int64_t> lengths, std::int64_t t, int rank) {
  Shape shape{static_cast<std::int64_t>(lengths.size())};
  for (int i = 1; i < rank; ++i) shape.push_back(1);
  T* m = record_scratch<T>(tape, shape.numel());
  for (std::size_t b = 0; b < lengths.size(); ++b) m[b] = t < lengths[b] ? T(1) : T(0);
  return tape.constant(TensorRef<const T>{m, shape});
}

template <class T>
void check_step_result(const char* who, const State<T>& previous, const StepResult<T>& next,
                       StepShape& expected, std::int64_t t, bool lengths, std::int64_t batch) {
  auto at = [&] { return std::string(who) + ": at step " + std::to_string(t) + " the cell "; };
  if (next.state.size() != previous.size()) {
    throw ShapeError(at() + "returned " + std::to_string(next.state.size()) +
                     " state parts instead of " + std::to_string(previous.size()));
  }
  for (int i = 0; i < next.state.size(); ++i) {
    if (next.state[i].shape() != previous[i].shape()) {
      throw ShapeError(at() + "turned state part " + std::to_string(i) + " from " +
                       previous[i].shape().str() + " into " + next.state[i].shape().str());
    }
  }
  const bool has_y = !next.y.empty();
  if (!expected.known) {
    expected.known = true;
    expected.has_y = has_y;
    if (has_y) expected.y = next.y.shape();
    if (has_y && lengths && (expected.y.rank() < 1 || expected.y[0] != batch)) {
      throw ShapeError(at() + "returned y " + expected.y.str() +
                       ", which does not start with the batch size " + std::to_string(batch) +
                       " (needed with lengths)");
    }
    return;
  }
  if (has_y != expected.has_y) {
    throw ShapeError(at() + (has_y ? "returned a y" : "returned no y") +
                     ", unlike at the first step");
  }
  if (has_y && next.y.shape() != expected.y) {
    throw ShapeError(at() + "returned y " + next.y.shape().str() + ", not " + expected.y.str() +
                     " as at the first step");
  }
}

#define TAPELOOP_INSTANTIATE(T)                                                                   \
  template void check_scan_arguments(const char*, const Var<T>&, const State<T>&,                 \
                                     const ScanOptions&);                                         \
  template Var<T> length_mask(Tape<T>&, std::span<const std::int64_t>, std::int64_t, int);        \
  template void check_step_result(const char*, const State<T>&, const StepResult<T>&, StepShape&, \
                                  std::int64_t, bool, std::int64_t);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop::detail
