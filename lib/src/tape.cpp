// Tape: recording nodes, lazy gradient buffers, and the reverse sweep.
#include "tapeloop/tape.hpp"

#include "anomaly_state.hpp"
#include "tapeloop/rule.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace tapeloop {

template <class T>
Tape<T>::Tape(std::size_t arena_bytes, std::size_t node_capacity) : arena_(arena_bytes) {
  nodes_.reserve(node_capacity);
  if (detect_anomaly_by_default()) set_anomaly_detection(true);
}

template <class T>
Tape<T>::~Tape() = default;

template <class T>
void Tape<T>::throw_not_live(const Var<T>& v, const char* op) const {
  if (v.empty()) detail::throw_empty(op);
  if (v.tape_ptr() != this) {
    throw TapeError(std::string(op) + ": the Var belongs to another tape");
  }
  if (v.generation() != generation_) {
    throw TapeError(std::string(op) +
                    ": the Var belongs to a recording that was cleared (Var from generation " +
                    std::to_string(v.generation()) + ", tape is at generation " +
                    std::to_string(generation_) + ")");
  }
  throw TapeError(std::string(op) + ": the Var is not live");  // not reached: a check failed
}

template <class T>
void Tape<T>::throw_too_many_nodes() {
  throw TapeError("tape: more than 2^32 - 1 nodes in one recording");
}

template <class T>
Var<T> Tape<T>::input(TensorRef<const T> value, bool requires_grad) {
  check_buffer_size<T>("input", value.shape);
  T* data = scratch(value.numel());
  std::copy(value.data, value.data + value.numel(), data);
  append_node(data, value.shape, "input", requires_grad ? Node<T>::requires_grad : 0u);
  if (anomaly_) [[unlikely]]
    check_value_anomaly(static_cast<std::uint32_t>(nodes_.size() - 1), nullptr, 0);
  return last_var();
}

template <class T>
Var<T> Tape<T>::scalar(T value) {
  T* data = scratch(1);
  data[0] = value;
  append_node(data, Shape{}, "scalar");
  if (anomaly_) [[unlikely]]
    check_value_anomaly(static_cast<std::uint32_t>(nodes_.size() - 1), nullptr, 0);
  return last_var();
}

template <class T>
Var<T> Tape<T>::full(const Shape& shape, T value) {
  check_buffer_size<T>("full", shape);
  T* data = scratch(shape.numel());
  std::fill(data, data + shape.numel(), value);
  append_node(data, shape, "full");
  if (anomaly_) [[unlikely]]
    check_value_anomaly(static_cast<std::uint32_t>(nodes_.size() - 1), nullptr, 0);
  return last_var();
}

template <class T>
Var<T> Tape<T>::external_leaf(T* value, T* grad, const Shape& shape) {
  Node<T>& n = append_node(value, shape, "parameter", Node<T>::external);
  if (grad) {
    n.grad = grad;
    n.flags |= Node<T>::requires_grad;
  }
  if (anomaly_) [[unlikely]]
    check_value_anomaly(static_cast<std::uint32_t>(nodes_.size() - 1), nullptr, 0);
  return last_var();
}

template <class T>
Var<T> Tape<T>::external_leaf(T* value, T* grad, const Shape& shape,
                              std::shared_ptr<const ParameterAnchor> anchor) {
  Var<T> v = external_leaf(value, grad, shape);
  parameter_leaves_.emplace_back(v.index(), std::move(anchor));
  return v;
}

template <class T>
void Tape<T>::check_parameters_alive(const char* op) const {
  // One load and compare per parameter leaf; the message is built only when it throws.
  for (const auto& [index, anchor] : parameter_leaves_) {
    if (anchor->owner == nullptr) [[unlikely]] {
      const std::string parameter =
          anchor->name.empty() ? "the unnamed Parameter" : "the Parameter '" + anchor->name + "'";
      throw TapeError(std::string(op) + ": " + parameter + " of node #" + std::to_string(index) +
                      " (shape " + nodes_[index].shape.str() +
                      ") was destroyed after it was recorded; a Parameter must outlive every "
                      "recording that uses it");
    }
  }
}

template <class T>
Var<T> Tape<T>::make_view(const char* op, const Var<T>& parent, std::int64_t offset,
                          const Shape& shape, bool share_grad) {
  check_live(parent, op);
  const Node<T>& p = nodes_[parent.index()];
  // Without offset + numel, which overflows for an offset near the int64 limit.
  if (offset < 0 || offset > p.shape.numel() || shape.numel() > p.shape.numel() - offset) {
    throw ShapeError(std::string(op) + ": view of " + std::to_string(shape.numel()) +
                     " elements at offset " + std::to_string(offset) + " does not fit in " +
                     p.shape.str());
  }
  // Read before append_node(), which may move the nodes.
  T* const value = p.value + offset;
  const bool alias = share_grad && grad_enabled_ && (p.flags & Node<T>::requires_grad);
  Node<T>& n = append_node(value, shape, op);
  if (alias) {
    n.flags = Node<T>::requires_grad | Node<T>::grad_alias;
    n.alias_parent = parent.index();
    n.alias_offset = offset;
  }
  return last_var();
}

template <class T>
T* Tape<T>::make_grad(std::uint32_t index) {
  Node<T>& n = nodes_[index];
  if (n.flags & Node<T>::grad_alias) {
    n.grad = grad_of(n.alias_parent) + n.alias_offset;
  } else {
    const std::int64_t count = n.shape.numel();
    if (grad_pool_) {  // a second-order sweep: the buffer an earlier one made, if any
      T*& kept = (*grad_pool_)[index];
      if (!kept) kept = scratch(count);
      n.grad = kept;
    } else {
      n.grad = scratch(count);
    }
    std::fill(n.grad, n.grad + count, T(0));
  }
  return n.grad;
}

template <class T>
std::vector<Var<T>> Tape<T>::parameter_leaves(const ParameterAnchor* anchor) const {
  std::vector<Var<T>> leaves;
  for (const auto& [index, owner] : parameter_leaves_) {
    if (owner.get() == anchor) {
      leaves.emplace_back(const_cast<Tape*>(this), index, generation_);  // Vars name their tape
    }
  }
  return leaves;
}

template <class T>
std::int64_t Tape<T>::first_parameter_leaf(const ParameterAnchor* anchor) const {
  // Recorded in order: the first match is the lowest node.
  for (const auto& [index, owner] : parameter_leaves_) {
    if (owner.get() == anchor) return index;
  }
  return -1;
}

template <class T>
void Tape<T>::backward(const Var<T>& output) {
  check_live(output, "backward");
  const Shape& shape = nodes_[output.index()].shape;
  if (shape.numel() != 1) {
    throw ShapeError("backward: output of shape " + shape.str() +
                     " is not a single value; pass a seed of the same shape");
  }
  const T one = T(1);
  backward(output, TensorRef<const T>{&one, shape});
}

template <class T>
void Tape<T>::check_output(const Var<T>& output, TensorRef<const T> seed) const {
  check_live(output, "backward");
  const Node<T>& out = nodes_[output.index()];
  if (seed.shape != out.shape) {
    throw ShapeError("backward: seed of shape " + seed.shape.str() + " for an output of shape " +
                     out.shape.str());
  }
}

template <class T>
void Tape<T>::backward(const Var<T>& output, TensorRef<const T> seed) {
  backward(std::span<const Var<T>>(&output, 1), std::span<const TensorRef<const T>>(&seed, 1));
}

template <class T>
void Tape<T>::backward(std::span<const Var<T>> outputs, std::span<const TensorRef<const T>> seeds) {
  if (outputs.size() != seeds.size()) {
    throw ValueError("backward: " + std::to_string(outputs.size()) + " outputs but " +
                     std::to_string(seeds.size()) + " seeds");
  }
  bool any = false;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    check_output(outputs[k], seeds[k]);
    any |= (nodes_[outputs[k].index()].flags & Node<T>::requires_grad) != 0;
  }
  if (!any) {
    const Node<T>& out = nodes_[outputs.empty() ? 0 : outputs[0].index()];
    throw TapeError("backward: the output (" + std::string(outputs.empty() ? "none" : out.op) +
                    ", shape " + (outputs.empty() ? std::string("-") : out.shape.str()) +
                    ") does not depend on anything that requires a gradient");
  }
  if (backward_ran_) {
    throw TapeError(
        "backward: already ran on this recording; call zero_grads() to run it again, or clear()");
  }
  check_parameters_alive("backward");
  backward_ran_ = true;
  std::uint32_t last = 0;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const std::uint32_t index = outputs[k].index();
    if (!(nodes_[index].flags & Node<T>::requires_grad)) continue;
    T* g = grad_of(index);
    // numel() hoisted: as the loop bound it was an out-of-line call per element, which kept the
    // loop scalar (5 ms to seed a [1600,1024] output).
    const std::int64_t n = seeds[k].numel();
    const T* seed = seeds[k].data;
    for (std::int64_t i = 0; i < n; ++i) g[i] += seed[i];
    last = std::max(last, index);
  }
  run_backward(last);
}

template <class T>
Tape<T>& Tape<T>::recompute_tape() {
  // Starts small: it holds one checkpointed segment at a time and grows to that size.
  if (!recompute_tape_) recompute_tape_ = std::make_unique<Tape>(std::size_t{1} << 16, 256);
  recompute_tape_->set_checked(arena_.checked());
  // It follows this tape's anomaly detection, so a recomputed segment is checked as the
  // recording it replays was.
  if (anomaly_) [[unlikely]] {
    if (!recompute_tape_->anomaly_) recompute_tape_->set_anomaly_detection(anomaly_->options);
    recompute_tape_->anomaly_->recompute = true;
  } else if (recompute_tape_->anomaly_) {
    recompute_tape_->anomaly_.reset();
  }
  return *recompute_tape_;
}

template <class T>
void Tape<T>::run_backward(std::uint32_t from) {
  observe_below_ = observer_ ? observer_->first() : -1;
  if (anomaly_) [[unlikely]] {
    run_backward_checked(from);
    return;
  }
  // Recording order is topological: every consumer of node i has an index above i, so when
  // the sweep reaches i its gradient is complete.
  for (std::int64_t i = from; i >= 0; --i) {
    // One compare per node; without an observer observe_below_ is -1.
    if (i < observe_below_) [[unlikely]]
      observe_below_ = observer_->reached(i);
    const Node<T>& n = nodes_[static_cast<std::size_t>(i)];
    if (n.rule && n.grad) n.rule->backward(*this, n.closure);
  }
}

template <class T>
void Tape<T>::zero_grads() {
  for (Node<T>& n : nodes_) {
    if (n.grad && !(n.flags & (Node<T>::external | Node<T>::grad_alias))) {
      std::fill(n.grad, n.grad + n.shape.numel(), T(0));
    }
  }
  backward_ran_ = false;
}

template <class T>
void Tape<T>::jvp(std::span<const Var<T>> inputs, std::span<const TensorRef<const T>> directions) {
  if (inputs.size() != directions.size()) {
    throw ValueError("jvp: " + std::to_string(inputs.size()) + " inputs but " +
                     std::to_string(directions.size()) + " directions");
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    check_live(inputs[k], "jvp");
    const Node<T>& n = nodes_[inputs[k].index()];
    if (directions[k].shape != n.shape) {
      throw ShapeError("jvp: direction of shape " + directions[k].shape.str() +
                       " for an input of shape " + n.shape.str());
    }
    if (!(n.flags & Node<T>::requires_grad)) {
      throw TapeError("jvp: input " + std::to_string(k) + " (" + n.op + ", shape " + n.shape.str() +
                      ") does not require a gradient, so no rule was recorded after it");
    }
  }
  check_parameters_alive("jvp");
  reset_tangents();
  std::size_t first = nodes_.size();
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const std::uint32_t index = inputs[k].index();
    const std::int64_t count = directions[k].numel();
    T* t = tangents_[index] ? tangents_[index] : zero_tangent(index);
    for (std::int64_t i = 0; i < count; ++i) t[i] += directions[k].data[i];  // repeated: summed
    first = std::min<std::size_t>(first, index);
  }
  // Recording order is topological: every input of node i comes before it.
  for (std::size_t i = first; i < nodes_.size(); ++i) {
    const Node<T>& n = nodes_[i];
    if (n.rule && !tangents_[i]) n.rule->tangent(*this, n.closure);
  }
}

template <class T>
void Tape<T>::reset_tangents() {
  // Kept across calls (assign reuses the capacity): steady-state jvp touches no heap.
  tangents_.assign(nodes_.size(), nullptr);
  tangent_pool_.resize(nodes_.size(), nullptr);
}

template <class T>
T* Tape<T>::zero_tangent(std::uint32_t index) {
  const std::int64_t count = nodes_[index].shape.numel();
  T*& kept = tangent_pool_[index];
  if (!kept) kept = scratch(count);
  std::fill(kept, kept + count, T(0));
  return tangents_[index] = kept;
}

template <class T>
void Tape<T>::begin_gradient_sweep(std::vector<T*>& pool) {
  pool.resize(nodes_.size(), nullptr);
  for (Node<T>& n : nodes_) n.grad = nullptr;
  grad_pool_ = &pool;
}

template <class T>
void Tape<T>::end_gradient_sweep() {
  grad_pool_ = nullptr;
}

template <class T>
void Tape<T>::hvp(const Var<T>& output, std::span<const Var<T>> inputs,
                  std::span<const TensorRef<const T>> directions,
                  std::span<const TensorRef<T>> products) {
  const T one = T(1);
  second_order("hvp", output, {&one, Shape{}}, -1, inputs, directions, products, {}, T(0));
}

template <class T>
void Tape<T>::hvp(const Var<T>& output, TensorRef<const T> seed, std::span<const Var<T>> inputs,
                  std::span<const TensorRef<const T>> directions,
                  std::span<const TensorRef<T>> products) {
  second_order("hvp", output, seed, -1, inputs, directions, products, {}, T(0));
}

template <class T>
void Tape<T>::gnvp(const Var<T>& loss, const Var<T>& network_output, std::span<const Var<T>> inputs,
                   std::span<const TensorRef<const T>> directions,
                   std::span<const TensorRef<T>> products, std::span<const Var<T>> damped,
                   T weight) {
  check_live(network_output, "gnvp");
  check_live(loss, "gnvp");
  const Node<T>& z = nodes_[network_output.index()];
  if (network_output.index() >= loss.index() || !(z.flags & Node<T>::requires_grad)) {
    throw TapeError("gnvp: the network output (" + std::string(z.op) + ", shape " + z.shape.str() +
                    ") must be recorded before the loss and depend on the inputs");
  }
  for (const Var<T>& s : damped) check_live(s, "gnvp");
  const T one = T(1);
  second_order("gnvp", loss, {&one, Shape{}}, network_output.index(), inputs, directions, products,
               damped, weight);
}

template <class T>
void Tape<T>::second_order(const char* who, const Var<T>& output, TensorRef<const T> seed,
                           std::int64_t curvature_after, std::span<const Var<T>> inputs,
                           std::span<const TensorRef<const T>> directions,
                           std::span<const TensorRef<T>> products, std::span<const Var<T>> damped,
                           T weight) {
  check_live(output, who);
  const Node<T>& out = nodes_[output.index()];
  if (seed.numel() != out.shape.numel()) {
    throw ShapeError(std::string(who) + ": output (" + out.op + ", shape " + out.shape.str() +
                     (seed.numel() == 1 ? ") is not a single value; pass a seed of its shape"
                                        : ") and a seed of shape " + seed.shape.str()));
  }
  if (!(out.flags & Node<T>::requires_grad)) {
    throw TapeError(std::string(who) + ": the output (" + out.op + ", shape " + out.shape.str() +
                    ") does not depend on anything that requires a gradient");
  }
  if (products.size() != inputs.size()) {
    throw ValueError(std::string(who) + ": " + std::to_string(inputs.size()) + " inputs but " +
                     std::to_string(products.size()) + " products");
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    check_live(inputs[k], who);
    const Shape& shape = nodes_[inputs[k].index()].shape;
    if (products[k].shape != shape) {
      throw ShapeError(std::string(who) + ": product of shape " + products[k].shape.str() +
                       " for an input of shape " + shape.str());
    }
  }
  jvp(inputs, directions);  // checks the directions; the tangents of every node
  const std::size_t count = nodes_.size();
  saved_grads_.resize(count);
  for (std::size_t i = 0; i < count; ++i) saved_grads_[i] = nodes_[i].grad;
  // Whatever throws from here on, backward()'s gradients are put back.
  struct Restore {
    Tape* tape;
    ~Restore() {
      tape->end_gradient_sweep();
      for (std::size_t i = 0; i < tape->nodes_.size(); ++i) {
        tape->nodes_[i].grad = tape->saved_grads_[i];
      }
    }
  } restore{this};

  // First sweep: the gradient, where curvature terms will read it.
  const std::uint32_t from = output.index();
  begin_gradient_sweep(gradient_pool_);
  T* g_out = grad_of(from);
  for (std::int64_t i = 0, n = seed.numel(); i < n; ++i) g_out[i] += seed.data[i];
  for (std::int64_t i = from; i > curvature_after; --i) {
    const Node<T>& n = nodes_[static_cast<std::size_t>(i)];
    if (n.rule && n.grad) n.rule->backward(*this, n.closure);
  }
  first_grads_.resize(count);
  for (std::size_t i = 0; i < count; ++i) first_grads_[i] = nodes_[i].grad;
  end_gradient_sweep();

  // Second sweep: the gradient's tangent. Each rule adds its second-order term, then its
  // backward carries what reached its output (the first-order term) to its inputs.
  begin_gradient_sweep(gradient_tangent_pool_);
  std::uint32_t start = from;
  for (const Var<T>& s : damped) {
    const T* t = tangent_if_any(s.index());
    if (!t || !(nodes_[s.index()].flags & Node<T>::requires_grad)) continue;
    T* g = grad_of(s.index());
    for (std::int64_t i = 0, n = s.shape().numel(); i < n; ++i) g[i] += weight * t[i];
    start = std::max(start, s.index());
  }
  for (std::int64_t i = start; i >= 0; --i) {
    const Node<T>& n = nodes_[static_cast<std::size_t>(i)];
    if (!n.rule) continue;
    if (i > curvature_after && n.rule->curvature && first_grads_[static_cast<std::size_t>(i)]) {
      n.rule->curvature(*this, n.closure);
    }
    if (n.grad) n.rule->backward(*this, n.closure);
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const T* g = grad_of(inputs[k].index());
    std::copy(g, g + products[k].numel(), products[k].data);
  }
  end_gradient_sweep();
}

template <class T>
T* Tape<T>::tangent_if_any(std::uint32_t index) {
  if (index >= tangents_.size()) return nullptr;
  T* t = tangents_[index];
  if (t) return t;
  const Node<T>& n = nodes_[index];
  if (n.flags & Node<T>::grad_alias) {
    if (T* parent = tangent_if_any(n.alias_parent)) t = tangents_[index] = parent + n.alias_offset;
  }
  return t;
}

template <class T>
TensorRef<const T> Tape<T>::tangent(const Var<T>& v) {
  check_live(v, "tangent");
  const Node<T>& n = nodes_[v.index()];
  if (const T* t = tangent_if_any(v.index())) return {t, n.shape};
  T* zero = scratch(n.shape.numel());
  std::fill(zero, zero + n.shape.numel(), T(0));
  return {zero, n.shape};
}

namespace detail {

template <class T>
bool prepare_tangent(Tape<T>& tape, std::uint32_t out, const std::uint32_t* in, int count) {
  using Internals = TapeInternals<T>;
  bool any = false;
  for (int i = 0; i < count && !any; ++i) any = Internals::tangent_if_any(tape, in[i]) != nullptr;
  if (!any) return false;
  // A rule recorded into a window of another node adds into that node's tangent window.
  if (!Internals::tangent_if_any(tape, out)) Internals::set_zero_tangent(tape, out);
  return true;
}

// A running total is the usual way to meet this, so the message says how to start one.
void throw_empty(const char* op) {
  throw TapeError(std::string(op) +
                  ": empty Var (default-constructed; a running total starts from "
                  "tape.scalar(0))");
}

void rethrow_naming(const char* op, const InputShapes& shapes) {
  try {
    throw;
  } catch (const ShapeError& e) {
    const std::string message = e.what();
    if (message.rfind("shape [", 0) != 0) throw;
    std::string inputs;
    for (int i = 0; i < shapes.size(); ++i) inputs += (i ? " and " : "") + shapes[i].str();
    throw ShapeError(std::string(op) + ": " + inputs + ": " + message);
  }
}

void throw_no_curvature(const char* op) {
  throw NotImplementedError(std::string("second-order product: ") + op +
                            " has no second-order rule (no Hessian-vector product through it)");
}

void throw_no_tangent(const char* op) {
  throw NotImplementedError(std::string("jvp: ") + op +
                            " has no tangent rule (no forward-mode derivative)");
}

template bool prepare_tangent(Tape<float>&, std::uint32_t, const std::uint32_t*, int);
template bool prepare_tangent(Tape<double>&, std::uint32_t, const std::uint32_t*, int);

}  // namespace detail

template <class T>
void Tape<T>::clear() {
  tangents_.clear();
  tangent_pool_.clear();
  gradient_pool_.clear();
  gradient_tangent_pool_.clear();
  parameter_leaves_.clear();
  nodes_.clear();
  arena_.reset();
  ++generation_;
  backward_ran_ = false;
  if (anomaly_) [[unlikely]] {
    anomaly_->runs.clear();
    anomaly_->active.clear();
    anomaly_->forward_reported = false;
  }
}

template <class T>
Var<T> detach(const Var<T>& x) {
  return record_view("detach", x, 0, x.shape(), false);
}

template <class T>
T Var<T>::item() const {
  TensorRef<const T> v = value();
  if (v.numel() != 1) {
    throw ShapeError("item: Var of shape " + v.shape.str() + " has " + std::to_string(v.numel()) +
                     " elements, not 1");
  }
  return v.data[0];
}

template class Tape<float>;
template class Tape<double>;
template class Var<float>;
template class Var<double>;
template Var<float> detach(const Var<float>&);
template Var<double> detach(const Var<double>&);

}  // namespace tapeloop
