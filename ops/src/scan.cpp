// scan's non-template parts: argument checks, length masks, and the cell-result check.
#include <string>

#include "tapeloop/scan.hpp"

namespace tapeloop::detail {

template <class T>
void check_scan_arguments(const Var<T>& xs, const State<T>& state0, const ScanOptions& options) {
  const Shape shape = xs.shape();
  if (shape.rank() < 2) {
    throw ShapeError("scan: xs " + shape.str() + " must be [T, B, ...] (rank 2 or more)");
  }
  if (state0.empty()) throw ValueError("scan: the initial state has no parts");
  for (const Var<T>& part : state0) {
    xs.tape().check_live(part, "scan");
    if (part.rank() < 1 || part.dim(0) != shape[1]) {
      throw ShapeError("scan: state part " + part.shape().str() +
                       " does not start with the batch size " + std::to_string(shape[1]) +
                       " of xs " + shape.str());
    }
  }
  if (options.truncate < 0 || options.checkpoint < 0) {
    throw ValueError("scan: truncate (" + std::to_string(options.truncate) + ") and checkpoint (" +
                     std::to_string(options.checkpoint) + ") must not be negative");
  }
  if (options.truncate > 0 && options.checkpoint > 0) {
    throw ValueError("scan: truncate and checkpoint cannot be combined");
  }
  if (!options.lengths.empty()) {
    if (static_cast<std::int64_t>(options.lengths.size()) != shape[1]) {
      throw ShapeError("scan: " + std::to_string(options.lengths.size()) +
                       " lengths for a batch of " + std::to_string(shape[1]) + " (xs " +
                       shape.str() + ")");
    }
    for (std::size_t b = 0; b < options.lengths.size(); ++b) {
      if (options.lengths[b] < 0 || options.lengths[b] > shape[0]) {
        throw ValueError("scan: length " + std::to_string(options.lengths[b]) + " of sequence " +
                         std::to_string(b) + " is outside [0, " + std::to_string(shape[0]) + "]");
      }
    }
  }
}

template <class T>
Var<T> length_mask(Tape<T>& tape, std::span<const std::int64_t> lengths, std::int64_t t, int rank) {
  Shape shape{static_cast<std::int64_t>(lengths.size())};
  for (int i = 1; i < rank; ++i) shape.push_back(1);
  Var<T> mask = tape.make_node("scan_mask", shape, {});
  T* m = tape.mutable_value(mask);
  for (std::size_t b = 0; b < lengths.size(); ++b) m[b] = t < lengths[b] ? T(1) : T(0);
  return mask;
}

template <class T>
void check_cell_result(const State<T>& previous, const State<T>& next, std::int64_t t) {
  if (next.size() != previous.size()) {
    throw ShapeError("scan: at step " + std::to_string(t) + " the cell returned " +
                     std::to_string(next.size()) + " state parts instead of " +
                     std::to_string(previous.size()));
  }
  for (int i = 0; i < next.size(); ++i) {
    if (next[i].shape() != previous[i].shape()) {
      throw ShapeError("scan: at step " + std::to_string(t) + " the cell turned state part " +
                       std::to_string(i) + " from " + previous[i].shape().str() + " into " +
                       next[i].shape().str());
    }
  }
}

#define TAPELOOP_INSTANTIATE(T)                                                            \
  template void check_scan_arguments(const Var<T>&, const State<T>&, const ScanOptions&);  \
  template Var<T> length_mask(Tape<T>&, std::span<const std::int64_t>, std::int64_t, int); \
  template void check_cell_result(const State<T>&, const State<T>&, std::int64_t);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop::detail
