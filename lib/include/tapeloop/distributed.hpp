// Data-parallel training over MPI (the tapeloop::distributed target; docs/distributed.md).
#pragma once

#include "tapeloop/distributed/collective_call.hpp"
#include "tapeloop/distributed/communicator.hpp"
#include "tapeloop/distributed/data_parallel.hpp"
#include "tapeloop/distributed/environment.hpp"
#include "tapeloop/distributed/shard.hpp"
