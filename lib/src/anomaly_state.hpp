// What a tape keeps while anomaly detection is on: the options, and which scan step each stretch
// of nodes was recorded in.
#pragma once

#include <cstdint>
#include <vector>

#include "tapeloop/anomaly.hpp"

namespace tapeloop::detail {

struct AnomalyState {
  /// The scan step being recorded: `scan` is null outside any scan.
  struct Context {
    std::uint32_t first_node = 0;  // in `runs`: the context holds from this node on
    std::int64_t step = -1;
    const char* scan = nullptr;
    const char* cell = nullptr;  // typeid name, demangled when a report is made
  };

  AnomalyOptions options;
  bool recompute = false;  // this is a recompute tape: its nodes are a recomputed segment
  /// Context changes in recording order (first_node never decreases): the context of node i is
  /// the last run starting at or before i. Two entries per scan step, and only while on.
  std::vector<Context> runs;
  std::vector<Context> active;     // the scan steps being recorded, innermost last
  bool forward_reported = false;   // with a handler: the recording's first value was reported
  bool backward_reported = false;  // the same for this backward pass

  /// The context node `index` was recorded in.
  Context context_of(std::uint32_t index) const {
    Context found;
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
      if (it->first_node <= index) return *it;
    }
    return found;
  }
};

}  // namespace tapeloop::detail
