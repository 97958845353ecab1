// Environment: MPI_Init_thread and MPI_Finalize, and the job-wide abort of a failing rank.
#include "tapeloop/distributed/environment.hpp"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace tapeloop::distributed {

namespace {

bool owns_mpi = false;  // this process's Environment started MPI and will finalize it
std::terminate_handler previous_terminate = nullptr;

// An exception nothing catches ends the process through std::terminate, without unwinding to
// the Environment's destructor: say what it was and take the whole job down.
[[noreturn]] void terminate_job() {
  std::string what = "std::terminate was called";
  if (const std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      what = std::string("uncaught exception: ") + x.what();
    } catch (...) {
      what = "uncaught exception of a type not derived from std::exception";
    }
  }
  Environment::abort(what + "; aborting the job so that the other ranks do not wait for this one");
}

void start(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;  // the program started MPI itself: it finalizes it too
  int provided = 0;
  // Funnelled: only the thread that made the Environment calls MPI.
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    throw DistributedError("tapeloop::distributed::Environment: MPI_Init_thread failed");
  }
  owns_mpi = true;
  previous_terminate = std::set_terminate(terminate_job);
}

}  // namespace

Environment::Environment(int& argc, char**& argv) : uncaught_at_start_(std::uncaught_exceptions()) {
  start(&argc, &argv);
}

Environment::Environment() : uncaught_at_start_(std::uncaught_exceptions()) {
  start(nullptr, nullptr);
}

Environment::~Environment() {
  if (std::uncaught_exceptions() > uncaught_at_start_) {
    abort(
        "an exception ended this rank (catch it and call Environment::abort(e.what()) to see "
        "which); aborting the job so that the other ranks do not wait for this one");
  }
  if (owns_mpi && active()) {
    std::set_terminate(previous_terminate);
    MPI_Finalize();
  }
  owns_mpi = false;
}

bool Environment::active() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

void Environment::abort(const std::string& message, int code) {
  if (active()) {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    std::fprintf(stderr, "tapeloop: rank %d of %d: %s\n", rank, size, message.c_str());
    std::fflush(stderr);
    std::fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
  std::fprintf(stderr, "tapeloop: %s\n", message.c_str());
  std::fflush(stderr);
  std::exit(code);
}

}  // namespace tapeloop::distributed
