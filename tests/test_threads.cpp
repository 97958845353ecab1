// Threads training models on tapes of their own at once get exactly what one thread gets: a line
// fit, and LSTM layers whose kernels and matrix products run on the kernel threads meanwhile.
#include <thread>
#include <vector>

#include "support/check.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/recurrent.hpp"

using namespace tapeloop;

namespace {

// Fits y = 3x - 2 by gradient descent on a least-squares loss; returns the final parameters.
std::pair<double, double> fit_line(std::uint64_t seed, int steps) {
  Generator rng(seed);
  Tensor<double> x = Tensor<double>::uniform({16}, -1.0, 1.0, rng);
  Tensor<double> y(x.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) y[i] = 3.0 * x[i] - 2.0 + 0.01 * rng.normal();
  Parameter<double> w(Tensor<double>::zeros({1})), b(Tensor<double>::zeros({1}));
  Tape<double> tape;
  for (int step = 0; step < steps; ++step) {
    tape.clear();
    w.zero_grad();
    b.zero_grad();
    Var<double> r = w.var(tape) * tape.constant(x.ref()) + b.var(tape) - tape.constant(y.ref());
    tape.backward(r * r, Tensor<double>::full(x.shape(), 1.0 / 16).ref());
    w.value()[0] -= 0.5 * w.grad()[0];
    b.value()[0] -= 0.5 * b.grad()[0];
  }
  return {w.value()[0], b.value()[0]};
}

// Trains an LSTM layer and a linear read-out with Adam on sequences of its own seed, and returns
// every parameter's final value. Big enough for the kernel threads: the LSTM cell's gates
// ([64, 512]) run in parallel chunks, the input and recurrent products in parallel blocks.
std::vector<float> train_lstm(std::uint64_t seed, int steps) {
  const std::int64_t length = 6, batch = 64, inputs = 32, hidden = 128, classes = 8;
  Generator rng(seed);
  models::RecurrentOptions options;
  options.input_size = inputs;
  options.hidden_size = hidden;
  models::LSTM<float> lstm(options, rng);
  models::Linear<float> out(hidden, classes, rng);
  std::vector<Parameter<float>*> params = lstm.parameters();
  for (Parameter<float>* p : out.parameters()) params.push_back(p);
  Adam<float> adam(params, {.lr = 0.01});
  const Tensor<float> xs = Tensor<float>::normal({length, batch, inputs}, 0.0f, 1.0f, rng);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
  for (std::int64_t& label : labels) label = static_cast<std::int64_t>(rng.below(classes));
  Tape<float> tape;
  for (int step = 0; step < steps; ++step) {
    tape.clear();
    adam.zero_grad();
    const models::RecurrentResult<float> r = lstm.forward(tape, tape.constant(xs.ref()));
    Var<float> logits = out.forward(select(r.h_n, 0, 0));
    tape.backward(cross_entropy(logits, std::span<const std::int64_t>(labels)));
    adam.step();
  }
  std::vector<float> values;
  for (Parameter<float>* p : params)
    values.insert(values.end(), p->value().begin(), p->value().end());
  return values;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_threads)

BOOST_AUTO_TEST_CASE(two_tapes_on_two_threads) {
  const auto alone_a = fit_line(1, 300);
  const auto alone_b = fit_line(2, 300);
  std::pair<double, double> a, b;
  std::thread ta([&] { a = fit_line(1, 300); });
  std::thread tb([&] { b = fit_line(2, 300); });
  ta.join();
  tb.join();
  BOOST_TEST(a.first == alone_a.first);
  BOOST_TEST(a.second == alone_a.second);
  BOOST_TEST(b.first == alone_b.first);
  BOOST_TEST(b.second == alone_b.second);
  BOOST_TEST(a.first == 3.0, boost::test_tools::tolerance(0.01));
  BOOST_TEST(a.second == -2.0, boost::test_tools::tolerance(0.01));
}

BOOST_AUTO_TEST_CASE(lstm_layers_on_three_threads_with_parallel_kernels) {
  // Each thread's kernels and GEMM blocks run on the kernel threads too, with the other
  // threads' at the same time. The kernel thread count is the same for all runs, so the blocks
  // are the same and the results bit-identical.
  const int before = num_threads();
  set_num_threads(2);
  const int steps = 4;
  std::vector<std::vector<float>> alone;
  for (std::uint64_t seed : {1, 2, 3}) alone.push_back(train_lstm(seed, steps));
  std::vector<std::vector<float>> together(3);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] { together[i] = train_lstm(i + 1, steps); });
  }
  for (std::thread& t : threads) t.join();
  set_num_threads(before);
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST_CONTEXT("thread " << i) {
      BOOST_TEST(together[i].size() == alone[i].size());
      BOOST_TEST((together[i] == alone[i]), "differs from the same training on one thread");
    }
  }
  // Training moved the parameters: the runs compared are not trivially equal.
  BOOST_TEST((alone[0] != train_lstm(1, 0)));
  BOOST_TEST((alone[0] != alone[1]));
}

BOOST_AUTO_TEST_SUITE_END()
