// Anomaly detection: finding the first non-finite value or gradient and saying where it came from.
#include <cxxabi.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

#include "anomaly_state.hpp"
#include "nonfinite.hpp"
#include "tapeloop/anomaly.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace {

std::atomic<bool>& default_setting() {
  static std::atomic<bool> on{[] {
    const char* text = std::getenv("TAPELOOP_DETECT_ANOMALY");
    return text != nullptr && std::strcmp(text, "1") == 0;
  }()};
  return on;
}

std::string demangled(const char* name) {
  if (name == nullptr) return {};
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> text(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                              std::free);
  return status == 0 && text ? std::string(text.get()) : std::string(name);
}

std::string number_str(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  std::ostringstream out;
  out << x;
  return out.str();
}

std::string index_str(const std::vector<std::int64_t>& index) {
  std::string s = "[";
  for (std::size_t i = 0; i < index.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(index[i]);
  }
  return s + "]";
}

// Counts the non-finite elements of `count` values; fills the report's counts and first one.
// Returns whether any was found (infinities only when they are not allowed).
template <class T>
bool find_non_finite(const T* values, std::int64_t count, const Shape& shape, bool allow_inf,
                     AnomalyReport& report) {
  std::int64_t first = -1;
  std::int64_t nan = 0;
  std::int64_t inf = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    const T v = values[i];
    if (std::isnan(v)) {
      ++nan;
    } else if (std::isinf(v)) {
      ++inf;
      if (allow_inf) continue;
    } else {
      continue;
    }
    if (first < 0) first = i;
  }
  if (first < 0) return false;
  report.nan_count = nan;
  report.inf_count = inf;
  report.first_value = static_cast<double>(values[first]);
  report.shape = shape;
  report.first_index.assign(static_cast<std::size_t>(shape.rank()), 0);
  for (int axis = shape.rank() - 1; axis >= 0; --axis) {
    report.first_index[static_cast<std::size_t>(axis)] = first % shape[axis];
    first /= shape[axis];
  }
  return true;
}

}  // namespace

void set_detect_anomaly(bool on) {
  default_setting().store(on, std::memory_order_relaxed);
}
bool detect_anomaly_by_default() {
  return default_setting().load(std::memory_order_relaxed);
}

std::string AnomalyReport::describe() const {
  std::string s = "anomaly: ";
  std::string what = nan_count > 0 && inf_count > 0 ? "NaN and infinite values"
                     : nan_count > 0                ? "NaN"
                                                    : "infinite values";
  const std::string counts = std::to_string(nan_count) + " NaN, " + std::to_string(inf_count) +
                             " inf; first at " + index_str(first_index) + " = " +
                             number_str(first_value);
  std::string inputs;
  for (std::size_t i = 0; i < input_shapes.size(); ++i) {
    inputs += (i ? ", " : "") + input_shapes[i].str();
  }
  if (phase == AnomalyPhase::forward) {
    s += op + " (node " + std::to_string(node) + ") produced " + what + " in its value of shape " +
         shape.str() + " (" + counts + ")";
    s += input_shapes.empty() ? std::string("; a leaf, no inputs") : "; inputs " + inputs;
  } else if (input < 0) {
    s += "the gradient of " + op + " (node " + std::to_string(node) + ", shape " + shape.str() +
         ") held " + what + " before backward began (" + counts +
         "): a non-finite seed, or a Parameter gradient left from an earlier pass (zero_grad())";
  } else {
    s += "the backward rule of " + op + " (node " + std::to_string(node) + "; inputs " + inputs +
         ") made the gradient of its input " + std::to_string(input) + " (" + input_op +
         ", shape " + shape.str() + ") " + what + " (" + counts + ")";
  }
  if (!scan.empty()) {
    s += "; in " + scan + " step t=" + std::to_string(step) + " (cell " + cell + ")";
  }
  if (recomputed) s += "; while recomputing a checkpointed segment";
  return s;
}

template <class T>
void Tape<T>::set_anomaly_detection(AnomalyOptions options) {
  // The recompute tape takes the new setting when next used (recompute_tape()).
  if (recompute_tape_) recompute_tape_->anomaly_.reset();
  if (!options.enabled) {
    anomaly_.reset();
    return;
  }
  if (!anomaly_) anomaly_ = std::make_unique<detail::AnomalyState>();
  anomaly_->options = std::move(options);
}

template <class T>
void Tape<T>::describe_node(AnomalyReport& report, std::uint32_t index) const {
  const Node<T>& n = nodes_[index];
  report.op = n.op;
  report.node = index;
  report.input_shapes.clear();
  if (n.rule) {
    const std::uint32_t* in = nullptr;
    const int count = n.rule->inputs(n.closure, &in);
    for (int i = 0; i < count; ++i) report.input_shapes.push_back(nodes_[in[i]].shape);
  }
  const detail::AnomalyState::Context c = anomaly_->context_of(index);
  if (c.scan) {
    report.scan = c.scan;
    report.step = c.step;
    report.cell = demangled(c.cell);
  }
  report.recomputed = anomaly_->recompute;
}

template <class T>
void Tape<T>::report_anomaly(AnomalyReport&& report, bool backward) {
  if (!anomaly_->options.handler) throw AnomalyError(std::move(report));
  // A handler lets the recording (or the sweep) go on: later values follow from this one, so
  // only the first is reported.
  (backward ? anomaly_->backward_reported : anomaly_->forward_reported) = true;
  anomaly_->options.handler(report);
}

template <class T>
void Tape<T>::check_value_anomaly(std::uint32_t index, const std::uint32_t* in, int count) {
  if (anomaly_->forward_reported) return;
  const Node<T>& n = nodes_[index];
  const std::int64_t numel = n.shape.numel();
  if (detail::all_finite(n.value, numel)) return;
  AnomalyReport report;
  if (!find_non_finite(n.value, numel, n.shape, anomaly_->options.allow_inf_values, report)) {
    return;  // only infinities, and they are allowed
  }
  report.phase = AnomalyPhase::forward;
  // The node's rule is not attached yet when it records no gradient: name the inputs given.
  describe_node(report, index);
  report.input_shapes.clear();
  for (int i = 0; i < count; ++i) report.input_shapes.push_back(nodes_[in[i]].shape);
  if (!anomaly_->active.empty()) {
    // Forward values are checked as they are made: the innermost scan step is the context.
    const detail::AnomalyState::Context& c = anomaly_->active.back();
    report.scan = c.scan;
    report.step = c.step;
    report.cell = demangled(c.cell);
  }
  report_anomaly(std::move(report), false);
}

template <class T>
void Tape<T>::enter_scan_step(const char* who, std::int64_t t, const char* cell) {
  detail::AnomalyState::Context c;
  c.first_node = static_cast<std::uint32_t>(nodes_.size());
  c.step = t;
  c.scan = who;
  c.cell = cell;
  anomaly_->active.push_back(c);
  anomaly_->runs.push_back(c);
}

template <class T>
void Tape<T>::leave_scan_step() {
  if (!anomaly_ || anomaly_->active.empty()) return;  // turned on inside the step
  anomaly_->active.pop_back();
  detail::AnomalyState::Context c;
  if (!anomaly_->active.empty()) c = anomaly_->active.back();
  c.first_node = static_cast<std::uint32_t>(nodes_.size());
  anomaly_->runs.push_back(c);
}

template <class T>
void Tape<T>::run_backward_checked(std::uint32_t from) {
  anomaly_->backward_reported = false;
  const bool allow_inf = false;  // an infinite gradient is never what a user wants
  // Gradients that exist before the sweep are the seeds and the Parameters' own buffers: what
  // they hold already is no rule's doing.
  for (std::uint32_t i = 0; i <= from && !anomaly_->backward_reported; ++i) {
    const Node<T>& n = nodes_[i];
    if (!n.grad || (n.flags & Node<T>::grad_alias)) continue;
    const std::int64_t numel = n.shape.numel();
    if (detail::all_finite(n.grad, numel)) continue;
    AnomalyReport report;
    find_non_finite(n.grad, numel, n.shape, allow_inf, report);
    report.phase = AnomalyPhase::backward;
    describe_node(report, i);
    report_anomaly(std::move(report), true);
  }
  for (std::int64_t i = from; i >= 0; --i) {
    if (i < observe_below_) [[unlikely]]
      observe_below_ = observer_->reached(i);
    const Node<T>& n = nodes_[static_cast<std::size_t>(i)];
    if (!n.rule || !n.grad) continue;
    n.rule->backward(*this, n.closure);
    if (anomaly_->backward_reported) continue;
    const std::uint32_t* in = nullptr;
    const int count = n.rule->inputs(n.closure, &in);
    for (int k = 0; k < count; ++k) {
      const Node<T>& m = nodes_[in[k]];
      if (!m.grad || !(m.flags & Node<T>::requires_grad)) continue;
      const std::int64_t numel = m.shape.numel();
      if (detail::all_finite(m.grad, numel)) continue;
      AnomalyReport report;
      find_non_finite(m.grad, numel, m.shape, allow_inf, report);
      report.phase = AnomalyPhase::backward;
      describe_node(report, static_cast<std::uint32_t>(i));
      report.input = k;
      report.input_op = m.op;
      report.shape = m.shape;
      report_anomaly(std::move(report), true);
      break;
    }
  }
}

#define TAPELOOP_INSTANTIATE_ANOMALY(T)                                                 \
  template void Tape<T>::set_anomaly_detection(AnomalyOptions);                         \
  template void Tape<T>::describe_node(AnomalyReport&, std::uint32_t) const;            \
  template void Tape<T>::report_anomaly(AnomalyReport&&, bool);                         \
  template void Tape<T>::check_value_anomaly(std::uint32_t, const std::uint32_t*, int); \
  template void Tape<T>::enter_scan_step(const char*, std::int64_t, const char*);       \
  template void Tape<T>::leave_scan_step();                                             \
  template void Tape<T>::run_backward_checked(std::uint32_t);
TAPELOOP_INSTANTIATE_ANOMALY(float)
TAPELOOP_INSTANTIATE_ANOMALY(double)
#undef TAPELOOP_INSTANTIATE_ANOMALY

}  // namespace tapeloop
