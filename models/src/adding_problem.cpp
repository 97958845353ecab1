// The adding problem: data, a recurrent net with a linear readout, and its training loop.
#include "tapeloop/models/adding_problem.hpp"

#include <memory>
#include <string>

#include "tapeloop/errors.hpp"
#include "tapeloop/models/init.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/recurrent.hpp"
#include "tapeloop/ops/loss.hpp"
#include "tapeloop/ops/shape_ops.hpp"
#include "tapeloop/optim.hpp"

namespace tapeloop::models {

AddingBatch make_adding_batch(std::int64_t steps, std::int64_t batch, Generator& rng) {
  if (steps < 2 || batch < 1) {
    throw ValueError("make_adding_batch: " + std::to_string(steps) + " steps and batch " +
                     std::to_string(batch) + ": need at least 2 steps and 1 sequence");
  }
  AddingBatch out{Tensor<float>::zeros({steps, batch, 2}), Tensor<float>::zeros({batch, 1})};
  const std::int64_t half = steps / 2;
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t t = 0; t < steps; ++t) {
      out.inputs[(t * batch + b) * 2] = static_cast<float>(rng.uniform());
    }
    // One marker in each half.
    const auto first = static_cast<std::int64_t>(rng.uniform() * static_cast<double>(half));
    const auto second =
        half + static_cast<std::int64_t>(rng.uniform() * static_cast<double>(steps - half));
    float sum = 0;
    for (std::int64_t t : {first, second}) {
      out.inputs[(t * batch + b) * 2 + 1] = 1.0f;
      sum += out.inputs[(t * batch + b) * 2];
    }
    out.targets[b] = sum;
  }
  return out;
}

namespace {

// The recurrent layer and its readout.
struct AddingModel {
  AddingModel(const AddingConfig& c, Generator& rng)
      : layer(mode(c.net), options(c), rng), readout(c.hidden, 1, rng) {
    if (c.net == AddingNet::lstm) {
      init::lstm_forget_gate_bias(layer.bias_ih(0).value(), 1.0);
      init::lstm_forget_gate_bias(layer.bias_hh(0).value(), 0.0);
    }
    if (c.net == AddingNet::irnn) {  // Le, Jaitly and Hinton (2015)
      init::identity(layer.weight_hh(0).value());
      layer.bias_ih(0).value() = Tensor<float>::zeros({c.hidden});
      layer.bias_hh(0).value() = Tensor<float>::zeros({c.hidden});
      Tensor<float>& w = layer.weight_ih(0).value();
      w = Tensor<float>::normal(w.shape(), 0.0f, 0.001f, rng);
    }
  }
  static RecurrentMode mode(AddingNet net) {
    return net == AddingNet::lstm   ? RecurrentMode::lstm
           : net == AddingNet::irnn ? RecurrentMode::rnn_relu
                                    : RecurrentMode::rnn_tanh;
  }
  static RecurrentOptions options(const AddingConfig& c) {
    RecurrentOptions o;
    o.input_size = 2;
    o.hidden_size = c.hidden;
    o.collect_outputs = false;  // many-to-one: only the last hidden state is read
    return o;
  }
  // inputs [T, B, 2] -> answers [B, 1]
  Var<float> forward(Tape<float>& tape, const Var<float>& inputs) {
    const RecurrentResult<float> r = layer.forward(tape, inputs);
    return readout.forward(select(r.h_n, 0, 0));
  }
  std::vector<Parameter<float>*> parameters() {
    std::vector<Parameter<float>*> all = layer.parameters();
    for (Parameter<float>* p : readout.parameters()) all.push_back(p);
    return all;
  }

  RecurrentLayer<float> layer;
  Linear<float> readout;
};

}  // namespace

AddingProgress train_adding_problem(const AddingConfig& c, int report_every,
                                    const std::function<void(const AddingProgress&)>& report) {
  if (c.hidden < 1 || c.batch < 1 || c.steps < 1 || c.held_out < 1 || report_every < 1) {
    throw ValueError(
        "train_adding_problem: hidden, batch, steps, held_out and report_every "
        "must be positive");
  }
  Generator rng(c.seed);
  AddingModel model(c, rng);
  const AddingBatch held_out = make_adding_batch(c.sequence_length, c.held_out, rng);
  std::vector<Parameter<float>*> params = model.parameters();
  std::unique_ptr<Optimizer<float>> optimizer;
  if (c.net == AddingNet::irnn) {
    optimizer = std::make_unique<SGD<float>>(
        params, SGDOptions{.lr = c.irnn_learning_rate, .momentum = c.irnn_momentum});
  } else {
    optimizer = std::make_unique<Adam<float>>(params, AdamOptions{.lr = c.learning_rate});
  }
  Tape<float> tape;
  AddingProgress progress{};
  for (int step = 1; step <= c.steps; ++step) {
    const AddingBatch batch = make_adding_batch(c.sequence_length, c.batch, rng);
    tape.clear();
    optimizer->zero_grad();
    const Var<float> loss = mse_loss(model.forward(tape, tape.constant(batch.inputs.ref())),
                                     tape.constant(batch.targets.ref()));
    tape.backward(loss);
    if (c.net == AddingNet::irnn)
      clip_grad_norm(std::span<Parameter<float>* const>(params), c.irnn_clip);
    optimizer->step();
    progress.step = step;
    progress.loss = loss.item();
    if (step % report_every == 0 || step == c.steps) {
      tape.clear();
      auto no_grad = tape.no_grad();
      const Var<float> mse = mse_loss(model.forward(tape, tape.constant(held_out.inputs.ref())),
                                      tape.constant(held_out.targets.ref()));
      progress.held_out_mse = mse.item();
      report(progress);
    }
  }
  return progress;
}

}  // namespace tapeloop::models
