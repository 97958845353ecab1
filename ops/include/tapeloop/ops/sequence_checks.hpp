// Argument checks shared by everything that walks sequences: scan, the recurrent layers, CTC.
#pragma once

#include <cstdint>
#include <span>

#include "tapeloop/shape.hpp"

namespace tapeloop {

/// Throws ValueError naming `who` unless truncate and checkpoint are not negative and not both
/// set (scan, checkpointed_scan and the recurrent layers share it).
void check_truncation(const char* who, std::int64_t truncate, std::int64_t checkpoint);

/// Throws ShapeError naming `who` unless `lengths` holds one length per sequence of the batch,
/// and ValueError unless each lies in [0, steps]; `what` and `shape` name the sequence input
/// at the end of the message ("(input [5,3,3])"). Shared by scan, the recurrent layers and the
/// sequence losses. Builds no string unless it throws.
void check_sequence_lengths(const char* who, std::span<const std::int64_t> lengths,
                            std::int64_t batch, std::int64_t steps, const char* what,
                            const Shape& shape);

}  // namespace tapeloop
