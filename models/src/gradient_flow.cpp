// Gradient norms through time: one recurrent layer unrolled on a tape by hand, so every hidden
// state is a node whose gradient can be read after backward.
#include "tapeloop/models/gradient_flow.hpp"

#include <cmath>
#include <string>

#include "tapeloop/errors.hpp"
#include "tapeloop/models/cells.hpp"
#include "tapeloop/models/init.hpp"
#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/linear.hpp"
#include "tapeloop/ops/reduce.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/ops/unary.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::models {

std::vector<double> gradient_norms(const GradientFlowConfig& c) {
  if (c.steps < 1 || c.batch < 1 || c.inputs < 1 || c.hidden < 1) {
    throw ValueError("gradient_norms: steps, batch, inputs and hidden must be positive");
  }
  Generator rng(c.seed);
  const bool lstm = c.cell == FlowCell::lstm;
  const std::int64_t G = lstm ? 4 : 1, H = c.hidden;
  Tensor<double> w_ih({G * H, c.inputs}), w_hh({G * H, H}), b_ih({G * H}), b_hh({G * H});
  if (lstm) {
    for (Tensor<double>* w : {&w_ih, &w_hh, &b_ih, &b_hh}) init::rnn_default(*w, H, rng);
    init::lstm_forget_gate_bias(b_ih, c.forget_bias);
    init::lstm_forget_gate_bias(b_hh, 0.0);
  } else {
    init::orthogonal(w_ih, rng, c.input_scale);
    init::orthogonal(w_hh, rng, c.recurrent_scale);
    b_ih = Tensor<double>::zeros({H});
    b_hh = Tensor<double>::zeros({H});
  }
  const Tensor<double> xs = Tensor<double>::normal({c.steps, c.batch, c.inputs}, 0.0, 1.0, rng);
  const Tensor<double> readout = Tensor<double>::normal({H}, 0.0, 1.0, rng);

  Tape<double> tape;
  const Var<double> wi = tape.input(w_ih.ref(), true), wh = tape.input(w_hh.ref(), true);
  const Var<double> bi = tape.input(b_ih.ref(), true), bh = tape.input(b_hh.ref(), true);
  const Var<double> x = tape.constant(xs.ref());
  Var<double> h = tape.zeros({c.batch, H});
  Var<double> cell = tape.zeros({c.batch, H});
  std::vector<Var<double>> hs;
  for (std::int64_t t = 0; t < c.steps; ++t) {
    const Var<double> x_t = select(x, 0, t);
    if (lstm) {
      const LstmState<double> next = lstm_cell(x_t, {h, cell}, wi, wh, bi, bh);
      h = next.h;
      cell = next.c;
    } else {
      h = rnn_cell_tanh(x_t, h, wi, wh, bi, bh);
    }
    hs.push_back(h);
  }
  tape.backward(sum(h * tape.constant(readout.ref())));
  std::vector<double> norms;
  for (auto it = hs.rbegin(); it != hs.rend(); ++it) {
    const TensorRef<double> g = it->grad();
    double s = 0;
    for (std::int64_t i = 0; i < g.numel(); ++i) s += g.data[i] * g.data[i];
    norms.push_back(std::sqrt(s));
  }
  return norms;
}

}  // namespace tapeloop::models
