// scan: unrolls a recurrent cell (state, x_t) -> (state, y_t) over the time axis of a sequence
// on the tape, with reverse order, per-sequence lengths, truncated BPTT and checkpointed segments.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <type_traits>

#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/sequence_checks.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/ops/where.hpp"
#include "tapeloop/state.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {

/// What a cell returns for one time step: the state carried to the next step and the step's
/// output y_t — any Var, or an empty one for none (JAX's (carry, y)). An RNN returns
/// {State<T>{h}, h}; an LSTM {State<T>{h, c}, h}; a many-to-one model's cell may return
/// {state, {}} and read the final state.
template <class T>
struct StepResult {
  State<T> state;
  Var<T> y;
};

/// A cell scan can unroll: callable as cell(weights, state, x_t) with weights a
/// std::span<const Var<T>>, state a const State<T>& and x_t a const Var<T>&, returning
/// StepResult<T>.
template <class Cell, class T>
concept ScanCell = requires(Cell& cell, std::span<const Var<T>> weights, const State<T>& state,
                            const Var<T>& x) {
  { cell(weights, state, x) } -> std::convertible_to<StepResult<T>>;
};

/// How scan walks the sequence.
struct ScanOptions {
  /// Walk from the last time step to the first (the backward half of a bidirectional layer).
  /// Outputs stay at their time index either way.
  bool reverse = false;
  /// Per-sequence lengths (one per batch entry, axis 1 of xs), or empty for all full length.
  /// Past its length a sequence's state stops changing and its outputs are zero, so padded
  /// steps contribute no gradient. With `reverse`, each sequence starts at its own last step.
  /// With lengths, every state part and y_t must have the batch as axis 0.
  std::span<const std::int64_t> lengths;
  /// Packed sequences instead of lengths: xs is [rows, ...] as pack_sequence makes it
  /// (tapeloop/ops/packed_sequence.hpp), step t being the batch_sizes[t] rows from the sum of
  /// the earlier sizes, and batch_sizes never increasing (PackedLayout::batch_sizes). The state
  /// parts have the whole (sorted) batch as axis 0; at step t the cell sees only the first
  /// batch_sizes[t] rows of state and x_t, so a finished sequence costs nothing. Each y_t has
  /// batch_sizes[t] rows, and the outputs are packed likewise ([rows, ...]: unpack_sequence
  /// pads them). The final state holds each sequence's state at its own end. Not with lengths,
  /// nor with checkpointed_scan.
  std::span<const std::int64_t> batch_sizes;
  /// Truncated BPTT: detach the state every `truncate` steps (0: never). The forward pass is
  /// unchanged; gradients flow back at most `truncate` steps. Not with checkpointed_scan.
  int truncate = 0;
  /// Stack the per-step outputs y_t into `ScanResult::outputs`. Turn off for many-to-one
  /// models to save their memory.
  bool collect_outputs = true;
};

/// What scan returns: outputs [T, ...] (the y_t stacked by time index, zero past a sequence's
/// length; with batch_sizes, packed [rows, ...]; empty if the cell emits none or they are not
/// collected) and the final state.
template <class T>
struct ScanResult {
  Var<T> outputs;
  State<T> state;
};

/// Unrolls `cell` over axis 0 of `xs` ([T, B, ...]) starting from `state0`:
///
///     (state_t, y_t) = cell(weights, state_{t-1}, xs[t])
///
/// `cell` is built from operators and returns a state of the same parts and shapes at every
/// step, and a y_t of the same shape at every step (or none at all). `weights` are the
/// loop-invariant Vars the cell reads (parameters, biases); using them at every step leaves the
/// sum of the per-step gradients in their gradient, which is backpropagation through time.
/// Each x_t is a view of xs (no copy), whose gradient goes straight into xs's. Throws
/// ShapeError / ValueError naming scan for arguments that do not fit.
template <class T, class Cell>
ScanResult<T> scan(Tape<T>& tape, Cell cell, const Var<T>& xs, const State<T>& state0,
                   std::type_identity_t<std::span<const Var<T>>> weights,
                   const ScanOptions& options = {});

template <class T, class Cell>
ScanResult<T> scan(Tape<T>& tape, Cell cell, const Var<T>& xs, const State<T>& state0,
                   std::initializer_list<Var<T>> weights, const ScanOptions& options = {}) {
  return scan(tape, cell, xs, state0, std::span<const Var<T>>(weights.begin(), weights.size()),
              options);
}

/// scan keeping only the state at the start of every `segment`-step segment. The backward pass
/// records each segment again and backpropagates through it, so activation memory falls from
/// O(T) to O(T/k + k) steps for about one extra forward pass. The cell is copied into the
/// tape and run again during backward, after this call has returned: it must be trivially
/// copyable (a compile-time check) and read only `weights`, its state and x_t — never Vars or
/// memory of the caller's it captured. options.truncate must be 0.
template <class T, class Cell>
ScanResult<T> checkpointed_scan(Tape<T>& tape, Cell cell, const Var<T>& xs, const State<T>& state0,
                                std::type_identity_t<std::span<const Var<T>>> weights, int segment,
                                const ScanOptions& options = {});

}  // namespace tapeloop

#include "tapeloop/detail/scan_impl.hpp"
