// A user's program: an LSTM regressor trained for a few steps through the installed package,
// checking the version it runs with and that bad input is reported, not undefined.
#include <cmath>
#include <cstdio>
#include <string>

#include <tapeloop/models.hpp>
#include <tapeloop/tapeloop.hpp>

using namespace tapeloop;

int main() {
  if (version() != TAPELOOP_VERSION_STRING) {
    std::printf("headers %s, library %.*s\n", TAPELOOP_VERSION_STRING,
                static_cast<int>(version().size()), version().data());
    return 1;
  }
  if (!missing_cpu_features().empty()) {
    std::printf("this CPU lacks %s\n", missing_cpu_features().c_str());
    return 1;
  }

  // Predict the mean of a sequence of 12 numbers from the LSTM's last hidden state.
  Generator rng(7);
  models::RecurrentOptions options;
  options.input_size = 1;
  options.hidden_size = 16;
  models::LSTM<float> lstm(options, rng);
  models::Linear<float> head(16, 1, rng);
  std::vector<Parameter<float>*> parameters = lstm.parameters();
  for (Parameter<float>* p : head.parameters()) parameters.push_back(p);
  Adam<float> optimizer(parameters, {.lr = 0.02});

  const std::int64_t steps = 12, batch = 32;
  Tensor<float> x = Tensor<float>::uniform({steps, batch, 1}, -1.0f, 1.0f, rng);
  Tensor<float> y = Tensor<float>::zeros({batch, 1});
  for (std::int64_t t = 0; t < steps; ++t) {
    for (std::int64_t b = 0; b < batch; ++b) y[b] += x[t * batch + b] / steps;
  }

  Tape<float> tape;
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    tape.clear();
    optimizer.zero_grad();
    models::RecurrentResult<float> r = lstm.forward(tape, tape.constant(x.ref()));
    Var<float> prediction = head.forward(select(r.h_n, 0, 0));
    Var<float> loss = mse_loss(prediction, tape.constant(y.ref()));
    tape.backward(loss);
    optimizer.step();
    (step == 0 ? first : last) = loss.item();
  }
  std::printf("tapeloop %s: loss %.5f -> %.5f\n", TAPELOOP_VERSION_STRING, first, last);
  if (!(std::isfinite(last) && last < 0.5 * first)) return 1;

  // Bad input: a typed error naming the layer and the shapes.
  tape.clear();
  try {
    lstm.forward(tape, tape.constant(Tensor<float>::zeros({steps, batch, 3}).ref()));
    std::printf("an input of 3 features was accepted by a layer of input_size 1\n");
    return 1;
  } catch (const ShapeError& e) {
    std::printf("bad input reported: %s\n", e.what());
  }
  return 0;
}
