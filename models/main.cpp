// The main job: fits y = w x + b to noisy samples of y = 3x - 2 by gradient descent on the tape.
// A small stand-in that exercises the whole training loop (parameters, recording, backward,
// update, clear) with the operators that exist today.
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "tapeloop/tapeloop.hpp"

using namespace tapeloop;

int main() {
  constexpr std::int64_t n_points = 16;
  constexpr float true_w = 3.0f, true_b = -2.0f, noise = 0.1f;
  constexpr int steps = 200, print_every = 20;
  constexpr float learning_rate = 0.1f;

  // Data: x uniform in [-1, 1), y = 3x - 2 + N(0, 0.1^2), from a fixed seed.
  Generator rng(7);
  Tensor<float> xs = Tensor<float>::uniform({n_points}, -1.0f, 1.0f, rng);
  Tensor<float> ys({n_points});
  for (std::int64_t i = 0; i < n_points; ++i) {
    ys[i] = true_w * xs[i] + true_b + noise * static_cast<float>(rng.normal());
  }

  Parameter<float> w(Tensor<float>::zeros({}), "w");
  Parameter<float> b(Tensor<float>::zeros({}), "b");
  Tape<float> tape;

  float loss_value = 0.0f;
  for (int step = 1; step <= steps; ++step) {
    // Record the mean squared error over the points.
    Var<float> vw = w.var(tape);
    Var<float> vb = b.var(tape);
    Var<float> sum = tape.scalar(0.0f);
    for (std::int64_t i = 0; i < n_points; ++i) {
      Var<float> x = tape.input({&xs[i], Shape{}});
      Var<float> y = tape.input({&ys[i], Shape{}});
      Var<float> residual = vw * x + vb - y;
      sum = sum + residual * residual;
    }
    Var<float> loss = sum * (1.0f / n_points);
    loss_value = loss.item();

    tape.backward(loss);
    for (Parameter<float>* p : {&w, &b}) {  // plain SGD
      p->value()[0] -= learning_rate * p->grad()[0];
      p->zero_grad();
    }
    tape.clear();

    if (step % print_every == 0 || step == 1) {
      std::printf("step %4d  loss %.6f  w %.4f  b %.4f\n", step, loss_value, w.value()[0],
                  b.value()[0]);
    }
  }

  const bool converged = std::abs(w.value()[0] - true_w) < 0.1f &&
                         std::abs(b.value()[0] - true_b) < 0.1f;
  std::printf("fit: w = %.4f (true %.1f), b = %.4f (true %.1f), final loss %.6f: %s\n",
              w.value()[0], true_w, b.value()[0], true_b, loss_value,
              converged ? "converged" : "did NOT converge");
  return converged ? 0 : 1;
}
