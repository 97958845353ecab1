// The building blocks of models: Module, Linear, Embedding, Dropout, initializers, recurrent cells,
// the RNN, LSTM and GRU layers, module checkpoints, CTC decoding, the character model and text
// generation, and the training helpers: data batching, token corpora, the metrics log, the
// progress bar and the model summary.
#pragma once

#include "tapeloop/models/batching.hpp"
#include "tapeloop/models/cells.hpp"
#include "tapeloop/models/char_model.hpp"
#include "tapeloop/models/checkpoint.hpp"
#include "tapeloop/models/corpus.hpp"
#include "tapeloop/models/ctc_decode.hpp"
#include "tapeloop/models/generate.hpp"
#include "tapeloop/models/init.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/metrics_log.hpp"
#include "tapeloop/models/module.hpp"
#include "tapeloop/models/progress.hpp"
#include "tapeloop/models/recurrent.hpp"
#include "tapeloop/models/summary.hpp"
