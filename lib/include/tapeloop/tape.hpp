// Tape: records operations in order into an arena; backward() is one reverse sweep over them.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapeloop/anomaly.hpp"
#include "tapeloop/arena.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/parameter_anchor.hpp"
#include "tapeloop/scalar.hpp"
#include "tapeloop/shape.hpp"
#include "tapeloop/tensor.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

namespace detail {
template <class T>
struct TapeInternals;
struct AnomalyState;
}  // namespace detail

/// The rules of one operator type, shared by every node it records (tapeloop/rule.hpp makes
/// them). Each gets the tape and the operator's recorded rule (its closure).
template <class T>
struct RuleTable {
  void (*backward)(Tape<T>& tape, const void* closure);
  /// Computes the node's tangent from its inputs' (Tape::jvp); for a rule without one, throws
  /// NotImplementedError when an input has a tangent.
  void (*tangent)(Tape<T>& tape, const void* closure);
  /// Adds the second-order term of the backward rule along the inputs' tangents into the
  /// inputs' gradient tangents (Tape::hvp, Tape::gnvp); null for a rule whose backward does not
  /// read its inputs' values (a linear operator), a thrower for a rule without one.
  void (*curvature)(Tape<T>& tape, const void* closure);
  /// The recorded rule's input nodes (for anomaly detection): sets `in`, returns the count.
  int (*inputs)(const void* closure, const std::uint32_t** in);
};

/// One recorded value. Plain data: a tape of any length is destroyed by freeing its arena.
template <class T>
struct Node {
  enum Flags : std::uint32_t {
    requires_grad = 1u << 0,  // backward computes a gradient for this node
    external = 1u << 1,       // value and grad belong to someone else (a Parameter's leaf)
    grad_alias = 1u << 2,     // a view whose gradient is a window of its parent's gradient
  };

  Node() = default;
  Node(T* values, const Shape& value_shape, const char* op_name, std::uint32_t node_flags = 0)
      : value(values), shape(value_shape), op(op_name), flags(node_flags) {}

  T* value = nullptr;
  T* grad = nullptr;  // made lazily: only nodes that receive a gradient get one
  Shape shape;
  const char* op = "";                 // the operator that made the node, for error messages
  const RuleTable<T>* rule = nullptr;  // null for leaves and views
  const void* closure = nullptr;       // the operator's recorded rule, in the arena
  std::int64_t alias_offset = 0;       // with grad_alias: where this view starts in its parent
  std::uint32_t alias_parent = 0;
  std::uint32_t flags = 0;
};

template <class T>
class NoGradGuard;

/// Follows backward()'s sweep down the recording (Tape::set_backward_observer). Recording order
/// is topological, so once the sweep is about to run node `next`, every node above it has run
/// and the gradient of every leaf above `next` is complete: data-parallel training starts
/// sending a parameter's gradient then, while the sweep goes on below it.
class BackwardObserver {
 public:
  virtual ~BackwardObserver() = default;
  /// Where to be called first: reached() is called when the sweep is about to run the first
  /// node below this index (-1: never).
  virtual std::int64_t first() = 0;
  /// The sweep is about to run node `next`. Returns the index below which to be called again
  /// (-1: not again).
  virtual std::int64_t reached(std::int64_t next) = 0;
};

/// A reverse-mode autodiff tape for scalar type T (float or double).
///
/// Operators executed on Vars of this tape append nodes to it. Recording order is a topological
/// order, so backward() is a single loop from the output down to the first node. clear()
/// forgets the nodes and bumps a generation counter (so old Vars are detected as stale) but
/// keeps the memory: a training loop that records the same graph every step reaches a steady
/// state with no heap allocation at all.
///
/// A tape is not shared between threads; two threads use two tapes.
template <class T = float>
class Tape {
 public:
  using value_type = T;
  static_assert(Scalar<T>, "tapeloop::Tape<T>: T must be float or double");

  /// `arena_bytes` is the first arena block; it grows on demand.
  explicit Tape(std::size_t arena_bytes = std::size_t{1} << 20, std::size_t node_capacity = 1024);
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // ---- leaves -------------------------------------------------------------------------------

  /// A copy of `value` as a leaf. With requires_grad, backward fills its grad().
  Var<T> input(TensorRef<const T> value, bool requires_grad = false);
  /// A leaf that needs no gradient.
  Var<T> constant(TensorRef<const T> value) { return input(value, false); }
  /// A one-element constant.
  Var<T> scalar(T value);
  /// A constant of `shape` filled with `value`, in arena memory (no heap): zero initial states.
  /// More than max_buffer_elements<T> elements throws ShapeError.
  Var<T> full(const Shape& shape, T value);
  Var<T> zeros(const Shape& shape) { return full(shape, T(0)); }
  /// A leaf over memory owned by the caller (no copy). When `grad` is not null backward adds
  /// into it; this is how a Parameter appears on the tape. The memory must outlive the recording.
  Var<T> external_leaf(T* value, T* grad, const Shape& shape);
  /// The same over read-only memory: no operator writes a leaf's value, so the tape keeps the
  /// pointer as it keeps any other (for rules that replay part of a recording on another tape
  /// over this one's values).
  Var<T> external_leaf(const T* value, T* grad, const Shape& shape) {
    return external_leaf(const_cast<T*>(value), grad, shape);  // never written: see above
  }
  /// A Parameter's leaf: external_leaf() whose owner's anchor the tape keeps until clear(), so
  /// backward() and jvp() throw TapeError instead of reading freed memory if the parameter was
  /// destroyed in between.
  Var<T> external_leaf(T* value, T* grad, const Shape& shape,
                       std::shared_ptr<const ParameterAnchor> anchor);

  /// The leaves this recording made of the parameter whose anchor is `anchor` (one per
  /// Parameter::var call, in recording order); empty when the parameter was not used.
  std::vector<Var<T>> parameter_leaves(const ParameterAnchor* anchor) const;
  /// The node of the first of those leaves, -1 when there is none; allocates nothing (what
  /// data-parallel training asks every step).
  std::int64_t first_parameter_leaf(const ParameterAnchor* anchor) const;

  // ---- differentiation ----------------------------------------------------------------------

  /// Backpropagates from a one-element output (seed 1).
  void backward(const Var<T>& output);
  /// Backpropagates from any output with the given seed (the vector of a vector-Jacobian
  /// product); the seed's shape must equal the output's.
  void backward(const Var<T>& output, TensorRef<const T> seed);
  /// Backpropagates from several outputs at once, each with its own seed, in one sweep.
  /// Outputs that do not require a gradient are skipped; at least one must.
  void backward(std::span<const Var<T>> outputs, std::span<const TensorRef<const T>> seeds);
  /// Zeroes the gradient buffers this tape owns so backward() may run again on the same
  /// recording. Parameters' gradients are theirs to zero.
  void zero_grads();

  /// Forgets every node and makes every existing Var stale; keeps the memory.
  void clear();

  /// backward() tells `observer` how far its sweep has come (BackwardObserver), until this is
  /// called again with null. The observer must outlive its use; the second-order sweeps do not
  /// call it.
  void set_backward_observer(BackwardObserver* observer) { observer_ = observer; }

  /// While the returned guard lives, operators record no backward rules.
  [[nodiscard]] NoGradGuard<T> no_grad();
  bool grad_enabled() const { return grad_enabled_; }

  /// Fill every new value buffer with NaN before the operator writes it, so an operator that
  /// leaves an element unwritten shows up as NaN (used by gradcheck and tests).
  void set_poison_values(bool on) { poison_values_ = on; }

  // ---- anomaly detection -------------------------------------------------------------------

  /// Checks every value an operator or leaf makes, and every gradient a backward rule adds, for
  /// NaN and infinity, and reports the first (tapeloop/anomaly.hpp). Off by default (see
  /// set_detect_anomaly); when off it costs one branch per operator. A checkpointed scan's
  /// recompute tape follows this tape's setting.
  void set_anomaly_detection(AnomalyOptions options);
  void set_anomaly_detection(bool on) {
    if (on) {
      set_anomaly_detection(AnomalyOptions{});
    } else {
      AnomalyOptions off;
      off.enabled = false;
      set_anomaly_detection(std::move(off));
    }
  }
  bool anomaly_detection() const { return anomaly_ != nullptr; }

  /// Checked mode (Arena::set_checked): after clear(), a TensorRef or pointer kept from the old
  /// recording reads NaN, or under AddressSanitizer is reported where it reads. On by default
  /// in Debug and sanitizer builds of the library; TAPELOOP_CHECKED=1 or 0 decides at run time.
  void set_checked(bool on) { arena_.set_checked(on); }
  bool checked() const { return arena_.checked(); }

  std::size_t size() const { return nodes_.size(); }
  std::uint32_t generation() const { return generation_; }
  const Arena& arena() const { return arena_; }
  /// The second tape operators record on during backward (a checkpointed scan's segments), or
  /// null before its first use: for memory accounting.
  const Tape* recompute_tape_if_made() const { return recompute_tape_.get(); }

  // ---- forward mode ------------------------------------------------------------------------

  /// Forward-mode derivative over this recording (Jacobian-vector products): gives each of
  /// `inputs` the tangent in `directions` (same shape; every other leaf is held still) and
  /// carries tangents forward through the rules recorded after them. Read the results with
  /// tangent(). The inputs must require a gradient (operators record rules only then). Throws
  /// NotImplementedError naming the operator when a node on the way has no tangent rule.
  void jvp(std::span<const Var<T>> inputs, std::span<const TensorRef<const T>> directions);
  /// After jvp(): d(v)/d(inputs) · directions, zero when v does not depend on the inputs.
  /// Arena memory, valid until clear().
  TensorRef<const T> tangent(const Var<T>& v);

  // ---- second order ------------------------------------------------------------------------

  /// Hessian-vector product of a one-element `output` (forward over reverse): writes
  /// d²output/d(inputs)² · directions into `products` (one per input, its shape; overwritten).
  /// One forward sweep carries the tangents (jvp), one reverse sweep the gradient, and a second
  /// reverse sweep the gradient's tangent: every rule's backward run on it plus its own
  /// second-order term (curvature()). Throws NotImplementedError naming the operator when a
  /// rule on the way has no second-order rule. Gradients backward() left are untouched,
  /// parameters' included; the tangents are those of the directions afterwards. Repeated calls
  /// on one recording reuse their buffers.
  void hvp(const Var<T>& output, std::span<const Var<T>> inputs,
           std::span<const TensorRef<const T>> directions, std::span<const TensorRef<T>> products);
  /// The same for the one-element function <seed, output> of an output of any shape.
  void hvp(const Var<T>& output, TensorRef<const T> seed, std::span<const Var<T>> inputs,
           std::span<const TensorRef<const T>> directions, std::span<const TensorRef<T>> products);
  /// Gauss-Newton-vector product J^T H_L J v (Schraudolph 2002): J the Jacobian of
  /// `network_output` in the inputs, H_L the Hessian of the one-element `loss` in
  /// `network_output` (second-order terms are taken only in what was recorded after
  /// network_output: the loss). Positive semidefinite when the loss is convex in the network's
  /// output (mse_loss, cross_entropy from logits, binary_cross_entropy_with_logits), whatever the
  /// network. With `damped` and `weight`, adds weight · J_s^T J_s v for each Var s in `damped`
  /// (the structural damping of Martens & Sutskever 2011, on an RNN's hidden states). The same
  /// cost as a gradient plus a jvp; the loss's part of the recording needs second-order rules,
  /// the network's part only backward and tangent rules.
  void gnvp(const Var<T>& loss, const Var<T>& network_output, std::span<const Var<T>> inputs,
            std::span<const TensorRef<const T>> directions, std::span<const TensorRef<T>> products,
            std::span<const Var<T>> damped = {}, T weight = T(0));

 private:
  friend class NoGradGuard<T>;
  friend class Var<T>;
  friend struct detail::TapeInternals<T>;

  // The operator-author side lives in tapeloop/rule.hpp (record(), the rule contexts), which
  // reaches what follows through detail::TapeInternals.

  /// Appends a node for operator `op` with an uninitialized value of `shape`. The node requires
  /// a gradient when gradients are enabled and any input requires one.
  Var<T> append_value_node(const char* op, const Shape& shape, bool any_input_requires_grad);
  /// Whether the input `v` of operator `op` requires a gradient, after checking it is live.
  bool input_requires_grad(const Var<T>& v, const char* op) const {
    check_live(v, op);
    return (nodes_[v.index()].flags & Node<T>::requires_grad) != 0;
  }
  /// Throws TapeError naming `op` unless `v` is a live Var of this tape.
  void check_live(const Var<T>& v, const char* op) const {
    // Inline, two compares (an empty Var's null tape fails the first); the message is built
    // out of line only when it is thrown.
    if (v.tape_ptr() != this || v.generation() != generation_) [[unlikely]] {
      throw_not_live(v, op);
    }
  }
  /// See record_view() in tapeloop/rule.hpp.
  Var<T> make_view(const char* op, const Var<T>& parent, std::int64_t offset, const Shape& shape,
                   bool share_grad);
  const Node<T>& node(const Var<T>& v) const {
    check_live(v, "Var");
    return nodes_[v.index()];
  }
  /// The gradient buffer of node `index`, made (zero-filled, or as a window of the parent's
  /// for a grad_alias view) when first asked for.
  T* grad_of(std::uint32_t index) {
    T* g = nodes_[index].grad;
    return g ? g : make_grad(index);
  }
  /// The tangent of node `index` during or after jvp(), or null when it has none (zero). A
  /// grad_alias view's tangent is the same window of its parent's.
  T* tangent_if_any(std::uint32_t index);
  /// `count` elements of uninitialized arena memory living until clear().
  T* scratch(std::int64_t count) {
    return arena_.allocate_array<T>(static_cast<std::size_t>(count));
  }
  /// A second tape owned by this one, for operators that record and replay a sub-computation
  /// during backward (checkpointed scan segments). Made on first use, kept across clear().
  Tape& recompute_tape();

  /// Appends a node constructed in place, where it lives: a node built on the stack and copied
  /// in costs store-to-load forwarding stalls (the copy reads in wide loads what was just
  /// written in narrow stores). `shape` may be a node's own shape: emplace_back constructs the
  /// new node before moving the old ones when it grows.
  Node<T>& append_node(T* value, const Shape& shape, const char* op, std::uint32_t flags = 0) {
    if (nodes_.size() >= max_nodes) [[unlikely]]
      throw_too_many_nodes();
    return nodes_.emplace_back(value, shape, op, flags);
  }
  /// A Var for the node appended last.
  Var<T> last_var() {
    return Var<T>(this, static_cast<std::uint32_t>(nodes_.size() - 1), generation_);
  }
  // Anomaly detection (tape.cpp's companion anomaly.cpp); called only while it is on.
  /// Reports node `index` if its value is not finite; `in` lists its `count` inputs.
  void check_value_anomaly(std::uint32_t index, const std::uint32_t* in, int count);
  /// Brackets the nodes recorded for step t of a scan (`who`), whose cell has type `cell`.
  void enter_scan_step(const char* who, std::int64_t t, const char* cell);
  void leave_scan_step();
  /// run_backward(), checking each gradient a rule adds into.
  void run_backward_checked(std::uint32_t from);
  void report_anomaly(AnomalyReport&& report, bool backward);
  void describe_node(AnomalyReport& report, std::uint32_t index) const;

  [[noreturn]] void throw_not_live(const Var<T>& v, const char* op) const;
  [[noreturn]] static void throw_too_many_nodes();
  T* make_grad(std::uint32_t index);
  /// Throws TapeError naming `op` if a parameter recorded on this tape has been destroyed.
  void check_parameters_alive(const char* op) const;
  void check_output(const Var<T>& output, TensorRef<const T> seed) const;
  void run_backward(std::uint32_t from);
  /// Starts a jvp: no node has a tangent.
  void reset_tangents();
  /// A zero-filled tangent for node `index`, reusing the buffer an earlier jvp gave it.
  T* zero_tangent(std::uint32_t index);
  /// hvp and gnvp: curvature terms at nodes above `curvature_after` only (-1: every node).
  void second_order(const char* who, const Var<T>& output, TensorRef<const T> seed,
                    std::int64_t curvature_after, std::span<const Var<T>> inputs,
                    std::span<const TensorRef<const T>> directions,
                    std::span<const TensorRef<T>> products, std::span<const Var<T>> damped,
                    T weight);
  /// Takes every node's gradient away (parameters' included: their buffers are not written);
  /// until end_gradient_sweep(), a gradient made is the buffer `pool` kept for the node from an
  /// earlier sweep, zero-filled, or a new one it keeps.
  void begin_gradient_sweep(std::vector<T*>& pool);
  void end_gradient_sweep();

  // Node indices are 32 bits (a Var holds one).
  static constexpr std::size_t max_nodes = std::numeric_limits<std::uint32_t>::max();

  Arena arena_;
  std::vector<Node<T>> nodes_;
  std::vector<T*> tangents_;  // per node during and after jvp(); empty otherwise
  // Buffers kept across jvp() and second-order sweeps on one recording (repeated products, as
  // conjugate gradient makes, then reuse them), cleared with it.
  std::vector<T*> tangent_pool_;
  std::vector<T*> gradient_pool_;          // the first-order sweep of a second-order product
  std::vector<T*> gradient_tangent_pool_;  // its second sweep
  std::vector<T*> saved_grads_;            // backward()'s gradients, set aside meanwhile
  std::vector<T*> first_grads_;            // the first sweep's gradients, for curvature rules
  std::vector<T*>* grad_pool_ = nullptr;   // during a second-order sweep: make_grad's buffers
  // Each parameter leaf's node and its parameter's anchor; capacity kept across clear().
  std::vector<std::pair<std::uint32_t, std::shared_ptr<const ParameterAnchor>>> parameter_leaves_;
  std::unique_ptr<Tape> recompute_tape_;
  std::unique_ptr<detail::AnomalyState> anomaly_;  // null while anomaly detection is off
  BackwardObserver* observer_ = nullptr;
  std::int64_t observe_below_ = -1;  // during backward(): call observer_ below this node
  std::uint32_t generation_ = 1;
  bool grad_enabled_ = true;
  bool poison_values_ = false;
  bool backward_ran_ = false;
};

/// Disables recording of backward rules on one tape for its lifetime, then restores the
/// previous mode.
template <class T>
class NoGradGuard {
 public:
  explicit NoGradGuard(Tape<T>& tape) : tape_(&tape), previous_(tape.grad_enabled_) {
    tape.grad_enabled_ = false;
  }
  ~NoGradGuard() {
    if (tape_) tape_->grad_enabled_ = previous_;
  }
  NoGradGuard(NoGradGuard&& other) noexcept : tape_(other.tape_), previous_(other.previous_) {
    other.tape_ = nullptr;
  }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
  NoGradGuard& operator=(NoGradGuard&&) = delete;

 private:
  Tape<T>* tape_;
  bool previous_;
};

/// The same value as `x`, with no gradient flowing back through it (no copy).
template <class T>
Var<T> detach(const Var<T>& x);

// ---- inline definitions -----------------------------------------------------------------------

template <class T>
NoGradGuard<T> Tape<T>::no_grad() {
  return NoGradGuard<T>(*this);
}

template <class T>
inline Var<T> Tape<T>::append_value_node(const char* op, const Shape& shape,
                                         bool any_input_requires_grad) {
  check_buffer_size<T>(op, shape);
  T* value = scratch(shape.numel());
  if (poison_values_) [[unlikely]] {
    std::fill(value, value + shape.numel(), std::numeric_limits<T>::quiet_NaN());
  }
  append_node(value, shape, op,
              grad_enabled_ && any_input_requires_grad ? Node<T>::requires_grad : std::uint32_t{0});
  return last_var();
}

template <class T>
Tape<T>& Var<T>::tape() const {
  if (!tape_) throw TapeError("Var: empty Var (default-constructed)");
  tape_->node(*this);  // checks that the Var is live
  return *tape_;
}

template <class T>
Shape Var<T>::shape() const {
  if (!tape_) throw TapeError("Var: empty Var (default-constructed)");
  return tape_->node(*this).shape;
}

template <class T>
TensorRef<const T> Var<T>::value() const {
  if (!tape_) throw TapeError("Var: empty Var (default-constructed)");
  const Node<T>& n = tape_->node(*this);
  return {n.value, n.shape};
}

template <class T>
const char* Var<T>::op() const {
  if (!tape_) throw TapeError("Var: empty Var (default-constructed)");
  return tape_->node(*this).op;
}

template <class T>
bool Var<T>::requires_grad() const {
  if (!tape_) throw TapeError("Var: empty Var (default-constructed)");
  return tape_->node(*this).flags & Node<T>::requires_grad;
}

template <class T>
TensorRef<T> Var<T>::grad() const {
  if (!tape_) throw TapeError("Var: empty Var (default-constructed)");
  const Node<T>& n = tape_->node(*this);
  return {tape_->grad_of(index_), n.shape};
}

extern template class Tape<float>;
extern template class Tape<double>;

}  // namespace tapeloop
