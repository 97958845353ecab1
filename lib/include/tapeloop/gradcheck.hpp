// gradcheck: compares a function's backward pass against central finite differences in double.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tapeloop/tape.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

/// Settings of gradcheck. An analytic entry `a` passes against its numerical estimate `n` when
/// |a - n| <= atol + rtol * max(|a|, |n|). With eps = 1e-6 in double the central difference has
/// truncation error ~eps^2 |f'''| and rounding error ~1e-16 |f| / eps = 1e-10 |f|, so the
/// defaults leave two to four orders of magnitude of headroom while a wrong backward rule is
/// off by O(1).
struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  /// Outputs with at most this many elements get their full Jacobian (one backward per
  /// element); larger outputs are checked along `projections` random directions v (v^T J).
  std::int64_t full_jacobian_max_outputs = 32;
  int projections = 3;
  std::uint64_t seed = 20240607;
  /// Prefill every input's gradient with random values and subtract them afterwards:
  /// a backward rule that assigns instead of adding fails.
  bool check_accumulation = true;
  /// Rerun with each input frozen and its gradient buffer filled with sentinel values that
  /// must survive bit for bit: a rule that writes a gradient nobody asked for fails.
  bool check_frozen_inputs = true;
  /// Also compare the forward-mode derivative (Tape::jvp along a random direction of every
  /// input) against central differences along that direction. A function through an operator
  /// without a tangent rule skips this check (GradcheckResult::tangents_checked says so).
  bool check_tangents = true;
  /// Also compare the Hessian-vector product (Tape::hvp of <w, f> for a random w, along a random
  /// direction of every input) against central differences of the gradient along that
  /// direction. A function through an operator without a second-order rule skips this check
  /// (GradcheckResult::curvature_checked says so).
  bool check_curvature = true;
  /// Fill each new value buffer with NaN first: an operator that leaves an output element
  /// unwritten produces NaN and fails.
  bool poison_values = true;
};

/// What gradcheck found; converts to true when every check passed.
struct GradcheckResult {
  bool passed = true;
  double max_abs_error = 0;  // over all compared Jacobian entries
  std::int64_t entries_checked = 0;
  std::string message;  // the first failures, readable
  /// Whether the tangents were compared; false when disabled or when an operator on the way
  /// has no tangent rule (then `no_tangent` holds its NotImplementedError message).
  bool tangents_checked = false;
  std::string no_tangent;
  /// The same for the Hessian-vector product (`no_curvature` holds the reason it was skipped).
  bool curvature_checked = false;
  std::string no_curvature;
  explicit operator bool() const { return passed; }
};

/// A function under test: records its computation on the tape from the given leaves.
using GradcheckFunction =
    std::function<Var<double>(Tape<double>& tape, const std::vector<Var<double>>& inputs)>;

/// Checks d f / d inputs for every input and every element against central differences, the
/// tangents of Tape::jvp along a random direction, and Tape::hvp along one.
GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<Tensor<double>>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace tapeloop
