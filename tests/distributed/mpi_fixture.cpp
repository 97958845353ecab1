// Starts MPI once for the distributed suites (a Boost.Test global fixture) and keeps the world
// communicator. Every rank runs every test case; a collective in a case that fails on one rank
// only would leave the others waiting, so the cases keep their collectives outside the checks.
#include "mpi_fixture.hpp"

#include <memory>

namespace tapeloop::testing {

namespace {

struct MpiFixture {
  MpiFixture() : environment(std::make_unique<distributed::Environment>()) {
    communicator = std::make_unique<distributed::Communicator>(distributed::Communicator::world());
    // Short enough that a hung test ends the job, long enough for a loaded CI machine.
    communicator->set_timeout(std::chrono::seconds(120));
  }
  ~MpiFixture() {
    communicator.reset();
    environment.reset();
  }
  std::unique_ptr<distributed::Environment> environment;
  static inline std::unique_ptr<distributed::Communicator> communicator;
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

distributed::Communicator& world() {
  return *MpiFixture::communicator;
}

}  // namespace tapeloop::testing
