// HessianFree: the step (gradient, preconditioned CG on Gauss-Newton products, backtracking,
// damping, line search) and its checkpointed state.
#include "tapeloop/optim/hessian_free.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "optim_checks.hpp"
#include "tapeloop/errors.hpp"

namespace tapeloop {
namespace {

constexpr const char* who = "HessianFree";
constexpr const char* damping_key = "hessian_free.damping";

void require(bool ok, const char* option, double value, const char* requirement) {
  if (!ok) {
    throw ValueError(std::string(who) + ": " + option + " " + requirement + ", got " +
                     detail::number_str(value));
  }
}

void check_options(const HessianFreeOptions& o) {
  auto finite_positive = [](double v) { return std::isfinite(v) && v > 0; };
  require(finite_positive(o.initial_damping), "initial_damping", o.initial_damping,
          "must be finite and > 0");
  require(std::isfinite(o.damping_increase) && o.damping_increase >= 1, "damping_increase",
          o.damping_increase, "must be finite and >= 1");
  require(o.damping_decrease > 0 && o.damping_decrease <= 1, "damping_decrease", o.damping_decrease,
          "must be in (0, 1]");
  require(std::isfinite(o.structural_damping) && o.structural_damping >= 0, "structural_damping",
          o.structural_damping, "must be finite and >= 0");
  require(o.max_cg_iterations >= 1, "max_cg_iterations", o.max_cg_iterations, "must be >= 1");
  require(o.min_cg_iterations >= 1, "min_cg_iterations", o.min_cg_iterations, "must be >= 1");
  require(finite_positive(o.cg_tolerance), "cg_tolerance", o.cg_tolerance,
          "must be finite and > 0");
  require(o.cg_decay >= 0 && o.cg_decay <= 1, "cg_decay", o.cg_decay, "must be in [0, 1]");
  require(std::isfinite(o.preconditioner_exponent) && o.preconditioner_exponent >= 0,
          "preconditioner_exponent", o.preconditioner_exponent, "must be finite and >= 0");
  require(o.preconditioner_decay >= 0 && o.preconditioner_decay < 1, "preconditioner_decay",
          o.preconditioner_decay, "must be in [0, 1)");
  require(o.line_search_shrink > 0 && o.line_search_shrink < 1, "line_search_shrink",
          o.line_search_shrink, "must be in (0, 1)");
  require(o.armijo >= 0 && o.armijo < 1, "armijo", o.armijo, "must be in [0, 1)");
  require(o.max_line_search >= 0, "max_line_search", o.max_line_search, "must be >= 0");
}

// <a, b> accumulated in double.
template <class T>
double dot(const std::vector<T>& a, const std::vector<T>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

template <class T>
void check_record(const HessianFreeRecord<T>& r, const Tape<T>& tape, const char* batch) {
  auto fail = [&](const std::string& what) {
    throw ValueError(std::string(who) + ": the " + batch + " closure " + what);
  };
  if (r.loss.empty() || &r.loss.tape() != &tape) fail("must return a loss recorded on its tape");
  if (r.loss.numel() != 1) {
    fail("returned a loss of shape " + r.loss.shape().str() + ": expected one value");
  }
  if (!r.loss.requires_grad()) fail("returned a loss that depends on no trainable parameter");
  if (r.output.empty() || &r.output.tape() != &tape || !r.output.requires_grad() ||
      r.output.index() >= r.loss.index()) {
    fail(
        "must return the network's output, recorded on its tape before the loss and depending "
        "on the parameters");
  }
}

}  // namespace

// The parameters that train, flattened: parameter i's elements at offsets[i] of a vector.
template <class T>
struct HessianFree<T>::Trial {
  HessianFree& hf;
  std::vector<std::size_t> trained;  // indices into params_
  std::vector<std::int64_t> offsets;
  std::int64_t total = 0;
  std::vector<T> start;  // the parameters at the start of the step
  bool committed = false;

  explicit Trial(HessianFree& h) : hf(h) {
    for (std::size_t i = 0; i < hf.params_.size(); ++i) {
      if (!hf.params_[i]->requires_grad()) continue;
      trained.push_back(i);
      offsets.push_back(total);
      total += hf.params_[i]->numel();
    }
    start = gather([&](std::size_t i) { return hf.params_[i]->value().data(); });
  }
  // Puts the starting point back unless the step was committed: a throw changes nothing.
  ~Trial() {
    if (!committed) set(start, nullptr, T(0));
  }

  // The trained parameters' get(i) (i their index in params_), one after the other.
  template <class Get>
  std::vector<T> gather(Get get) const {
    std::vector<T> flat(static_cast<std::size_t>(total));
    for (std::size_t k = 0; k < trained.size(); ++k) {
      const T* src = get(trained[k]);
      std::copy(src, src + hf.params_[trained[k]]->numel(), flat.begin() + offsets[k]);
    }
    return flat;
  }
  // The parameters = base + rate * d (d may be null).
  void set(const std::vector<T>& base, const std::vector<T>* d, T rate) {
    for (std::size_t k = 0; k < trained.size(); ++k) {
      Parameter<T>& p = *hf.params_[trained[k]];
      T* dst = p.value().data();
      for (std::int64_t e = 0; e < p.numel(); ++e) {
        const std::size_t at = static_cast<std::size_t>(offsets[k] + e);
        dst[e] = d ? base[at] + rate * (*d)[at] : base[at];
      }
    }
  }
  // The loss on the gradient batch at start + rate * d; +inf when it is not finite.
  double loss_at(const std::vector<T>& d, T rate) {
    set(start, &d, rate);
    hf.tape_.clear();
    auto guard = hf.tape_.no_grad();
    const double f = (*hf.gradient_batch_)(hf.tape_).loss.item();
    return std::isfinite(f) ? f : std::numeric_limits<double>::infinity();
  }
};

template <class T>
HessianFree<T>::HessianFree(std::span<Parameter<T>* const> params,
                            const HessianFreeOptions& options)
    : Optimizer<T>(params, 1.0, who), options_(options), damping_(options.initial_damping) {
  check_options(options);
  direction_ = this->zeros_like_parameters();
  sq_grad_ = this->zeros_like_parameters();
}

template <class T>
void HessianFree<T>::check_uses_parameters(const Tape<T>& tape, const char* batch) {
  for (Parameter<T>* p : this->params_) {
    if (p->requires_grad() && !tape.parameter_leaves(p->anchor().get()).empty()) return;
  }
  throw ValueError(std::string(who) + ": the " + batch +
                   " closure recorded none of the optimizer's trainable parameters (did it "
                   "record a copy of the model? capture the model by reference)");
}

template <class T>
void HessianFree<T>::set_damping(double lambda) {
  require(std::isfinite(lambda) && lambda > 0, "damping", lambda, "must be finite and > 0");
  damping_ = lambda;
}

template <class T>
double HessianFree<T>::step(const HessianFreeClosure<T>& gradient_batch,
                            const HessianFreeClosure<T>& curvature_batch) {
  this->check_parameters();
  this->zero_grad();
  tape_.clear();
  const HessianFreeRecord<T> r = gradient_batch(tape_);
  check_record(r, tape_, "gradient batch");
  check_uses_parameters(tape_, "gradient batch");
  loss_ = r.loss.item();
  tape_.backward(r.loss);
  struct Forget {
    HessianFree* hf;
    ~Forget() { hf->gradient_batch_ = hf->curvature_batch_ = nullptr; }
  } forget{this};
  gradient_batch_ = &gradient_batch;
  curvature_batch_ = &curvature_batch;
  Optimizer<T>::step();  // the checks, then update()
  return loss_;
}

template <class T>
void HessianFree<T>::update() {
  if (!gradient_batch_) {
    throw ValueError(std::string(who) +
                     ": step() needs the model: call step(batch) or "
                     "step(gradient_batch, curvature_batch)");
  }
  const HessianFreeOptions& o = options_;
  Trial trial(*this);
  const std::size_t n = static_cast<std::size_t>(trial.total);
  if (n == 0) return;  // every parameter frozen
  const std::vector<T> g =
      trial.gather([&](std::size_t i) { return this->params_[i]->grad().data(); });

  // The preconditioner's average, a new value kept only if the step completes.
  std::vector<T> sq = trial.gather([&](std::size_t i) { return sq_grad_[i].data(); });
  for (std::size_t k = 0; k < trial.trained.size(); ++k) {
    const bool first = this->steps_[trial.trained[k]] == 0;  // the average starts at g^2
    const T decay = first ? T(0) : T(o.preconditioner_decay);
    const std::size_t begin = static_cast<std::size_t>(trial.offsets[k]);
    const std::size_t end =
        begin + static_cast<std::size_t>(this->params_[trial.trained[k]]->numel());
    for (std::size_t i = begin; i < end; ++i) sq[i] = decay * sq[i] + (T(1) - decay) * g[i] * g[i];
  }
  const T lambda = T(damping_);
  std::vector<T> inverse_m(n, T(1));
  if (o.preconditioner) {
    for (std::size_t i = 0; i < n; ++i) {
      inverse_m[i] = T(1) / std::pow(sq[i] + lambda, T(o.preconditioner_exponent));
    }
  }

  // The curvature batch, recorded once; its parameters' leaves are the products' inputs.
  curvature_tape_.clear();
  const HessianFreeRecord<T> c = (*curvature_batch_)(curvature_tape_);
  check_record(c, curvature_tape_, "curvature batch");
  check_uses_parameters(curvature_tape_, "curvature batch");
  std::vector<Var<T>> inputs;
  std::vector<std::size_t> input_param;  // index into trial.trained
  for (std::size_t k = 0; k < trial.trained.size(); ++k) {
    for (const Var<T>& leaf :
         curvature_tape_.parameter_leaves(this->params_[trial.trained[k]]->anchor().get())) {
      if (!leaf.requires_grad()) continue;
      inputs.push_back(leaf);
      input_param.push_back(k);
    }
  }
  std::vector<Tensor<T>> leaf_products;
  std::vector<TensorRef<const T>> directions;
  std::vector<TensorRef<T>> products;
  for (const Var<T>& leaf : inputs) leaf_products.emplace_back(leaf.shape());
  for (Tensor<T>& t : leaf_products) products.push_back(t.ref());
  // out = (G + damped * (lambda I + mu lambda J_s^T J_s)) v.
  auto curvature = [&](const std::vector<T>& v, std::vector<T>& out, bool damped) {
    directions.clear();
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      directions.push_back({v.data() + trial.offsets[input_param[k]], inputs[k].shape()});
    }
    const T mu = damped ? T(o.structural_damping) * lambda : T(0);
    curvature_tape_.gnvp(c.loss, c.output, inputs, directions, products,
                         mu > T(0) ? std::span<const Var<T>>(c.hidden) : std::span<const Var<T>>(),
                         mu);
    std::fill(out.begin(), out.end(), T(0));
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      T* dst = out.data() + trial.offsets[input_param[k]];
      const Tensor<T>& p = leaf_products[k];
      for (std::int64_t e = 0; e < p.numel(); ++e) dst[e] += p[e];
    }
    if (damped) {
      for (std::size_t i = 0; i < n; ++i) out[i] += lambda * v[i];
    }
  };

  // Preconditioned CG on q(x) = 1/2 x^T A x + g^T x from the decayed previous solution, keeping
  // the iterates at i = ceil(1.3^j) for backtracking.
  std::vector<T> x = trial.gather([&](std::size_t i) { return direction_[i].data(); });
  for (T& e : x) e *= T(o.cg_decay);
  std::vector<T> r(n), y(n), p(n), ap(n);
  curvature(x, r, true);
  for (std::size_t i = 0; i < n; ++i) r[i] += g[i];
  // q(x) = 1/2 x^T A x + g^T x = 1/2 x^T (r + g), with the residual r = A x + g.
  auto quadratic = [&] {
    double q = 0;
    for (std::size_t e = 0; e < n; ++e) q += 0.5 * double(x[e]) * (double(r[e]) + double(g[e]));
    return q;
  };
  // A previous solution the new quadratic does not favour over no step is dropped.
  if (!(quadratic() < 0)) {
    std::fill(x.begin(), x.end(), T(0));
    r = g;
  }
  for (std::size_t i = 0; i < n; ++i) y[i] = inverse_m[i] * r[i];
  for (std::size_t i = 0; i < n; ++i) p[i] = -y[i];
  double ry = dot(r, y);
  const double ry0 = ry;
  std::vector<double> phi;  // q at each iterate
  std::vector<std::pair<int, std::vector<T>>> kept;
  double next_keep = 1;
  int iterations = 0;
  for (int i = 1; i <= o.max_cg_iterations; ++i) {
    curvature(p, ap, true);
    const double pap = dot(p, ap);
    if (!(pap > 0) || !std::isfinite(pap)) break;  // no curvature left along p (or none at all)
    const T alpha = T(ry / pap);
    for (std::size_t e = 0; e < n; ++e) x[e] += alpha * p[e];
    for (std::size_t e = 0; e < n; ++e) r[e] += alpha * ap[e];
    for (std::size_t e = 0; e < n; ++e) y[e] = inverse_m[e] * r[e];
    const double ry_next = dot(r, y);
    const T beta = T(ry_next / ry);
    ry = ry_next;
    for (std::size_t e = 0; e < n; ++e) p[e] = -y[e] + beta * p[e];
    iterations = i;
    const double q = quadratic();
    phi.push_back(q);
    if (i >= static_cast<int>(std::ceil(next_keep))) {
      kept.emplace_back(i, x);
      while (std::ceil(next_keep) <= i) next_keep *= 1.3;
    }
    const int k = std::max(o.min_cg_iterations, i / 10);
    if (i > k && q < 0) {
      const double earlier = phi[static_cast<std::size_t>(i - k - 1)];
      if ((q - earlier) / q < k * o.cg_tolerance) break;
    }
    // Solved to rounding: what is left of the residual is noise.
    if (ry <= ry0 * std::numeric_limits<T>::epsilon() * std::numeric_limits<T>::epsilon()) break;
  }
  if (kept.empty() || kept.back().first != iterations) kept.emplace_back(iterations, x);

  // Backtracking: from the last iterate, step back while the loss keeps falling.
  std::size_t best = kept.size() - 1;
  double best_loss = trial.loss_at(kept[best].second, T(1));
  while (best > 0) {
    const double f = trial.loss_at(kept[best - 1].second, T(1));
    if (!(f < best_loss)) break;
    --best;
    best_loss = f;
  }
  const std::vector<T>& d = kept[best].second;

  // rho: the actual decrease over the undamped quadratic model's.
  std::vector<T> gd_product(n);
  curvature(d, gd_product, false);
  const double gd = dot(g, d);
  const double predicted = gd + 0.5 * dot(d, gd_product);
  const double rho =
      predicted < 0 ? (best_loss - loss_) / predicted : -std::numeric_limits<double>::infinity();
  double new_damping = damping_;
  if (rho < 0.25) new_damping *= o.damping_increase;
  if (rho > 0.75) new_damping *= o.damping_decrease;

  // Line search on the rate, from 1 (whose loss backtracking measured).
  double rate = 1, f = best_loss;
  int tries = 0;
  while (!(f <= loss_ + o.armijo * rate * gd) && tries < o.max_line_search) {
    rate *= o.line_search_shrink;
    f = trial.loss_at(d, T(rate));
    ++tries;
  }
  if (!(f <= loss_ + o.armijo * rate * gd)) {
    rate = 0;
    f = loss_;
  }

  // Commit: nothing below throws.
  trial.set(trial.start, &d, T(this->lr_ * rate));
  trial.committed = true;
  for (std::size_t k = 0; k < trial.trained.size(); ++k) {
    const std::size_t i = trial.trained[k];
    T* dir = direction_[i].data();
    T* s = sq_grad_[i].data();
    for (std::int64_t e = 0; e < this->params_[i]->numel(); ++e) {
      dir[e] = x[static_cast<std::size_t>(trial.offsets[k] + e)];
      s[e] = sq[static_cast<std::size_t>(trial.offsets[k] + e)];
    }
    ++this->steps_[i];
  }
  damping_ = new_damping;
  stats_ = {loss_, f, damping_, rho, rate, iterations, kept[best].first};
}

template <class T>
std::vector<typename Optimizer<T>::StateKind> HessianFree<T>::state_kinds() const {
  return {{"hf_direction", &direction_}, {"hf_sq_grad", &sq_grad_}};
}

template <class T>
Metadata HessianFree<T>::state_dict() const {
  char buffer[64];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, damping_).ptr;
  return {{damping_key, std::string(buffer, end)}};
}

template <class T>
void HessianFree<T>::load_state_dict(const Metadata& state) {
  const auto it = state.find(damping_key);
  if (it == state.end()) {
    throw FormatError(std::string(who) + ": cannot load the state: no key '" + damping_key + "'");
  }
  const std::string& text = it->second;
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
      value <= 0) {
    throw FormatError(std::string(who) + ": cannot load the state: '" + damping_key + "' is '" +
                      text + "', expected a finite number > 0");
  }
  damping_ = value;
}

template class HessianFree<float>;
template class HessianFree<double>;

}  // namespace tapeloop
