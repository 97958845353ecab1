// The building blocks of models: Module, Linear, Embedding, Dropout, initializers, recurrent cells,
// the RNN, LSTM and GRU layers, module checkpoints, and CTC decoding.
#pragma once

#include "tapeloop/models/cells.hpp"
#include "tapeloop/models/checkpoint.hpp"
#include "tapeloop/models/ctc_decode.hpp"
#include "tapeloop/models/init.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/module.hpp"
#include "tapeloop/models/recurrent.hpp"
