// Fused RNN, LSTM and GRU cells: values against the formulas, gradients, float agreement, errors.
#include <cmath>

#include "support/check.hpp"

#include "tapeloop/ops/recurrent.hpp"

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

double sig(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

// {B, H} pairs: single elements, one row, one unit, rows shorter than a SIMD batch, a batch
// plus a tail, and a row longer than one parallel block (64).
const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {{1, 1}, {1, 3},  {4, 1},
                                                                  {3, 4}, {2, 19}, {1, 70}};

// Both halves of the LSTM output, so a check sees the gradients of h and of c.
const auto lstm_both = [](auto&, const auto& v) {
  const auto s = lstm_cell_fused(v[0], v[1]);
  return concat({s.h, s.c}, 0);
};

// The cells' formulas written out element by element in double, forward and backward: the
// reference for sizes too large to gradcheck. Returns h, c and the gradients of gates and c_prev
// for the loss sum(wh * h) + sum(wc * c).
struct LstmReference {
  std::vector<double> h, c, dgates, dc_prev;
};
LstmReference lstm_reference(const Tensor<double>& gates, const Tensor<double>& c0,
                             const Tensor<double>& wh, const Tensor<double>& wc) {
  const std::int64_t B = c0.shape()[0], H = c0.shape()[1];
  LstmReference r{std::vector<double>(B * H), std::vector<double>(B * H),
                  std::vector<double>(B * 4 * H), std::vector<double>(B * H)};
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = 0; j < H; ++j) {
      const double* g = gates.data() + b * 4 * H;
      const std::int64_t k = b * H + j;
      const double i = sig(g[j]), f = sig(g[H + j]), gg = std::tanh(g[2 * H + j]),
                   o = sig(g[3 * H + j]);
      const double c = f * c0[k] + i * gg, tc = std::tanh(c);
      r.c[k] = c;
      r.h[k] = o * tc;
      const double dc = wc[k] + wh[k] * o * (1 - tc * tc);
      double* dg = r.dgates.data() + b * 4 * H;
      dg[j] = dc * gg * i * (1 - i);
      dg[H + j] = dc * c0[k] * f * (1 - f);
      dg[2 * H + j] = dc * i * (1 - gg * gg);
      dg[3 * H + j] = wh[k] * tc * o * (1 - o);
      r.dc_prev[k] = dc * f;
    }
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_recurrent)

BOOST_AUTO_TEST_CASE(rnn_values_gradients_and_float) {
  std::uint64_t seed = 150;
  for (const auto& [B, H] : sizes) {
    const std::vector<Tensor<double>> in = {random_tensor({B, H}, seed++, -2, 2),
                                            random_tensor({B, H}, seed++, -2, 2)};
    Tape<double> tape;
    const Var<double> t =
        rnn_cell_fused(tape.input(in[0].ref()), tape.input(in[1].ref()), RnnActivation::tanh);
    const Var<double> r =
        rnn_cell_fused(tape.input(in[0].ref()), tape.input(in[1].ref()), RnnActivation::relu);
    BOOST_TEST(t.shape() == (Shape{B, H}));
    for (std::int64_t k = 0; k < B * H; ++k) {
      const double x = in[0][k] + in[1][k];
      BOOST_TEST(t.value()[k] == std::tanh(x), boost::test_tools::tolerance(1e-15));
      BOOST_TEST(r.value()[k] == std::max(x, 0.0));
    }
    TAPELOOP_CHECK_GRADCHECK(
        [](auto&, const auto& v) { return rnn_cell_fused(v[0], v[1], RnnActivation::tanh); }, in);
    // relu: the sums keep clear of the kink at 0 (|x| > 1e-3 for these seeds is checked).
    for (std::int64_t k = 0; k < B * H; ++k) BOOST_REQUIRE(std::abs(in[0][k] + in[1][k]) > 1e-3);
    TAPELOOP_CHECK_GRADCHECK(
        [](auto&, const auto& v) { return rnn_cell_fused(v[0], v[1], RnnActivation::relu); }, in);
  }
  // The same Var as gi and gh: both contributions add into one gradient.
  const std::vector<Tensor<double>> same = {random_tensor({3, 5}, 170, -2, 2)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& v) { return rnn_cell_fused(v[0], v[0], RnnActivation::tanh); }, same);
  check_float_matches_double(
      [](auto&, const auto& v) { return rnn_cell_fused(v[0], v[1], RnnActivation::tanh); },
      {random_tensor({3, 21}, 180, -2, 2), random_tensor({3, 21}, 181, -2, 2)});
}

BOOST_AUTO_TEST_CASE(rnn_on_gates_summed_by_the_caller) {
  // act(gates): the two-input cell's values with gh = 0, its gradient, tangent, and float.
  const Tensor<double> gates = random_tensor({3, 7}, 190, -2, 2);
  for (std::int64_t k = 0; k < gates.numel(); ++k) BOOST_REQUIRE(std::abs(gates[k]) > 1e-3);
  for (RnnActivation act : {RnnActivation::tanh, RnnActivation::relu}) {
    Tape<double> tape;
    const Var<double> g = tape.input(gates.ref());
    const Var<double> one = rnn_cell_fused(g, act),
                      two = rnn_cell_fused(g, tape.zeros({3, 7}), act);
    for (std::int64_t k = 0; k < gates.numel(); ++k) {
      BOOST_TEST(one.value()[k] == two.value()[k]);
      BOOST_TEST(one.value()[k] ==
                     (act == RnnActivation::tanh ? std::tanh(gates[k]) : std::max(gates[k], 0.0)),
                 boost::test_tools::tolerance(1e-15));
    }
    TAPELOOP_CHECK_GRADCHECK([act](auto&, const auto& v) { return rnn_cell_fused(v[0], act); },
                             std::vector<Tensor<double>>{gates});
    check_float_matches_double([act](auto&, const auto& v) { return rnn_cell_fused(v[0], act); },
                               {random_tensor({3, 21}, 191, -2, 2)});
  }
}

BOOST_AUTO_TEST_CASE(lstm_values_match_the_formula) {
  const std::int64_t B = 3, H = 4;
  Tape<double> tape;
  Tensor<double> gates = random_tensor({B, 4 * H}, 1, -2, 2), c0 = random_tensor({B, H}, 2);
  const LstmState<double> s = lstm_cell_fused(tape.input(gates.ref()), tape.input(c0.ref()));
  BOOST_TEST(s.h.shape() == (Shape{B, H}));
  BOOST_TEST(s.c.shape() == (Shape{B, H}));
  auto tol = boost::test_tools::tolerance(1e-14);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = 0; j < H; ++j) {
      const double* g = gates.data() + b * 4 * H;
      const double c = sig(g[H + j]) * c0[b * H + j] + sig(g[j]) * std::tanh(g[2 * H + j]);
      BOOST_TEST(s.c.value()[b * H + j] == c, tol);
      BOOST_TEST(s.h.value()[b * H + j] == sig(g[3 * H + j]) * std::tanh(c), tol);
    }
  // h and c are the two halves of one node, contiguous: h first.
  BOOST_TEST(s.c.value().data == s.h.value().data + B * H);
}

BOOST_AUTO_TEST_CASE(lstm_gradcheck_over_shapes) {
  std::uint64_t seed = 10;
  for (const auto& [B, H] : sizes) {
    std::vector<Tensor<double>> in = {random_tensor({B, 4 * H}, seed++, -2, 2),
                                      random_tensor({B, H}, seed++)};
    TAPELOOP_CHECK_GRADCHECK(lstm_both, in);
    // Only one half used: the other half's gradient is zero and must not disturb the rule.
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return lstm_cell_fused(v[0], v[1]).h; },
                             in);
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return lstm_cell_fused(v[0], v[1]).c; },
                             in);
    TAPELOOP_CHECK_GRADCHECK(
        [](auto&, const auto& v) {
          const auto s = lstm_cell_fused(v[0], v[1]);
          return s.h * s.c + s.c;
        },
        in);
  }
}

BOOST_AUTO_TEST_CASE(lstm_gradcheck_two_steps_through_the_state_views) {
  // Step 2 reads step 1's h (through a recurrent weight) and c: the views are inputs of nodes.
  std::vector<Tensor<double>> in = {random_tensor({2, 12}, 20, -2, 2), random_tensor({2, 3}, 21),
                                    random_tensor({12, 3}, 22), random_tensor({2, 12}, 23)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& v) {
        const auto s1 = lstm_cell_fused(v[0], v[1]);
        const auto s2 = lstm_cell_fused(v[3] + matmul(s1.h, transpose(v[2], 0, 1)), s1.c);
        return concat({s2.h, s2.c}, 1);
      },
      in);
}

BOOST_AUTO_TEST_CASE(lstm_large_matches_the_formula_on_any_thread_count) {
  // Large enough that the kernels split the work over threads (rows cut into 64-element
  // blocks, H = 131 leaves a 3-element tail): values and gradients against the formulas, and
  // bit-identical whatever the number of threads.
  const std::int64_t B = 48, H = 131;
  const Tensor<double> gates = random_tensor({B, 4 * H}, 100, -3, 3),
                       c0 = random_tensor({B, H}, 101);
  const Tensor<double> wh = random_tensor({B, H}, 102), wc = random_tensor({B, H}, 103);
  const LstmReference ref = lstm_reference(gates, c0, wh, wc);
  auto run = [&](int threads) {
    set_num_threads(threads);
    Tape<double> tape;
    const Var<double> g = tape.input(gates.ref(), true), c = tape.input(c0.ref(), true);
    const LstmState<double> s = lstm_cell_fused(g, c);
    tape.backward(sum(s.h * tape.input(wh.ref())) + sum(s.c * tape.input(wc.ref())));
    std::vector<double> out;
    for (const Var<double>& v : {s.h, s.c})
      out.insert(out.end(), v.value().data, v.value().data + v.value().numel());
    for (const Var<double>& v : {g, c})
      out.insert(out.end(), v.grad().data, v.grad().data + v.grad().numel());
    return out;
  };
  const int before = num_threads();
  const std::vector<double> one = run(1), two = run(2);
  set_num_threads(before);
  BOOST_TEST(one == two);  // bit for bit
  std::vector<double> want = ref.h;
  for (const auto* part : {&ref.c, &ref.dgates, &ref.dc_prev})
    want.insert(want.end(), part->begin(), part->end());
  BOOST_REQUIRE(one.size() == want.size());
  double worst = 0;
  for (std::size_t k = 0; k < want.size(); ++k)
    worst = std::max(worst, std::abs(one[k] - want[k]) / (std::abs(want[k]) + 1e-3));
  // Error budget: vsigmoid and vtanh are within 2 ulp (docs/kernels.md), and 1 - f, 1 - tanh^2
  // cancel: at |x| = 3 a 2-ulp error in f ~ 0.95 is ~20 x 2 ulp = 1e-14 relative in 1 - f, and
  // a gate gradient multiplies up to two such factors. Measured worst: 4.8e-14.
  BOOST_TEST(worst < 1e-13);
}

BOOST_AUTO_TEST_CASE(lstm_two_inputs_equal_one_summed_input) {
  // lstm_cell_fused(gi, gh, c) is lstm_cell_fused(gi + gh, c) with the sum inside the node.
  std::uint64_t seed = 110;
  for (const auto& [B, H] : sizes) {
    std::vector<Tensor<double>> in = {random_tensor({B, 4 * H}, seed++, -2, 2),
                                      random_tensor({B, 4 * H}, seed++, -2, 2),
                                      random_tensor({B, H}, seed++)};
    TAPELOOP_CHECK_GRADCHECK(
        [](auto&, const auto& v) {
          const auto s = lstm_cell_fused(v[0], v[1], v[2]);
          return concat({s.h, s.c}, 0);
        },
        in);
    Tape<double> tape;
    const auto a =
        lstm_cell_fused(tape.input(in[0].ref()), tape.input(in[1].ref()), tape.input(in[2].ref()));
    const auto b =
        lstm_cell_fused(tape.input(in[0].ref()) + tape.input(in[1].ref()), tape.input(in[2].ref()));
    for (std::int64_t k = 0; k < B * H; ++k) {
      BOOST_TEST(a.h.value()[k] == b.h.value()[k]);
      BOOST_TEST(a.c.value()[k] == b.c.value()[k]);
    }
  }
  // The same Var as gi and gh: both contributions add into one gradient.
  const std::vector<Tensor<double>> same = {random_tensor({2, 36}, 130, -2, 2),
                                            random_tensor({2, 9}, 131)};
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return lstm_cell_fused(v[0], v[0], v[1]).h; },
                           same);
  check_float_matches_double(
      [](auto&, const auto& v) {
        const auto s = lstm_cell_fused(v[0], v[1], v[2]);
        return concat({s.h, s.c}, 0);
      },
      {random_tensor({3, 44}, 140, -2, 2), random_tensor({3, 44}, 141, -2, 2),
       random_tensor({3, 11}, 142)});
}

BOOST_AUTO_TEST_CASE(lstm_float_matches_double) {
  check_float_matches_double(lstm_both,
                             {random_tensor({3, 20}, 30, -2, 2), random_tensor({3, 5}, 31)});
}

BOOST_AUTO_TEST_CASE(gru_values_match_the_formula) {
  const std::int64_t B = 3, H = 4;
  Tape<double> tape;
  Tensor<double> gi = random_tensor({B, 3 * H}, 40, -2, 2),
                 gh = random_tensor({B, 3 * H}, 41, -2, 2);
  Tensor<double> h0 = random_tensor({B, H}, 42);
  Var<double> h = gru_cell_fused(tape.input(gi.ref()), tape.input(gh.ref()), tape.input(h0.ref()));
  BOOST_TEST(h.shape() == (Shape{B, H}));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = 0; j < H; ++j) {
      const double* xi = gi.data() + b * 3 * H;
      const double* xh = gh.data() + b * 3 * H;
      const double r = sig(xi[j] + xh[j]);
      const double z = sig(xi[H + j] + xh[H + j]);
      const double n = std::tanh(xi[2 * H + j] + r * xh[2 * H + j]);
      BOOST_TEST(h.value()[b * H + j] == (1 - z) * n + z * h0[b * H + j],
                 boost::test_tools::tolerance(1e-14));
    }
}

BOOST_AUTO_TEST_CASE(gru_gradcheck_over_shapes) {
  std::uint64_t seed = 50;
  for (const auto& [B, H] : sizes) {
    std::vector<Tensor<double>> in = {random_tensor({B, 3 * H}, seed++, -2, 2),
                                      random_tensor({B, 3 * H}, seed++, -2, 2),
                                      random_tensor({B, H}, seed++)};
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return gru_cell_fused(v[0], v[1], v[2]); },
                             in);
  }
  // The same Var as gi and gh: both contributions add into one gradient.
  std::vector<Tensor<double>> same = {random_tensor({2, 6}, 60, -2, 2), random_tensor({2, 2}, 61)};
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return gru_cell_fused(v[0], v[0], v[1]); },
                           same);
}

BOOST_AUTO_TEST_CASE(gru_gradcheck_two_steps) {
  std::vector<Tensor<double>> in = {random_tensor({2, 9}, 70, -2, 2), random_tensor({9, 3}, 71),
                                    random_tensor({2, 3}, 72), random_tensor({2, 9}, 73, -2, 2)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& v) {
        const auto wt = transpose(v[1], 0, 1);
        const auto h1 = gru_cell_fused(v[0], matmul(v[2], wt), v[2]);
        return gru_cell_fused(v[3], matmul(h1, wt), h1);
      },
      in);
}

BOOST_AUTO_TEST_CASE(gru_float_matches_double) {
  check_float_matches_double([](auto&, const auto& v) { return gru_cell_fused(v[0], v[1], v[2]); },
                             {random_tensor({3, 15}, 80, -2, 2), random_tensor({3, 15}, 81, -2, 2),
                              random_tensor({3, 5}, 82)});
}

BOOST_AUTO_TEST_CASE(saturated_gates_stay_finite) {
  // Far out the sigmoid must be exactly 0 or 1, not NaN from inf / inf, in float and double.
  auto check = [](auto zero) {
    using T = decltype(zero);
    Tape<T> tape;
    Tensor<T> gates = Tensor<T>::from({2, 4}, {1000, -1000, 1000, -1000, -1000, 1000, -1000, 1000});
    Var<T> g = tape.input(gates.ref(), true);
    Var<T> c0 = tape.input(Tensor<T>::ones({2, 1}).ref(), true);
    const LstmState<T> s = lstm_cell_fused(g, c0);
    BOOST_TEST(s.c.value()[0] == T(1));  // i = 1, f = 0, g = 1
    BOOST_TEST(s.c.value()[1] == T(1));  // i = 0, f = 1, c = c_prev
    BOOST_TEST(s.h.value()[0] == T(0));  // o = 0
    Tensor<T> gru_in = Tensor<T>::from({1, 3}, {-1000, 1000, 5});
    Var<T> h = gru_cell_fused(tape.input(gru_in.ref(), true), tape.input(gru_in.ref(), true),
                              tape.input(Tensor<T>::full({1, 1}, T(0.5)).ref(), true));
    BOOST_TEST(h.value()[0] == T(0.5));  // z = 1: the state passes through
    tape.backward(sum(s.h) + sum(s.c) + sum(h));
    for (std::int64_t i = 0; i < 8; ++i) BOOST_TEST(std::isfinite(g.grad()[i]));
    for (std::int64_t i = 0; i < 2; ++i) BOOST_TEST(std::isfinite(c0.grad()[i]));
  };
  check(0.0f);
  check(0.0);
}

BOOST_AUTO_TEST_CASE(no_grad_records_no_rule) {
  Tape<double> tape;
  Var<double> g = tape.input(random_tensor({2, 8}, 90).ref(), true);
  Var<double> c = tape.input(random_tensor({2, 2}, 91).ref(), true);
  auto guard = tape.no_grad();
  const LstmState<double> s = lstm_cell_fused(g, c);
  BOOST_TEST(!s.h.requires_grad());
  BOOST_TEST(!s.c.requires_grad());
  const Var<double> gi = narrow(g, 1, 0, 6);
  BOOST_TEST(!gru_cell_fused(gi, gi, s.h).requires_grad());
}

BOOST_AUTO_TEST_CASE(errors_name_the_shapes) {
  Tape<float> tape;
  auto v = [&](const Shape& s) { return tape.input(Tensor<float>::zeros(s).ref()); };
  TAPELOOP_CHECK_THROW_MESSAGE(lstm_cell_fused(v({3, 10}), v({3, 4})), ShapeError,
                               "lstm_cell_fused: gates [3,10], c_prev [3,4]: expected gates [3,16] "
                               "([B,4H] for B = 3, H = 4)");
  TAPELOOP_CHECK_THROW_MESSAGE(
      lstm_cell_fused(v({2, 16}), v({3, 4})), ShapeError,
      "lstm_cell_fused: gates [2,16], c_prev [3,4]: expected gates [3,16]");
  TAPELOOP_CHECK_THROW_MESSAGE(lstm_cell_fused(v({16}), v({4})), ShapeError,
                               "lstm_cell_fused: gates [16], c_prev [4]: expected c_prev [B,H]");
  TAPELOOP_CHECK_THROW_MESSAGE(
      gru_cell_fused(v({2, 12}), v({2, 9}), v({2, 4})), ShapeError,
      "gru_cell_fused: gi [2,12], gh [2,9], h_prev [2,4]: expected gh [2,12] ([B,3H] for B = 2");
  TAPELOOP_CHECK_THROW_MESSAGE(gru_cell_fused(v({2, 12}), v({2, 12}), v({2, 4, 1})), ShapeError,
                               "expected h_prev [B,H]");
  TAPELOOP_CHECK_THROW_MESSAGE(
      lstm_cell_fused(v({2, 16}), v({2, 12}), v({2, 4})), ShapeError,
      "lstm_cell_fused: gi [2,16], gh [2,12], c_prev [2,4]: expected gh [2,16] ([B,4H] for B = 2");
  BOOST_CHECK_THROW(lstm_cell_fused(v({2, 16}), Var<float>{}, v({2, 4})), TapeError);
  TAPELOOP_CHECK_THROW_MESSAGE(rnn_cell_fused(v({2, 4}), v({2, 5}), RnnActivation::tanh),
                               ShapeError,
                               "rnn_cell_fused: gi [2,4], gh [2,5]: expected the same shape");
  const std::size_t nodes = tape.size();
  BOOST_CHECK_THROW(lstm_cell_fused(v({2, 3}), v({2, 1})), ShapeError);
  BOOST_TEST(tape.size() == nodes + 2);  // the two inputs; the failed call recorded nothing
}

BOOST_AUTO_TEST_SUITE_END()
