// Every operator: include this to get them all.
#pragma once

#include "tapeloop/ops/arithmetic.hpp"
