// ReduceLROnPlateau: lowers an optimizer's learning rate when a metric stops improving, as
// torch.optim.lr_scheduler.ReduceLROnPlateau, its state saved in checkpoint metadata like the
// other schedulers' (see lr_scheduler.hpp, which includes this header).
#pragma once

#include <cstdint>

#include "tapeloop/optim/optimizer_ref.hpp"
#include "tapeloop/safetensors.hpp"

namespace tapeloop {

/// Whether a smaller or a larger metric is better (a loss, or an accuracy).
enum class PlateauMode { min, max };
/// How much better a metric must be than the best so far to count as an improvement:
/// rel: beyond best * (1 -/+ threshold); abs: beyond best -/+ threshold.
enum class ThresholdMode { rel, abs };

/// torch.optim.lr_scheduler.ReduceLROnPlateau's arguments, with its defaults.
struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::min;
  /// new lr = max(lr * factor, min_lr). In [0, 1).
  double factor = 0.1;
  /// Bad epochs tolerated: the rate drops on the (patience + 1)-th bad epoch in a row.
  std::int64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::rel;
  /// Epochs after a reduction during which bad epochs are not counted.
  std::int64_t cooldown = 0;
  double min_lr = 0.0;
  /// A reduction smaller than eps is skipped (the rate is left as it is).
  double eps = 1e-8;
};

/// Reduces the learning rate when a metric has stopped improving, following
/// torch.optim.lr_scheduler.ReduceLROnPlateau step for step:
///
///     if metric is better than best (per mode and threshold): best = metric, bad = 0
///     else: bad += 1
///     if cooldown_counter > 0: cooldown_counter -= 1, bad = 0
///     if bad > patience:
///         new = max(lr * factor, min_lr); if lr - new > eps: lr = new
///         cooldown_counter = cooldown, bad = 0
///
/// where lr is the optimizer's current learning rate, so a rate changed by hand is reduced from
/// where it was put. Construction does not change the rate.
///
/// Not an LRScheduler, as in torch (where it is not an _LRScheduler either): its step needs the
/// metric, so code that drives an LRScheduler& with step() could not drive it, and a step()
/// without a metric would have nothing to go on.
class ReduceLROnPlateau {
 public:
  /// Throws ValueError unless factor is in [0, 1), patience and cooldown are >= 0, and
  /// threshold, min_lr and eps are finite and >= 0.
  explicit ReduceLROnPlateau(OptimizerRef optimizer, const ReduceLROnPlateauOptions& options = {});
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  /// One epoch's metric (a validation loss, say). +-infinity is a metric like any other (an
  /// infinite loss is a bad epoch); NaN throws ValueError, changing nothing, as it can be
  /// neither better nor worse. Performs no heap allocation.
  void step(double metric);

  /// The optimizer's learning rate after the last step() (at construction: its rate then).
  double last_lr() const { return last_lr_; }
  /// How many times step() has run.
  std::int64_t last_epoch() const { return last_epoch_; }
  /// The best metric so far: +infinity (mode min) or -infinity (mode max) before the first.
  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
  std::int64_t cooldown_counter() const { return cooldown_counter_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  const ReduceLROnPlateauOptions& options() const { return options_; }
  const char* name() const { return "ReduceLROnPlateau"; }

  /// "scheduler.kind" = "ReduceLROnPlateau", every option ("scheduler.mode" = "min" or "max",
  /// "scheduler.threshold_mode" = "rel" or "abs", "scheduler.factor", ...), and the state:
  /// "scheduler.best" (may be "inf" or "-inf"), "scheduler.num_bad_epochs",
  /// "scheduler.cooldown_counter", "scheduler.last_epoch", "scheduler.last_lr".
  Metadata state_dict() const;
  /// As LRScheduler::load_state_dict: all or nothing, FormatError naming the key; the
  /// optimizer's learning rate is set to the restored last_lr(). Only "scheduler.best" may be
  /// infinite, and the counters must be ones step() can reach (num_bad_epochs <= patience,
  /// cooldown_counter <= cooldown).
  void load_state_dict(const Metadata& state);

 private:
  bool is_better(double metric) const;

  OptimizerRef optimizer_;
  ReduceLROnPlateauOptions options_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
  double last_lr_;
};

}  // namespace tapeloop
