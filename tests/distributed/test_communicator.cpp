// The collectives: all_reduce_sum adds in rank order (the same bits as a local sum in that
// order, on every rank), broadcasts, agreement on failures, shards and their seeds.
#include <cstring>
#include <stdexcept>
#include <vector>

#include "../support/check.hpp"
#include "mpi_fixture.hpp"

using namespace tapeloop;
using namespace tapeloop::distributed;
using tapeloop::testing::world;

namespace {

// Rank r's data: magnitudes spread over 2^-20..2^20 with signs, so the order of the additions
// shows in the bits.
template <class T>
std::vector<T> data_of(int rank, std::size_t n) {
  std::vector<T> x(n);
  Generator rng(100 + static_cast<std::uint64_t>(rank));
  for (T& v : x)
    v = static_cast<T>(rng.normal() * std::ldexp(1.0, static_cast<int>(rng.below(41)) - 20));
  return x;
}

template <class T>
void check_rank_order_sum(std::size_t n) {
  Communicator& c = world();
  std::vector<T> mine = data_of<T>(c.rank(), n);
  c.all_reduce_sum(std::span<T>(mine));
  std::vector<T> expected = data_of<T>(0, n);
  for (int r = 1; r < c.size(); ++r) {
    const std::vector<T> x = data_of<T>(r, n);
    for (std::size_t i = 0; i < n; ++i) expected[i] = expected[i] + x[i];
  }
  BOOST_TEST((n == 0 || std::memcmp(mine.data(), expected.data(), n * sizeof(T)) == 0),
             n << " elements: the sum is not the rank-order one");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_communicator)

BOOST_AUTO_TEST_CASE(all_reduce_adds_in_rank_order) {
  // Sizes below, at and above the rank count: some slices are empty.
  for (std::size_t n : {0, 1, 2, 3, 7, 1000, 100003}) {
    check_rank_order_sum<float>(n);
    check_rank_order_sum<double>(n);
  }
}

BOOST_AUTO_TEST_CASE(the_order_matters_and_is_kept) {
  // (1e8 + 1) - 1e8 is 0 in float, 1e8 + (1 - 1e8) is 1: only the rank order gives 0.
  Communicator& c = world();
  if (c.size() < 3) return;
  std::vector<float> x(5, 0.0f);
  const float mine[3] = {1e8f, 1.0f, -1e8f};
  if (c.rank() < 3) std::fill(x.begin(), x.end(), mine[c.rank()]);
  c.all_reduce_sum(std::span<float>(x));
  for (float v : x) BOOST_TEST(v == 0.0f);
}

BOOST_AUTO_TEST_CASE(started_reductions_complete_in_any_order_of_waiting) {
  Communicator& c = world();
  std::vector<double> a = data_of<double>(c.rank(), 5000), b = data_of<double>(c.rank() + 7, 33);
  AllReduce ra = c.start_all_reduce_sum(std::span<double>(a));
  AllReduce rb = c.start_all_reduce_sum(std::span<double>(b));
  while (!rb.progress()) {
  }
  ra.wait();
  BOOST_TEST(ra.done());
  std::vector<double> a2 = data_of<double>(c.rank(), 5000);
  c.all_reduce_sum(std::span<double>(a2));
  BOOST_TEST(std::memcmp(a.data(), a2.data(), a.size() * sizeof(double)) == 0);
}

BOOST_AUTO_TEST_CASE(broadcast_gather_and_text) {
  Communicator& c = world();
  std::vector<double> x(10, static_cast<double>(c.rank() + 1));
  c.broadcast(std::span<double>(x), c.size() - 1);
  for (double v : x) BOOST_TEST(v == static_cast<double>(c.size()));
  const std::vector<std::int64_t> all = c.all_gather(10 * c.rank());
  BOOST_TEST(all.size() == static_cast<std::size_t>(c.size()));
  for (int r = 0; r < c.size(); ++r) BOOST_TEST(all[static_cast<std::size_t>(r)] == 10 * r);
  const std::string text = c.broadcast_text(c.rank() == 0 ? "from rank 0" : "", 0);
  BOOST_TEST(text == "from rank 0");
  c.barrier();
}

BOOST_AUTO_TEST_CASE(a_failure_on_one_rank_is_thrown_on_every_rank) {
  Communicator& c = world();
  const int failing = c.size() - 1;
  TAPELOOP_CHECK_THROW_MESSAGE(
      run_on_root(
          c, [] { throw IoError("cannot write /nowhere/x.safetensors"); }, "checkpoint"),
      DistributedError,
      "checkpoint: rank 0 of " + std::to_string(c.size()) +
          " failed (cannot write /nowhere/x.safetensors)");
  TAPELOOP_CHECK_THROW_MESSAGE(run_on_every_rank(
                                   c,
                                   [&] {
                                     if (c.rank() == failing) throw FormatError("damaged file");
                                   },
                                   "resume"),
                               DistributedError,
                               "resume: rank " + std::to_string(failing) + " of " +
                                   std::to_string(c.size()) + " failed (damaged file)");
  // Success is silent, and only the root ran the call.
  int calls = 0;
  run_on_root(
      c, [&] { ++calls; }, "nothing");
  BOOST_TEST(calls == (c.rank() == 0 ? 1 : 0));
}

BOOST_AUTO_TEST_CASE(bad_timeouts_are_refused) {
  Communicator& c = world();
  const auto before = c.timeout();
  TAPELOOP_CHECK_THROW_MESSAGE(c.set_timeout(std::chrono::seconds(0)), ValueError,
                               "the timeout must be above 0");
  BOOST_TEST(c.timeout().count() == before.count());
}

BOOST_AUTO_TEST_CASE(shards_cover_the_batch_in_order) {
  for (int shards : {1, 2, 3, 5}) {
    for (std::int64_t total : {0, 1, 7, 31, 32}) {
      std::int64_t next = 0, largest = 0, smallest = total;
      for (int s = 0; s < shards; ++s) {
        const Shard sh = shard_of(total, s, shards);
        BOOST_TEST(sh.begin == next);
        next = sh.end;
        largest = std::max(largest, sh.size());
        smallest = std::min(smallest, sh.size());
      }
      BOOST_TEST(next == total);
      BOOST_TEST(largest - smallest <= 1);
    }
  }
  BOOST_TEST(shard_of(31, 0, 3).size() == 11);
  BOOST_TEST(shard_of(31, 2, 3).size() == 10);
  TAPELOOP_CHECK_THROW_MESSAGE(shard_of(10, 3, 3), ValueError, "shard_of: shard 3 of 3");
  TAPELOOP_CHECK_THROW_MESSAGE(shard_of(10, 0, 0), ValueError, "needs 0 <= index < shards");
  BOOST_TEST(shard_seed(1, 0, 0) != shard_seed(1, 0, 1));
  BOOST_TEST(shard_seed(1, 0, 1) != shard_seed(1, 1, 0));
  BOOST_TEST(shard_seed(1, 5, 2) == shard_seed(1, 5, 2));
}

BOOST_AUTO_TEST_SUITE_END()
