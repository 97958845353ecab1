// Writing an operator: one rule struct (check, forward, backward, tangent) recorded by record().
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <type_traits>

#include "tapeloop/errors.hpp"
#include "tapeloop/shape.hpp"
#include "tapeloop/tape.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

namespace detail {

// The tape's operator-author side, for this header only.
template <class T>
struct TapeInternals {
  static Node<T>& node(Tape<T>& tape, std::uint32_t index) { return tape.nodes_[index]; }
  static Arena& arena(Tape<T>& tape) { return tape.arena_; }
  static void check_live(const Tape<T>& tape, const Var<T>& v, const char* op) {
    tape.check_live(v, op);
  }
  static bool input_requires_grad(const Tape<T>& tape, const Var<T>& v, const char* op) {
    return tape.input_requires_grad(v, op);
  }
  static Var<T> append_value_node(Tape<T>& tape, const char* op, const Shape& shape,
                                  bool any_input_requires_grad) {
    return tape.append_value_node(op, shape, any_input_requires_grad);
  }
  static Var<T> make_view(Tape<T>& tape, const char* op, const Var<T>& parent, std::int64_t offset,
                          const Shape& shape, bool share_grad) {
    return tape.make_view(op, parent, offset, shape, share_grad);
  }
  static T* grad_of(Tape<T>& tape, std::uint32_t index) { return tape.grad_of(index); }
  static T* tangent_if_any(Tape<T>& tape, std::uint32_t index) {
    return tape.tangent_if_any(index);
  }
  static T* tangent_slot(Tape<T>& tape, std::uint32_t index) { return tape.tangents_[index]; }
  static void set_zero_tangent(Tape<T>& tape, std::uint32_t index) { tape.zero_tangent(index); }
  static const T* first_grad(Tape<T>& tape, std::uint32_t index) {
    return tape.first_grads_[index];
  }
  static Tape<T>& recompute_tape(Tape<T>& tape) { return tape.recompute_tape(); }
  static bool anomaly_detection(const Tape<T>& tape) { return tape.anomaly_ != nullptr; }
  static void check_value_anomaly(Tape<T>& tape, std::uint32_t out, const std::uint32_t* in,
                                  int count) {
    tape.check_value_anomaly(out, in, count);
  }
  static void enter_scan_step(Tape<T>& tape, const char* who, std::int64_t t, const char* cell) {
    tape.enter_scan_step(who, t, cell);
  }
  static void leave_scan_step(Tape<T>& tape) { tape.leave_scan_step(); }
};

}  // namespace detail

/// The shapes of an operator's inputs, in order, as its rule's check() sees them. check() may
/// return one of them by reference, or a shape it computed through keep(): either way the
/// output node is made from it without another copy.
class InputShapes {
 public:
  InputShapes(const Shape* const* shapes, int count, Shape* slot)
      : shapes_(shapes), count_(count), slot_(slot) {}
  int size() const { return count_; }
  const Shape& operator[](int i) const { return *shapes_[i]; }
  /// Keeps a computed output shape for check() to return by reference.
  const Shape& keep(const Shape& shape) const { return *slot_ = shape; }

 private:
  const Shape* const* shapes_;
  int count_;
  Shape* slot_;
};

/// What every phase of a rule can read: the output node and the input nodes of one recorded
/// operator, by position. Values are arena memory that stays put until the tape is cleared.
template <class T>
class OpContext {
 public:
  OpContext(Tape<T>& tape, std::uint32_t out, const std::uint32_t* in, int count)
      : tape_(&tape), out_(out), in_(in), count_(count) {}

  /// The number of inputs.
  int inputs() const { return count_; }
  /// The value of input i and its shape.
  const T* in(int i) const { return node(in_[i]).value; }
  const Shape& in_shape(int i) const { return node(in_[i]).shape; }
  /// The output's value (written by forward) and its shape.
  T* out() const { return node(out_).value; }
  const Shape& out_shape() const { return node(out_).shape; }
  /// `count` elements of uninitialized memory living until the tape is cleared.
  T* scratch(std::int64_t count) const {
    return detail::TapeInternals<T>::arena(*tape_).template allocate_array<T>(
        static_cast<std::size_t>(count));
  }
  /// Room for `count` objects of a trivial type U (index arrays and the like), same lifetime.
  template <class U>
  U* scratch_as(std::size_t count) const {
    static_assert(std::is_trivially_destructible_v<U>, "arena memory is never destroyed");
    if (count > Arena::max_bytes / sizeof(U)) [[unlikely]]
      Arena::throw_too_large(count, sizeof(U));
    return static_cast<U*>(detail::TapeInternals<T>::arena(*tape_).allocate(
        sizeof(U) * (count ? count : 1), alignof(U) <= 16 ? 16 : 64));
  }
  /// The tape the operator is recorded on.
  Tape<T>& tape() const { return *tape_; }

 protected:
  const Node<T>& node(std::uint32_t index) const {
    return detail::TapeInternals<T>::node(*tape_, index);
  }
  std::uint32_t input_index(int i) const { return in_[i]; }
  std::uint32_t output_index() const { return out_; }

 private:
  Tape<T>* tape_;
  std::uint32_t out_;
  const std::uint32_t* in_;
  int count_;
};

/// What forward() sees: the inputs' values, the output buffer to fill, and whether a backward
/// pass will follow (save what it needs only then).
template <class T>
class ForwardContext : public OpContext<T> {
 public:
  using OpContext<T>::OpContext;
  /// The output requires a gradient: this rule's backward will run, so save what it reads.
  bool needs_grad() const {
    return (this->node(this->output_index()).flags & Node<T>::requires_grad) != 0;
  }
  /// For an array the caller passed (indices, targets), valid only during the call: a copy in
  /// the arena when backward will read it, else the caller's own.
  template <class U>
  const U* keep(const U* data, std::size_t count) const {
    if (!needs_grad()) return data;
    U* copy = this->template scratch_as<U>(count);
    std::copy(data, data + count, copy);
    return copy;
  }
};

/// What backward() sees: the output's gradient and, for each input, its gradient buffer or null.
/// The one way to reach a gradient inside a rule.
template <class T>
class BackwardContext : public OpContext<T> {
 public:
  using OpContext<T>::OpContext;
  /// d(loss)/d(output), complete when the rule runs.
  const T* grad_out() const { return this->node(this->output_index()).grad; }
  /// Whether input i requires a gradient.
  bool needs_grad(int i) const {
    return (this->node(this->input_index(i)).flags & Node<T>::requires_grad) != 0;
  }
  /// Input i's gradient buffer (made zero-filled on first use) to add (+=) into, or null when
  /// input i needs no gradient: a rule never writes a gradient nobody asked for.
  T* grad(int i) const {
    return needs_grad(i) ? detail::TapeInternals<T>::grad_of(this->tape(), this->input_index(i))
                         : nullptr;
  }
  /// A second tape owned by this one, for a rule that records and replays a sub-computation
  /// (a checkpointed scan segment). Kept across clear(); the rule clears it when done.
  Tape<T>& recompute_tape() const { return detail::TapeInternals<T>::recompute_tape(this->tape()); }
};

/// What tangent() sees: each input's tangent (the direction of a forward-mode derivative) and
/// the output's tangent buffer, zero-filled (for a rule recorded into a window of another node,
/// that node's tangent window), to add (+=) J_i t_i into for every input i.
template <class T>
class TangentContext : public OpContext<T> {
 public:
  using OpContext<T>::OpContext;
  /// Whether input i has a tangent; an input without one is still, its tangent zero.
  bool has_tangent(int i) const { return tangent(i) != nullptr; }
  /// Input i's tangent, or null when it has none (treat it as zero).
  const T* tangent(int i) const {
    return detail::TapeInternals<T>::tangent_if_any(this->tape(), this->input_index(i));
  }
  /// The output's tangent, zero-filled before the rule runs.
  T* tangent_out() const {
    return detail::TapeInternals<T>::tangent_slot(this->tape(), this->output_index());
  }
  /// The second tape of BackwardContext::recompute_tape(), for a rule whose tangent records
  /// its sub-computation again (a checkpointed scan segment); the rule clears it when done.
  Tape<T>& recompute_tape() const { return detail::TapeInternals<T>::recompute_tape(this->tape()); }
};

/// What curvature() sees, in the second reverse sweep of a second-order product (Tape::hvp,
/// Tape::gnvp): the inputs' values and tangents, the output's tangent, and the output's gradient
/// from the first sweep (complete). The rule adds the second-order term of its backward rule —
/// for each input i, d/de [J_i(x + e t)^T] g at e = 0, with g = grad_out() and t the inputs'
/// tangents — into grad(i), the tangent of input i's gradient. The sweep itself runs the rule's
/// backward on the gradient's tangent; curvature() adds only what the inputs' values change.
template <class T>
class CurvatureContext : public OpContext<T> {
 public:
  using OpContext<T>::OpContext;
  /// Input i's tangent, or null when it has none (zero).
  const T* tangent(int i) const {
    return detail::TapeInternals<T>::tangent_if_any(this->tape(), this->input_index(i));
  }
  /// The output's tangent (not null: the rule runs only when an input has one).
  const T* tangent_out() const {
    return detail::TapeInternals<T>::tangent_if_any(this->tape(), this->output_index());
  }
  /// d(output of the product)/d(this output), from the first sweep.
  const T* grad_out() const {
    return detail::TapeInternals<T>::first_grad(this->tape(), this->output_index());
  }
  /// Input i's gradient tangent (made zero-filled on first use) to add into, or null when input
  /// i needs no gradient.
  T* grad(int i) const {
    const bool needs = (this->node(this->input_index(i)).flags & Node<T>::requires_grad) != 0;
    return needs ? detail::TapeInternals<T>::grad_of(this->tape(), this->input_index(i)) : nullptr;
  }
  /// The second tape of BackwardContext::recompute_tape(), for a rule that computes its
  /// second-order term by recording its forward again with generic operators
  /// (curvature_by_replay in tapeloop/detail/replay_curvature.hpp); the rule clears it when done.
  Tape<T>& recompute_tape() const { return detail::TapeInternals<T>::recompute_tape(this->tape()); }
};

/// What record() needs of a rule R on scalar type T, with a readable error when it is missing:
/// a name, check(InputShapes) -> output Shape (or const Shape&), forward(ForwardContext&), a const
/// backward(BackwardContext&), and a const tangent(TangentContext&) or, for a rule without a
/// forward-mode derivative, `static constexpr bool no_tangent = true;` (Tape::jvp through it then
/// throws NotImplementedError naming the operator). Optionally, for second-order products, a
/// const curvature(CurvatureContext&), or `static constexpr bool linear = true;` for an operator
/// whose backward does not read its inputs' values (sums, copies, views, masks); without either,
/// Tape::hvp through it throws NotImplementedError naming the operator.
template <class R, class T>
concept OperatorRule = std::is_trivially_copyable_v<R> && std::is_trivially_destructible_v<R> &&
    requires(R& r, const R& cr, InputShapes s, ForwardContext<T>& f, BackwardContext<T>& b,
             TangentContext<T>& t) {
  { R::name } -> std::convertible_to<const char*>;
  { r.check(s) } -> std::convertible_to<Shape>;
  r.forward(f);
  cr.backward(b);
} &&(
    requires(const R& cr, TangentContext<T>& t) { cr.tangent(t); } ||
    requires { requires R::no_tangent; });

namespace detail {

// A rule as it lives in the arena: the rule, its output node and its input nodes. N is the
// number of inputs, or 0 for a list of any length held in the arena.
template <class R, std::size_t N>
struct RecordedRule {
  R rule;
  std::uint32_t out;
  std::array<std::uint32_t, N> in;
  const std::uint32_t* inputs() const { return in.data(); }
  int count() const { return static_cast<int>(N); }
};
template <class R>
struct RecordedRule<R, 0> {
  R rule;
  std::uint32_t out;
  int n;
  const std::uint32_t* in;
  const std::uint32_t* inputs() const { return in; }
  int count() const { return n; }
};

template <class T, class Recorded>
void run_backward_rule(Tape<T>& tape, const void* closure) {
  const auto& r = *static_cast<const Recorded*>(closure);
  BackwardContext<T> ctx(tape, r.out, r.inputs(), r.count());
  r.rule.backward(ctx);
}

// Whether any input of a recorded rule has a tangent; if so, makes the output's (zero-filled).
template <class T>
bool prepare_tangent(Tape<T>& tape, std::uint32_t out, const std::uint32_t* in, int count);
// Throws NotImplementedError: operator `op` has no tangent rule.
[[noreturn]] void throw_no_tangent(const char* op);

template <class T, class Recorded>
void run_tangent_rule(Tape<T>& tape, const void* closure) {
  const auto& r = *static_cast<const Recorded*>(closure);
  if (!prepare_tangent(tape, r.out, r.inputs(), r.count())) return;
  TangentContext<T> ctx(tape, r.out, r.inputs(), r.count());
  r.rule.tangent(ctx);
}

template <class T, class Recorded>
void run_missing_tangent(Tape<T>& tape, const void* closure) {
  const auto& r = *static_cast<const Recorded*>(closure);
  if (prepare_tangent(tape, r.out, r.inputs(), r.count())) {
    throw_no_tangent(TapeInternals<T>::node(tape, r.out).op);
  }
}

// Throws NotImplementedError: operator `op` has no second-order rule.
[[noreturn]] void throw_no_curvature(const char* op);

template <class T, class Recorded>
void run_curvature_rule(Tape<T>& tape, const void* closure) {
  const auto& r = *static_cast<const Recorded*>(closure);
  CurvatureContext<T> ctx(tape, r.out, r.inputs(), r.count());
  for (int i = 0; i < r.count(); ++i) {
    if (ctx.tangent(i)) return r.rule.curvature(ctx);
  }
}

template <class T, class Recorded>
void run_missing_curvature(Tape<T>& tape, const void* closure) {
  const auto& r = *static_cast<const Recorded*>(closure);
  for (int i = 0; i < r.count(); ++i) {
    if (TapeInternals<T>::tangent_if_any(tape, r.inputs()[i])) {
      throw_no_curvature(TapeInternals<T>::node(tape, r.out).op);
    }
  }
}

template <class Recorded>
int recorded_inputs(const void* closure, const std::uint32_t** in) {
  const auto& r = *static_cast<const Recorded*>(closure);
  *in = r.inputs();
  return r.count();
}

// The rules of R, one static table per rule type; Node points to it.
template <class T, class Recorded, class R>
inline constexpr RuleTable<T> rule_table{
    &run_backward_rule<T, Recorded>,
    [] {
      if constexpr (requires { R::no_tangent; }) {
        return &run_missing_tangent<T, Recorded>;
      } else {
        return &run_tangent_rule<T, Recorded>;
      }
    }(),
    [] {
      using Run = void (*)(Tape<T>&, const void*);
      if constexpr (requires(const R& cr, CurvatureContext<T>& c) { cr.curvature(c); }) {
        return Run{&run_curvature_rule<T, Recorded>};
      } else if constexpr (requires { requires R::linear; }) {
        return Run{nullptr};
      } else {
        return Run{&run_missing_curvature<T, Recorded>};
      }
    }(),
    &recorded_inputs<Recorded>};

// Throws TapeError: operator `op` was given an empty Var.
[[noreturn]] void throw_empty(const char* op);

// Called while a ShapeError from a rule's check() is handled: one that Shape threw (a result
// whose dimensions overflow, built with push_back) is thrown again prefixed with `op` and the
// inputs' shapes; the operators' own errors, which name them already, go on unchanged.
[[noreturn]] void rethrow_naming(const char* op, const InputShapes& shapes);

// rule.check(shapes), returning what it returns (a reference to an input's shape, or a shape by
// value without a copy), with Shape's own errors named by rethrow_naming.
template <class R>
decltype(auto) check_naming(R& rule, const InputShapes& shapes) {
  try {
    return rule.check(shapes);
  } catch (const ShapeError&) {
    rethrow_naming(R::name, shapes);
  }
}

// The tape of the first input, checked live (an empty Var throws here).
template <class T>
Tape<T>& tape_of(const Var<T>& first, const char* op) {
  Tape<T>* tape = first.tape_ptr();
  if (!tape) throw_empty(op);
  TapeInternals<T>::check_live(*tape, first, op);
  return *tape;
}

// Shared tail of record(): runs forward and, when the output requires a gradient, places the
// rule in the arena (constructed there from `rule`, then forward runs on that copy so what it
// saves is written once, where backward reads it).
template <class R, std::size_t N, class T>
Var<T> finish_record(Tape<T>& tape, R& rule, Var<T> out, const std::uint32_t* in, int count) {
  using Internals = TapeInternals<T>;
  if (!(Internals::node(tape, out.index()).flags & Node<T>::requires_grad)) {
    ForwardContext<T> ctx(tape, out.index(), in, count);
    rule.forward(ctx);
    if (Internals::anomaly_detection(tape)) [[unlikely]] {
      Internals::check_value_anomaly(tape, out.index(), in, count);
    }
    return out;
  }
  using Recorded = RecordedRule<R, N>;
  void* memory =
      Internals::arena(tape).allocate(sizeof(Recorded), alignof(Recorded) <= 16 ? 16 : 64);
  auto* recorded = static_cast<Recorded*>(memory);
  new (&recorded->rule) R(rule);
  recorded->out = out.index();
  if constexpr (N == 0) {
    recorded->n = count;
    recorded->in = in;  // already in the arena (record_list)
  } else {
    std::copy(in, in + N, recorded->in.begin());
  }
  ForwardContext<T> ctx(tape, out.index(), recorded->inputs(), count);
  recorded->rule.forward(ctx);
  Node<T>& n = Internals::node(tape, out.index());
  n.rule = &rule_table<T, Recorded, R>;
  n.closure = recorded;
  if (Internals::anomaly_detection(tape)) [[unlikely]] {
    Internals::check_value_anomaly(tape, out.index(), recorded->inputs(), count);
  }
  return out;
}

}  // namespace detail

/// Records operator R on inputs x...: checks that every input is a live Var of one tape, asks
/// rule.check() for the output shape (it throws ShapeError/ValueError before anything is
/// recorded), makes the output node, runs rule.forward(), and — when the output requires a
/// gradient — keeps the rule in the arena for backward() and Tape::jvp. The rule holds the
/// operator's parameters and what forward saves for backward; it must be plain data.
template <class R, class T, std::same_as<Var<T>>... Rest>
Var<T> record(R rule, const Var<T>& first, const Rest&... rest) {
  static_assert(OperatorRule<R, T>,
                "an operator rule needs: static constexpr const char* name; Shape "
                "check(InputShapes); void forward(ForwardContext<T>&); void "
                "backward(BackwardContext<T>&) const; and void tangent(TangentContext<T>&) const "
                "or static constexpr bool no_tangent = true; and it must be trivially copyable");
  constexpr std::size_t count = 1 + sizeof...(Rest);
  using Internals = detail::TapeInternals<T>;
  Tape<T>* tape = first.tape_ptr();
  if (!tape) detail::throw_empty(R::name);
  // Every input checked live, in order (the first against its own tape: two compares).
  bool any_requires_grad = Internals::input_requires_grad(*tape, first, R::name);
  ((any_requires_grad |= Internals::input_requires_grad(*tape, rest, R::name)), ...);
  const std::array<std::uint32_t, count> in{first.index(), rest.index()...};
  const std::array<const Shape*, count> shapes{&Internals::node(*tape, first.index()).shape,
                                               &Internals::node(*tape, rest.index()).shape...};
  // Bound by reference: an input's shape, the slot, or check()'s own temporary. Passed on by
  // reference, so a shape read from the tape is not first copied to the stack and read back
  // (a store-to-load forwarding stall per operator; see docs/architecture.md).
  Shape slot;
  const Shape& out_shape =
      detail::check_naming(rule, InputShapes(shapes.data(), static_cast<int>(count), &slot));
  Var<T> out = Internals::append_value_node(*tape, R::name, out_shape, any_requires_grad);
  return detail::finish_record<R, count>(*tape, rule, out, in.data(), static_cast<int>(count));
}

/// record() for an operator on a list of inputs (concat, stack); the list must not be empty.
template <class R, class T>
Var<T> record_list(R rule, std::span<const Var<T>> inputs) {
  static_assert(OperatorRule<R, T>, "see record()");
  if (inputs.empty()) throw ValueError(std::string(R::name) + ": no inputs");
  using Internals = detail::TapeInternals<T>;
  Tape<T>& tape = detail::tape_of(inputs[0], R::name);
  bool any_requires_grad = false;
  for (const Var<T>& v : inputs) {
    any_requires_grad |= Internals::input_requires_grad(tape, v, R::name);
  }
  const int count = static_cast<int>(inputs.size());
  // The input indices stay in the arena for the rule to read in backward.
  Arena& arena = Internals::arena(tape);
  auto* in = static_cast<std::uint32_t*>(arena.allocate(sizeof(std::uint32_t) * inputs.size(), 16));
  auto* shapes =
      static_cast<const Shape**>(arena.allocate(sizeof(const Shape*) * inputs.size(), 16));
  for (int i = 0; i < count; ++i) {
    in[i] = inputs[static_cast<std::size_t>(i)].index();
    shapes[i] = &Internals::node(tape, in[i]).shape;
  }
  Shape slot;
  const Shape& out_shape = detail::check_naming(rule, InputShapes(shapes, count, &slot));
  Var<T> out = Internals::append_value_node(tape, R::name, out_shape, any_requires_grad);
  return detail::finish_record<R, 0>(tape, rule, out, in, count);
}

/// record() whose output is not a node of its own but `R::check()`'s shape of `parent`'s value
/// from `offset` on: forward writes into that window, and the output's gradient (and tangent)
/// is the same window of the parent's, so the parent's rule sees what reaches every such
/// window. For operators that fill one large node piece by piece (RecurrentLinear, whose
/// parent's rule then adds the weight's gradient over every piece in one GEMM). The rule is
/// kept when the parent requires a gradient.
template <class R, class T, std::same_as<Var<T>>... Rest>
Var<T> record_into(const Var<T>& parent, std::int64_t offset, R rule, const Var<T>& first,
                   const Rest&... rest) {
  static_assert(OperatorRule<R, T>, "see record()");
  constexpr std::size_t count = 1 + sizeof...(Rest);
  using Internals = detail::TapeInternals<T>;
  Tape<T>& tape = detail::tape_of(parent, R::name);
  Internals::input_requires_grad(tape, first, R::name);
  (Internals::input_requires_grad(tape, rest, R::name), ...);
  const std::array<std::uint32_t, count> in{first.index(), rest.index()...};
  const std::array<const Shape*, count> shapes{&Internals::node(tape, first.index()).shape,
                                               &Internals::node(tape, rest.index()).shape...};
  Shape slot;
  const Shape out_shape =
      detail::check_naming(rule, InputShapes(shapes.data(), static_cast<int>(count), &slot));
  Var<T> out = Internals::make_view(tape, R::name, parent, offset, out_shape, true);
  return detail::finish_record<R, count>(tape, rule, out, in.data(), static_cast<int>(count));
}

/// Room for `count` objects of a trivial type U on `tape`'s arena, living until it is cleared:
/// state an operator shares between the rules it records (RecurrentLinear's copy of its inputs).
/// Aligned to 16 bytes, or 64 for over-aligned types or when `alignment` asks for it (data a
/// kernel reads with aligned SIMD loads: RecurrentLinear's packed weight).
template <class U, class T>
U* record_scratch(Tape<T>& tape, std::int64_t count, std::size_t alignment = 16) {
  static_assert(std::is_trivially_destructible_v<U>, "arena memory is never destroyed");
  const std::size_t n = static_cast<std::size_t>(count > 0 ? count : 1);
  if (n > Arena::max_bytes / sizeof(U)) [[unlikely]]
    Arena::throw_too_large(n, sizeof(U));
  return static_cast<U*>(detail::TapeInternals<T>::arena(tape).allocate(
      sizeof(U) * n, alignof(U) <= 16 && alignment <= 16 ? 16 : 64));
}

/// `count` empty Vars in `tape`'s arena (no heap), living until it is cleared: lists of Vars an
/// operator keeps (scan's outputs, a layer's weights).
template <class T>
Var<T>* arena_vars(Tape<T>& tape, std::size_t count) {
  Var<T>* vars = record_scratch<Var<T>>(tape, static_cast<std::int64_t>(count));
  for (std::size_t i = 0; i < count; ++i) new (vars + i) Var<T>();
  return vars;
}

/// Throws TapeError naming `op` unless `v` is a live Var of `tape`: for a Var an operator reads
/// without making it an input (the condition of `where`).
template <class T>
void check_live(const char* op, const Var<T>& v, const Tape<T>& tape) {
  detail::TapeInternals<T>::check_live(tape, v, op);
}

/// A node whose value is `shape` elements of `parent`'s value starting at `offset` (no copy).
/// With share_grad its gradient (and its tangent) is the same window of the parent's, so
/// consumers of the view add straight into the parent and the view needs no rule; without, the
/// node is detached. Throws ShapeError naming `op` when the window does not fit.
template <class T>
Var<T> record_view(const char* op, const Var<T>& parent, std::int64_t offset, const Shape& shape,
                   bool share_grad) {
  return detail::TapeInternals<T>::make_view(detail::tape_of(parent, op), op, parent, offset, shape,
                                             share_grad);
}

}  // namespace tapeloop
