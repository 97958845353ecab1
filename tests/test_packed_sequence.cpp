// Packed sequences: the layout, pack and unpack (gradcheck, +0.0 padding), scan over packed
// sequences against scan with length masks, RecurrentLinear on a shrinking batch, and the
// recurrent layers' packed path against their masked one.
#include <cmath>
#include <vector>

#include "support/check.hpp"
#include "tapeloop/models/recurrent.hpp"
#include "tapeloop/ops/packed_sequence.hpp"
#include "tapeloop/scan.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

constexpr std::int64_t T_ = 6, B = 5, I = 3, H = 4;
// Unsorted, with a sequence of length 0 and two of the full length.
const std::vector<std::int64_t> kLengths = {2, 6, 0, 6, 3};

std::vector<std::int64_t> to_vector(std::span<const std::int64_t> s) {
  return std::vector<std::int64_t>(s.begin(), s.end());
}

// An LSTM cell from generic operators, state {h, c}: h and c must follow the same rows.
struct LstmCell {
  template <class V>
  StepResult<V> operator()(std::span<const Var<V>> w, const State<V>& s, const Var<V>& x) const {
    const Var<V> gates = matmul(x, w[0]) + matmul(s[0], w[1]) + w[2];
    const Var<V> i = sigmoid(narrow(gates, 1, 0, H)), f = sigmoid(narrow(gates, 1, H, H));
    const Var<V> g = tanh(narrow(gates, 1, 2 * H, H)), o = sigmoid(narrow(gates, 1, 3 * H, H));
    const Var<V> c = f * s[1] + i * g;
    const Var<V> h = o * tanh(c);
    return {State<V>{h, c}, h};
  }
};

// The LSTM over [T,B,I] with `lengths` (kLengths by default), by length masks (packed = false)
// or packed: outputs [T,B,H] (zero past each length) and the final h and c in batch order,
// joined into one Var.
template <class V>
Var<V> lstm_over(Tape<V>& tape, const std::vector<Var<V>>& in, bool packed, bool reverse,
                 int truncate = 0, std::span<const std::int64_t> lengths = kLengths) {
  const Var<V>& xs = in[0];
  const std::int64_t steps = xs.dim(0);
  const std::vector<Var<V>> weights = {in[3], in[4], in[5]};
  ScanOptions o;
  o.reverse = reverse;
  o.truncate = truncate;
  if (!packed) {
    o.lengths = lengths;
    const ScanResult<V> r = scan(tape, LstmCell{}, xs, State<V>{in[1], in[2]}, weights, o);
    return concat({reshape(r.outputs, {steps * B, H}), r.state[0], r.state[1]}, 0);
  }
  const PackedLayout layout = packed_layout(tape, lengths, steps);
  o.batch_sizes = layout.batch_sizes;
  const State<V> state0{index_select(in[1], 0, layout.sorted_indices),
                        index_select(in[2], 0, layout.sorted_indices)};
  const ScanResult<V> r = scan(tape, LstmCell{}, pack_sequence(xs, layout), state0, weights, o);
  const Var<V> outputs = unpack_sequence(r.outputs, layout);
  return concat(
      {reshape(outputs, {steps * B, H}), index_select(r.state[0], 0, layout.unsorted_indices),
       index_select(r.state[1], 0, layout.unsorted_indices)},
      0);
}

std::vector<Tensor<double>> lstm_inputs(std::int64_t steps = T_) {
  return {random_tensor({steps, B, I}, 1), random_tensor({B, H}, 2),     random_tensor({B, H}, 3),
          random_tensor({I, 4 * H}, 4),    random_tensor({H, 4 * H}, 5), random_tensor({4 * H}, 6)};
}

// Values and every input's gradient of fn's output under one random seed.
template <class Fn>
std::vector<std::vector<double>> run_with_gradients(Fn fn, const std::vector<Tensor<double>>& xs) {
  Tape<double> tape;
  std::vector<Var<double>> in;
  for (const auto& x : xs) in.push_back(tape.input(x.ref(), true));
  const Var<double> y = fn(tape, in);
  Generator rng(7);
  const Tensor<double> seed = Tensor<double>::normal(y.shape(), 0.0, 1.0, rng);
  tape.backward(y, seed.ref());
  std::vector<std::vector<double>> out{{y.value().begin(), y.value().end()}};
  for (const auto& v : in) out.emplace_back(v.grad().begin(), v.grad().end());
  return out;
}

void expect_close(const std::vector<std::vector<double>>& a,
                  const std::vector<std::vector<double>>& b, double tol) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_REQUIRE_EQUAL(a[i].size(), b[i].size());
    double worst = 0;
    for (std::size_t k = 0; k < a[i].size(); ++k)
      worst = std::max(worst, std::abs(a[i][k] - b[i][k]));
    BOOST_CHECK_MESSAGE(worst <= tol, "tensor " << i
                                                << " (0: the output, then the inputs' "
                                                   "gradients) differs by "
                                                << worst);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_packed_sequence)

BOOST_AUTO_TEST_CASE(layout_sorts_longest_first_and_counts_running_sequences) {
  Tape<float> tape;
  const PackedLayout l = packed_layout(tape, std::span<const std::int64_t>(kLengths), T_);
  BOOST_TEST(l.rows == 17);
  BOOST_TEST(!l.sorted);
  BOOST_TEST(to_vector(l.sorted_indices) == (std::vector<std::int64_t>{1, 3, 4, 0, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(to_vector(l.unsorted_indices) == (std::vector<std::int64_t>{3, 0, 4, 1, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(to_vector(l.batch_sizes) == (std::vector<std::int64_t>{4, 4, 3, 2, 2, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(to_vector(l.offsets) == (std::vector<std::int64_t>{0, 4, 8, 11, 13, 15}),
             boost::test_tools::per_element());
  // Step 2 holds sequences 1, 3 and 4; sequence 0 (length 2) is not among them.
  BOOST_TEST(l.pack_rows[8] == 2 * B + 1);
  BOOST_TEST(l.pack_rows[10] == 2 * B + 4);
  BOOST_TEST(l.unpack_rows[2 * B + 0] == l.rows);  // padding
  BOOST_TEST(l.unpack_rows[1 * B + 0] == 7);       // step 1 of sequence 0: 4th row of step 1

  const std::int64_t sorted_lengths[] = {5, 3, 3, 1};
  const PackedLayout s = packed_layout(tape, std::span<const std::int64_t>(sorted_lengths), 7);
  BOOST_TEST(s.sorted);
  BOOST_TEST(to_vector(s.batch_sizes) == (std::vector<std::int64_t>{4, 3, 3, 1, 1, 0, 0}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(layout_refuses_bad_lengths) {
  Tape<float> tape;
  const std::int64_t too_long[] = {3, 7};
  TAPELOOP_CHECK_THROW_MESSAGE(packed_layout(tape, std::span<const std::int64_t>(too_long), 6),
                               ValueError, "packed_layout: length 7 of sequence 1");
  const std::int64_t negative[] = {-1};
  BOOST_CHECK_THROW(packed_layout(tape, std::span<const std::int64_t>(negative), 6), ValueError);
  BOOST_CHECK_THROW(packed_layout(tape, std::span<const std::int64_t>(), 6), ValueError);
}

BOOST_AUTO_TEST_CASE(unpack_of_pack_is_the_masked_input_with_positive_zeros) {
  Tape<float> tape;
  const Tensor<float> x = testing::cast<float>(random_tensor({T_, B, I}, 3, -2.0, -1.0));
  const PackedLayout l = packed_layout(tape, std::span<const std::int64_t>(kLengths), T_);
  const Var<float> packed = pack_sequence(tape.input(x.ref()), l);
  BOOST_TEST(packed.shape() == (Shape{l.rows, I}));
  const Var<float> back = unpack_sequence(packed, l);
  BOOST_REQUIRE(back.shape() == x.shape());
  for (std::int64_t t = 0; t < T_; ++t) {
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t i = 0; i < I; ++i) {
        const std::int64_t k = (t * B + b) * I + i;
        if (t < kLengths[b]) {
          BOOST_TEST(back.value()[k] == x[k]);
        } else {  // +0.0 where the input was negative: no sign from a product with a mask
          BOOST_TEST(back.value()[k] == 0.0f);
          BOOST_TEST(!std::signbit(back.value()[k]));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(pack_and_unpack_gradcheck) {
  auto fn = [](Tape<double>& tape, const std::vector<Var<double>>& in) {
    const PackedLayout l = packed_layout(tape, std::span<const std::int64_t>(kLengths), T_);
    // Through both, with a nonlinearity in between so that every packed row matters.
    return unpack_sequence(tanh(pack_sequence(in[0], l)) * 2.0, l);
  };
  TAPELOOP_CHECK_GRADCHECK(fn, {random_tensor({T_, B, I}, 4)});
  testing::check_float_matches_double(
      [](auto& tape, const auto& in) {
        const PackedLayout l = packed_layout(tape, std::span<const std::int64_t>(kLengths), T_);
        return unpack_sequence(pack_sequence(in[0], l) * in[0].value()[0], l);
      },
      {random_tensor({T_, B, I}, 5)});
}

BOOST_AUTO_TEST_CASE(pack_and_unpack_refuse_other_shapes) {
  Tape<float> tape;
  const PackedLayout l = packed_layout(tape, std::span<const std::int64_t>(kLengths), T_);
  TAPELOOP_CHECK_THROW_MESSAGE(pack_sequence(tape.zeros({T_, B + 1, I}), l), ShapeError,
                               "pack_sequence: x [6,6,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(unpack_sequence(tape.zeros({l.rows + 1, I}), l), ShapeError,
                               "unpack_sequence: packed [18,3]");
}

BOOST_AUTO_TEST_CASE(packed_scan_equals_masked_scan) {
  // Forward and reverse, values and the gradients of xs, h0, c0 and every weight: the same
  // sums in the same order, so equal to rounding.
  for (bool reverse : {false, true}) {
    BOOST_TEST_CONTEXT("reverse " << reverse) {
      const auto inputs = lstm_inputs();
      const auto masked = run_with_gradients(
          [&](Tape<double>& t, const std::vector<Var<double>>& in) {
            return lstm_over(t, in, false, reverse);
          },
          inputs);
      const auto packed = run_with_gradients(
          [&](Tape<double>& t, const std::vector<Var<double>>& in) {
            return lstm_over(t, in, true, reverse);
          },
          inputs);
      expect_close(masked, packed, 1e-13);
    }
  }
}

BOOST_AUTO_TEST_CASE(packed_scan_with_steps_no_sequence_reaches) {
  // Every sequence ends before T (the last steps run on no rows), all lengths equal (one
  // sequence group stops at once), and all but one sequence empty.
  const std::vector<std::int64_t> cases[] = {{3, 3, 3, 3, 3}, {4, 1, 4, 2, 2}, {0, 0, 5, 0, 0}};
  for (const auto& lengths : cases) {
    for (bool reverse : {false, true}) {
      BOOST_TEST_CONTEXT("lengths " << lengths[0] << "," << lengths[1] << ",... reverse "
                                    << reverse) {
        auto run = [&](bool packed) {
          return run_with_gradients(
              [&](Tape<double>& t, const std::vector<Var<double>>& in) {
                return lstm_over(t, in, packed, reverse, 0, lengths);
              },
              lstm_inputs(7));
        };
        expect_close(run(false), run(true), 1e-13);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(packed_scan_gradcheck_and_float) {
  auto fn = [](Tape<double>& tape, const std::vector<Var<double>>& in) {
    return lstm_over(tape, in, true, true);
  };
  TAPELOOP_CHECK_GRADCHECK(fn, lstm_inputs());
  testing::check_float_matches_double(
      [](auto& tape, const auto& in) { return lstm_over(tape, in, true, false); }, lstm_inputs());
}

BOOST_AUTO_TEST_CASE(packed_scan_truncates_like_masked_scan) {
  // Outputs only: a truncated masked scan also cuts the gradient of a final state that was
  // reached before the cut, the packed one does not, so the final states are left out.
  auto outputs_of = [](bool packed) {
    return [packed](Tape<double>& t, const std::vector<Var<double>>& in) {
      return narrow(lstm_over(t, in, packed, false, 2), 0, 0, T_ * B);
    };
  };
  expect_close(run_with_gradients(outputs_of(false), lstm_inputs()),
               run_with_gradients(outputs_of(true), lstm_inputs()), 1e-13);
}

BOOST_AUTO_TEST_CASE(packed_scan_refuses_bad_batch_sizes) {
  Tape<double> tape;
  const Var<double> xs = tape.zeros({7, I});
  const Var<double> h0 = tape.zeros({3, H});
  const Var<double> w = tape.zeros({I, H}), u = tape.zeros({H, H});
  auto cell = [](std::span<const Var<double>> wt, const State<double>& s, const Var<double>& x) {
    const Var<double> h = tanh(matmul(x, wt[0]) + matmul(s[0], wt[1]));
    return StepResult<double>{State<double>{h}, h};
  };
  ScanOptions o;
  const std::int64_t growing[] = {2, 3, 2};
  o.batch_sizes = growing;
  TAPELOOP_CHECK_THROW_MESSAGE(scan(tape, cell, xs, State<double>{h0}, {w, u}, o), ValueError,
                               "batch_sizes[1] = 3 is outside [0, 2]");
  const std::int64_t too_many[] = {3, 3, 2};
  o.batch_sizes = too_many;
  TAPELOOP_CHECK_THROW_MESSAGE(scan(tape, cell, xs, State<double>{h0}, {w, u}, o), ShapeError,
                               "expected 8 rows (the sum of batch_sizes)");
  const std::int64_t fine[] = {3, 2, 2};
  o.batch_sizes = fine;
  o.lengths = fine;
  TAPELOOP_CHECK_THROW_MESSAGE(scan(tape, cell, xs, State<double>{h0}, {w, u}, o), ValueError,
                               "lengths or batch_sizes, not both");
  o.lengths = {};
  TAPELOOP_CHECK_THROW_MESSAGE(checkpointed_scan(tape, cell, xs, State<double>{h0}, {w, u}, 2, o),
                               ValueError, "checkpointed_scan: packed sequences");
  BOOST_TEST(scan(tape, cell, xs, State<double>{h0}, {w, u}, o).outputs.shape() == (Shape{7, H}));
}

BOOST_AUTO_TEST_CASE(recurrent_linear_on_a_shrinking_batch_equals_linear) {
  const Tensor<double> w = random_tensor({H, I}, 8), b = random_tensor({H}, 9);
  const Tensor<double> x = random_tensor({12, I}, 10);
  const std::int64_t rows[] = {5, 4, 2, 1};  // 12 rows in all
  auto run = [&](bool shared) {
    return run_with_gradients(
        [&](Tape<double>&, const std::vector<Var<double>>& in) {
          RecurrentLinear<double> product(in[1], in[2], 5, 4);
          std::vector<Var<double>> ys;
          std::int64_t first = 0;
          for (std::int64_t r : rows) {
            const Var<double> xt = narrow(in[0], 0, first, r);
            ys.push_back(tanh(shared ? product(xt) : linear(xt, in[1], in[2])));
            first += r;
          }
          return concat(std::span<const Var<double>>(ys), 0);
        },
        {x, w, b});
  };
  expect_close(run(false), run(true), 1e-13);
  Tape<double> tape;
  RecurrentLinear<double> product(tape.input(w.ref(), true), Var<double>{}, 5, 4);
  TAPELOOP_CHECK_THROW_MESSAGE(product(tape.zeros({6, I})), ShapeError,
                               "expected [r, 3] with 1 <= r <= 5");
}

BOOST_AUTO_TEST_CASE(layers_packed_equal_layers_masked) {
  // A layer with lengths packs them unless it checkpoints; checkpointing every 100 steps
  // records the same sums through length masks.
  for (models::RecurrentMode mode :
       {models::RecurrentMode::lstm, models::RecurrentMode::gru, models::RecurrentMode::rnn_tanh}) {
    for (bool fused : {true, false}) {
      BOOST_TEST_CONTEXT("mode " << static_cast<int>(mode) << " fused " << fused) {
        std::vector<std::vector<double>> results[2];
        for (int masked = 0; masked < 2; ++masked) {
          Generator rng(11);
          models::RecurrentOptions o{
              .input_size = I, .hidden_size = H, .num_layers = 2, .bidirectional = true};
          o.fused = fused;
          o.checkpoint = masked ? 100 : 0;
          models::RecurrentLayer<double> layer(mode, o, rng);
          results[masked] = run_with_gradients(
              [&](Tape<double>& tape, const std::vector<Var<double>>& in) {
                const auto r = layer.forward(tape, in[0], {}, kLengths);
                return concat({reshape(r.output, {T_ * B * 2 * H}), reshape(r.h_n, {4 * B * H})},
                              0);
              },
              {random_tensor({T_, B, I}, 12)});
          for (auto& p : layer.parameters()) {
            results[masked].emplace_back(p->grad().begin(), p->grad().end());
          }
        }
        expect_close(results[0], results[1], 1e-12);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
