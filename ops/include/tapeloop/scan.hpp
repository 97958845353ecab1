// scan: unrolls a recurrent cell over the time axis of a sequence on the tape, with reverse
// order, per-sequence lengths, truncated BPTT and checkpointed segments.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <type_traits>

#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/ops/where.hpp"
#include "tapeloop/state.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {

/// How scan walks the sequence.
struct ScanOptions {
  /// Walk from the last time step to the first (the backward half of a bidirectional layer).
  /// Outputs stay at their time index either way.
  bool reverse = false;
  /// Per-sequence lengths (one per batch entry, axis 1 of xs), or empty for all full length.
  /// Past its length a sequence's state stops changing and its outputs are zero, so padded
  /// steps contribute no gradient. With `reverse`, each sequence starts at its own last step.
  std::span<const std::int64_t> lengths;
  /// Truncated BPTT: detach the state every `truncate` steps (0: never). The forward pass is
  /// unchanged; gradients flow back at most `truncate` steps.
  int truncate = 0;
  /// Keep only the state at the start of every `checkpoint`-step segment (0: keep all). The
  /// backward pass records each segment again and backpropagates through it, so activation
  /// memory falls from O(T) to O(T/k + k) steps for about one extra forward pass. The cell
  /// must then be trivially copyable (capture Vars, numbers and pointers) and use only
  /// `weights`, its state and x_t, not other Vars of the tape.
  int checkpoint = 0;
  /// Stack the per-step outputs (state[0] after each step) into `ScanResult::outputs`. Turn
  /// off for many-to-one models to save their memory.
  bool collect_outputs = true;
};

/// What scan returns: outputs [T, B, ...] (state[0] after each step, zero past a sequence's
/// length; empty if not collected) and the final state.
template <class T>
struct ScanResult {
  Var<T> outputs;
  State<T> state;
};

/// Unrolls `cell` over axis 0 of `xs` ([T, B, ...]) starting from `state0`:
///
///     state_t = cell(weights, state_{t-1}, xs[t])
///
/// `cell` is any callable `State<T>(std::span<const Var<T>> weights, const State<T>& state,
/// const Var<T>& x_t)` built from operators, returning a state of the same shapes. `weights`
/// are the loop-invariant Vars the cell reads (parameters, biases); using them at every step
/// leaves the sum of the per-step gradients in their gradient, which is backpropagation
/// through time. Each x_t is a view of xs (no copy), whose gradient goes straight into xs's.
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

}  // namespace tapeloop

#include "tapeloop/detail/scan_impl.hpp"
