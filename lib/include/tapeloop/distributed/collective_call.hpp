// Calls that some ranks make and all must hear about: a checkpoint written by rank 0, read by
// every rank.
#pragma once

#include <functional>
#include <string>

#include "tapeloop/distributed/communicator.hpp"

namespace tapeloop::distributed {

/// Collective: runs `call` on rank `root` only — writing a checkpoint once, atomically, with
/// tapeloop's save functions — then tells every rank whether it worked: if it threw, every rank
/// throws DistributedError naming `what` and the error, so no rank goes on alone.
void run_on_root(Communicator& comm, const std::function<void()>& call, const std::string& what,
                 int root = 0);
/// Collective: runs `call` on every rank — each reading the same checkpoint — and throws
/// DistributedError on every rank if it threw on any, naming the ranks and the first error.
void run_on_every_rank(Communicator& comm, const std::function<void()>& call,
                       const std::string& what);

}  // namespace tapeloop::distributed
