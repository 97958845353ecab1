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

BOOST_AUTO_TEST_CASE(batches_of_64_bit_numbers_add_without_overflow) {
  Generator rng(4);
  const AdditionBatch batch = make_addition_batch(64, 20, rng);
  BOOST_TEST(batch.inputs.shape() == (Shape{65, 20, 2}));
  for (std::int64_t n = 0; n < 20; ++n) {
    // a + b checked as two 64-bit halves: the low word and the carry into bit 64.
    std::uint64_t a = 0, b = 0, s = 0;
    for (std::int64_t t = 0; t < 64; ++t) {
      a |= static_cast<std::uint64_t>(batch.inputs.at({t, n, 0})) << t;
      b |= static_cast<std::uint64_t>(batch.inputs.at({t, n, 1})) << t;
      s |= static_cast<std::uint64_t>(batch.targets.at({t, n, 0})) << t;
    }
    BOOST_TEST(s == a + b);
    BOOST_TEST(batch.targets.at({64, n, 0}) == (a + b < a ? 1.0f : 0.0f));
  }
  TAPELOOP_CHECK_THROW_MESSAGE(make_addition_batch(0, 4, rng), ValueError,
                               "make_addition_batch: 0 bits, batch 4: both must be positive");
}

// Trained on 8-bit sums, the net has learnt the adding automaton, not the lengths it saw: with 8
// hidden units every seed adds every held-out 8-bit pair and 1000 random 64-bit pairs exactly.
BOOST_AUTO_TEST_CASE(generalizes_from_8_bit_to_64_bit_sums) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    BinaryAdditionConfig config;
    config.hidden = 8;
    Generator rng(seed);
    BinaryAdditionRnn model(config.hidden, rng);
    const BinaryAdditionProgress p = train_binary_addition(model, rng, config, config.steps,
                                                           [](const BinaryAdditionProgress&) {});
    Generator test_rng(100 + seed);
    const AdditionAccuracy long_sums =
        evaluate_addition(model, make_addition_batch(64, 1000, test_rng));
    BOOST_TEST_INFO("seed " << seed);
    BOOST_TEST(p.sum_accuracy == 1.0f);
    BOOST_TEST(long_sums.sums == 1.0f);
  }
}

// Lecture 7c-04: the hidden units settle into four distinct patterns of activity, the states of
// the adding automaton (the sum bit written, and the carry kept).
BOOST_AUTO_TEST_CASE(hidden_states_are_the_automaton_states) {
  BinaryAdditionConfig config;
  Generator rng(config.seed);
  BinaryAdditionRnn model(config.hidden, rng);
  train_binary_addition(model, rng, config, config.steps, [](const BinaryAdditionProgress&) {});
  Generator test_rng(7);
  const AdderStates states = cluster_hidden_states(model, make_addition_batch(8, 200, test_rng));
  BOOST_TEST_MESSAGE("k-means purity " << states.purity << ", nearest-state separation "
                                       << states.separation);
  BOOST_TEST(states.separation >= 0.99);
  BOOST_TEST(states.purity >= 0.95);
  BOOST_TEST(states.transitions_match);  // the clusters move as the adding automaton does
  for (const auto& cluster : states.counts) {  // each cluster is one automaton state
    int states_in_cluster = 0;
    for (std::int64_t c : cluster) states_in_cluster += c > 0;
    BOOST_TEST(states_in_cluster <= 2);
  }
}

BOOST_AUTO_TEST_SUITE_END()
