// A model's parameters at a glance: a table of names, shapes, counts and frozen flags with the
// totals (torchinfo's or Keras's summary), and the parameter count alone.
#pragma once

#include <cstdint>
#include <string>

#include "tapeloop/models/module.hpp"

namespace tapeloop::models {

/// One row per named_parameters() entry, in that order, then the totals (a Linear(3, 2) with
/// its bias frozen):
///
///   Parameter  Shape  Parameters  Trainable
///   ---------------------------------------
///   weight     [2,3]           6  yes
///   bias       [2]             2  no
///   ---------------------------------------
///   Total parameters: 8
///   Trainable parameters: 6
///   Frozen parameters: 2
///
/// Counts of four digits and more are grouped by commas (1,234,567). A parameter is frozen when
/// set_requires_grad(false) was called on it.
template <class T>
std::string summary(Module<T>& module);

/// The number of scalars in the module's parameters; with trainable_only, of those that are not
/// frozen (what an optimizer updates).
template <class T>
std::int64_t parameter_count(Module<T>& module, bool trainable_only = false);

extern template std::string summary<float>(Module<float>&);
extern template std::string summary<double>(Module<double>&);
extern template std::int64_t parameter_count<float>(Module<float>&, bool);
extern template std::int64_t parameter_count<double>(Module<double>&, bool);

}  // namespace tapeloop::models
