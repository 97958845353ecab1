// Checked mode: a TensorRef kept past Tape::clear() reads NaN, or is reported by AddressSanitizer
// at the read, instead of silently reading the next recording's numbers.
#include <cmath>
#include <cstdlib>
#include <string>

#include "support/check.hpp"
#include "support/stale_view.hpp"

using namespace tapeloop;
using tapeloop::testing::record_doubled;

BOOST_AUTO_TEST_SUITE(test_checked_arena)

BOOST_AUTO_TEST_CASE(unchecked_stale_reference_reads_the_next_recording) {
  // What checked mode exists for: the arena reuses its memory, so without it a stale view reads
  // numbers that look right and are not.
  Tape<float> tape;
  tape.set_checked(false);
  const TensorRef<const float> stale = record_doubled(tape, 1);
  tape.clear();
  record_doubled(tape, 10);
  BOOST_TEST(stale[0] == 20.0f);  // the new recording's value at the same address
}

BOOST_AUTO_TEST_CASE(default_follows_the_build) {
  Tape<float> tape;
  const char* env = std::getenv("TAPELOOP_CHECKED");
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
  const bool expected = env == nullptr || std::string(env) != "0";
#else
  const bool expected = env != nullptr && std::string(env) == "1";
#endif
  BOOST_TEST(tape.checked() == expected);
}

#if !defined(__SANITIZE_ADDRESS__)
BOOST_AUTO_TEST_CASE(checked_stale_reference_reads_nan) {
  Tape<float> tape;
  tape.set_checked(true);
  const TensorRef<const float> stale = record_doubled(tape, 1);
  BOOST_TEST(stale[1] == 4.0f);
  tape.clear();
  const TensorRef<const float> fresh = record_doubled(tape, 10);
  BOOST_TEST(fresh.data != stale.data);  // not reused while quarantined
  for (std::int64_t i = 0; i < 3; ++i) BOOST_TEST(std::isnan(stale[i]));
  BOOST_TEST(fresh[0] == 20.0f);
}
#endif

BOOST_AUTO_TEST_CASE(checked_mode_changes_no_result) {
  // The same training steps, checked and not: bit-identical gradients, and the arena still
  // settles on one block of the size the recording needs.
  const Tensor<double> xs = testing::random_tensor({8, 5}, 1);
  std::vector<double> grads[2];
  std::size_t capacity[2] = {};
  for (int checked = 0; checked < 2; ++checked) {
    Parameter<double> w(testing::random_tensor({5, 4}, 2), "w");
    Tape<double> tape(4096, 16);
    tape.set_checked(checked == 1);
    for (int step = 0; step < 3; ++step) {
      tape.clear();
      tape.backward(sum(tanh(matmul(tape.input(xs.ref()), w.var(tape)))));
    }
    grads[checked].assign(w.grad().begin(), w.grad().end());
    capacity[checked] = tape.arena().capacity();
  }
  BOOST_TEST(grads[0] == grads[1], boost::test_tools::per_element());
  BOOST_TEST(capacity[0] == capacity[1]);
}

BOOST_AUTO_TEST_CASE(turning_checked_off_returns_to_reuse) {
  Tape<float> tape;
  tape.set_checked(true);
  record_doubled(tape, 1);
  tape.clear();
  tape.set_checked(false);
  const float* first = record_doubled(tape, 1).data;
  tape.clear();
  BOOST_TEST(record_doubled(tape, 1).data == first);  // memory reused again
}

BOOST_AUTO_TEST_SUITE_END()
