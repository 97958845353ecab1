// Environment: MPI started for this process and finished with it; a failing rank ends the job.
#pragma once

#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop::distributed {

/// A collective call the ranks cannot complete together: their models differ, a rank could not
/// read a checkpoint, the communicator is used without MPI. Thrown on every rank alike, so the
/// ranks stay in step; a rank that stops answering is not reported by a throw but ends the job
/// (Communicator's timeout).
class DistributedError : public Error {
 public:
  using Error::Error;
};

/// Starts MPI for this process (MPI_Init_thread; only the thread that made the Environment
/// calls MPI, the kernels' worker threads never do) and finalizes it when destroyed. Make one
/// at the top of main(), before anything else of tapeloop::distributed. If the program started
/// MPI itself, the Environment leaves starting, finalizing and std::terminate to it.
///
/// A rank that fails must not leave the others waiting for it. An exception that nothing
/// catches (std::terminate) prints "tapeloop: rank R of N: uncaught exception: <what>" and
/// aborts the whole job (MPI_Abort); so does an exception that unwinds through the
/// Environment's scope. A program that catches its exceptions calls abort() itself.
class Environment {
 public:
  Environment(int& argc, char**& argv);
  Environment();
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  /// Whether MPI is running (made and not yet finalized).
  static bool active();
  /// Prints "tapeloop: rank R of N: <message>" to stderr and ends every process of the job with
  /// `code` (MPI_Abort). Without a running MPI, prints and exits.
  [[noreturn]] static void abort(const std::string& message, int code = 1);

 private:
  int uncaught_at_start_;
};

}  // namespace tapeloop::distributed
