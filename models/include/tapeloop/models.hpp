// The building blocks of models: Module, Linear, Embedding, Dropout, initializers, recurrent cells
// and the RNN, LSTM and GRU layers.
#pragma once

#include "tapeloop/models/cells.hpp"
#include "tapeloop/models/init.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/module.hpp"
#include "tapeloop/models/recurrent.hpp"
