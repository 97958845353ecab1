// The whole public API: tensors, the tape, parameters, every operator, gradcheck, optimizers,
// checkpoints, threading, the version.
#pragma once

#include "tapeloop/anomaly.hpp"
#include "tapeloop/carry.hpp"
#include "tapeloop/checkpoint.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/functional.hpp"
#include "tapeloop/gradcheck.hpp"
#include "tapeloop/indices.hpp"
#include "tapeloop/ops.hpp"
#include "tapeloop/optim.hpp"
#include "tapeloop/parameter.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/safetensors.hpp"
#include "tapeloop/shape.hpp"
#include "tapeloop/state.hpp"
#include "tapeloop/tape.hpp"
#include "tapeloop/tensor.hpp"
#include "tapeloop/threading.hpp"
#include "tapeloop/var.hpp"
#include "tapeloop/version.hpp"
