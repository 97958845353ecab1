// HessianFree: truncated-Newton training (Martens 2010; Martens & Sutskever 2011) — conjugate
// gradient on the damped Gauss-Newton system, Levenberg-Marquardt damping, CG backtracking, a
// diagonal preconditioner, curvature mini-batches and structural damping of hidden states.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <vector>

#include "tapeloop/optim/optimizer.hpp"
#include "tapeloop/safetensors.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {

/// What a model records for HessianFree on one batch.
template <class T>
struct HessianFreeRecord {
  /// The objective: one value, the mean loss over the batch.
  Var<T> loss;
  /// The network's output, the input of its matching loss (logits for cross_entropy, the
  /// prediction for mse_loss): the Gauss-Newton matrix is J^T H_L J with J the Jacobian of this
  /// output in the parameters and H_L the loss's Hessian in it. Everything recorded after it
  /// belongs to the loss and needs second-order rules (every loss of ops/loss.hpp has them).
  Var<T> output;
  /// Hidden states to damp structurally (an RNN's h_t, stacked or one Var per step); empty for
  /// none. Used when HessianFreeOptions::structural_damping > 0.
  std::vector<Var<T>> hidden = {};
};

/// Records the model on the tape it is given, from its parameters' var(tape), and returns what
/// HessianFree needs. Called several times per step (the gradient, each trial point), on a
/// cleared tape each time; it must record the same batch every time within one step().
template <class T>
using HessianFreeClosure = std::function<HessianFreeRecord<T>(Tape<T>&)>;

/// The settings of HessianFree; the defaults are Martens's.
struct HessianFreeOptions {
  /// lambda, the Levenberg-Marquardt damping at the first step: CG solves (G + lambda I) d = -g.
  double initial_damping = 1.0;
  /// The damping is multiplied by `damping_increase` when the reduction ratio rho (actual over
  /// predicted decrease of the loss) is below 1/4, by `damping_decrease` when it is above 3/4.
  double damping_increase = 1.5;
  double damping_decrease = 2.0 / 3.0;
  /// mu of Martens & Sutskever 2011: adds mu * lambda * J_s^T J_s to the curvature for the
  /// hidden states s of HessianFreeRecord::hidden (0: off).
  double structural_damping = 0.0;
  /// CG's iteration limit, and the least it runs before the progress test may stop it.
  int max_cg_iterations = 250;
  int min_cg_iterations = 10;
  /// CG stops at iteration i once the quadratic's relative progress over the last
  /// k = max(min_cg_iterations, i / 10) iterations is below k * cg_tolerance.
  double cg_tolerance = 5e-4;
  /// CG starts from this multiple of the previous step's last CG iterate.
  double cg_decay = 0.95;
  /// Precondition CG with diag(a + lambda)^exponent, a the running average (decay
  /// `preconditioner_decay`) of the squared gradient.
  bool preconditioner = true;
  double preconditioner_exponent = 0.75;
  double preconditioner_decay = 0.95;
  /// The backtracking line search on the chosen CG iterate: the step rate is multiplied by
  /// `line_search_shrink` until the loss falls by at least `armijo` * rate * g^T d, at most
  /// `max_line_search` times (then no step is taken).
  double line_search_shrink = 0.8;
  double armijo = 1e-2;
  int max_line_search = 60;
};

/// What the last step() did, for logs and tests.
struct HessianFreeStats {
  double loss = 0;           // on the gradient batch, before the step
  double loss_after = 0;     // on the gradient batch, after it
  double damping = 0;        // lambda after the step's adjustment
  double rho = 0;            // actual / predicted decrease of the chosen CG iterate
  double step_rate = 0;      // from the line search; 0: no step was taken
  int cg_iterations = 0;     // CG's iterations: a Gauss-Newton product each, plus two more
  int chosen_iteration = 0;  // the CG iterate backtracking chose
};

/// Truncated Newton with the Gauss-Newton matrix, for any model that records on a tape. One
/// step(): the gradient g on the gradient batch; conjugate gradient on
/// (G + lambda I + mu lambda J_s^T J_s) d = -g, G from Tape::gnvp on the curvature batch (one
/// recording, one product per CG iteration), preconditioned and started from the previous
/// solution; backtracking over CG's iterates (Martens 2010, section 4.6) by the loss on the
/// gradient batch; the damping adjusted by rho; a backtracking line search; p += lr * rate * d.
///
/// State: "hf_direction.<name>" (the last CG iterate) and "hf_sq_grad.<name>" (the
/// preconditioner's average), saved with the parameters like any optimizer's; the damping is a
/// number, saved through state_dict() in the checkpoint's metadata as schedulers are.
/// step() without a closure throws ValueError: HessianFree must evaluate the model itself.
template <class T = float>
class HessianFree : public Optimizer<T> {
 public:
  /// Throws ValueError for an option out of its range, naming it.
  explicit HessianFree(std::span<Parameter<T>* const> params,
                       const HessianFreeOptions& options = {});
  HessianFree(std::initializer_list<Parameter<T>*> params, const HessianFreeOptions& options = {})
      : HessianFree(std::span<Parameter<T>* const>(params.begin(), params.size()), options) {}

  /// One step with the same batch for the gradient and the curvature. Returns the loss before.
  double step(const HessianFreeClosure<T>& batch) { return step(batch, batch); }
  /// One step: the gradient, rho and the line search on `gradient_batch`, the Gauss-Newton
  /// products on `curvature_batch` (Martens uses a fraction of the gradient's). Leaves the
  /// parameters' gradients holding the gradient at the start of the step. The checks of
  /// Optimizer::step() come first; a throw from a closure or from a check leaves the
  /// parameters as they were.
  double step(const HessianFreeClosure<T>& gradient_batch,
              const HessianFreeClosure<T>& curvature_batch);
  using Optimizer<T>::step;

  const char* name() const override { return "HessianFree"; }
  const HessianFreeOptions& options() const { return options_; }
  const HessianFreeStats& last_stats() const { return stats_; }
  double damping() const { return damping_; }
  /// Throws ValueError unless finite and > 0.
  void set_damping(double lambda);

  /// The damping as checkpoint metadata: "hessian_free.damping".
  Metadata state_dict() const;
  /// Restores it; FormatError naming the key when it is missing or not a positive number (the
  /// optimizer is then unchanged). Other keys are ignored.
  void load_state_dict(const Metadata& state);

 protected:
  void update() override;
  std::vector<typename Optimizer<T>::StateKind> state_kinds() const override;

 private:
  struct Trial;
  /// ValueError unless `tape` holds a leaf of a trainable parameter of this optimizer.
  void check_uses_parameters(const Tape<T>& tape, const char* batch);
  HessianFreeOptions options_;
  double damping_;
  HessianFreeStats stats_;
  std::vector<Tensor<T>> direction_;  // the last CG iterate, per parameter
  std::vector<Tensor<T>> sq_grad_;    // running average of the squared gradient
  const HessianFreeClosure<T>* gradient_batch_ = nullptr;  // during step() only
  const HessianFreeClosure<T>* curvature_batch_ = nullptr;
  double loss_ = 0;
  Tape<T> tape_;            // the gradient batch, then each trial point
  Tape<T> curvature_tape_;  // the curvature batch, recorded once per step
};

extern template class HessianFree<float>;
extern template class HessianFree<double>;

}  // namespace tapeloop
