// scan's implementation: the time loop, the length masks, and checkpointed segments that are
// recorded again on a recompute tape during backward.
#pragma once

#include <algorithm>
#include <cstring>
#include <new>

namespace tapeloop::detail {

/// Checks xs, state0 and the options; throws ShapeError / ValueError naming scan.
template <class T>
void check_scan_arguments(const Var<T>& xs, const State<T>& state0, const ScanOptions& options);

/// A constant [B, 1, ..., 1] (rank `rank`) that is 1 where step t is within the sequence.
template <class T>
Var<T> length_mask(Tape<T>& tape, std::span<const std::int64_t> lengths, std::int64_t t, int rank);

/// Throws ShapeError unless `next` has the parts and shapes of `previous`.
template <class T>
void check_cell_result(const State<T>& previous, const State<T>& next, std::int64_t t);

/// The time index of the k-th step taken.
inline std::int64_t time_index(std::int64_t k, std::int64_t steps, bool reverse) {
  return reverse ? steps - 1 - k : k;
}

/// One step: runs the cell on x_t; past a sequence's length keeps its state and zeroes its
/// output. Returns the new state and, in `output`, state[0] as the step's output.
template <class T, class Cell>
State<T> scan_step(Tape<T>& tape, Cell& cell, std::span<const Var<T>> weights,
                   const State<T>& state, const Var<T>& xs, std::int64_t t,
                   const ScanOptions& options, Var<T>* output) {
  State<T> next = cell(weights, state, select(xs, 0, t));
  check_cell_result(state, next, t);
  if (options.lengths.empty()) {
    if (output) *output = next[0];
    return next;
  }
  Var<T> mask = length_mask(tape, options.lengths, t, next[0].rank());
  if (output) *output = next[0] * mask;
  for (int i = 0; i < next.size(); ++i) {
    if (next[i].rank() != mask.rank()) mask = length_mask(tape, options.lengths, t, next[i].rank());
    next[i] = where(mask, next[i], state[i]);
  }
  return next;
}

/// Arena copy of an array of Vars, so a backward closure can hold it as a pointer.
template <class T>
const Var<T>* copy_to_arena(Tape<T>& tape, std::span<const Var<T>> vars) {
  auto* out = static_cast<Var<T>*>(tape.scratch_bytes(sizeof(Var<T>) * (vars.size() + 1)));
  for (std::size_t i = 0; i < vars.size(); ++i) new (out + i) Var<T>(vars[i]);
  return out;
}

/// Everything a checkpointed segment needs to record itself again in backward; plain data.
template <class T, class Cell>
struct Segment {
  const Cell* cell;
  const Var<T>* weights;
  std::size_t weight_count;
  Var<T> xs;
  State<T> start;           // the state entering the segment (main tape)
  Var<T> node;              // the segment's node: [outputs..., final state parts...]
  std::int64_t first_step;  // k of the first step taken (processing order)
  std::int64_t step_count;
  std::int64_t steps;  // T
  const std::int64_t* lengths;
  std::size_t length_count;
  bool reverse;
  bool collect_outputs;
  std::int64_t output_numel;

  ScanOptions options() const {
    ScanOptions o;
    o.reverse = reverse;
    o.lengths = std::span<const std::int64_t>(lengths, length_count);
    return o;
  }

  // Records the segment on `sub` with leaves over the main tape's memory. With `with_grad`,
  // each leaf's gradient is the main tape's gradient buffer of that Var, so backward on `sub`
  // adds straight into the main tape. Fills `outputs` (step_count entries when collected) and
  // returns the final state.
  State<T> record(Tape<T>& sub, bool with_grad, Var<T>* outputs) const {
    auto leaf = [&](const Var<T>& v) {
      T* grad = with_grad && v.requires_grad() ? v.grad().data : nullptr;
      return sub.external_leaf(const_cast<T*>(v.value().data), grad, v.shape());
    };
    Var<T>* w = static_cast<Var<T>*>(sub.scratch_bytes(sizeof(Var<T>) * (weight_count + 1)));
    for (std::size_t i = 0; i < weight_count; ++i) new (w + i) Var<T>(leaf(weights[i]));
    const Var<T> sub_xs = leaf(xs);
    State<T> state;
    for (const Var<T>& part : start) state.push_back(leaf(part));
    const ScanOptions o = options();
    Cell& c = const_cast<Cell&>(*cell);
    for (std::int64_t j = 0; j < step_count; ++j) {
      const std::int64_t t = time_index(first_step + j, steps, reverse);
      state = scan_step(sub, c, std::span<const Var<T>>(w, weight_count), state, sub_xs, t, o,
                        collect_outputs ? outputs + j : nullptr);
    }
    return state;
  }

  // Backward: record again with gradients, seed with the segment node's gradient, sweep.
  void backward() const {
    Tape<T>& sub = xs.tape().recompute_tape();
    sub.clear();
    const std::size_t parts = static_cast<std::size_t>(start.size());
    const std::size_t count = (collect_outputs ? static_cast<std::size_t>(step_count) : 0) + parts;
    auto* outs = static_cast<Var<T>*>(sub.scratch_bytes(sizeof(Var<T>) * count));
    auto* seeds =
        static_cast<TensorRef<const T>*>(sub.scratch_bytes(sizeof(TensorRef<const T>) * count));
    const State<T> final_state = record(sub, true, outs);
    for (std::size_t i = 0; i < parts; ++i) {
      new (outs + count - parts + i) Var<T>(final_state[static_cast<int>(i)]);
    }
    const T* g = node.grad().data;
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < count; ++i) {
      new (seeds + i) TensorRef<const T>{g + offset, outs[i].shape()};
      offset += outs[i].numel();
    }
    bool any = false;
    for (std::size_t i = 0; i < count; ++i) any = any || outs[i].requires_grad();
    if (any) {
      sub.backward(std::span<const Var<T>>(outs, count),
                   std::span<const TensorRef<const T>>(seeds, count));
    }
    sub.clear();
  }
};

template <class T, class Cell>
ScanResult<T> scan_checkpointed(Tape<T>& tape, Cell& cell, const Var<T>& xs, const State<T>& state0,
                                std::span<const Var<T>> weights, const ScanOptions& options,
                                Var<T>* outputs) {
  if constexpr (!(std::is_trivially_copyable_v<Cell> && std::is_trivially_destructible_v<Cell>)) {
    throw ValueError(
        "scan: checkpoint needs a trivially copyable cell (capture Vars, numbers and pointers)");
  } else {
    const std::int64_t steps = xs.dim(0);
    const Cell* cell_copy = new (tape.scratch_bytes(sizeof(Cell))) Cell(cell);
    const Var<T>* weight_copy = copy_to_arena(tape, weights);
    auto* lengths_copy = static_cast<std::int64_t*>(
        tape.scratch_bytes(sizeof(std::int64_t) * (options.lengths.size() + 1)));
    std::copy(options.lengths.begin(), options.lengths.end(), lengths_copy);
    const std::int64_t output_numel = state0[0].numel();

    // Inputs of every segment node: the weights, xs and the entering state.
    const std::size_t input_count = weights.size() + 1 + static_cast<std::size_t>(state0.size());
    auto* inputs = static_cast<Var<T>*>(tape.scratch_bytes(sizeof(Var<T>) * input_count));
    std::copy(weights.begin(), weights.end(), inputs);
    inputs[weights.size()] = xs;

    State<T> state = state0;
    Tape<T>& sub = tape.recompute_tape();
    for (std::int64_t first = 0; first < steps; first += options.checkpoint) {
      const std::int64_t count = std::min<std::int64_t>(options.checkpoint, steps - first);
      std::int64_t numel = options.collect_outputs ? count * output_numel : 0;
      for (const Var<T>& part : state) numel += part.numel();
      for (int i = 0; i < state.size(); ++i) inputs[weights.size() + 1 + i] = state[i];
      Var<T> node = tape.make_node("scan_segment", Shape{numel}, inputs, input_count);
      Segment<T, Cell> segment{cell_copy,
                               weight_copy,
                               weights.size(),
                               xs,
                               state,
                               node,
                               first,
                               count,
                               steps,
                               lengths_copy,
                               options.lengths.size(),
                               options.reverse,
                               options.collect_outputs,
                               output_numel};
      // Forward without gradients on the recompute tape; keep only outputs and final state.
      sub.clear();
      Var<T>* sub_outputs =
          static_cast<Var<T>*>(sub.scratch_bytes(sizeof(Var<T>) * static_cast<std::size_t>(count)));
      State<T> end;
      {
        auto no_grad = sub.no_grad();
        end = segment.record(sub, false, sub_outputs);
      }
      T* value = tape.mutable_value(node);
      std::int64_t offset = 0;
      if (options.collect_outputs) {
        for (std::int64_t j = 0; j < count; ++j) {
          std::memcpy(value + offset, sub_outputs[j].value().data,
                      sizeof(T) * static_cast<std::size_t>(output_numel));
          offset += output_numel;
        }
      }
      for (const Var<T>& part : end) {
        std::memcpy(value + offset, part.value().data,
                    sizeof(T) * static_cast<std::size_t>(part.numel()));
        offset += part.numel();
      }
      sub.clear();
      tape.set_backward(node, [segment] { segment.backward(); });

      // Views of the node: the outputs at their time index, and the next segment's state.
      offset = 0;
      if (options.collect_outputs) {
        for (std::int64_t j = 0; j < count; ++j) {
          outputs[time_index(first + j, steps, options.reverse)] =
              tape.make_view("scan_output", node, offset, state0[0].shape(), true);
          offset += output_numel;
        }
      }
      for (int i = 0; i < state.size(); ++i) {
        const Shape shape = state0[i].shape();
        state[i] = tape.make_view("scan_state", node, offset, shape, true);
        offset += shape.numel();
      }
    }
    return {Var<T>(), state};
  }
}

}  // namespace tapeloop::detail

namespace tapeloop {

template <class T, class Cell>
ScanResult<T> scan(Tape<T>& tape, Cell cell, const Var<T>& xs, const State<T>& state0,
                   std::type_identity_t<std::span<const Var<T>>> weights,
                   const ScanOptions& options) {
  tape.check_live(xs, "scan");
  detail::check_scan_arguments(xs, state0, options);
  const std::int64_t steps = xs.dim(0);
  // The per-step outputs, indexed by time, in arena memory (no heap).
  Var<T>* outputs = nullptr;
  if (options.collect_outputs) {
    outputs = static_cast<Var<T>*>(
        tape.scratch_bytes(sizeof(Var<T>) * static_cast<std::size_t>(steps + 1)));
    for (std::int64_t t = 0; t < steps; ++t) new (outputs + t) Var<T>();
  }
  ScanResult<T> result;
  if (options.checkpoint > 0) {
    result = detail::scan_checkpointed(tape, cell, xs, state0, weights, options, outputs);
  } else {
    State<T> state = state0;
    for (std::int64_t k = 0; k < steps; ++k) {
      if (options.truncate > 0 && k > 0 && k % options.truncate == 0) {
        for (int i = 0; i < state.size(); ++i) state[i] = detach(state[i]);
      }
      const std::int64_t t = detail::time_index(k, steps, options.reverse);
      state = detail::scan_step(tape, cell, weights, state, xs, t, options,
                                options.collect_outputs ? outputs + t : nullptr);
    }
    result.state = state;
  }
  if (options.collect_outputs && steps > 0) {
    result.outputs = stack(std::span<const Var<T>>(outputs, static_cast<std::size_t>(steps)), 0);
  }
  return result;
}

}  // namespace tapeloop
