// Every operator: include this to get them all.
#pragma once

#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/build_info.hpp"
#include "tapeloop/ops/dropout.hpp"
#include "tapeloop/ops/index.hpp"
#include "tapeloop/ops/linear.hpp"
#include "tapeloop/ops/loss.hpp"
#include "tapeloop/ops/matmul.hpp"
#include "tapeloop/ops/recurrent.hpp"
#include "tapeloop/ops/recurrent_linear.hpp"
#include "tapeloop/ops/reduce.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/ops/softmax.hpp"
#include "tapeloop/ops/unary.hpp"
#include "tapeloop/ops/where.hpp"
#include "tapeloop/scan.hpp"
