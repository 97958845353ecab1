// Every operator: include this to get them all.
#pragma once

#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/index.hpp"
#include "tapeloop/ops/matmul.hpp"
#include "tapeloop/ops/shape_ops.hpp"
