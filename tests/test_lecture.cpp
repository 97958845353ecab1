// The lecture's facts about training recurrent nets, checked on the tape: shared weights get
// the sum of their per-step gradients (7b-03), and the week 7 quiz's RNN questions Q3 and Q4.
#include <cmath>

#include "support/check.hpp"
#include "tapeloop/ops/unary.hpp"

using namespace tapeloop;

namespace {

double logistic(double k) {
  return 1.0 / (1.0 + std::exp(-k));
}

// The quiz's net: one input x, one logistic hidden unit h, one linear output y, unrolled over
// the inputs. h_t = sigma(w_xh x_t + w_hh h_{t-1} + b_h) with h_{-1} = 0; y_t = w_hy h_t + b_y.
struct QuizRnn {
  double w_xh, w_hh, w_hy, b_h, b_y;
};

struct Unrolled {
  std::vector<Var<double>> z, h, y;
};

Unrolled unroll(Tape<double>& tape, const QuizRnn& p, std::initializer_list<double> xs,
                Parameter<double>* shared_w_hh = nullptr) {
  Unrolled u;
  Var<double> w_hh = shared_w_hh ? shared_w_hh->var(tape) : tape.scalar(p.w_hh);
  Var<double> h;
  for (double x : xs) {
    Var<double> z = tape.scalar(p.w_xh * x + p.b_h);
    if (!h.empty()) z = z + w_hh * h;
    h = sigmoid(z);
    u.z.push_back(z);
    u.h.push_back(h);
    u.y.push_back(h * p.w_hy + p.b_y);
  }
  return u;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_lecture)

// Quiz Q3: W_xh = 0.5, W_hh = -1, W_hy = -0.7, h_bias = -1, y_bias = 0, x = 9, 4, -2.
BOOST_AUTO_TEST_CASE(quiz_q3_hidden_state_at_t2) {
  const QuizRnn p{0.5, -1.0, -0.7, -1.0, 0.0};
  Tape<double> tape;
  const Unrolled u = unroll(tape, p, {9.0, 4.0, -2.0});
  double h = 0;
  for (double x : {9.0, 4.0, -2.0}) h = logistic(p.w_xh * x + p.w_hh * h + p.b_h);
  BOOST_TEST(u.h[2].item() == h, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(u.h[2].item() == 0.0753460865553954, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(std::round(u.h[2].item() * 100) / 100 == 0.08);  // the quiz's two-decimal answer
}

// Quiz Q4: W_xh = -0.1, W_hh = 0.5, W_hy = 0.25, h_bias = 0.4, y_bias = 0, x = 18, 9, -8,
// squared error E = sum_t (t_t - y_t)^2 / 2 with targets 0.1, -0.1, -0.2; dE/dz at T = 2.
BOOST_AUTO_TEST_CASE(quiz_q4_error_derivative_before_the_nonlinearity_at_t2) {
  const QuizRnn p{-0.1, 0.5, 0.25, 0.4, 0.0};
  const double targets[] = {0.1, -0.1, -0.2};
  Parameter<double> w_hh(Tensor<double>::full({}, p.w_hh));
  Tape<double> tape;
  const Unrolled u = unroll(tape, p, {18.0, 9.0, -8.0}, &w_hh);
  Var<double> error = tape.scalar(0.0);
  for (int t = 0; t < 3; ++t) {
    Var<double> r = u.y[static_cast<std::size_t>(t)] - targets[t];
    error = error + r * r * 0.5;
  }
  tape.backward(error);
  // The closed form, from the exact (unrounded) hidden values.
  double h = 0, hs[3];
  int t = 0;
  for (double x : {18.0, 9.0, -8.0}) h = hs[t++] = logistic(p.w_xh * x + p.w_hh * h + p.b_h);
  const double y2 = p.w_hy * hs[2] + p.b_y;
  const double dE_dz2 = (y2 - targets[2]) * p.w_hy * hs[2] * (1 - hs[2]);
  BOOST_TEST(u.z[2].grad()[0] == dE_dz2, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(u.z[2].grad()[0] == 0.0158859331908689, boost::test_tools::tolerance(1e-12));
  // The question prints the hidden values rounded to 0.2, 0.4, 0.8; the exact ones differ.
  BOOST_TEST(std::abs(u.h[2].item() - 0.8) > 1e-3);
}

// 7b-03: to keep w(t=0) = w(t=1), use dE/dw(t=0) + dE/dw(t=1) for both. A Parameter used at two
// steps gets exactly that sum.
BOOST_AUTO_TEST_CASE(shared_weight_gets_the_sum_of_per_step_gradients) {
  const double w0 = 0.7, x0 = 1.5, x1 = -0.5;
  // One shared parameter used at both steps.
  Parameter<double> shared(Tensor<double>::full({}, w0));
  {
    Tape<double> tape;
    Var<double> h0 = sigmoid(shared.var(tape) * x0);
    Var<double> h1 = sigmoid(shared.var(tape) * h0 + x1);
    tape.backward(h1 * h1);
  }
  // Two separate copies with the same value: the gradient of each step on its own.
  Parameter<double> step0(Tensor<double>::full({}, w0)), step1(Tensor<double>::full({}, w0));
  {
    Tape<double> tape;
    Var<double> h0 = sigmoid(step0.var(tape) * x0);
    Var<double> h1 = sigmoid(step1.var(tape) * h0 + x1);
    tape.backward(h1 * h1);
  }
  BOOST_TEST(step0.grad()[0] != 0.0);
  BOOST_TEST(step1.grad()[0] != 0.0);
  BOOST_TEST(shared.grad()[0] == step0.grad()[0] + step1.grad()[0],
             boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_SUITE_END()
