// Exploding and vanishing gradients (lecture 7d), measured: ‖dLoss/dh_t‖ against the distance
// from the loss, for tanh RNNs whose recurrent weights have every singular value `scale`, and
// for an LSTM whose memory cell keeps the gradient as far as its forget gate lets it.
#include <sstream>

#include "support/check.hpp"
#include "tapeloop/models/gradient_flow.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

// The norms at distances 0, 10, 25, 50, 99 relative to distance 0, printed as a table row.
std::vector<double> relative(const GradientFlowConfig& c, const std::string& label) {
  const std::vector<double> n = gradient_norms(c);
  std::vector<double> r;
  std::ostringstream row;
  row << label;
  for (std::size_t k : {0, 10, 25, 50, 99}) {
    r.push_back(n[k] / n[0]);
    row << " | " << r.back();
  }
  BOOST_TEST_MESSAGE(row.str());
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_gradient_flow)

BOOST_AUTO_TEST_CASE(tanh_rnn_gradients_vanish_below_scale_one_and_explode_above) {
  for (std::uint64_t seed : {1, 2, 3}) {
    GradientFlowConfig c;
    c.seed = seed;
    BOOST_TEST_CONTEXT("seed " << seed) {
      c.recurrent_scale = 0.5;
      const auto small = relative(c, "tanh RNN, scale 0.5");
      BOOST_TEST(small[3] < 1e-10);  // halved or less at every step back
      c.recurrent_scale = 1.0;
      const auto one = relative(c, "tanh RNN, scale 1.0");
      BOOST_TEST(one[3] > 1e-2);
      BOOST_TEST(one[3] < 1.0);
      c.recurrent_scale = 1.5;
      const auto large = relative(c, "tanh RNN, scale 1.5");
      BOOST_TEST(large[3] > 10.0);
      BOOST_TEST(large[4] > large[3]);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_open_forget_gate_keeps_the_lstm_gradient) {
  for (std::uint64_t seed : {1, 2, 3}) {
    GradientFlowConfig c;
    c.cell = FlowCell::lstm;
    c.seed = seed;
    BOOST_TEST_CONTEXT("seed " << seed) {
      c.forget_bias = 1.0;
      const auto closed = relative(c, "LSTM, forget bias 1");
      BOOST_TEST(closed[3] < 1e-3);  // sigmoid(1) = 0.73 per step
      c.forget_bias = 5.0;
      const auto open = relative(c, "LSTM, forget bias 5");
      BOOST_TEST(open[4] > 1e-2);  // sigmoid(5) = 0.993 per step: still there 99 steps back
      BOOST_TEST(open[4] < 10.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_sizes_are_refused) {
  GradientFlowConfig c;
  c.steps = 0;
  TAPELOOP_CHECK_THROW_MESSAGE(gradient_norms(c), ValueError,
                               "gradient_norms: steps, batch, inputs and hidden must be positive");
}

BOOST_AUTO_TEST_SUITE_END()
