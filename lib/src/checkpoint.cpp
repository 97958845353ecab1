// Checkpoints: save_parameters and the validate-everything-then-copy load_parameters.
#include "tapeloop/checkpoint.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tapeloop/errors.hpp"

namespace tapeloop {

namespace {

// Every parameter under its own name(): the list the unnamed overloads save and load.
template <class T>
std::vector<NamedParameter<T>> named_by_themselves(std::span<Parameter<T>* const> params) {
  std::vector<NamedParameter<T>> named;
  named.reserve(params.size());
  for (Parameter<T>* p : params) named.emplace_back(p->name(), p);
  return named;
}

// Names are how a file finds its parameters again, so they must identify them.
template <class T>
void check_parameter_names(const char* who, std::span<const NamedParameter<T>> params) {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].second == nullptr) {
      throw ValueError(std::string(who) + ": parameter " + std::to_string(i) + " is null");
    }
    const std::string& name = params[i].first;
    if (name.empty()) {
      throw ValueError(std::string(who) + ": parameter " + std::to_string(i) + " has no name");
    }
    if (name.rfind(checkpoint_optimizer_prefix, 0) == 0) {
      throw ValueError(std::string(who) + ": parameter name '" + name + "' starts with '" +
                       checkpoint_optimizer_prefix + "', which is reserved for optimizer state");
    }
    if (!seen.insert(name).second) {
      throw ValueError(std::string(who) + ": two parameters are named '" + name +
                       "' (a module's parameters are saved by their dotted names with "
                       "models::save_parameters(path, module))");
    }
  }
}

// The names `optimizer`'s parameters have in `params`, in the optimizer's order: its state is
// stored under them. Every parameter it updates must be among those saved.
template <class T>
std::vector<std::string> optimizer_parameter_names(const char* who,
                                                   std::span<const NamedParameter<T>> params,
                                                   const Optimizer<T>& optimizer) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < optimizer.parameters().size(); ++i) {
    const Parameter<T>* p = optimizer.parameters()[i];
    const auto found = std::find_if(params.begin(), params.end(),
                                    [&](const NamedParameter<T>& n) { return n.second == p; });
    if (found == params.end()) {
      throw ValueError(std::string(who) + ": the optimizer's parameter " + std::to_string(i) +
                       " is not among the parameters given");
    }
    names.push_back(found->first);
  }
  return names;
}

template <class T>
void save_impl(const std::filesystem::path& path, std::span<const NamedParameter<T>> params,
               const Optimizer<T>* optimizer, const Metadata& metadata) {
  check_parameter_names("save_parameters", params);
  if (metadata.count(checkpoint_optimizer_key)) {
    throw ValueError(std::string("save_parameters: the metadata key '") + checkpoint_optimizer_key +
                     "' is reserved");
  }
  std::vector<NamedTensor> entries;
  for (const auto& [name, p] : params) entries.emplace_back(name, std::as_const(p->value()).ref());
  Metadata all_metadata = metadata;
  if (optimizer) {
    const std::vector<std::string> names =
        optimizer_parameter_names("save_parameters", params, *optimizer);
    for (const auto& [name, tensor] : optimizer->named_state(names)) {
      entries.emplace_back(checkpoint_optimizer_prefix + name, tensor->ref());
    }
    for (const auto& [name, count] : optimizer->named_steps(names)) {
      entries.emplace_back(checkpoint_optimizer_prefix + name,
                           TensorRef<const std::int64_t>{count, Shape()});
    }
    all_metadata[checkpoint_optimizer_key] = optimizer->name();
  }
  save_safetensors(path, entries, all_metadata);
}

template <class T>
Metadata load_impl(const std::filesystem::path& path, std::span<const NamedParameter<T>> params,
                   Optimizer<T>* optimizer, const LoadParametersOptions& options) {
  check_parameter_names("load_parameters", params);
  const std::vector<std::string> optimizer_names =
      optimizer ? optimizer_parameter_names("load_parameters", params, *optimizer)
                : std::vector<std::string>();
  const SafetensorsFile file = load_safetensors(path);
  const auto fail = [&](const std::string& what) {
    throw FormatError("load_parameters: " + path.string() + ": " + what);
  };
  std::set<std::string, std::less<>> expected;
  // An entry that must be there with T's dtype and the given shape.
  const auto check_entry = [&](const std::string& name, const Shape& shape, Dtype dtype,
                               const char* kind) {
    if (!file.contains(name)) fail("no entry for " + std::string(kind) + " '" + name + "'");
    if (file.dtype(name) != dtype) {
      fail(std::string(kind) + " '" + name + "' is stored as " + dtype_name(file.dtype(name)) +
           ", expected " + dtype_name(dtype));
    }
    if (file.shape(name) != shape) {
      fail(std::string(kind) + " '" + name + "' is stored with shape " + file.shape(name).str() +
           ", expected " + shape.str());
    }
    expected.insert(name);
  };

  // ---- check: nothing below writes to the model or the optimizer --------------------------
  for (const auto& [name, p] : params) check_entry(name, p->shape(), dtype_of<T>(), "parameter");

  std::vector<NamedState<T>> state;
  std::vector<NamedStep> steps;
  std::vector<std::int64_t> step_values;
  if (optimizer) {
    const auto kind = file.metadata().find(checkpoint_optimizer_key);
    if (kind == file.metadata().end()) fail("the file holds no optimizer state");
    if (kind->second != optimizer->name()) {
      fail("the file holds " + kind->second + " state, not " + optimizer->name());
    }
    state = optimizer->named_state(optimizer_names);
    for (auto& [name, tensor] : state) {
      name = checkpoint_optimizer_prefix + name;  // the entry's name from here on
      check_entry(name, tensor->shape(), dtype_of<T>(), "optimizer state");
    }
    steps = optimizer->named_steps(optimizer_names);
    for (const auto& [name, count] : steps) {
      const std::string entry = checkpoint_optimizer_prefix + name;
      check_entry(entry, Shape(), Dtype::I64, "step count");
      std::int64_t value = 0;
      file.read(entry, TensorRef<std::int64_t>{&value, Shape()});
      if (value < 0) fail("step count '" + entry + "' is negative");
      // The next step() adds one: the largest int64 would overflow there.
      if (value == std::numeric_limits<std::int64_t>::max()) {
        fail("step count '" + entry + "' is " + std::to_string(value) +
             ", too large to step again");
      }
      step_values.push_back(value);
    }
  }
  for (const std::string& name : file.names()) {
    if (expected.count(name)) continue;
    if (!optimizer && name.rfind(checkpoint_optimizer_prefix, 0) == 0) continue;
    if (!options.allow_unexpected) fail("unexpected entry '" + name + "'");
  }

  // ---- copy: every entry was checked for presence, dtype and shape, and every name is built,
  // so nothing below can throw and leave the model half loaded ---------------------------------
  for (const auto& [name, p] : params) file.read(name, p->value().ref());
  for (const auto& [name, tensor] : state) file.read(name, tensor->ref());
  for (std::size_t i = 0; i < steps.size(); ++i) *steps[i].second = step_values[i];
  return file.metadata();
}

}  // namespace

#define TAPELOOP_CHECKPOINT_FUNCTIONS(T)                                                         \
  void save_parameters(const std::filesystem::path& path, std::span<Parameter<T>* const> params, \
                       const Optimizer<T>* optimizer, const Metadata& metadata) {                \
    save_impl<T>(path, named_by_themselves(params), optimizer, metadata);                        \
  }                                                                                              \
  void save_parameters(const std::filesystem::path& path,                                        \
                       std::span<const NamedParameter<T>> params, const Optimizer<T>* optimizer, \
                       const Metadata& metadata) {                                               \
    save_impl<T>(path, params, optimizer, metadata);                                             \
  }                                                                                              \
  Metadata load_parameters(const std::filesystem::path& path,                                    \
                           std::span<Parameter<T>* const> params, Optimizer<T>* optimizer,       \
                           const LoadParametersOptions& options) {                               \
    return load_impl<T>(path, named_by_themselves(params), optimizer, options);                  \
  }                                                                                              \
  Metadata load_parameters(const std::filesystem::path& path,                                    \
                           std::span<const NamedParameter<T>> params, Optimizer<T>* optimizer,   \
                           const LoadParametersOptions& options) {                               \
    return load_impl<T>(path, params, optimizer, options);                                       \
  }

TAPELOOP_CHECKPOINT_FUNCTIONS(float)
TAPELOOP_CHECKPOINT_FUNCTIONS(double)
#undef TAPELOOP_CHECKPOINT_FUNCTIONS

}  // namespace tapeloop
