// The adding problem (lecture 7d): data as specified, and an LSTM that beats the constant
// baseline where a tanh RNN, on the same budget, does not.
#include <cmath>

#include "support/check.hpp"
#include "tapeloop/models/adding_problem.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

BOOST_AUTO_TEST_SUITE(test_adding_problem)

BOOST_AUTO_TEST_CASE(two_markers_one_per_half_and_their_sum) {
  Generator rng(3);
  const std::int64_t T = 11, B = 2000;
  const AddingBatch batch = make_adding_batch(T, B, rng);
  BOOST_TEST(batch.inputs.shape() == (Shape{T, B, 2}));
  BOOST_TEST(batch.targets.shape() == (Shape{B, 1}));
  double constant_mse = 0;
  for (std::int64_t b = 0; b < B; ++b) {
    int first_half = 0, second_half = 0;
    float sum = 0;
    for (std::int64_t t = 0; t < T; ++t) {
      const float value = batch.inputs[(t * B + b) * 2], marker = batch.inputs[(t * B + b) * 2 + 1];
      BOOST_REQUIRE(value >= 0.0f);
      BOOST_REQUIRE(value < 1.0f);
      BOOST_REQUIRE((marker == 0.0f || marker == 1.0f));
      if (marker == 1.0f) {
        (t < T / 2 ? first_half : second_half) += 1;
        sum += value;
      }
    }
    BOOST_REQUIRE(first_half == 1);
    BOOST_REQUIRE(second_half == 1);
    BOOST_REQUIRE(batch.targets[b] == sum);
    constant_mse += (sum - 1.0) * (sum - 1.0) / B;
  }
  BOOST_TEST(constant_mse == adding_baseline_mse, boost::test_tools::tolerance(0.06));
  TAPELOOP_CHECK_THROW_MESSAGE(make_adding_batch(1, 4, rng), ValueError,
                               "make_adding_batch: 1 steps and batch 4: need at least 2 steps");
}

BOOST_AUTO_TEST_CASE(an_lstm_learns_it_and_a_tanh_rnn_does_not) {
  for (std::uint64_t seed : {1, 2}) {
    AddingConfig c;
    c.sequence_length = 30;
    c.hidden = 16;
    c.steps = 800;
    c.seed = seed;
    auto final_mse = [&](AddingNet net) {
      c.net = net;
      return train_adding_problem(c, c.steps, [](const AddingProgress&) {}).held_out_mse;
    };
    const float lstm = final_mse(AddingNet::lstm);
    const float tanh_rnn = final_mse(AddingNet::tanh_rnn);
    BOOST_TEST_MESSAGE("seed " << seed << ": held-out MSE after " << c.steps
                               << " steps at T = 30: LSTM " << lstm << ", tanh RNN " << tanh_rnn
                               << ", baseline " << adding_baseline_mse);
    BOOST_TEST(lstm < 0.2 * adding_baseline_mse);
    BOOST_TEST(tanh_rnn > 0.7 * adding_baseline_mse);
  }
}

// Martens & Sutskever (2011): Hessian-free optimization trains a plain tanh RNN on a long-range
// task that first-order methods leave at the baseline. Same net, same initialization; the
// first-order optimizers get ten times the data HF sees.
BOOST_AUTO_TEST_CASE(hessian_free_trains_a_tanh_rnn_where_first_order_methods_do_not) {
  for (std::uint64_t seed : {1, 2}) {
    AddingConfig c;
    c.net = AddingNet::tanh_rnn;
    c.sequence_length = 50;
    c.hidden = 16;
    c.seed = seed;
    AddingConfig hf = c;
    hf.optimizer = AddingOptimizer::hessian_free;
    hf.batch = 300;
    hf.curvature_batch = 60;
    hf.steps = 40;
    const AddingProgress with_hf = train_adding_problem(hf, hf.steps, [](const AddingProgress&) {});
    c.batch = 32;
    c.steps = static_cast<int>(10 * with_hf.sequences / c.batch);
    c.optimizer = AddingOptimizer::sgd_momentum;
    const AddingProgress sgd = train_adding_problem(c, c.steps, [](const AddingProgress&) {});
    c.optimizer = AddingOptimizer::adam;
    const AddingProgress adam = train_adding_problem(c, c.steps, [](const AddingProgress&) {});
    BOOST_TEST_MESSAGE("seed " << seed << ", T = 50: held-out MSE, HF " << with_hf.held_out_mse
                               << " after " << with_hf.sequences << " sequences; SGD + momentum "
                               << sgd.held_out_mse << ", Adam " << adam.held_out_mse << " after "
                               << sgd.sequences);
    BOOST_TEST(with_hf.held_out_mse < 0.05 * adding_baseline_mse);
    BOOST_TEST(sgd.held_out_mse > 0.7 * adding_baseline_mse);
    BOOST_TEST(adam.held_out_mse > 0.7 * adding_baseline_mse);
    BOOST_TEST(sgd.sequences == 10 * with_hf.sequences);
  }
}

BOOST_AUTO_TEST_SUITE_END()
