// Recurrent cells from generic operators: agreement with the fused operators (values and every
// gradient), gradients in double, float agreement, the projected forms, errors.
#include <array>
#include <cmath>
#include <span>

#include "support/check.hpp"

#include "tapeloop/models/cells.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

// Inputs of one step in PyTorch's shapes, for G gates: x, h, c, weight_ih, weight_hh, bias_ih,
// bias_hh (c is unused by the RNN and the GRU).
std::vector<Tensor<double>> step_inputs(std::int64_t B, std::int64_t I, std::int64_t H, int G,
                                        std::uint64_t seed) {
  return {random_tensor({B, I}, seed),         random_tensor({B, H}, seed + 1),
          random_tensor({B, H}, seed + 2),     random_tensor({G * H, I}, seed + 3),
          random_tensor({G * H, H}, seed + 4), random_tensor({G * H}, seed + 5),
          random_tensor({G * H}, seed + 6)};
}

// Cells as gradcheck functions over step_inputs(); the LSTM returns h and c side by side.
const auto rnn_tanh = [](auto&, const auto& v) {
  return rnn_cell_tanh(v[0], v[1], v[3], v[4], v[5], v[6]);
};
const auto rnn_relu = [](auto&, const auto& v) {
  return rnn_cell_relu(v[0], v[1], v[3], v[4], v[5], v[6]);
};
const auto lstm = [](auto&, const auto& v) {
  const auto s = lstm_cell(v[0], {v[1], v[2]}, v[3], v[4], v[5], v[6]);
  return concat({s.h, s.c}, 1);
};
const auto gru = [](auto&, const auto& v) { return gru_cell(v[0], v[1], v[3], v[4], v[5], v[6]); };

// {B, I, H}: single elements, one row, and general sizes.
const std::vector<std::array<std::int64_t, 3>> sizes = {{1, 1, 1}, {1, 3, 2}, {3, 5, 4}, {4, 2, 3}};

// Records `f` on a fresh double tape from step_inputs, seeds every output with random values and
// returns the outputs' values followed by every input's gradient, flattened.
template <class F>
std::vector<double> values_and_gradients(F f, const std::vector<Tensor<double>>& in) {
  Tape<double> tape;
  std::vector<Var<double>> vars;
  for (const auto& t : in) vars.push_back(tape.input(t.ref(), true));
  const Var<double> y = f(tape, vars);
  Generator rng(77);
  const Tensor<double> seed = Tensor<double>::normal(y.shape(), 0.0, 1.0, rng);
  tape.backward(y, seed.ref());
  std::vector<double> out(y.value().begin(), y.value().end());
  for (const auto& v : vars) out.insert(out.end(), v.grad().begin(), v.grad().end());
  return out;
}

void check_same(const std::vector<double>& a, const std::vector<double>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  BOOST_TEST(worst < 1e-12);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_cells)

BOOST_AUTO_TEST_CASE(lstm_cell_matches_the_fused_operator) {
  const auto fused = [](auto&, const auto& v) {
    const auto gates = linear(v[0], v[3], v[5]) + linear(v[1], v[4], v[6]);
    const auto s = lstm_cell_fused(gates, v[2]);
    return concat({s.h, s.c}, 1);
  };
  std::uint64_t seed = 1;
  for (const auto& [B, I, H] : sizes) {
    const auto in = step_inputs(B, I, H, 4, seed += 10);
    check_same(values_and_gradients(lstm, in), values_and_gradients(fused, in));
  }
}

BOOST_AUTO_TEST_CASE(gru_cell_matches_the_fused_operator) {
  const auto fused = [](auto&, const auto& v) {
    return gru_cell_fused(linear(v[0], v[3], v[5]), linear(v[1], v[4], v[6]), v[1]);
  };
  std::uint64_t seed = 100;
  for (const auto& [B, I, H] : sizes) {
    const auto in = step_inputs(B, I, H, 3, seed += 10);
    // c (input 2) is unused by both: its gradient is zero on both sides.
    check_same(values_and_gradients(gru, in), values_and_gradients(fused, in));
  }
}

BOOST_AUTO_TEST_CASE(rnn_cells_match_their_formula) {
  const auto tanh_ref = [](auto&, const auto& v) {
    return tanh(matmul(v[0], transpose(v[3], 0, 1)) + v[5] + matmul(v[1], transpose(v[4], 0, 1)) +
                v[6]);
  };
  const auto relu_ref = [](auto&, const auto& v) {
    return relu(matmul(v[0], transpose(v[3], 0, 1)) + v[5] + matmul(v[1], transpose(v[4], 0, 1)) +
                v[6]);
  };
  const auto in = step_inputs(3, 5, 4, 1, 200);
  check_same(values_and_gradients(rnn_tanh, in), values_and_gradients(tanh_ref, in));
  check_same(values_and_gradients(rnn_relu, in), values_and_gradients(relu_ref, in));
}

BOOST_AUTO_TEST_CASE(gradcheck_every_cell_over_shapes) {
  std::uint64_t seed = 300;
  for (const auto& [B, I, H] : sizes) {
    TAPELOOP_CHECK_GRADCHECK(rnn_tanh, step_inputs(B, I, H, 1, seed += 10));
    TAPELOOP_CHECK_GRADCHECK(rnn_relu, step_inputs(B, I, H, 1, seed += 10));
    TAPELOOP_CHECK_GRADCHECK(lstm, step_inputs(B, I, H, 4, seed += 10));
    TAPELOOP_CHECK_GRADCHECK(gru, step_inputs(B, I, H, 3, seed += 10));
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_cells_without_biases) {
  const auto in = step_inputs(2, 3, 2, 4, 400);
  const std::vector<Tensor<double>> lstm_in(in.begin(), in.begin() + 5);
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& v) {
        const auto s = lstm_cell(v[0], {v[1], v[2]}, v[3], v[4]);
        return concat({s.h, s.c}, 1);
      },
      lstm_in);
  const auto g = step_inputs(2, 3, 2, 3, 410);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return gru_cell(v[0], v[1], v[2], v[3]); },
                           std::vector<Tensor<double>>{g[0], g[1], g[3], g[4]});
}

BOOST_AUTO_TEST_CASE(float_matches_double_for_every_cell) {
  check_float_matches_double(rnn_tanh, step_inputs(3, 5, 4, 1, 500));
  check_float_matches_double(rnn_relu, step_inputs(3, 5, 4, 1, 510));
  check_float_matches_double(lstm, step_inputs(3, 5, 4, 4, 520));
  check_float_matches_double(gru, step_inputs(3, 5, 4, 3, 530));
}

BOOST_AUTO_TEST_CASE(projected_unroll_matches_step_by_step_and_fused) {
  // A 5-step LSTM three ways: the full cell at every step; the input projection for all steps
  // at once (one GEMM over [T,B,I]) with the projected cell written as a cell over a list of
  // recurrent weights, the way a scan calls it; and the fused operator. All agree, gradients too.
  const std::int64_t T = 5, B = 2, I = 3, H = 4;
  std::vector<Tensor<double>> in = step_inputs(B, I, H, 4, 600);
  in[0] = random_tensor({T, B, I}, 610);
  const auto full = [](auto&, const auto& v) {
    LstmState<double> s{v[1], v[2]};
    for (std::int64_t t = 0; t < 5; ++t)
      s = lstm_cell(select(v[0], 0, t), s, v[3], v[4], v[5], v[6]);
    return concat({s.h, s.c}, 1);
  };
  const auto projected = [](auto&, const auto& v) {
    const auto cell = [](std::span<const Var<double>> w, const LstmState<double>& s,
                         const Var<double>& xw_t) {
      return lstm_cell_projected(xw_t, s, w[0], w[1]);
    };
    const Var<double> weights[] = {v[4], v[6]};
    const Var<double> xw = linear(v[0], v[3], v[5]);  // [T,B,4H]
    LstmState<double> s{v[1], v[2]};
    for (std::int64_t t = 0; t < 5; ++t) s = cell(weights, s, select(xw, 0, t));
    return concat({s.h, s.c}, 1);
  };
  const auto fused = [](auto&, const auto& v) {
    const Var<double> xw = linear(v[0], v[3], v[5]);
    LstmState<double> s{v[1], v[2]};
    for (std::int64_t t = 0; t < 5; ++t)
      s = lstm_cell_fused(select(xw, 0, t) + linear(s.h, v[4], v[6]), s.c);
    return concat({s.h, s.c}, 1);
  };
  const auto ref = values_and_gradients(full, in);
  check_same(values_and_gradients(projected, in), ref);
  check_same(values_and_gradients(fused, in), ref);
  TAPELOOP_CHECK_GRADCHECK(projected, in);
}

BOOST_AUTO_TEST_CASE(gru_and_rnn_projected_forms_match_the_full_cells) {
  const auto in3 = step_inputs(3, 5, 4, 3, 700);
  const auto gru_projected = [](auto&, const auto& v) {
    return gru_cell_projected(linear(v[0], v[3], v[5]), v[1], v[4], v[6]);
  };
  check_same(values_and_gradients(gru_projected, in3), values_and_gradients(gru, in3));
  const auto in1 = step_inputs(3, 5, 4, 1, 710);
  const auto tanh_projected = [](auto&, const auto& v) {
    return rnn_cell_tanh_projected(linear(v[0], v[3], v[5]), v[1], v[4], v[6]);
  };
  const auto relu_projected = [](auto&, const auto& v) {
    return rnn_cell_relu_projected(linear(v[0], v[3], v[5]), v[1], v[4], v[6]);
  };
  check_same(values_and_gradients(tanh_projected, in1), values_and_gradients(rnn_tanh, in1));
  check_same(values_and_gradients(relu_projected, in1), values_and_gradients(rnn_relu, in1));
}

BOOST_AUTO_TEST_CASE(from_gates_forms_match_the_full_cells) {
  // The arithmetic after a product the caller made: gates = xw + h W_hh^T + b_hh (LSTM), and
  // gi, gh apart (GRU); values and every gradient as the full cell's, gradcheck and float.
  const auto lstm_from_gates = [](auto&, const auto& v) {
    const auto gates = linear(v[0], v[3], v[5]) + linear(v[1], v[4], v[6]);
    const auto s = lstm_cell_from_gates(gates, {v[1], v[2]});
    return concat({s.h, s.c}, 1);
  };
  const auto gru_from_gates = [](auto&, const auto& v) {
    return gru_cell_from_gates(linear(v[0], v[3], v[5]), linear(v[1], v[4], v[6]), v[1]);
  };
  std::uint64_t seed = 720;
  for (const auto& [B, I, H] : sizes) {
    const auto in4 = step_inputs(B, I, H, 4, seed++), in3 = step_inputs(B, I, H, 3, seed++);
    check_same(values_and_gradients(lstm_from_gates, in4), values_and_gradients(lstm, in4));
    check_same(values_and_gradients(gru_from_gates, in3), values_and_gradients(gru, in3));
    TAPELOOP_CHECK_GRADCHECK(lstm_from_gates, in4);
    TAPELOOP_CHECK_GRADCHECK(gru_from_gates, in3);
  }
  check_float_matches_double(lstm_from_gates, step_inputs(3, 5, 7, 4, 740));
  check_float_matches_double(gru_from_gates, step_inputs(3, 5, 7, 3, 741));
}

BOOST_AUTO_TEST_CASE(errors_name_the_cell_and_the_shapes) {
  Tape<float> tape;
  auto v = [&](const Shape& s) { return tape.input(Tensor<float>::zeros(s).ref()); };
  const Var<float> x = v({3, 5}), h = v({3, 4}), c = v({3, 4});
  TAPELOOP_CHECK_THROW_MESSAGE(lstm_cell(x, {h, c}, v({16, 5}), v({12, 4})), ShapeError,
                               "lstm_cell: weight_ih [16,5] and weight_hh [12,4]: expected [4H,I]");
  TAPELOOP_CHECK_THROW_MESSAGE(lstm_cell(x, {h, c}, v({12, 5}), v({12, 4})), ShapeError,
                               "lstm_cell: weight_hh [12,4]: expected [4H,H] = [16,4]");
  TAPELOOP_CHECK_THROW_MESSAGE(lstm_cell(x, {h, v({3, 5})}, v({16, 5}), v({16, 4})), ShapeError,
                               "lstm_cell: c [3,5] and h [3,4]: expected equal shapes");
  TAPELOOP_CHECK_THROW_MESSAGE(gru_cell(x, v({3, 5}), v({12, 5}), v({12, 4})), ShapeError,
                               "gru_cell: h [3,5] and weight_hh [12,4]: expected h [B,4]");
  TAPELOOP_CHECK_THROW_MESSAGE(rnn_cell_tanh(v({3, 6}), h, v({4, 5}), v({4, 4})), ShapeError,
                               "linear: input [3,6] and weight [4,5]: input features 6 and 5");
  TAPELOOP_CHECK_THROW_MESSAGE(rnn_cell_relu_projected(v({3, 8}), h, v({4, 4})), ShapeError,
                               "rnn_cell_relu_projected: projected input [3,8], h [3,4]: "
                               "expected projected input [3,4] ([B,H] for B = 3, H = 4)");
  TAPELOOP_CHECK_THROW_MESSAGE(gru_cell_projected(v({2, 12}), h, v({12, 4})), ShapeError,
                               "expected projected input [3,12]");
  TAPELOOP_CHECK_THROW_MESSAGE(rnn_cell_tanh_projected(v({3, 4}), h, v({4, 3})), ShapeError,
                               "rnn_cell_tanh_projected: weight_hh [4,3]: expected [H,H] = [3,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(lstm_cell_from_gates(v({3, 12}), {h, c}), ShapeError,
                               "lstm_cell_from_gates: gates [3,12], c [3,4]: expected gates [3,16] "
                               "([B,4H] for B = 3, H = 4)");
  TAPELOOP_CHECK_THROW_MESSAGE(lstm_cell_from_gates(v({3, 16}), {v({2, 4}), c}), ShapeError,
                               "lstm_cell_from_gates: h [2,4] and c [3,4]: expected equal shapes");
  TAPELOOP_CHECK_THROW_MESSAGE(gru_cell_from_gates(v({3, 12}), v({3, 8}), h), ShapeError,
                               "gru_cell_from_gates: gi [3,12], gh [3,8], h [3,4]: expected gh "
                               "[3,12]");
}

BOOST_AUTO_TEST_SUITE_END()
