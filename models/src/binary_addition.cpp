// The binary-addition RNN: data, model and training loop.
#include "tapeloop/models/binary_addition.hpp"

#include <cmath>

#include "tapeloop/ops.hpp"

namespace tapeloop::models {

AdditionBatch make_addition_batch(int bits, int batch, Generator& rng) {
  const int steps = bits + 1;
  AdditionBatch out{Tensor<float>::zeros({steps, batch, 2}),
                    Tensor<float>::zeros({steps, batch, 1})};
  for (int n = 0; n < batch; ++n) {
    const std::uint64_t a = rng.below(std::uint64_t{1} << bits);
    const std::uint64_t b = rng.below(std::uint64_t{1} << bits);
    const std::uint64_t sum = a + b;
    for (int t = 0; t < steps; ++t) {
      out.inputs.at({t, n, 0}) = static_cast<float>((a >> t) & 1);
      out.inputs.at({t, n, 1}) = static_cast<float>((b >> t) & 1);
      out.targets.at({t, n, 0}) = static_cast<float>((sum >> t) & 1);
    }
  }
  return out;
}

namespace {

Tensor<float> init_uniform(const Shape& shape, float bound, Generator& rng) {
  return Tensor<float>::uniform(shape, -bound, bound, rng);
}

}  // namespace

BinaryAdditionRnn::BinaryAdditionRnn(int hidden, Generator& rng)
    : w_xh_(init_uniform({2, hidden}, 1.0f, rng), "w_xh"),
      w_hh_(init_uniform({hidden, hidden}, 1.0f, rng), "w_hh"),
      b_h_(Tensor<float>::zeros({hidden}), "b_h"),
      w_hy_(init_uniform({hidden, 1}, 1.0f, rng), "w_hy"),
      b_y_(Tensor<float>::zeros({1}), "b_y") {}

namespace {

// One step of the lecture's net: h_t = sigmoid(x_t W_xh + h_{t-1} W_hh + b_h).
struct LogisticCell {
  StepResult<float> operator()(std::span<const Var<float>> w, const State<float>& s,
                               const Var<float>& x) const {
    const Var<float> h = sigmoid(matmul(x, w[0]) + matmul(s[0], w[1]) + w[2]);
    return {State<float>{h}, h};  // the state, and the step's output to read the sum bit from
  }
};

}  // namespace

Var<float> BinaryAdditionRnn::forward(Tape<float>& tape, const Var<float>& inputs) {
  // The same weights at every step: backward leaves the sum of the per-step gradients.
  Var<float> h0 = tape.zeros({inputs.dim(1), w_hh_.shape()[0]});
  ScanResult<float> r = scan(tape, LogisticCell{}, inputs, State<float>{h0},
                             {w_xh_.var(tape), w_hh_.var(tape), b_h_.var(tape)});
  return matmul(r.outputs, w_hy_.var(tape)) + b_y_.var(tape);  // [T,B,H] x [H,1] -> [T,B,1]
}

std::vector<Parameter<float>*> BinaryAdditionRnn::parameters() {
  return {&w_xh_, &w_hh_, &b_h_, &w_hy_, &b_y_};
}

BinaryAdditionProgress train_binary_addition(
    const BinaryAdditionConfig& config, int report_every,
    const std::function<void(const BinaryAdditionProgress&)>& report) {
  Generator rng(config.seed);
  BinaryAdditionRnn model(config.hidden, rng);
  const AdditionBatch held_out = make_addition_batch(config.bits, 256, rng);
  std::vector<Parameter<float>*> params = model.parameters();
  std::vector<Tensor<float>> velocity;
  for (Parameter<float>* p : params) velocity.push_back(Tensor<float>::zeros(p->shape()));

  Tape<float> tape;
  BinaryAdditionProgress progress{};
  for (int step = 1; step <= config.steps; ++step) {
    const AdditionBatch batch = make_addition_batch(config.bits, config.batch, rng);
    tape.clear();
    for (Parameter<float>* p : params) p->zero_grad();
    Var<float> logits = model.forward(tape, tape.constant(batch.inputs.ref()));
    Var<float> loss = binary_cross_entropy_with_logits(logits, tape.constant(batch.targets.ref()));
    tape.backward(loss);
    for (std::size_t i = 0; i < params.size(); ++i) {
      Tensor<float>& v = velocity[i];
      Tensor<float>& w = params[i]->value();
      const Tensor<float>& g = params[i]->grad();
      for (std::int64_t k = 0; k < w.numel(); ++k) {
        v[k] = config.momentum * v[k] - config.learning_rate * g[k];
        w[k] += v[k];
      }
    }
    progress.step = step;
    progress.loss = loss.item();

    if (step % report_every == 0 || step == config.steps) {
      tape.clear();
      auto no_grad = tape.no_grad();
      Var<float> out = model.forward(tape, tape.constant(held_out.inputs.ref()));
      const std::int64_t steps = out.dim(0), n = out.dim(1);
      std::int64_t right_bits = 0, right_sums = 0;
      for (std::int64_t b = 0; b < n; ++b) {
        bool all = true;
        for (std::int64_t t = 0; t < steps; ++t) {
          const bool predicted = out.value()[t * n + b] > 0.0f;
          const bool wanted = held_out.targets[t * n + b] > 0.5f;
          right_bits += predicted == wanted;
          all = all && predicted == wanted;
        }
        right_sums += all;
      }
      progress.bit_accuracy = static_cast<float>(right_bits) / static_cast<float>(steps * n);
      progress.sum_accuracy = static_cast<float>(right_sums) / static_cast<float>(n);
      report(progress);
    }
  }
  return progress;
}

}  // namespace tapeloop::models
