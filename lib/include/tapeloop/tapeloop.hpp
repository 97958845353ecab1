// The whole public API: tensors, the tape, parameters, every operator, gradcheck, optimizers.
#pragma once

#include "tapeloop/errors.hpp"
#include "tapeloop/gradcheck.hpp"
#include "tapeloop/ops.hpp"
#include "tapeloop/optim.hpp"
#include "tapeloop/parameter.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/shape.hpp"
#include "tapeloop/tape.hpp"
#include "tapeloop/tensor.hpp"
#include "tapeloop/var.hpp"
