// The lecture's demos (Hinton's week 7 on recurrent nets), each training or measuring a model of
// models/ and writing its numbers, claims and plots into a Report.
#pragma once

#include <vector>

#include "tapeloop/models/report.hpp"

namespace tapeloop::models {

struct DemoOptions {
  /// The longer versions (more seeds, more steps) rather than the few-minute ones.
  bool full = false;
};

struct Demo {
  const char* name;     // selects it on the command line: "binary-addition"
  const char* lecture;  // "7c"
  const char* summary;  // one line for --help
  void (*run)(Report& report, const DemoOptions& options);
};

/// Every demo, in the lecture's order.
const std::vector<Demo>& lecture_demos();

// The demos themselves (models/src/lecture_*.cpp).
void hmm_demo(Report& report, const DemoOptions& options);
void binary_addition_demo(Report& report, const DemoOptions& options);
void gradient_flow_demo(Report& report, const DemoOptions& options);
void adding_problem_demo(Report& report, const DemoOptions& options);
void hessian_free_demo(Report& report, const DemoOptions& options);
void echo_state_demo(Report& report, const DemoOptions& options);
void handwriting_demo(Report& report, const DemoOptions& options);

}  // namespace tapeloop::models
