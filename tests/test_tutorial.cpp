// docs/tutorial.md, compiled and run: every block between "tutorial block" markers below
// appears verbatim in the tutorial, and this suite fails if they drift apart.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <vector>

#include "support/doc_blocks.hpp"
#include "tapeloop/tapeloop.hpp"

// ---- tutorial block: cell ----
using namespace tapeloop;

// Minimal gated unit (Zhou et al., 2016): one forget gate f decides both what to keep of the
// old state and how much of the candidate to write.
//   f  = sigmoid(x W_f + h U_f + b_f)
//   h~ = tanh(x W_h + (f * h) U_h + b_h)
//   h' = (1 - f) * h + f * h~
struct MinimalGatedUnit {
  // weights = {W_f, U_f, b_f, W_h, U_h, b_h}; state = {h}; x: [B, I]
  // Returns the next state and the step's output y_t, here the new h.
  template <class T>
  StepResult<T> operator()(std::span<const Var<T>> w, const State<T>& state,
                           const Var<T>& x) const {
    const Var<T>& h = state[0];
    Var<T> f = sigmoid(matmul(x, w[0]) + matmul(h, w[1]) + w[2]);
    Var<T> candidate = tanh(matmul(x, w[3]) + matmul(f * h, w[4]) + w[5]);
    Var<T> next = (1.0 - f) * h + f * candidate;
    return {State<T>{next}, next};
  }
};
// ---- end of tutorial block ----

// ---- tutorial block: model ----
template <class T>
struct MguModel {
  MguModel(std::int64_t input, std::int64_t hidden, Generator& rng) {
    const T bound = T(1) / std::sqrt(T(hidden));  // PyTorch's default for recurrent weights
    auto uniform = [&](Shape shape) { return Tensor<T>::uniform(shape, -bound, bound, rng); };
    params = {Parameter<T>(uniform({input, hidden}), "W_f"),
              Parameter<T>(uniform({hidden, hidden}), "U_f"),
              Parameter<T>(uniform({hidden}), "b_f"),
              Parameter<T>(uniform({input, hidden}), "W_h"),
              Parameter<T>(uniform({hidden, hidden}), "U_h"),
              Parameter<T>(uniform({hidden}), "b_h"),
              Parameter<T>(uniform({hidden, 1}), "readout")};
  }

  // xs: [T, B, I] -> one prediction per sequence, [B, 1], read off the final state.
  Var<T> forward(Tape<T>& tape, const Var<T>& xs) {
    std::vector<Var<T>> w;
    for (std::size_t i = 0; i < 6; ++i) w.push_back(params[i].var(tape));
    Var<T> h0 = tape.zeros({xs.dim(1), params[1].shape()[0]});
    ScanOptions options;
    options.collect_outputs = false;  // many-to-one: only the final state is needed
    ScanResult<T> r = scan(tape, MinimalGatedUnit{}, xs, State<T>{h0}, w, options);
    return matmul(r.state[0], params[6].var(tape));
  }

  std::vector<Parameter<T>> params;
};
// ---- end of tutorial block ----

BOOST_AUTO_TEST_SUITE(test_tutorial)

BOOST_AUTO_TEST_CASE(gradient_check) {
  // ---- tutorial block: gradcheck ----
  // Check the cell's backward pass, unrolled over 1, 2 and 5 steps, against finite differences.
  for (std::int64_t steps : {1, 2, 5}) {
    Generator rng(7);
    std::vector<Tensor<double>> inputs = {
        Tensor<double>::normal({steps, 2, 3}, 0.0, 1.0, rng),  // xs
        Tensor<double>::normal({2, 4}, 0.0, 1.0, rng),         // h0
        Tensor<double>::normal({3, 4}, 0.0, 0.5, rng),         // W_f
        Tensor<double>::normal({4, 4}, 0.0, 0.5, rng),         // U_f
        Tensor<double>::normal({4}, 0.0, 0.5, rng),            // b_f
        Tensor<double>::normal({3, 4}, 0.0, 0.5, rng),         // W_h
        Tensor<double>::normal({4, 4}, 0.0, 0.5, rng),         // U_h
        Tensor<double>::normal({4}, 0.0, 0.5, rng)};           // b_h
    GradcheckResult result = gradcheck(
        [](Tape<double>& tape, const std::vector<Var<double>>& x) {
          std::vector<Var<double>> w(x.begin() + 2, x.end());
          return scan(tape, MinimalGatedUnit{}, x[0], State<double>{x[1]}, w).outputs;
        },
        inputs);
    if (!result) std::printf("gradcheck failed:\n%s", result.message.c_str());
    BOOST_TEST(result.passed);
  }
  // ---- end of tutorial block ----
}

BOOST_AUTO_TEST_CASE(training_remembers_the_first_input) {
  // ---- tutorial block: train ----
  // The task: read 10 random numbers, then output the first one. The gradient has to flow
  // back through all 10 steps, and the forget gate has to learn to hold h still.
  const std::int64_t steps = 10, batch = 32;
  Generator rng(1);
  MguModel<float> model(1, 16, rng);
  std::vector<Parameter<float>*> params;
  for (auto& p : model.params) params.push_back(&p);
  Adam<float> optimizer(params, {.lr = 0.01});

  Tape<float> tape;
  float first_loss = 0, loss_value = 0;
  for (int step = 0; step < 400; ++step) {
    Tensor<float> xs = Tensor<float>::normal({steps, batch, 1}, 0.0f, 1.0f, rng);
    Tensor<float> target({batch, 1});
    for (std::int64_t b = 0; b < batch; ++b) target[b] = xs[b];  // xs[0, b, 0]

    tape.clear();
    optimizer.zero_grad();
    Var<float> prediction = model.forward(tape, tape.constant(xs.ref()));
    Var<float> loss = mse_loss(prediction, tape.constant(target.ref()));
    tape.backward(loss);
    clip_grad_norm(params, 1.0);  // recurrent nets' gradients can explode (lecture 7d)
    optimizer.step();
    loss_value = loss.item();
    if (step == 0) first_loss = loss_value;
    if (step % 50 == 0) std::printf("step %3d  loss %.4f\n", step, loss_value);
  }
  // ---- end of tutorial block ----
  BOOST_TEST(first_loss > 0.5f);  // the variance of the target is 1
  BOOST_TEST(loss_value < 0.1f * first_loss);
}

BOOST_AUTO_TEST_CASE(tutorial_shows_these_blocks) {
  BOOST_TEST(tapeloop::testing::check_doc_blocks(__FILE__, "tutorial.md", "tutorial") == 4);
}

BOOST_AUTO_TEST_SUITE_END()
