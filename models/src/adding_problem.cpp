// The adding problem: data, a recurrent net with a linear readout, and its training loop.
#include "tapeloop/models/adding_problem.hpp"

#include <algorithm>
#include <chrono>
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
    // Many-to-one: only the last hidden state is read, except by structural damping.
    o.collect_outputs = damps_hidden_states(c);
    return o;
  }
  static bool damps_hidden_states(const AddingConfig& c) {
    return c.optimizer == AddingOptimizer::hessian_free && c.structural_damping > 0;
  }
  // inputs [T, B, 2] -> answers [B, 1]; `hidden` gets every hidden state when collected.
  Var<float> forward(Tape<float>& tape, const Var<float>& inputs, Var<float>* hidden = nullptr) {
    const RecurrentResult<float> r = layer.forward(tape, inputs);
    if (hidden) *hidden = r.output;
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
  if (c.hidden < 1 || c.batch < 1 || c.steps < 1 || c.held_out < 1 || report_every < 1 ||
      c.curvature_batch < 1) {
    throw ValueError(
        "train_adding_problem: hidden, batch, curvature_batch, steps, held_out and report_every "
        "must be positive");
  }
  Generator rng(c.seed);
  AddingModel model(c, rng);
  const AddingBatch held_out = make_adding_batch(c.sequence_length, c.held_out, rng);
  std::vector<Parameter<float>*> params = model.parameters();
  const AddingOptimizer kind = c.optimizer != AddingOptimizer::automatic ? c.optimizer
                               : c.net == AddingNet::irnn ? AddingOptimizer::sgd_momentum
                                                          : AddingOptimizer::adam;
  const bool irnn_defaults = c.optimizer == AddingOptimizer::automatic && c.net == AddingNet::irnn;
  const double lr = irnn_defaults ? c.irnn_learning_rate : c.learning_rate;
  const double momentum = irnn_defaults ? c.irnn_momentum : c.momentum;
  const double clip = irnn_defaults ? c.irnn_clip : c.clip;
  std::unique_ptr<Optimizer<float>> optimizer;
  HessianFree<float>* hf = nullptr;
  if (kind == AddingOptimizer::sgd_momentum) {
    optimizer = std::make_unique<SGD<float>>(params, SGDOptions{.lr = lr, .momentum = momentum});
  } else if (kind == AddingOptimizer::adam) {
    optimizer = std::make_unique<Adam<float>>(params, AdamOptions{.lr = lr});
  } else {
    HessianFreeOptions o;
    o.max_cg_iterations = c.max_cg_iterations;
    o.structural_damping = c.structural_damping;
    o.initial_damping = c.initial_damping;
    auto owned = std::make_unique<HessianFree<float>>(params, o);
    hf = owned.get();
    optimizer = std::move(owned);
  }
  const bool damped = AddingModel::damps_hidden_states(c);
  const std::int64_t curvature = std::min(c.curvature_batch, c.batch);
  Tape<float> tape;
  AddingProgress progress{};
  const auto start = std::chrono::steady_clock::now();
  double excluded = 0;  // seconds spent on held-out evaluations
  for (int step = 1; step <= c.steps; ++step) {
    const AddingBatch batch = make_adding_batch(c.sequence_length, c.batch, rng);
    progress.sequences += c.batch;
    if (hf) {
      // The curvature batch is the gradient batch's first sequences (Martens & Sutskever).
      auto record = [&](std::int64_t count) {
        return [&, count](Tape<float>& t) -> HessianFreeRecord<float> {
          Var<float> inputs = t.constant(batch.inputs.ref());
          Var<float> targets = t.constant(batch.targets.ref());
          if (count < c.batch) {
            inputs = narrow(inputs, 1, 0, count);
            targets = narrow(targets, 0, 0, count);
          }
          HessianFreeRecord<float> r;
          Var<float> hidden;
          r.output = model.forward(t, inputs, damped ? &hidden : nullptr);
          r.loss = mse_loss(r.output, targets);
          if (damped) r.hidden.push_back(hidden);
          return r;
        };
      };
      progress.loss = static_cast<float>(hf->step(record(c.batch), record(curvature)));
    } else {
      tape.clear();
      optimizer->zero_grad();
      const Var<float> loss = mse_loss(model.forward(tape, tape.constant(batch.inputs.ref())),
                                       tape.constant(batch.targets.ref()));
      tape.backward(loss);
      if (kind == AddingOptimizer::sgd_momentum) {
        clip_grad_norm(std::span<Parameter<float>* const>(params), clip);
      }
      optimizer->step();
      progress.loss = loss.item();
    }
    progress.step = step;
    if (step % report_every == 0 || step == c.steps) {
      const auto before = std::chrono::steady_clock::now();
      progress.seconds = std::chrono::duration<double>(before - start).count() - excluded;
      tape.clear();
      auto no_grad = tape.no_grad();
      const Var<float> mse = mse_loss(model.forward(tape, tape.constant(held_out.inputs.ref())),
                                      tape.constant(held_out.targets.ref()));
      progress.held_out_mse = mse.item();
      excluded += std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
      report(progress);
    }
  }
  return progress;
}

}  // namespace tapeloop::models
