// Anomaly detection: the first operator whose value or gradient is NaN or infinite, named with its
// inputs' shapes and, inside scan, the time step — reported as an exception or to a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tapeloop/errors.hpp"
#include "tapeloop/shape.hpp"

namespace tapeloop {

/// Where a non-finite number was found: an operator's value (forward) or the gradient a
/// backward rule added into one of its inputs.
enum class AnomalyPhase { forward, backward };

/// What anomaly detection found. describe() is the message an AnomalyError carries.
struct AnomalyReport {
  AnomalyPhase phase = AnomalyPhase::forward;
  std::string op;                   // the operator whose value or backward rule is at fault
  std::uint32_t node = 0;           // its node on the tape
  std::vector<Shape> input_shapes;  // its inputs' shapes, in order
  /// Backward: the input (position, and the operator that made it) whose gradient the rule
  /// made non-finite; -1 and "" for a forward value, or for a gradient non-finite before
  /// backward began (a seed, or a Parameter's gradient left from an earlier pass).
  int input = -1;
  std::string input_op;
  Shape shape;                            // of the non-finite value or gradient
  std::vector<std::int64_t> first_index;  // multi-index of its first non-finite element
  double first_value = 0;                 // that element: NaN, +inf or -inf
  std::int64_t nan_count = 0;
  std::int64_t inf_count = 0;
  /// Inside scan or checkpointed_scan: which of them, the time step t, and the cell's type.
  std::string scan;  // "" outside a scan
  std::int64_t step = -1;
  std::string cell;
  /// A checkpointed segment recomputed during backward: the node is on the recompute tape.
  bool recomputed = false;

  std::string describe() const;
};

/// Thrown by a tape with anomaly detection on and no handler, at the first non-finite value
/// (from the operator that made it) or gradient (from backward()). After one from backward(),
/// the gradients are partial: clear() the tape before recording again.
class AnomalyError : public Error {
 public:
  explicit AnomalyError(AnomalyReport report)
      : Error(report.describe()), report_(std::move(report)) {}
  const AnomalyReport& report() const { return report_; }

 private:
  AnomalyReport report_;
};

/// Called instead of throwing; once per recording for the first non-finite value and once per
/// backward pass for the first non-finite gradient. It may throw an exception of its own.
using AnomalyHandler = std::function<void(const AnomalyReport&)>;

/// How a tape checks for non-finite numbers (Tape::set_anomaly_detection).
struct AnomalyOptions {
  bool enabled = true;
  /// Let infinities pass in forward values (a -inf mask before softmax); NaN is still caught,
  /// and so is an infinite gradient.
  bool allow_inf_values = false;
  /// Null: throw AnomalyError.
  AnomalyHandler handler;
};

/// Whether tapes made from now on start with anomaly detection on (with default options), as
/// torch.autograd.set_detect_anomaly. The initial setting is on when the environment variable
/// TAPELOOP_DETECT_ANOMALY is 1, else off. Tapes already made keep their own setting.
void set_detect_anomaly(bool on);
bool detect_anomaly_by_default();

}  // namespace tapeloop
