// The building blocks of models: Module, Linear, Embedding, Dropout, initializers, recurrent cells.
#pragma once

#include "tapeloop/models/cells.hpp"
#include "tapeloop/models/init.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/module.hpp"
