// Demo 7d: the gradient of a loss at the last step, measured at every earlier hidden state.
#include <cmath>
#include <string>

#include "tapeloop/models/gradient_flow.hpp"
#include "tapeloop/models/lecture.hpp"

namespace tapeloop::models {

void gradient_flow_demo(Report& report, const DemoOptions&) {
  report.section("7d: exploding and vanishing gradients",
                 "||dLoss/dh_t|| against the distance from the loss, 100 steps back, for tanh "
                 "RNNs whose recurrent weights have every singular value equal to `scale`, and "
                 "for LSTMs whose forget gate starts at sigmoid(bias). One backward pass each, "
                 "in double.");
  struct Case {
    std::string label;
    FlowCell cell;
    double scale, forget_bias;
  };
  const Case cases[] = {{"tanh RNN, scale 0.5", FlowCell::tanh_rnn, 0.5, 1},
                        {"tanh RNN, scale 1.0", FlowCell::tanh_rnn, 1.0, 1},
                        {"tanh RNN, scale 1.5", FlowCell::tanh_rnn, 1.5, 1},
                        {"LSTM, forget bias 1", FlowCell::lstm, 1, 1.0},
                        {"LSTM, forget bias 5", FlowCell::lstm, 1, 5.0}};
  Plot plot{"Gradient norm through time",
            "steps back from the loss",
            "||dLoss/dh_t|| / ||dLoss/dh_T||",
            {}};
  plot.log_y = true;
  std::vector<std::vector<std::string>> rows;
  std::vector<double> at50, at99;
  for (const Case& c : cases) {
    GradientFlowConfig config;
    config.cell = c.cell;
    config.recurrent_scale = c.scale;
    config.forget_bias = c.forget_bias;
    const std::vector<double> n = gradient_norms(config);
    Series s{c.label, {}, {}, {}};
    for (std::size_t k = 0; k < n.size(); ++k) {
      s.x.push_back(static_cast<double>(k));
      s.y.push_back(n[k] / n[0]);
    }
    plot.series.push_back(s);
    rows.push_back({c.label, format_number(n[10] / n[0]), format_number(n[50] / n[0]),
                    format_number(n[99] / n[0])});
    at50.push_back(n[50] / n[0]);
    at99.push_back(n[99] / n[0]);
  }
  report.plot("gradient_flow", plot);
  report.table({"net", "10 steps back", "50 steps back", "99 steps back"}, rows);
  report.claim("tanh RNN, scale 0.5: the gradient vanishes (50 steps back: " +
                   format_number(at50[0]) + " of its size at the loss)",
               at50[0] < 1e-10);
  report.claim("tanh RNN, scale 1.5: the gradient explodes (50 steps back: " +
                   format_number(at50[2]) + " times its size at the loss)",
               at50[2] > 10);
  report.claim(
      "LSTM, forget bias 1: the memory cell forgets, so the gradient vanishes too "
      "(50 steps back: " +
          format_number(at50[3]) + ")",
      at50[3] < 1e-3);
  report.claim("LSTM with an open forget gate keeps the gradient (99 steps back: " +
                   format_number(at99[4]) + " of its size at the loss)",
               at99[4] > 1e-2);
}

}  // namespace tapeloop::models
