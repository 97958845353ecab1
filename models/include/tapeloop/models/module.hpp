// Module: a model's parameters under PyTorch-style dotted names, and its train/eval mode.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tapeloop/parameter.hpp"
#include "tapeloop/safetensors.hpp"

namespace tapeloop::models {

/// Training or evaluation mode, for a module and for parameter-free parts such as Dropout.
class TrainMode {
 public:
  TrainMode() = default;
  TrainMode(const TrainMode&) = default;
  TrainMode(TrainMode&&) = default;
  TrainMode& operator=(const TrainMode&) = default;
  TrainMode& operator=(TrainMode&&) = default;
  virtual ~TrainMode() = default;

  /// Training mode (the default) or evaluation mode; a Module passes it on to all its parts.
  virtual void train(bool on = true) { training_ = on; }
  void eval() { train(false); }
  bool training() const { return training_; }

 private:
  bool training_ = true;
};

template <class T>
class Module;

/// What a module shows its parameters and parts to (see Module::visit). Depending on what the
/// module asked for, it collects the parameters under dotted names, zeroes their gradients, or
/// passes a mode on; only collecting touches the heap.
template <class T>
class ModuleVisitor {
 public:
  /// A parameter of the module being visited, under `name` ("weight").
  void parameter(std::string_view name, Parameter<T>& p);
  /// A submodule, under `name`: its parameters are listed as "name.weight" and so on.
  void module(std::string_view name, Module<T>& m);
  /// A part with a mode and no parameters, such as Dropout.
  void module(std::string_view name, TrainMode& part);
  /// A module of another scalar type would be taken for a parameter-free part: refused.
  template <class U>
  void module(std::string_view name, Module<U>& m) = delete;

 private:
  friend class Module<T>;
  enum class Action { collect, zero_grad, set_mode };
  Action action_ = Action::collect;
  std::vector<std::pair<std::string, Parameter<T>*>>* out_ = nullptr;  // with collect
  std::string prefix_;                                                 // with collect
  bool training_ = true;                                               // with set_mode
};

/// Base of a model made of Parameters and submodules. A subclass lists them in visit(), in a
/// fixed order, and gets named_parameters(), parameters(), zero_grad() and train()/eval():
///
///   struct Tagger : Module<float> {
///     Embedding<float> embed;  Linear<float> out;  Dropout drop;
///     void visit(ModuleVisitor<float>& v) override {
///       v.module("embed", embed);  v.module("out", out);  v.module("drop", drop);
///     }
///   };  // named_parameters(): "embed.weight", "out.weight", "out.bias"
///
/// Nothing is stored but the mode: the lists are made when asked for, so a module can be
/// copied and moved freely. Forward passes are ordinary member functions, not virtual calls.
template <class T = float>
class Module : public TrainMode {
 public:
  /// Shows this module's parameters (v.parameter) and submodules (v.module) to `v`.
  virtual void visit(ModuleVisitor<T>& v) = 0;

  /// Every parameter, depth first in visit() order, named like PyTorch ("encoder.weight_ih_l0").
  std::vector<std::pair<std::string, Parameter<T>*>> named_parameters();
  /// The same parameters without their names (for an optimizer).
  std::vector<Parameter<T>*> parameters();
  /// Zeroes every parameter's gradient (without allocating, so once per training step is fine).
  void zero_grad();
  /// Sets the mode of this module and of every part it visits, recursively.
  void train(bool on = true) override;

  /// PyTorch's state_dict(): every parameter's value under its named_parameters() name, as a
  /// read-only view of the parameter's own storage (no copy). Ready for save_safetensors; the
  /// views are valid while the module's parameters are.
  std::vector<NamedTensor> state_dict();
  /// PyTorch's load_state_dict(): copies each entry into the parameter of the same name, from
  /// another module's state_dict() (or any list of named views). All or
  /// nothing: every entry is checked first, and a problem throws with nothing copied —
  /// ValueError listing the missing and unexpected names (with `strict`; without, only matching
  /// names are copied), ShapeError or ValueError for an entry whose shape or dtype is not its
  /// parameter's (F32 for float, F64 for double: no silent conversion).
  void load_state_dict(std::span<const NamedTensor> entries, bool strict = true);
  /// The same from a safetensors file's entries (a PyTorch state_dict saved with
  /// safetensors.torch.save_file loads with no renaming); errors name the file.
  void load_state_dict(const SafetensorsFile& file, bool strict = true);
};

// ---- inline definitions -----------------------------------------------------------------------

template <class T>
void ModuleVisitor<T>::parameter(std::string_view name, Parameter<T>& p) {
  if (action_ == Action::collect) out_->emplace_back(prefix_ + std::string(name), &p);
  if (action_ == Action::zero_grad) p.zero_grad();
}

template <class T>
void ModuleVisitor<T>::module(std::string_view name, Module<T>& m) {
  if (action_ == Action::set_mode) {
    m.train(training_);  // recurses on its own
  } else if (action_ == Action::zero_grad) {
    m.visit(*this);
  } else {
    const std::size_t length = prefix_.size();
    prefix_.append(name).push_back('.');
    m.visit(*this);
    prefix_.resize(length);
  }
}

template <class T>
void ModuleVisitor<T>::module(std::string_view, TrainMode& part) {
  if (action_ == Action::set_mode) part.train(training_);
}

template <class T>
std::vector<std::pair<std::string, Parameter<T>*>> Module<T>::named_parameters() {
  std::vector<std::pair<std::string, Parameter<T>*>> out;
  ModuleVisitor<T> v;
  v.out_ = &out;
  visit(v);
  return out;
}

template <class T>
std::vector<Parameter<T>*> Module<T>::parameters() {
  std::vector<Parameter<T>*> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

template <class T>
void Module<T>::zero_grad() {
  ModuleVisitor<T> v;  // no list: a training step calls this and must not allocate
  v.action_ = ModuleVisitor<T>::Action::zero_grad;
  visit(v);
}

template <class T>
void Module<T>::train(bool on) {
  TrainMode::train(on);
  ModuleVisitor<T> v;
  v.action_ = ModuleVisitor<T>::Action::set_mode;
  v.training_ = on;
  visit(v);
}

}  // namespace tapeloop::models
