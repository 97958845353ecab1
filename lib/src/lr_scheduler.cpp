// Learning-rate schedulers: the closed-form schedules, ReduceLROnPlateau's step, and the
// validate-everything-then-assign reading of their saved state.
#include "tapeloop/optim/lr_scheduler.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "optim_checks.hpp"
#include "tapeloop/errors.hpp"

namespace tapeloop {

namespace {

// A requirement on an option, with the words that describe it in an error message.
struct RealRule {
  const char* requirement;
  bool (*holds)(double);
};
struct CountRule {
  const char* requirement;
  bool (*holds)(std::int64_t);
};

constexpr RealRule positive{"must be finite and > 0",
                            [](double v) { return std::isfinite(v) && v > 0.0; }};
constexpr RealRule non_negative{"must be finite and >= 0",
                                [](double v) { return std::isfinite(v) && v >= 0.0; }};
constexpr RealRule unit_closed{"must be in [0, 1]", [](double v) { return v >= 0.0 && v <= 1.0; }};
constexpr RealRule unit_half_open{"must be in [0, 1)",
                                  [](double v) { return v >= 0.0 && v < 1.0; }};
// The best metric so far starts at an infinity; NaN can never be compared.
constexpr RealRule not_nan{"must not be NaN", [](double v) { return !std::isnan(v); }};
constexpr CountRule count_positive{"must be > 0", [](std::int64_t v) { return v > 0; }};
constexpr CountRule count_non_negative{"must be >= 0", [](std::int64_t v) { return v >= 0; }};

// Constructor arguments: ValueError naming the scheduler, the argument and the value.
void require(const char* who, const char* what, double value, const RealRule& rule) {
  if (!rule.holds(value)) {
    throw ValueError(std::string(who) + ": " + what + " " + rule.requirement + ", got " +
                     detail::number_str(value));
  }
}
void require(const char* who, const char* what, std::int64_t value, const CountRule& rule) {
  if (!rule.holds(value)) {
    throw ValueError(std::string(who) + ": " + what + " " + rule.requirement + ", got " +
                     std::to_string(value));
  }
}

void require_total_after_warmup(const char* who, std::int64_t warmup, std::int64_t total) {
  if (total <= warmup) {
    throw ValueError(std::string(who) + ": total_steps must be > warmup_steps (" +
                     std::to_string(warmup) + "), got " + std::to_string(total));
  }
}

// The shortest text that reads back as the same double (std::to_chars's guarantee), independent
// of the C locale, which could make printf write "0,1".
std::string real_text(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}
std::string count_text(std::int64_t value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}
std::string key_of(std::string_view field) {
  return std::string(scheduler_key_prefix) + std::string(field);
}

// Reads a scheduler's entries from metadata without changing anything, so that a scheduler can
// take all of them only once every one has been read and checked. Every problem is a
// FormatError naming the scheduler and the key.
class StateReader {
 public:
  StateReader(const Metadata& state, const char* who) : state_(state), who_(who) {
    const std::string& kind = text("kind");
    if (kind != who) fail("kind", kind, "the state is not a " + std::string(who) + "'s");
  }

  double real(const char* field, const RealRule& rule) {
    const std::string& value = text(field);
    double x = 0.0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), x);
    if (error == std::errc::result_out_of_range) fail(field, value, "out of range of a double");
    if (error != std::errc() || end != value.data() + value.size()) {
      fail(field, value, "not a number");
    }
    if (!rule.holds(x)) fail(field, value, std::string(field) + " " + rule.requirement);
    return x;
  }

  std::int64_t count(const char* field, const CountRule& rule) {
    const std::string& value = text(field);
    std::int64_t n = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (error != std::errc() || end != value.data() + value.size()) {
      fail(field, value, "not an integer in the range of int64");
    }
    if (!rule.holds(n)) fail(field, value, std::string(field) + " " + rule.requirement);
    return n;
  }

  // One of two words: returns whether it is the first.
  bool choice(const char* field, const char* first, const char* second) {
    const std::string& value = text(field);
    if (value == first) return true;
    if (value != second) {
      fail(field, value, "expected '" + std::string(first) + "' or '" + second + "'");
    }
    return false;
  }

  // An unknown "scheduler." key means the state is not what this scheduler wrote; the other
  // keys of a checkpoint's metadata are none of its business.
  void reject_unknown_keys() const {
    for (auto it = state_.lower_bound(scheduler_key_prefix);
         it != state_.end() && it->first.starts_with(scheduler_key_prefix); ++it) {
      const std::string_view field = std::string_view(it->first).substr(prefix_size());
      bool known = false;
      for (const char* f : read_) known = known || field == f;
      if (!known) {
        throw FormatError(std::string(who_) + ": cannot load the state: unexpected key '" +
                          it->first + "'");
      }
    }
  }

  // The learning rate the loaded state gives must be one the optimizer can take.
  void check_learning_rate(double lr) const {
    if (!(std::isfinite(lr) && lr >= 0.0)) {
      throw FormatError(std::string(who_) + ": cannot load the state: its learning rate at " +
                        "'scheduler.last_epoch' would be " + detail::number_str(lr));
    }
  }

  [[noreturn]] void fail(const char* field, const std::string& value,
                         const std::string& why) const {
    throw FormatError(std::string(who_) + ": cannot load the state: '" + key_of(field) + "' = '" +
                      value + "': " + why);
  }

 private:
  static std::size_t prefix_size() { return std::string_view(scheduler_key_prefix).size(); }

  const std::string& text(const char* field) {
    const auto it = state_.find(key_of(field));
    if (it == state_.end()) {
      throw FormatError(std::string(who_) + ": cannot load the state: the metadata has no '" +
                        key_of(field) + "'");
    }
    read_.push_back(field);
    return it->second;
  }

  const Metadata& state_;
  const char* who_;
  std::vector<const char*> read_;
};

// The closed forms, shared by lr_at and by load_state_dict (which evaluates a state before
// taking it). Each follows the expression order of torch's _get_closed_form_lr.
double step_lr(double base, std::int64_t epoch, std::int64_t step_size, double gamma) {
  return base * std::pow(gamma, static_cast<double>(epoch / step_size));
}

double exponential_lr(double base, std::int64_t epoch, double gamma) {
  return base * std::pow(gamma, static_cast<double>(epoch));
}

double warmup_cosine_lr(double base, std::int64_t epoch, std::int64_t warmup, std::int64_t total,
                        double min_lr, double start_factor) {
  if (epoch < warmup) {
    return base * (start_factor +
                   (1.0 - start_factor) * static_cast<double>(epoch) / static_cast<double>(warmup));
  }
  if (epoch >= total) return min_lr;
  const double angle =
      std::numbers::pi * static_cast<double>(epoch - warmup) / static_cast<double>(total - warmup);
  return min_lr + (base - min_lr) * (1.0 + std::cos(angle)) / 2.0;
}

// The common part of a closed-form scheduler's state.
struct Position {
  double base_lr;
  std::int64_t last_epoch;
};
Position read_position(StateReader& in) {
  const double base = in.real("base_lr", non_negative);
  // step() adds one to it, so the largest int64 could not step again.
  const std::int64_t epoch = in.count("last_epoch", count_non_negative);
  if (epoch == std::numeric_limits<std::int64_t>::max()) {
    in.fail("last_epoch", count_text(epoch), "too large to step again");
  }
  return {base, epoch};
}

}  // namespace

// ---- LRScheduler ----

LRScheduler::LRScheduler(OptimizerRef optimizer)
    : optimizer_(optimizer), base_lr_(optimizer.learning_rate()), last_lr_(base_lr_) {}

double LRScheduler::lr_at(std::int64_t epoch) const {
  if (epoch < 0) {
    throw ValueError(std::string(name()) + ": lr_at: epoch must be >= 0, got " +
                     std::to_string(epoch));
  }
  return compute_lr(epoch);
}

void LRScheduler::start() {
  const double lr = compute_lr(0);
  // Every option was checked, so only a pathological base rate could make this fail.
  if (!(std::isfinite(lr) && lr >= 0.0)) {
    throw ValueError(std::string(name()) + ": the learning rate at step 0 would be " +
                     detail::number_str(lr));
  }
  optimizer_.set_learning_rate(lr);
  last_lr_ = lr;
}

void LRScheduler::step() {
  if (last_epoch_ == std::numeric_limits<std::int64_t>::max()) {
    throw ValueError(std::string(name()) + ": the step count would overflow");
  }
  const std::int64_t epoch = last_epoch_ + 1;
  const double lr = compute_lr(epoch);
  if (!(std::isfinite(lr) && lr >= 0.0)) {
    throw ValueError(std::string(name()) + ": the learning rate at step " + std::to_string(epoch) +
                     " would be " + detail::number_str(lr));
  }
  optimizer_.set_learning_rate(lr);
  last_epoch_ = epoch;
  last_lr_ = lr;
}

Metadata LRScheduler::common_state() const {
  return {{key_of("kind"), name()},
          {key_of("base_lr"), real_text(base_lr_)},
          {key_of("last_epoch"), count_text(last_epoch_)}};
}

void LRScheduler::restore(double base_lr, std::int64_t last_epoch, double lr) noexcept {
  optimizer_.set_learning_rate(lr);  // lr was checked: finite and >= 0, so this cannot throw
  base_lr_ = base_lr;
  last_epoch_ = last_epoch;
  last_lr_ = lr;
}

// ---- StepLR ----

StepLR::StepLR(OptimizerRef optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  require("StepLR", "step_size", step_size, count_positive);
  require("StepLR", "gamma", gamma, positive);
  start();
}

double StepLR::compute_lr(std::int64_t epoch) const {
  return step_lr(base_lr(), epoch, step_size_, gamma_);
}

Metadata StepLR::state_dict() const {
  Metadata state = common_state();
  state[key_of("step_size")] = count_text(step_size_);
  state[key_of("gamma")] = real_text(gamma_);
  return state;
}

void StepLR::load_state_dict(const Metadata& state) {
  StateReader in(state, name());
  const Position at = read_position(in);
  const std::int64_t step_size = in.count("step_size", count_positive);
  const double gamma = in.real("gamma", positive);
  in.reject_unknown_keys();
  const double lr = step_lr(at.base_lr, at.last_epoch, step_size, gamma);
  in.check_learning_rate(lr);
  step_size_ = step_size;
  gamma_ = gamma;
  restore(at.base_lr, at.last_epoch, lr);
}

// ---- ExponentialLR ----

ExponentialLR::ExponentialLR(OptimizerRef optimizer, double gamma)
    : LRScheduler(optimizer), gamma_(gamma) {
  require("ExponentialLR", "gamma", gamma, positive);
  start();
}

double ExponentialLR::compute_lr(std::int64_t epoch) const {
  return exponential_lr(base_lr(), epoch, gamma_);
}

Metadata ExponentialLR::state_dict() const {
  Metadata state = common_state();
  state[key_of("gamma")] = real_text(gamma_);
  return state;
}

void ExponentialLR::load_state_dict(const Metadata& state) {
  StateReader in(state, name());
  const Position at = read_position(in);
  const double gamma = in.real("gamma", positive);
  in.reject_unknown_keys();
  const double lr = exponential_lr(at.base_lr, at.last_epoch, gamma);
  in.check_learning_rate(lr);
  gamma_ = gamma;
  restore(at.base_lr, at.last_epoch, lr);
}

// ---- WarmupCosineLR ----

WarmupCosineLR::WarmupCosineLR(OptimizerRef optimizer, std::int64_t warmup_steps,
                               std::int64_t total_steps, double min_lr, double warmup_start_factor)
    : LRScheduler(optimizer),
      warmup_steps_(warmup_steps),
      total_steps_(total_steps),
      min_lr_(min_lr),
      warmup_start_factor_(warmup_start_factor) {
  require("WarmupCosineLR", "warmup_steps", warmup_steps, count_non_negative);
  require_total_after_warmup("WarmupCosineLR", warmup_steps, total_steps);
  require("WarmupCosineLR", "min_lr", min_lr, non_negative);
  require("WarmupCosineLR", "warmup_start_factor", warmup_start_factor, unit_closed);
  start();
}

double WarmupCosineLR::compute_lr(std::int64_t epoch) const {
  return warmup_cosine_lr(base_lr(), epoch, warmup_steps_, total_steps_, min_lr_,
                          warmup_start_factor_);
}

Metadata WarmupCosineLR::state_dict() const {
  Metadata state = common_state();
  state[key_of("warmup_steps")] = count_text(warmup_steps_);
  state[key_of("total_steps")] = count_text(total_steps_);
  state[key_of("min_lr")] = real_text(min_lr_);
  state[key_of("warmup_start_factor")] = real_text(warmup_start_factor_);
  return state;
}

void WarmupCosineLR::load_state_dict(const Metadata& state) {
  StateReader in(state, name());
  const Position at = read_position(in);
  const std::int64_t warmup = in.count("warmup_steps", count_non_negative);
  const std::int64_t total = in.count("total_steps", count_positive);
  if (total <= warmup) {
    in.fail("total_steps", count_text(total),
            "total_steps must be > warmup_steps (" + count_text(warmup) + ")");
  }
  const double min_lr = in.real("min_lr", non_negative);
  const double start_factor = in.real("warmup_start_factor", unit_closed);
  in.reject_unknown_keys();
  const double lr =
      warmup_cosine_lr(at.base_lr, at.last_epoch, warmup, total, min_lr, start_factor);
  in.check_learning_rate(lr);
  warmup_steps_ = warmup;
  total_steps_ = total;
  min_lr_ = min_lr;
  warmup_start_factor_ = start_factor;
  restore(at.base_lr, at.last_epoch, lr);
}

// ---- ReduceLROnPlateau ----

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
