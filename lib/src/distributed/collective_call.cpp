// run_on_root and run_on_every_rank: a call's success or failure made known to every rank.
#include "tapeloop/distributed/collective_call.hpp"

#include <exception>

namespace tapeloop::distributed {

namespace {

// Runs `call` if `mine`, catching what it throws, then agrees on the outcome with every rank.
void run_and_agree(Communicator& comm, bool mine, const std::function<void()>& call,
                   const std::string& what) {
  bool ok = true;
  std::string error;
  if (mine) {
    try {
      call();
    } catch (const std::exception& e) {
      ok = false;
      error = e.what();
    } catch (...) {
      ok = false;
      error = "an exception that is not a std::exception";
    }
  }
  comm.agree(ok, error, what);
}

}  // namespace

void run_on_root(Communicator& comm, const std::function<void()>& call, const std::string& what,
                 int root) {
  run_and_agree(comm, comm.rank() == root, call, what);
}

void run_on_every_rank(Communicator& comm, const std::function<void()>& call,
                       const std::string& what) {
  run_and_agree(comm, true, call, what);
}

}  // namespace tapeloop::distributed
