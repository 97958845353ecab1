// Optimizers, learning-rate schedulers and gradient clipping: SGD, RMSProp, Adam, AdamW,
// HessianFree, StepLR, ExponentialLR, WarmupCosineLR, ReduceLROnPlateau, clip_grad_norm,
// clip_grad_value.
#pragma once

#include "tapeloop/optim/adam.hpp"
#include "tapeloop/optim/adamw.hpp"
#include "tapeloop/optim/clip_grad.hpp"
#include "tapeloop/optim/gradient_accumulator.hpp"
#include "tapeloop/optim/hessian_free.hpp"
#include "tapeloop/optim/lr_scheduler.hpp"
#include "tapeloop/optim/optimizer.hpp"
#include "tapeloop/optim/rmsprop.hpp"
#include "tapeloop/optim/sgd.hpp"
