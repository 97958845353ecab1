// Optimizer: parameter bookkeeping, learning rate, the checks every step() makes (parameters
// alive, shapes unchanged, gradients finite) and named state.
#include "tapeloop/optim/optimizer.hpp"

#include <cstdio>
#include <set>
#include <string_view>

#include "nonfinite.hpp"
#include "optim_checks.hpp"
#include "tapeloop/errors.hpp"

namespace tapeloop {

template <class T>
Optimizer<T>::Optimizer(std::span<Parameter<T>* const> params, double lr, const char* who)
    : params_(params.begin(), params.end()), steps_(params.size(), 0), lr_(lr), who_(who) {
  detail::require_non_negative(who, "learning rate", lr);
  std::set<const Parameter<T>*> seen;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (params_[i] == nullptr) {
      throw ValueError(std::string(who) + ": parameter " + std::to_string(i) + " is null");
    }
    if (!seen.insert(params_[i]).second) {
      throw ValueError(std::string(who) + ": parameter " + std::to_string(i) + " ('" +
                       params_[i]->name() + "') appears twice; it would be updated twice");
    }
    shapes_.push_back(params_[i]->shape());
    anchors_.push_back(params_[i]->anchor());
  }
}

template <class T>
void Optimizer<T>::step() {
  // Every check comes before the first write, so whatever throws, nothing has changed.
  check_parameters();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (params_[i]->requires_grad()) check_shape(i);
  }
  if (nonfinite_policy_ != NonFiniteGradPolicy::unchecked && has_nonfinite_grad()) {
    ++skipped_steps_;  // only reached under skip: raise has thrown
    last_step_skipped_ = true;
    return;
  }
  last_step_skipped_ = false;
  update();
}

template <class T>
bool Optimizer<T>::has_nonfinite_grad() const {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Parameter<T>& p = *params_[i];
    if (!p.requires_grad() || detail::all_finite(p.grad().data(), p.grad().numel())) continue;
    if (nonfinite_policy_ == NonFiniteGradPolicy::raise) {
      detail::throw_nonfinite_grad(who_, i, p,
                                   "the step was not taken and nothing changed (find where it "
                                   "comes from, or set_nonfinite_policy(skip) to skip such steps)");
    }
    return true;
  }
  return false;
}

template <class T>
void Optimizer<T>::throw_not_live(std::size_t i) const {
  const ParameterAnchor& anchor = *anchors_[i];
  const std::string fix =
      "; keep parameters at fixed addresses (reserve the std::vector before adding them, or use "
      "std::deque or std::unique_ptr<Parameter>) and make the optimizer after";
  if (anchor.owner == nullptr) {
    const std::string name = anchor.name.empty() ? "unnamed" : "'" + anchor.name + "'";
    throw LifetimeError(std::string(who_) + ": parameter " + std::to_string(i) + " (" + name +
                        ") was destroyed, or assigned over, after the optimizer was made; the "
                        "parameters must outlive the optimizer" +
                        fix);
  }
  // The anchor's owner is the live Parameter that holds the storage now.
  const auto* moved_to = static_cast<const Parameter<T>*>(anchor.owner);
  const std::string name = moved_to->name().empty() ? "unnamed" : "'" + moved_to->name() + "'";
  char addresses[64];
  std::snprintf(addresses, sizeof addresses, "from %p to %p", static_cast<const void*>(params_[i]),
                anchor.owner);
  throw LifetimeError(std::string(who_) + ": parameter " + std::to_string(i) + " (" + name +
                      ") was moved " + addresses +
                      " after the optimizer was made (a std::vector<Parameter> that grew?), and "
                      "the optimizer still holds its old address" +
                      fix);
}

template <class T>
void Optimizer<T>::zero_grad() {
  check_parameters();
  for (Parameter<T>* p : params_) p->zero_grad();
}

template <class T>
void Optimizer<T>::set_learning_rate(double lr) {
  detail::require_non_negative(who_, "learning rate", lr);
  lr_ = lr;
}

template <class T>
std::vector<Tensor<T>> Optimizer<T>::zeros_like_parameters() const {
  std::vector<Tensor<T>> state;
  state.reserve(params_.size());
  for (const Shape& shape : shapes_) state.push_back(Tensor<T>::zeros(shape));
  return state;
}

template <class T>
void Optimizer<T>::check_shape(std::size_t i) const {
  const Parameter<T>& p = *params_[i];
  if (p.shape() != shapes_[i] || p.grad().shape() != shapes_[i]) {
    throw ShapeError(std::string(who_) + ": parameter '" + p.name() + "' had shape " +
                     shapes_[i].str() + " when the optimizer was made; now its value is " +
                     p.shape().str() + " and its gradient " + p.grad().shape().str());
  }
}

template <class T>
std::vector<std::string> Optimizer<T>::parameter_names() const {
  check_parameters();
  std::vector<std::string> names;
  names.reserve(params_.size());
  for (const Parameter<T>* p : params_) names.push_back(p->name());
  return names;
}

template <class T>
void Optimizer<T>::check_names(std::span<const std::string> names) const {
  if (names.size() != params_.size()) {
    throw ValueError(std::string(who_) + ": " + std::to_string(names.size()) + " names for " +
                     std::to_string(params_.size()) + " parameters");
  }
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      throw ValueError(std::string(who_) + ": parameter " + std::to_string(i) +
                       " has no name; named state needs every parameter named");
    }
    if (!seen.insert(names[i]).second) {
      throw ValueError(std::string(who_) + ": two parameters are named '" + names[i] +
                       "'; named state needs unique names");
    }
  }
}

template <class T>
std::vector<NamedState<T>> Optimizer<T>::named_state() {
  return named_state(parameter_names());
}

template <class T>
std::vector<NamedState<T>> Optimizer<T>::named_state(std::span<const std::string> names) {
  std::vector<NamedState<T>> out;
  for (const ConstNamedState<T>& entry : std::as_const(*this).named_state(names)) {
    // The tensors are this optimizer's own members; only the const view above was const.
    out.emplace_back(entry.first, const_cast<Tensor<T>*>(entry.second));
  }
  return out;
}

template <class T>
std::vector<ConstNamedState<T>> Optimizer<T>::named_state() const {
  return named_state(parameter_names());
}

template <class T>
std::vector<ConstNamedState<T>> Optimizer<T>::named_state(
    std::span<const std::string> names) const {
  check_parameters();
  check_names(names);
  std::vector<ConstNamedState<T>> out;
  for (const StateKind& kind : state_kinds()) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      out.emplace_back(std::string(kind.kind) + "." + names[i], &(*kind.tensors)[i]);
    }
  }
  return out;
}

template <class T>
std::vector<NamedStep> Optimizer<T>::named_steps() {
  return named_steps(parameter_names());
}

template <class T>
std::vector<NamedStep> Optimizer<T>::named_steps(std::span<const std::string> names) {
  std::vector<NamedStep> out;
  for (const ConstNamedStep& entry : std::as_const(*this).named_steps(names)) {
    out.emplace_back(entry.first, const_cast<std::int64_t*>(entry.second));
  }
  return out;
}

template <class T>
std::vector<ConstNamedStep> Optimizer<T>::named_steps() const {
  return named_steps(parameter_names());
}

template <class T>
std::vector<ConstNamedStep> Optimizer<T>::named_steps(std::span<const std::string> names) const {
  check_parameters();
  check_names(names);
  std::vector<ConstNamedStep> out;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("step." + names[i], &steps_[i]);
  }
  return out;
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace tapeloop
