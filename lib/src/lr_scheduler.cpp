// Learning-rate schedulers: the closed-form schedules (StepLR, ExponentialLR, WarmupCosineLR)
// and the validate-everything-then-assign reading of their saved state.
#include "tapeloop/optim/lr_scheduler.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "optim_checks.hpp"
#include "scheduler_state.hpp"
#include "tapeloop/errors.hpp"

namespace tapeloop {

using namespace scheduler_state;  // the rules and the state reader shared by the schedulers

namespace {

void require_total_after_warmup(const char* who, std::int64_t warmup, std::int64_t total) {
  if (total <= warmup) {
    throw ValueError(std::string(who) + ": total_steps must be > warmup_steps (" +
                     std::to_string(warmup) + "), got " + std::to_string(total));
  }
}

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

}  // namespace tapeloop
