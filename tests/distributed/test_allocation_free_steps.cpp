// A steady-state data-parallel training step allocates nothing in tapeloop: the buckets, their
// reductions and the loss's are reused from step to step. Counted: every C++ operator new of
// the process (Open MPI's own C allocations inside its non-blocking collectives are not).

#include "../support/check.hpp"
#include "../support/counting_operator_new.hpp"
#include "mpi_fixture.hpp"
#include "tapeloop/models/char_model.hpp"

using tapeloop::testing::allocations;
using tapeloop::testing::counting;
using namespace tapeloop;
using namespace tapeloop::distributed;

BOOST_AUTO_TEST_SUITE(test_allocation_free_steps)

BOOST_AUTO_TEST_CASE(a_data_parallel_step_allocates_nothing_once_warm) {
  Communicator& c = tapeloop::testing::world();
  Generator init(3);
  models::CharModel model({.vocabulary = 11, .embedding = 6, .hidden = 10, .layers = 2}, init);
  std::vector<Parameter<float>*> params = model.parameters();
  Adam<float> adam(params, {.lr = 0.01});
  // Small buckets: several reductions in flight during backward.
  DataParallel<float> dp(c, params, {.bucket_bytes = 512});
  BOOST_TEST(dp.bucket_count() > 2u);
  const std::int64_t window = 5, batch = 3;
  std::vector<std::int64_t> ids(window * batch), targets(window * batch);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<std::int64_t>((i * 7 + static_cast<std::size_t>(c.rank())) % 11);
    targets[i] = static_cast<std::int64_t>((i * 3 + 1) % 11);
  }
  Tape<float> tape;
  const auto step = [&] {
    tape.clear();
    adam.zero_grad();
    Var<float> loss =
        cross_entropy(model.forward(tape, ids, window, batch), targets, Reduction::sum);
    dp.backward(tape, loss, window * batch);
    adam.step();
  };
  for (int i = 0; i < 3; ++i) step();  // warm: arenas, buckets, reductions reach their sizes
  allocations = 0;
  counting = true;
  for (int i = 0; i < 3; ++i) step();
  counting = false;
  BOOST_TEST(allocations.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
