// scan's implementation: the time loop, the length masks, and checkpointed segments that are
// recorded again on a recompute tape during backward.
#pragma once

#include <algorithm>
#include <cstring>
#include <typeinfo>

#include "tapeloop/detail/replay_curvature.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop::detail {

/// Checks xs, state0 and the options; throws ShapeError / ValueError naming `who`.
template <class T>
void check_scan_arguments(const char* who, const Var<T>& xs, const State<T>& state0,
                          const ScanOptions& options);

/// A constant [B, 1, ..., 1] (rank `rank`) that is 1 where step t is within the sequence.
template <class T>
Var<T> length_mask(Tape<T>& tape, std::span<const std::int64_t> lengths, std::int64_t t, int rank);

/// What every step's result must look like, learnt from the first step: the state's parts and
/// shapes (those of the initial state) and whether there is a y_t, and its shape.
struct StepShape {
  bool known = false;
  bool has_y = false;
  Shape y;
};

/// Throws ShapeError naming `who` unless `next` fits `previous` and `expected` (updated after
/// the first step); with lengths, y_t must have the batch `batch` as axis 0.
template <class T>
void check_step_result(const char* who, const State<T>& previous, const StepResult<T>& next,
                       StepShape& expected, std::int64_t t, bool lengths, std::int64_t batch);

/// The time index of the k-th step taken.
inline std::int64_t time_index(std::int64_t k, std::int64_t steps, bool reverse) {
  return reverse ? steps - 1 - k : k;
}

/// While it lives, what `tape` records belongs to step t of scan `who`, for anomaly reports.
/// Does nothing unless anomaly detection is on.
template <class T>
class ScanStepScope {
 public:
  ScanStepScope(Tape<T>& tape, const char* who, std::int64_t t, const char* cell)
      : tape_(TapeInternals<T>::anomaly_detection(tape) ? &tape : nullptr) {
    if (tape_) [[unlikely]]
      TapeInternals<T>::enter_scan_step(tape, who, t, cell);
  }
  ~ScanStepScope() {
    if (tape_) [[unlikely]]
      TapeInternals<T>::leave_scan_step(*tape_);
  }
  ScanStepScope(const ScanStepScope&) = delete;
  ScanStepScope& operator=(const ScanStepScope&) = delete;

 private:
  Tape<T>* tape_;
};

/// One step: runs the cell on x_t; past a sequence's length keeps its state and zeroes y_t.
template <class T, class Cell>
StepResult<T> scan_step(const char* who, Tape<T>& tape, Cell& cell, std::span<const Var<T>> weights,
                        const State<T>& state, const Var<T>& xs, std::int64_t t,
                        const ScanOptions& options, StepShape& expected) {
  const ScanStepScope<T> scope(tape, who, t, typeid(Cell).name());
  StepResult<T> next = cell(weights, state, select(xs, 0, t));
  check_step_result(who, state, next, expected, t, !options.lengths.empty(), xs.dim(1));
  if (options.lengths.empty()) return next;
  Var<T> mask;
  for (int i = 0; i < next.state.size(); ++i) {
    if (mask.empty() || next.state[i].rank() != mask.rank()) {
      mask = length_mask(tape, options.lengths, t, next.state[i].rank());
    }
    next.state[i] = where(mask, next.state[i], state[i]);
  }
  if (!next.y.empty()) {
    if (mask.empty() || next.y.rank() != mask.rank()) {
      mask = length_mask(tape, options.lengths, t, next.y.rank());
    }
    // where, not a product: a negative y_t times 0 would be -0.0, and PyTorch pads with +0.0.
    next.y = where(mask, next.y, tape.scalar(T(0)));
  }
  return next;
}

/// Rows [start, start + count) of every part of `state` (views).
template <class T>
State<T> state_rows(const State<T>& state, std::int64_t start, std::int64_t count) {
  State<T> rows;
  for (const Var<T>& part : state) rows.push_back(narrow(part, 0, start, count));
  return rows;
}

/// scan over packed sequences (ScanOptions::batch_sizes): step t runs the cell on the first
/// batch_sizes[t] rows only. Going forward the running batch shrinks, and the rows that leave
/// it are kept aside as their final state; in reverse it grows, each sequence joining at its
/// last step with its initial state.
template <class T, class Cell>
ScanResult<T> packed_scan(Tape<T>& tape, Cell& cell, const Var<T>& xs, const State<T>& state0,
                          std::span<const Var<T>> weights, const ScanOptions& options) {
  const std::span<const std::int64_t> sizes = options.batch_sizes;
  const auto steps = static_cast<std::int64_t>(sizes.size());
  const std::int64_t batch = state0[0].dim(0);
  auto* offsets = record_scratch<std::int64_t>(tape, steps);
  for (std::int64_t t = 0, row = 0; t < steps; row += sizes[t++]) offsets[t] = row;
  Var<T>* outputs =
      options.collect_outputs ? arena_vars(tape, static_cast<std::size_t>(steps)) : nullptr;
  // Forward: the rows that stopped running, in the order they stopped (each a State; at most
  // one per step and one per sequence).
  State<T>* stopped = record_scratch<State<T>>(tape, std::min(steps, batch));
  std::int64_t stopped_count = 0;
  auto join = [](const State<T>& a, const State<T>& b) {
    State<T> joined;
    for (int i = 0; i < a.size(); ++i) joined.push_back(concat({a[i], b[i]}, 0));
    return joined;
  };

  StepShape expected;
  std::int64_t running = options.reverse ? sizes[steps - 1] : sizes[0];
  State<T> state = running == batch ? state0 : state_rows(state0, 0, running);
  for (std::int64_t k = 0; k < steps; ++k) {
    const std::int64_t t = time_index(k, steps, options.reverse);
    const std::int64_t rows = sizes[t];
    if (rows < running) {  // forward: sequences [rows, running) ended at the step before
      new (stopped + stopped_count++) State<T>(state_rows(state, rows, running - rows));
      state = state_rows(state, 0, rows);
    } else if (rows > running) {  // reverse: sequences [running, rows) start here
      const State<T> starting = state_rows(state0, running, rows - running);
      state = running == 0 ? starting : join(state, starting);
    }
    running = rows;
    if (rows == 0) continue;
    if (options.truncate > 0 && k > 0 && k % options.truncate == 0) {
      for (int i = 0; i < state.size(); ++i) state[i] = detach(state[i]);
    }
    const ScanStepScope<T> scope(tape, "scan", t, typeid(Cell).name());
    StepResult<T> next = cell(weights, state, narrow(xs, 0, offsets[t], rows));
    if (expected.known && expected.has_y) expected.y[0] = rows;
    check_step_result("scan", state, next, expected, t, true, rows);
    if (outputs) outputs[t] = next.y;
    state = next.state;
  }

  // The final state in sorted order: the rows still running, the ones that stopped (the latest
  // first: they are the longer sequences), and those that never ran with their initial state.
  const std::int64_t ran = options.reverse ? running : sizes[0];
  std::size_t pieces = 0;
  State<T>* parts = record_scratch<State<T>>(tape, stopped_count + 2);
  if (running > 0) new (parts + pieces++) State<T>(state);
  for (std::int64_t i = stopped_count; i-- > 0;) new (parts + pieces++) State<T>(stopped[i]);
  if (ran < batch) new (parts + pieces++) State<T>(state_rows(state0, ran, batch - ran));
  ScanResult<T> result;
  Var<T>* column = arena_vars(tape, pieces);
  for (int i = 0; i < state0.size(); ++i) {
    for (std::size_t p = 0; p < pieces; ++p) column[p] = parts[p][i];
    result.state.push_back(pieces == 1 ? column[0]
                                       : concat(std::span<const Var<T>>(column, pieces), 0));
  }
  if (outputs && expected.has_y) {
    std::size_t n = 0;
    for (std::int64_t t = 0; t < steps; ++t) {
      if (sizes[t] > 0) outputs[n++] = outputs[t];
    }
    result.outputs = n == 1 ? outputs[0] : concat(std::span<const Var<T>>(outputs, n), 0);
  }
  return result;
}

/// Runs `count` steps of a checkpointed scan from the k = `first`-th step taken on `sub`, from
/// `state`; stores each y_t in ys[j] when ys is not null. Returns the final state.
template <class T, class Cell>
State<T> run_segment(const char* who, Tape<T>& sub, Cell& cell, std::span<const Var<T>> weights,
                     const Var<T>& xs, State<T> state, std::int64_t first, std::int64_t count,
                     std::int64_t steps, const ScanOptions& options, Var<T>* ys,
                     StepShape& expected) {
  for (std::int64_t j = 0; j < count; ++j) {
    const std::int64_t t = time_index(first + j, steps, options.reverse);
    StepResult<T> next = scan_step(who, sub, cell, weights, state, xs, t, options, expected);
    if (ys) ys[j] = next.y;
    state = next.state;
  }
  return state;
}

/// A checkpointed segment of `step_count` steps from the k-th step taken, as one node holding
/// its outputs (when collected) and its final state. Its inputs are the weights, xs and the
/// state entering the segment; backward records the segment again on the recompute tape with
/// leaves over those inputs' values and gradients, and backpropagates through it. Its tangent
/// records it again the same way and runs forward mode through it.
template <class T, class Cell>
struct SegmentRule {
  static constexpr const char* name = "checkpointed_scan";
  Cell* cell;  // the tape's copy: run again in backward, after checkpointed_scan has returned
  int weight_count;
  std::int64_t first_step, step_count, steps;
  const std::int64_t* lengths;  // the tape's copy
  std::size_t length_count;
  bool reverse;
  bool collect;            // the node holds the segment's y_t
  Shape y_shape;           // of one y_t, when collected
  std::int64_t numel;      // of the node
  const T* const* source;  // forward only: the pieces recorded without gradients, in order

  ScanOptions options() const {
    ScanOptions o;
    o.reverse = reverse;
    o.lengths = std::span<const std::int64_t>(lengths, length_count);
    return o;
  }
  Shape check(InputShapes) const { return Shape{numel}; }
  // Copies the pieces of the segment recorded without gradients (see checkpointed_scan).
  void forward(ForwardContext<T>& c) {
    T* value = c.out();
    std::int64_t offset = 0;
    int piece = 0;
    if (collect) {
      for (std::int64_t j = 0; j < step_count; ++j, ++piece) {
        std::memcpy(value + offset, source[piece],
                    sizeof(T) * static_cast<std::size_t>(y_shape.numel()));
        offset += y_shape.numel();
      }
    }
    for (int i = weight_count + 1; i < c.inputs(); ++i, ++piece) {
      const std::int64_t n = c.in_shape(i).numel();
      std::memcpy(value + offset, source[piece], sizeof(T) * static_cast<std::size_t>(n));
      offset += n;
    }
    source = nullptr;
  }

  // Records the segment again on `sub` over `leaves` (one per input: the weights, xs, the
  // entering state); returns its outputs (when collected) and final state, in the node's order,
  // `count` of them.
  Var<T>* record_again(Tape<T>& sub, const Var<T>* leaves, int inputs, std::size_t& count) const {
    const std::size_t parts = static_cast<std::size_t>(inputs - weight_count - 1);
    count = (collect ? static_cast<std::size_t>(step_count) : 0) + parts;
    Var<T>* outs = arena_vars(sub, count);
    State<T> start;
    for (int i = weight_count + 1; i < inputs; ++i) start.push_back(leaves[i]);
    StepShape expected;
    const State<T> final_state = run_segment(
        name, sub, *cell, std::span<const Var<T>>(leaves, static_cast<std::size_t>(weight_count)),
        leaves[weight_count], start, first_step, step_count, steps, options(),
        collect ? outs : nullptr, expected);
    for (std::size_t i = 0; i < parts; ++i)
      outs[count - parts + i] = final_state[static_cast<int>(i)];
    return outs;
  }

  void backward(BackwardContext<T>& c) const {
    Tape<T>& sub = c.recompute_tape();
    sub.clear();
    // Leaves over the inputs' values whose gradients are the main tape's buffers, so backward
    // on `sub` adds straight into the main tape.
    Var<T>* leaves = arena_vars(sub, static_cast<std::size_t>(c.inputs()));
    for (int i = 0; i < c.inputs(); ++i) {
      leaves[i] = sub.external_leaf(c.in(i), c.grad(i), c.in_shape(i));
    }
    std::size_t count = 0;
    Var<T>* outs = record_again(sub, leaves, c.inputs(), count);
    auto* seeds = record_scratch<TensorRef<const T>>(sub, static_cast<std::int64_t>(count));
    const T* g = c.grad_out();
    std::int64_t offset = 0;
    bool any = false;
    for (std::size_t i = 0; i < count; ++i) {
      const Shape shape = outs[i].shape();
      seeds[i] = TensorRef<const T>{g + offset, shape};
      offset += shape.numel();
      any = any || outs[i].requires_grad();
    }
    if (any) {
      sub.backward(std::span<const Var<T>>(outs, count),
                   std::span<const TensorRef<const T>>(seeds, count));
    }
    sub.clear();
  }

  // Forward mode: the segment recorded again on the recompute tape over leaves of the inputs'
  // values, and Tape::jvp on it from the inputs that have tangents; the tangents of its outputs
  // and final state, in the node's order, are the node's.
  void tangent(TangentContext<T>& c) const {
    Tape<T>& sub = c.recompute_tape();
    sub.clear();
    const int inputs = c.inputs();
    Var<T>* leaves = arena_vars(sub, static_cast<std::size_t>(inputs));
    Var<T>* moving = arena_vars(sub, static_cast<std::size_t>(inputs));
    auto* directions = record_scratch<TensorRef<const T>>(sub, inputs);
    std::size_t with_tangent = 0;
    for (int i = 0; i < inputs; ++i) {
      const Shape shape = c.in_shape(i);
      const T* t = c.tangent(i);
      // A jvp input is a leaf derivatives flow from, which a gradient buffer marks; backward
      // never runs on this recording, so the buffer is never written.
      T* unused_grad = t ? record_scratch<T>(sub, shape.numel()) : nullptr;
      leaves[i] = sub.external_leaf(c.in(i), unused_grad, shape);
      if (t) {
        moving[with_tangent] = leaves[i];
        directions[with_tangent] = TensorRef<const T>{t, shape};
        ++with_tangent;
      }
    }
    std::size_t count = 0;
    Var<T>* outs = record_again(sub, leaves, inputs, count);
    sub.jvp(std::span<const Var<T>>(moving, with_tangent),
            std::span<const TensorRef<const T>>(directions, with_tangent));
    T* out = c.tangent_out();
    for (std::size_t i = 0; i < count; ++i) {
      const TensorRef<const T> t = sub.tangent(outs[i]);
      for (std::int64_t k = 0; k < t.numel(); ++k) out[k] += t.data[k];
      out += t.numel();
    }
    sub.clear();
  }

  // Second order: the segment recorded again, its outputs and final state flattened in the
  // node's order, and the Hessian-vector product of <g, that> along the inputs' tangents
  // (curvature_by_replay): the second-order terms of every operator of every step inside.
  void curvature(CurvatureContext<T>& c) const {
    curvature_by_replay(c, [&](const std::vector<Var<T>>& leaves) {
      Tape<T>& sub = leaves[0].tape();
      std::size_t count = 0;
      const Var<T>* outs = record_again(sub, leaves.data(), static_cast<int>(leaves.size()), count);
      std::vector<Var<T>> flat;
      for (std::size_t i = 0; i < count; ++i) {
        flat.push_back(reshape(outs[i], Shape{outs[i].numel()}));
      }
      return concat(flat, 0);
    });
  }
};

/// Everything scan and checkpointed_scan check before recording, naming `who`.
template <class T, class Cell>
void check_scan_call(const char* who, Tape<T>& tape, const Var<T>& xs, const State<T>& state0,
                     const ScanOptions& options) {
  static_assert(ScanCell<Cell, T>,
                "scan: the cell must be callable as cell(std::span<const Var<T>> weights, const "
                "State<T>& state, const Var<T>& x_t) and return StepResult<T>{state, y}");
  check_live("scan", xs, tape);
  check_scan_arguments(who, xs, state0, options);
}

}  // namespace tapeloop::detail

namespace tapeloop {

template <class T, class Cell>
ScanResult<T> scan(Tape<T>& tape, Cell cell, const Var<T>& xs, const State<T>& state0,
                   std::type_identity_t<std::span<const Var<T>>> weights,
                   const ScanOptions& options) {
  detail::check_scan_call<T, Cell>("scan", tape, xs, state0, options);
  if (!options.batch_sizes.empty())
    return detail::packed_scan(tape, cell, xs, state0, weights, options);
  const std::int64_t steps = xs.dim(0);
  // The per-step outputs, indexed by time, in arena memory (no heap).
  Var<T>* outputs =
      options.collect_outputs ? arena_vars(tape, static_cast<std::size_t>(steps)) : nullptr;
  detail::StepShape expected;
  State<T> state = state0;
  for (std::int64_t k = 0; k < steps; ++k) {
    if (options.truncate > 0 && k > 0 && k % options.truncate == 0) {
      for (int i = 0; i < state.size(); ++i) state[i] = detach(state[i]);
    }
    const std::int64_t t = detail::time_index(k, steps, options.reverse);
    StepResult<T> next =
        detail::scan_step("scan", tape, cell, weights, state, xs, t, options, expected);
    if (outputs) outputs[t] = next.y;
    state = next.state;
  }
  ScanResult<T> result;
  result.state = state;
  if (outputs && expected.has_y && steps > 0) {
    result.outputs = stack(std::span<const Var<T>>(outputs, static_cast<std::size_t>(steps)), 0);
  }
  return result;
}

template <class T, class Cell>
ScanResult<T> checkpointed_scan(Tape<T>& tape, Cell cell, const Var<T>& xs, const State<T>& state0,
                                std::type_identity_t<std::span<const Var<T>>> weights, int segment,
                                const ScanOptions& options) {
  static_assert(std::is_trivially_copyable_v<Cell> && std::is_trivially_destructible_v<Cell>,
                "checkpointed_scan: the cell is copied into the tape and run again in backward, "
                "so it must be trivially copyable: hold numbers and plain data, and read Vars "
                "through its weights, state and x_t");
  const char* who = "checkpointed_scan";
  detail::check_scan_call<T, Cell>(who, tape, xs, state0, options);
  check_truncation(who, options.truncate, segment);
  if (!options.batch_sizes.empty()) {
    throw ValueError(std::string(who) +
                     ": packed sequences (batch_sizes) are not supported; "
                     "give lengths instead");
  }
  if (segment < 1) {
    throw ValueError(std::string(who) + ": segment " + std::to_string(segment) +
                     " is not positive");
  }
  const std::int64_t steps = xs.dim(0);
  Var<T>* outputs =
      options.collect_outputs ? arena_vars(tape, static_cast<std::size_t>(steps)) : nullptr;
  Cell* cell_copy = new (record_scratch<Cell>(tape, 1)) Cell(cell);
  auto* lengths_copy =
      record_scratch<std::int64_t>(tape, static_cast<std::int64_t>(options.lengths.size()));
  std::copy(options.lengths.begin(), options.lengths.end(), lengths_copy);

  // The inputs of every segment node: the weights, xs and the entering state.
  const std::size_t input_count = weights.size() + 1 + static_cast<std::size_t>(state0.size());
  Var<T>* inputs = arena_vars(tape, input_count);
  std::copy(weights.begin(), weights.end(), inputs);
  inputs[weights.size()] = xs;

  Tape<T>& sub = detail::TapeInternals<T>::recompute_tape(tape);
  State<T> state = state0;
  bool has_y = false;
  for (std::int64_t first = 0; first < steps; first += segment) {
    const std::int64_t count = std::min<std::int64_t>(segment, steps - first);
    for (int i = 0; i < state.size(); ++i) inputs[weights.size() + 1 + i] = state[i];
    detail::SegmentRule<T, Cell> rule{};
    rule.cell = cell_copy;
    rule.weight_count = static_cast<int>(weights.size());
    rule.first_step = first;
    rule.step_count = count;
    rule.steps = steps;
    rule.lengths = lengths_copy;
    rule.length_count = options.lengths.size();
    rule.reverse = options.reverse;
    // Forward without gradients on the recompute tape; the node keeps only the outputs and the
    // final state, copied from there.
    sub.clear();
    Var<T>* ys = arena_vars(sub, static_cast<std::size_t>(count));
    State<T> end;
    {
      auto no_grad = sub.no_grad();
      auto leaf = [&](const Var<T>& v) {
        return sub.external_leaf(v.value().data, nullptr, v.shape());
      };
      Var<T>* w = arena_vars(sub, weights.size());
      for (std::size_t i = 0; i < weights.size(); ++i) w[i] = leaf(weights[i]);
      State<T> start;
      for (const Var<T>& part : state) start.push_back(leaf(part));
      detail::StepShape expected;
      end = detail::run_segment(who, sub, *cell_copy, std::span<const Var<T>>(w, weights.size()),
                                leaf(xs), start, first, count, steps, options, ys, expected);
      has_y = expected.has_y;
      if (has_y) rule.y_shape = expected.y;
    }
    rule.collect = options.collect_outputs && has_y;
    const std::size_t pieces =
        (rule.collect ? static_cast<std::size_t>(count) : 0) + static_cast<std::size_t>(end.size());
    auto* source = record_scratch<const T*>(sub, static_cast<std::int64_t>(pieces));
    std::size_t piece = 0;
    rule.numel = 0;
    if (rule.collect) {
      for (std::int64_t j = 0; j < count; ++j) source[piece++] = ys[j].value().data;
      rule.numel += count * rule.y_shape.numel();
    }
    for (const Var<T>& part : end) {
      source[piece++] = part.value().data;
      rule.numel += part.numel();
    }
    rule.source = source;
    const Var<T> node = record_list(rule, std::span<const Var<T>>(inputs, input_count));
    sub.clear();

    // Views of the node: the outputs at their time index, and the next segment's state.
    std::int64_t offset = 0;
    if (rule.collect) {
      for (std::int64_t j = 0; j < count; ++j) {
        outputs[detail::time_index(first + j, steps, options.reverse)] =
            record_view("scan_output", node, offset, rule.y_shape, true);
        offset += rule.y_shape.numel();
      }
    }
    for (int i = 0; i < state.size(); ++i) {
      const Shape shape = state0[i].shape();
      state[i] = record_view("scan_state", node, offset, shape, true);
      offset += shape.numel();
    }
  }
  ScanResult<T> result;
  result.state = state;
  if (outputs && has_y && steps > 0) {
    result.outputs = stack(std::span<const Var<T>>(outputs, static_cast<std::size_t>(steps)), 0);
  }
  return result;
}

template <class T, class Cell>
ScanResult<T> checkpointed_scan(Tape<T>& tape, Cell cell, const Var<T>& xs, const State<T>& state0,
                                std::initializer_list<Var<T>> weights, int segment,
                                const ScanOptions& options = {}) {
  return checkpointed_scan(tape, cell, xs, state0,
                           std::span<const Var<T>>(weights.begin(), weights.size()), segment,
                           options);
}

}  // namespace tapeloop
