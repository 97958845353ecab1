// Learning-rate schedulers (StepLR, ExponentialLR, WarmupCosineLR, ReduceLROnPlateau) for any
// optimizer, following torch.optim.lr_scheduler, with their state saved in checkpoint metadata.
#pragma once

#include <cstdint>

#include "tapeloop/optim/optimizer_ref.hpp"
// ReduceLROnPlateau has a header of its own; it comes with this one, the schedulers' header.
#include "tapeloop/optim/reduce_lr_on_plateau.hpp"
#include "tapeloop/safetensors.hpp"

namespace tapeloop {

// Use, once per epoch (or per batch, for warm-up), after the optimizer's step as in PyTorch:
//
//     Adam<float> optimizer(params, {.lr = 0.01});
//     WarmupCosineLR scheduler(optimizer, 5, 100);   // sets lr 0.01 / 3 for the first step
//     for (...) { ...; optimizer.step(); scheduler.step(); }
//
// Checkpoints: a scheduler's state is a handful of strings, stored in the checkpoint's metadata
// next to the parameters and the optimizer's state, and restored from the metadata that
// load_parameters returns:
//
//     save_parameters(path, params, &optimizer, scheduler.state_dict());
//     scheduler.load_state_dict(load_parameters(path, params, &optimizer));
//
// A checkpoint does not store the optimizer's learning rate, so load_state_dict sets it to the
// restored last_lr(). save_parameters accepts these keys: it reserves only "tapeloop.optimizer".
//
// The optimizer must outlive its scheduler, and one optimizer should have one scheduler: each
// sets the learning rate without regard to the other.

/// The base of the schedulers whose learning rate is a function of the step count: StepLR,
/// ExponentialLR and WarmupCosineLR. Each computes lr_at(epoch) in closed form from base_lr()
/// (torch's _get_closed_form_lr) rather than from the previous rate as torch's step() does; the
/// two agree to rounding (tests/test_lr_scheduler.cpp compares torch's sequences to 1e-12), and
/// the closed form cannot drift, so a run resumed from a checkpoint continues bit for bit. The
/// one visible difference: the scheduler owns the learning rate, so a set_learning_rate() made
/// between two step()s holds only until the next one, where torch would scale it from there.
///
/// As in torch, construction is step 0: it records the optimizer's learning rate as base_lr()
/// and sets the optimizer's rate to lr_at(0) (which differs from base_lr() only during a
/// warm-up).
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  // Two schedulers setting one optimizer's rate would be a copy's only use.
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one step (an epoch, or a batch) and sets the optimizer's learning rate to
  /// lr_at(last_epoch()). Performs no heap allocation. Throws ValueError, changing nothing, if
  /// that rate is not finite (an ExponentialLR with gamma > 1 run long enough to overflow).
  void step();

  /// The learning rate set by the last step() (or by the constructor): lr_at(last_epoch()).
  double last_lr() const { return last_lr_; }
  /// How many times step() has run since construction (torch's last_epoch).
  std::int64_t last_epoch() const { return last_epoch_; }
  /// The optimizer's learning rate when the scheduler was made (or as loaded).
  double base_lr() const { return base_lr_; }

  /// The schedule: the learning rate after `epoch` steps. Throws ValueError if epoch < 0.
  double lr_at(std::int64_t epoch) const;

  /// The scheduler's type, "StepLR", "ExponentialLR" or "WarmupCosineLR": the value of
  /// "scheduler.kind" in state_dict().
  virtual const char* name() const = 0;

  /// Everything needed to continue the schedule, as metadata strings: "scheduler.kind",
  /// "scheduler.base_lr", "scheduler.last_epoch" and the scheduler's options ("scheduler.gamma",
  /// ...). Numbers are written in the shortest form that reads back to the same double.
  virtual Metadata state_dict() const = 0;

  /// Restores a state_dict(), options included (as torch does: the file's schedule wins over
  /// the constructor's), and sets the optimizer's learning rate to the restored last_lr().
  /// Keys without the "scheduler." prefix are ignored, so the whole metadata of a checkpoint
  /// can be passed. All or nothing: a missing key, another scheduler's kind, an unexpected
  /// "scheduler." key, a number with trailing characters, a NaN or infinity, or a value the
  /// constructor would refuse throws FormatError naming the key, and leaves the scheduler and
  /// the optimizer unchanged.
  virtual void load_state_dict(const Metadata& state) = 0;

 protected:
  explicit LRScheduler(OptimizerRef optimizer);

  /// The schedule's formula, for epoch >= 0.
  virtual double compute_lr(std::int64_t epoch) const = 0;

  /// Step 0: sets the optimizer's learning rate to lr_at(0). The last thing each derived
  /// constructor does, since compute_lr cannot be called before the derived part exists.
  void start();
  /// state_dict()'s common entries: kind, base_lr, last_epoch.
  Metadata common_state() const;
  /// Takes a validated state: the position in the schedule and the learning rate it gives.
  /// The rate has been checked, so this cannot throw.
  void restore(double base_lr, std::int64_t last_epoch, double lr) noexcept;

  OptimizerRef optimizer_;

 private:
  double base_lr_;
  std::int64_t last_epoch_ = 0;
  double last_lr_;
};

/// lr = base_lr * gamma^floor(epoch / step_size), as torch.optim.lr_scheduler.StepLR.
/// State: "scheduler.step_size", "scheduler.gamma".
class StepLR final : public LRScheduler {
 public:
  /// Throws ValueError unless step_size > 0 and gamma is finite and > 0.
  StepLR(OptimizerRef optimizer, std::int64_t step_size, double gamma = 0.1);

  const char* name() const override { return "StepLR"; }
  Metadata state_dict() const override;
  void load_state_dict(const Metadata& state) override;

  std::int64_t step_size() const { return step_size_; }
  double gamma() const { return gamma_; }

 private:
  double compute_lr(std::int64_t epoch) const override;

  std::int64_t step_size_;
  double gamma_;
};

/// lr = base_lr * gamma^epoch, as torch.optim.lr_scheduler.ExponentialLR.
/// State: "scheduler.gamma".
class ExponentialLR final : public LRScheduler {
 public:
  /// Throws ValueError unless gamma is finite and > 0.
  ExponentialLR(OptimizerRef optimizer, double gamma);

  const char* name() const override { return "ExponentialLR"; }
  Metadata state_dict() const override;
  void load_state_dict(const Metadata& state) override;

  double gamma() const { return gamma_; }

 private:
  double compute_lr(std::int64_t epoch) const override;

  double gamma_;
};

/// A linear warm-up followed by a cosine decay to min_lr, which then holds:
///
///     epoch < W:      base_lr * (s + (1 - s) * epoch / W)                      (LinearLR)
///     W <= epoch < T: min_lr + (base_lr - min_lr) * (1 + cos(pi (epoch - W) / (T - W))) / 2
///     epoch >= T:     min_lr
///
/// with W = warmup_steps, T = total_steps, s = warmup_start_factor. Up to T this is torch's
/// SequentialLR([LinearLR(start_factor=s, total_iters=W), CosineAnnealingLR(T_max=T - W,
/// eta_min=min_lr)], milestones=[W]) — torch 1.13 matches these closed forms to 1e-13, the
/// milestone included (tests/golden/make_lr_scheduler_golden.py checks) — or, for W = 0, plain
/// CosineAnnealingLR. Past T, CosineAnnealingLR would rise again (its cosine is periodic); a
/// schedule with a total is over there, so the rate stays at min_lr. The default start factor
/// is LinearLR's, 1/3; a factor of 0 (which torch's recursive LinearLR divides by) is allowed.
/// State: "scheduler.warmup_steps", "scheduler.total_steps", "scheduler.min_lr",
/// "scheduler.warmup_start_factor".
class WarmupCosineLR final : public LRScheduler {
 public:
  /// Throws ValueError unless 0 <= warmup_steps < total_steps, min_lr is finite and >= 0, and
  /// warmup_start_factor is in [0, 1].
  WarmupCosineLR(OptimizerRef optimizer, std::int64_t warmup_steps, std::int64_t total_steps,
                 double min_lr = 0.0, double warmup_start_factor = 1.0 / 3.0);

  const char* name() const override { return "WarmupCosineLR"; }
  Metadata state_dict() const override;
  void load_state_dict(const Metadata& state) override;

  std::int64_t warmup_steps() const { return warmup_steps_; }
  std::int64_t total_steps() const { return total_steps_; }
  double min_lr() const { return min_lr_; }
  double warmup_start_factor() const { return warmup_start_factor_; }

 private:
  double compute_lr(std::int64_t epoch) const override;

  std::int64_t warmup_steps_;
  std::int64_t total_steps_;
  double min_lr_;
  double warmup_start_factor_;
};

}  // namespace tapeloop
