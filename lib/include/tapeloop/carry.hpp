// Carry: a recurrent state kept from one recording to the next (stateful truncated BPTT over a
// long stream, step-by-step generation), without a copy or a heap allocation per recording.
#pragma once

#include <initializer_list>
#include <vector>

#include "tapeloop/shape.hpp"
#include "tapeloop/state.hpp"
#include "tapeloop/tape.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

/// The state a recurrent model hands from one recording to the next — PyTorch's
/// `hidden = tuple(h.detach() for h in hidden)` between truncated-BPTT windows:
///
///   Carry<float> carry({h_shape, c_shape});           // zeros; buffers allocated once
///   for (each window of the stream) {
///     tape.clear();
///     State<float> s0 = carry.read(tape);             // leaves over the held values
///     ScanResult<float> r = scan(tape, cell, xs, s0, weights);
///     tape.backward(loss(r.outputs));                 // the gradient stops at s0
///     carry.write(r.state);                           // kept for the next window
///     optimizer.step();
///   }
///
/// read() puts the held values on the tape as leaves that need no gradient (detached: nothing
/// flows back into the previous window) without copying them. write() copies the final state's
/// values into a second set of buffers and makes it current, so the leaves read in this
/// recording stay intact for its backward pass whether write() comes before or after it. So:
/// at most one write() per recording. Neither allocates; the result equals one long recording
/// cut by scan's `truncate` at the same window boundaries. reset() starts a new stream (zeros).
template <class T = float>
class Carry {
 public:
  Carry() = default;
  /// One zero-filled part per shape: {h} for an RNN or GRU, {h, c} for an LSTM, ...
  /// ValueError for no part or more than State's max_parts.
  Carry(std::initializer_list<Shape> shapes);
  explicit Carry(const std::vector<Shape>& shapes);

  int size() const { return static_cast<int>(shapes_.size()); }
  const Shape& shape(int part) const { return shapes_.at(static_cast<std::size_t>(part)); }
  /// The held value of one part.
  TensorRef<const T> value(int part) const;

  /// The held values as leaves of `tape` that need no gradient, one per part. No copy.
  State<T> read(Tape<T>& tape) const;
  /// Keeps `state`'s values (read before its tape is cleared) for the next read(). ShapeError
  /// naming the part unless `state` has this carry's parts and shapes; nothing changes then.
  void write(const State<T>& state);
  /// Sets every held value to zero: the start of a new stream.
  void reset();

 private:
  std::vector<Shape> shapes_;
  std::vector<Tensor<T>> buffers_[2];  // the current values and the ones write() fills next
  int front_ = 0;
};

extern template class Carry<float>;
extern template class Carry<double>;

}  // namespace tapeloop
