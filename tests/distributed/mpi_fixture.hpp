// The MPI environment of the distributed suites, and the communicator every test case uses.
#pragma once

#include <boost/test/unit_test.hpp>

#include "tapeloop/distributed.hpp"

namespace tapeloop::testing {

/// The job's communicator (MPI started by the suites' global fixture).
distributed::Communicator& world();

}  // namespace tapeloop::testing
