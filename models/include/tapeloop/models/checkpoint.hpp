// Checkpoints of a module: its parameters under their dotted names (PyTorch's state_dict keys),
// and optionally its optimizer's state, through tapeloop's save_parameters/load_parameters.
#pragma once

#include <filesystem>

#include "tapeloop/checkpoint.hpp"
#include "tapeloop/models/module.hpp"

namespace tapeloop::models {

/// Saves `module`'s parameters under named_parameters()' names ("lstm.weight_ih_l0") and, with
/// an optimizer, its state under the same names ("optimizer/exp_avg.lstm.weight_ih_l0"),
/// atomically. Throws as tapeloop::save_parameters does.
template <class T>
void save_parameters(const std::filesystem::path& path, Module<T>& module,
                     const Optimizer<T>* optimizer = nullptr, const Metadata& metadata = {}) {
  tapeloop::save_parameters(path, module.named_parameters(), optimizer, metadata);
}

/// Loads a checkpoint written by save_parameters(path, module, ...), or a PyTorch state_dict
/// saved as safetensors, into `module` (and the optimizer's state). All or nothing, as
/// tapeloop::load_parameters: any problem throws FormatError naming the file and the entry and
/// leaves the module and the optimizer as they were.
template <class T>
Metadata load_parameters(const std::filesystem::path& path, Module<T>& module,
                         Optimizer<T>* optimizer = nullptr,
                         const LoadParametersOptions& options = {}) {
  return tapeloop::load_parameters(path, module.named_parameters(), optimizer, options);
}

}  // namespace tapeloop::models
