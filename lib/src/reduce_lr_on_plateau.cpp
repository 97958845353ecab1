// ReduceLROnPlateau: torch's step, expression for expression, and its state saved and restored
// all or nothing like the other schedulers'.
#include "tapeloop/optim/reduce_lr_on_plateau.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "optim_checks.hpp"
#include "scheduler_state.hpp"
#include "tapeloop/errors.hpp"

namespace tapeloop {

using namespace scheduler_state;  // the rules and the state reader shared by the schedulers

namespace {

void check_plateau_options(const ReduceLROnPlateauOptions& o) {
  const char* who = "ReduceLROnPlateau";
  require(who, "factor", o.factor, unit_half_open);
  require(who, "patience", o.patience, count_non_negative);
  require(who, "threshold", o.threshold, non_negative);
  require(who, "cooldown", o.cooldown, count_non_negative);
  require(who, "min_lr", o.min_lr, non_negative);
  require(who, "eps", o.eps, non_negative);
}

double worst_metric(PlateauMode mode) {
  return mode == PlateauMode::min ? std::numeric_limits<double>::infinity()
                                  : -std::numeric_limits<double>::infinity();
}

}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(OptimizerRef optimizer,
                                     const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer),
      options_(options),
      best_(worst_metric(options.mode)),
      last_lr_(optimizer.learning_rate()) {
  check_plateau_options(options);
}

// torch's is_better, expression for expression: in rel mode the comparison is with
// best * (1 -/+ threshold), which for a negative best lies on the other side of best.
bool ReduceLROnPlateau::is_better(double metric) const {
  const double t = options_.threshold;
  if (options_.mode == PlateauMode::min) {
    return options_.threshold_mode == ThresholdMode::rel ? metric < best_ * (1.0 - t)
                                                         : metric < best_ - t;
  }
  return options_.threshold_mode == ThresholdMode::rel ? metric > best_ * (t + 1.0)
                                                       : metric > best_ + t;
}

void ReduceLROnPlateau::step(double metric) {
  if (std::isnan(metric)) {
    throw ValueError("ReduceLROnPlateau: the metric at step " + std::to_string(last_epoch_ + 1) +
                     " is " + detail::number_str(metric) + "; it can be neither better nor worse");
  }
  if (last_epoch_ == std::numeric_limits<std::int64_t>::max()) {
    throw ValueError("ReduceLROnPlateau: the step count would overflow");
  }
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else if (num_bad_epochs_ < std::numeric_limits<std::int64_t>::max()) {
    ++num_bad_epochs_;  // saturates only for a patience of the largest int64: "never"
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs in a cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    const double old_lr = optimizer_.learning_rate();
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    // Both are finite and >= 0 (the factor is in [0, 1)), so setting cannot throw.
    if (old_lr - new_lr > options_.eps) optimizer_.set_learning_rate(new_lr);
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  ++last_epoch_;
  last_lr_ = optimizer_.learning_rate();
}

Metadata ReduceLROnPlateau::state_dict() const {
  const ReduceLROnPlateauOptions& o = options_;
  return {
      {key_of("kind"), name()},
      {key_of("mode"), o.mode == PlateauMode::min ? "min" : "max"},
      {key_of("factor"), real_text(o.factor)},
      {key_of("patience"), count_text(o.patience)},
      {key_of("threshold"), real_text(o.threshold)},
      {key_of("threshold_mode"), o.threshold_mode == ThresholdMode::rel ? "rel" : "abs"},
      {key_of("cooldown"), count_text(o.cooldown)},
      {key_of("min_lr"), real_text(o.min_lr)},
      {key_of("eps"), real_text(o.eps)},
      {key_of("best"), real_text(best_)},
      {key_of("num_bad_epochs"), count_text(num_bad_epochs_)},
      {key_of("cooldown_counter"), count_text(cooldown_counter_)},
      {key_of("last_epoch"), count_text(last_epoch_)},
      {key_of("last_lr"), real_text(last_lr_)},
  };
}

void ReduceLROnPlateau::load_state_dict(const Metadata& state) {
  StateReader in(state, name());
  ReduceLROnPlateauOptions o;
  o.mode = in.choice("mode", "min", "max") ? PlateauMode::min : PlateauMode::max;
  o.factor = in.real("factor", unit_half_open);
  o.patience = in.count("patience", count_non_negative);
  o.threshold = in.real("threshold", non_negative);
  o.threshold_mode =
      in.choice("threshold_mode", "rel", "abs") ? ThresholdMode::rel : ThresholdMode::abs;
  o.cooldown = in.count("cooldown", count_non_negative);
  o.min_lr = in.real("min_lr", non_negative);
  o.eps = in.real("eps", non_negative);
  const double best = in.real("best", not_nan);
  const std::int64_t bad = in.count("num_bad_epochs", count_non_negative);
  if (bad > o.patience) {
    in.fail("num_bad_epochs", count_text(bad),
            "more than patience (" + count_text(o.patience) + "), which step() never leaves");
  }
  const std::int64_t cooldown_counter = in.count("cooldown_counter", count_non_negative);
  if (cooldown_counter > o.cooldown) {
    in.fail("cooldown_counter", count_text(cooldown_counter),
            "more than cooldown (" + count_text(o.cooldown) + ")");
  }
  const std::int64_t epoch = in.count("last_epoch", count_non_negative);
  const double lr = in.real("last_lr", non_negative);
  in.reject_unknown_keys();
  optimizer_.set_learning_rate(lr);  // finite and >= 0: cannot throw
  options_ = o;
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown_counter;
  last_epoch_ = epoch;
  last_lr_ = lr;
}

}  // namespace tapeloop
