// Learning test: the lecture's 3-hidden-unit RNN learns binary addition by BPTT on the tape.
#include "support/check.hpp"
#include "tapeloop/models/binary_addition.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

BOOST_AUTO_TEST_SUITE(test_binary_addition)

BOOST_AUTO_TEST_CASE(batches_hold_correct_sums) {
  Generator rng(3);
  const AdditionBatch batch = make_addition_batch(6, 50, rng);
  BOOST_TEST(batch.inputs.shape() == (Shape{7, 50, 2}));
  BOOST_TEST(batch.targets.shape() == (Shape{7, 50, 1}));
  for (std::int64_t n = 0; n < 50; ++n) {
    std::uint64_t a = 0, b = 0, s = 0;
    for (std::int64_t t = 0; t < 7; ++t) {
      a |= static_cast<std::uint64_t>(batch.inputs.at({t, n, 0})) << t;
      b |= static_cast<std::uint64_t>(batch.inputs.at({t, n, 1})) << t;
      s |= static_cast<std::uint64_t>(batch.targets.at({t, n, 0})) << t;
    }
    BOOST_TEST(a < 64u);
    BOOST_TEST(b < 64u);
    BOOST_TEST(s == a + b);
  }
}

// With only 3 hidden units some initializations settle in a poor local minimum (seed 3 does),
// as small recurrent nets are known to; so the claim tested is that most seeds learn exactly.
BOOST_AUTO_TEST_CASE(learns_to_add_from_most_seeds) {
  int learned = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    BinaryAdditionConfig config;
    config.seed = seed;
    float first_loss = -1;
    const BinaryAdditionProgress last =
        train_binary_addition(config, 100, [&](const BinaryAdditionProgress& p) {
          if (first_loss < 0) first_loss = p.loss;
        });
    BOOST_TEST_INFO("seed " << seed);
    BOOST_TEST(first_loss > 0.6f);  // chance level is log 2 = 0.693
    BOOST_TEST(last.loss < 0.5f * first_loss);
    if (last.sum_accuracy == 1.0f) {  // every held-out 8-bit sum right
      ++learned;
      BOOST_TEST(last.loss < 0.05f);
    }
  }
  BOOST_TEST(learned >= 7);
}

BOOST_AUTO_TEST_SUITE_END()
