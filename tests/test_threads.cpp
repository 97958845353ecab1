// Two threads train two models on two tapes at once, and get exactly what one thread gets.
#include <thread>

#include "support/check.hpp"

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

BOOST_AUTO_TEST_SUITE_END()
