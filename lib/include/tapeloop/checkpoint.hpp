// Checkpoints: a model's Parameters, and optionally its optimizer's state, in one safetensors
// file; loading checks the whole file against the model before changing anything.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <span>
#include <type_traits>

#include "tapeloop/optim/optimizer.hpp"
#include "tapeloop/parameter.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/safetensors.hpp"

namespace tapeloop {

/// What a checkpoint file holds besides the parameters, each under its parameter's name:
/// - "optimizer/<state name>" for every optimizer state tensor ("optimizer/exp_avg.W1"),
/// - "optimizer/step.<parameter name>", each parameter's step count as an I64 scalar,
/// - metadata "tapeloop.optimizer" = the optimizer's name() ("Adam"), plus the caller's keys.
inline constexpr const char* checkpoint_optimizer_prefix = "optimizer/";
inline constexpr const char* checkpoint_optimizer_key = "tapeloop.optimizer";

struct LoadParametersOptions {
  /// Accept entries the model does not expect (say, a checkpoint of a larger model) instead of
  /// throwing FormatError. Optimizer entries are always ignored when no optimizer is given.
  bool allow_unexpected = false;
};

/// Saves every parameter (frozen ones too) under its name(), and with an optimizer all its
/// state, atomically (see save_safetensors). `metadata` is stored as well and may not use the
/// key "tapeloop.optimizer". Throws ValueError if a parameter name is empty, repeated or starts
/// with "optimizer/", or if the optimizer updates a parameter not in `params`; IoError if the
/// file cannot be written.
void save_parameters(const std::filesystem::path& path, std::span<Parameter<float>* const> params,
                     const Optimizer<float>* optimizer = nullptr, const Metadata& metadata = {});
void save_parameters(const std::filesystem::path& path, std::span<Parameter<double>* const> params,
                     const Optimizer<double>* optimizer = nullptr, const Metadata& metadata = {});
/// The same with the names given next to the parameters (a module's named_parameters(); see
/// models::save_parameters). The optimizer's state is stored under these names too.
void save_parameters(const std::filesystem::path& path,
                     std::span<const NamedParameter<float>> params,
                     const Optimizer<float>* optimizer = nullptr, const Metadata& metadata = {});
void save_parameters(const std::filesystem::path& path,
                     std::span<const NamedParameter<double>> params,
                     const Optimizer<double>* optimizer = nullptr, const Metadata& metadata = {});

/// save_parameters(path, {&w, &b}, &optimizer): the parameters listed in place.
template <class T>
void save_parameters(const std::filesystem::path& path, std::initializer_list<Parameter<T>*> params,
                     std::type_identity_t<const Optimizer<T>*> optimizer = nullptr,
                     const Metadata& metadata = {}) {
  save_parameters(path, std::span<Parameter<T>* const>(params.begin(), params.size()), optimizer,
                  metadata);
}

/// Loads a checkpoint written by save_parameters into `params` (and `optimizer`'s state), and
/// returns the file's metadata.
///
/// All or nothing: the file is validated (load_safetensors) and checked against the model —
/// every parameter present with its shape and dtype (F32 for float, F64 for double; no silent
/// conversion), no unexpected entries, and with an optimizer: the same kind of optimizer, every
/// state tensor present and fitting, step counts non-negative and below the largest int64 (which
/// the next step would overflow) — before a single value is copied. Any problem throws
/// FormatError naming the file and the entry, and leaves the parameters and the optimizer
/// exactly as they were.
Metadata load_parameters(const std::filesystem::path& path,
                         std::span<Parameter<float>* const> params,
                         Optimizer<float>* optimizer = nullptr,
                         const LoadParametersOptions& options = {});
Metadata load_parameters(const std::filesystem::path& path,
                         std::span<Parameter<double>* const> params,
                         Optimizer<double>* optimizer = nullptr,
                         const LoadParametersOptions& options = {});
/// load_parameters(path, {&w, &b}, &optimizer): the parameters listed in place.
template <class T>
Metadata load_parameters(const std::filesystem::path& path,
                         std::initializer_list<Parameter<T>*> params,
                         std::type_identity_t<Optimizer<T>*> optimizer = nullptr,
                         const LoadParametersOptions& options = {}) {
  return load_parameters(path, std::span<Parameter<T>* const>(params.begin(), params.size()),
                         optimizer, options);
}
/// The same with the names given next to the parameters (a module's named_parameters(); see
/// models::load_parameters).
Metadata load_parameters(const std::filesystem::path& path,
                         std::span<const NamedParameter<float>> params,
                         Optimizer<float>* optimizer = nullptr,
                         const LoadParametersOptions& options = {});
Metadata load_parameters(const std::filesystem::path& path,
                         std::span<const NamedParameter<double>> params,
                         Optimizer<double>* optimizer = nullptr,
                         const LoadParametersOptions& options = {});

/// Stores `rng`'s state (Generator::state) in checkpoint metadata under `key` ("rng.data",
/// "rng.dropout"), as text that restores it exactly. With the optimizer's state and a
/// scheduler's, this is what makes a resumed run bit-identical to an uninterrupted one:
///
///   Metadata meta = scheduler.state_dict();
///   save_generator_state(meta, "rng.data", data_rng);
///   save_parameters(path, model, &optimizer, meta);
///   ...
///   const Metadata loaded = load_parameters(path, model, &optimizer);
///   scheduler.load_state_dict(loaded);
///   load_generator_state(loaded, "rng.data", data_rng);
void save_generator_state(Metadata& metadata, const std::string& key, const Generator& rng);
/// Restores a state stored by save_generator_state. Throws FormatError naming the key if it is
/// missing or not such a state; `rng` is then unchanged.
void load_generator_state(const Metadata& metadata, const std::string& key, Generator& rng);

}  // namespace tapeloop
