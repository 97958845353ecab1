// Options of the recurrent layers: checkpointed and truncated unrolling, dropout between layers,
// many-to-one, initial states, and the error messages for inputs that do not fit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "support/check.hpp"

#include "tapeloop/models/recurrent.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::testing::random_tensor;

namespace {

RecurrentOptions options(int layers, bool bidirectional) {
  RecurrentOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  o.num_layers = layers;
  o.bidirectional = bidirectional;
  return o;
}

// One forward and backward pass with loss sum(output * w) + sum(h_n) [+ sum(c_n)]: the values
// of output, h_n, c_n, then the gradients of the input and of every parameter.
struct Run {
  std::vector<Tensor<double>> values;
};

Run run(RecurrentLayer<double>& layer, const Tensor<double>& x,
        std::span<const std::int64_t> lengths = {}, bool many_to_one = false) {
  Tape<double> tape;
  const Var<double> input = tape.input(x.ref(), true);
  layer.zero_grad();
  const RecurrentResult<double> r = layer.forward(tape, input, {}, lengths);
  Var<double> loss = sum(r.h_n);
  if (!r.c_n.empty()) loss = loss + sum(r.c_n);
  if (!many_to_one) {
    const Tensor<double> w = random_tensor(r.output.shape(), 99);
    loss = loss + sum(r.output * tape.constant(w.ref()));
  }
  tape.backward(loss);
  Run out;
  for (const Var<double>& v : {r.output, r.h_n, r.c_n}) {
    if (!v.empty()) out.values.push_back(v.to_tensor());
  }
  out.values.push_back(Tensor<double>::from(TensorRef<const double>(input.grad())));
  for (auto& [name, p] : layer.named_parameters()) out.values.push_back(p->grad());
  return out;
}

bool identical(const Tensor<double>& a, const Tensor<double>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.numel())) == 0;
}

void check_identical(const Run& a, const Run& b) {
  BOOST_REQUIRE_EQUAL(a.values.size(), b.values.size());
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    BOOST_TEST(identical(a.values[i], b.values[i]), "tensor " << i << " differs");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_rnn_layer_options)

BOOST_AUTO_TEST_CASE(checkpointed_layers_give_the_same_gradients) {
  const std::int64_t lengths[] = {7, 3, 5};
  const Tensor<double> x = random_tensor({7, 3, 3}, 1);
  // Normwise: an entry that is a sum with cancellation is only as exact as its terms' size,
  // which the tensor's largest entry stands for here.
  auto check_close = [](const Tensor<double>& a, const Tensor<double>& b) {
    BOOST_REQUIRE(a.shape() == b.shape());
    double scale = 0, worst = 0;
    for (std::int64_t j = 0; j < a.numel(); ++j) scale = std::max(scale, std::abs(a[j]));
    for (std::int64_t j = 0; j < a.numel(); ++j) worst = std::max(worst, std::abs(a[j] - b[j]));
    BOOST_TEST(worst <= 1e-14 * scale);
  };
  for (RecurrentMode mode : {RecurrentMode::rnn_tanh, RecurrentMode::lstm, RecurrentMode::gru}) {
    for (int k : {1, 3, 7}) {
      for (bool with_lengths : {false, true}) {
        RecurrentOptions o = options(2, true);
        Generator a(2), b(2);
        RecurrentLayer<double> full(mode, o, a);
        o.checkpoint = k;
        RecurrentLayer<double> checkpointed(mode, o, b);
        BOOST_TEST_CONTEXT(full.name() << " checkpoint " << k << " lengths " << with_lengths) {
          // At full length the values are bit-identical. The gradients are the same sums in
          // another order, equal to rounding: checkpointed segments are recorded again in
          // backward with one weight-gradient GEMM per step (linear) where the full recording
          // sums every step's rows in one GEMM (RecurrentLinear), and a state's gradient from
          // its output and from the next step meet in another order on the recompute tape.
          // With lengths the full recording packs the sequences and the checkpointed one masks
          // them: products over other row counts, so the values too are equal to rounding.
          const std::span<const std::int64_t> l = with_lengths
                                                      ? std::span<const std::int64_t>(lengths)
                                                      : std::span<const std::int64_t>();
          const Run f = run(full, x, l), c = run(checkpointed, x, l);
          BOOST_REQUIRE_EQUAL(f.values.size(), c.values.size());
          const auto names = full.named_parameters();
          const std::size_t first_param = f.values.size() - names.size();
          for (std::size_t i = 0; i < f.values.size(); ++i) {
            const bool value = i + 1 < first_param;  // the outputs and final states
            BOOST_TEST_CONTEXT("tensor " << i) {
              if (!value || with_lengths) {
                check_close(f.values[i], c.values[i]);
              } else {
                BOOST_TEST(identical(f.values[i], c.values[i]));
              }
            }
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(truncation_keeps_the_forward_pass_and_cuts_gradients) {
  const Tensor<double> x = random_tensor({6, 2, 3}, 3);
  RecurrentOptions o = options(1, false);
  Generator a(4), b(4);
  LSTM<double> full(o, a);
  o.truncate = 2;
  LSTM<double> truncated(o, b);
  const Run f = run(full, x), t = run(truncated, x);
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(identical(f.values[i], t.values[i]));  // values
  BOOST_TEST(!identical(f.values[3], t.values[3]));  // the input's gradient
}

BOOST_AUTO_TEST_CASE(many_to_one_gives_the_final_states_and_their_gradients) {
  const std::int64_t lengths[] = {6, 2};
  const Tensor<double> x = random_tensor({6, 2, 3}, 5);
  for (RecurrentMode mode : {RecurrentMode::lstm, RecurrentMode::gru}) {
    RecurrentOptions o = options(2, true);
    Generator a(6), b(6);
    RecurrentLayer<double> many(mode, o, a);
    o.collect_outputs = false;
    RecurrentLayer<double> one(mode, o, b);
    Run m = run(many, x, lengths, true), s = run(one, x, lengths, true);
    m.values.erase(m.values.begin());  // the output, which `one` does not return
    check_identical(m, s);
  }
}

BOOST_AUTO_TEST_CASE(dropout_between_layers_only_while_training) {
  const Tensor<double> x = random_tensor({5, 3, 3}, 7);
  RecurrentOptions o = options(2, true);
  o.dropout = 0.5;
  o.dropout_seed = 8;
  Generator a(9), b(9), c(9);
  LSTM<double> first(o, a), second(o, b);
  o.dropout = 0.0;
  LSTM<double> plain(o, c);
  const Run p = run(plain, x), d1 = run(first, x), d2 = run(second, x);
  check_identical(d1, d2);                            // the same seed draws the same masks
  BOOST_TEST(!identical(d1.values[0], p.values[0]));  // the top layer saw a dropped input
  // The bottom layer's final states (h_n[0:2]) come before any dropout.
  BOOST_TEST(std::memcmp(d1.values[1].data(), p.values[1].data(), sizeof(double) * 2 * 3 * 4) == 0);
  BOOST_TEST(std::memcmp(d1.values[1].data(), p.values[1].data(), sizeof(double) * 4 * 3 * 4) != 0);
  BOOST_TEST(!identical(run(first, x).values[0], d1.values[0]));  // a new mask every call

  first.eval();  // no dropout at all: exactly the layer without it
  check_identical(run(first, x), p);
  first.train();
  BOOST_TEST(!identical(run(first, x).values[0], p.values[0]));

  // One layer has nothing between layers: dropout changes nothing (PyTorch warns here).
  RecurrentOptions one = options(1, false);
  Generator e(10), f(10);
  one.dropout = 0.5;
  GRU<double> with(one, e);
  one.dropout = 0.0;
  GRU<double> without(one, f);
  check_identical(run(with, x), run(without, x));
}

BOOST_AUTO_TEST_CASE(initial_states_default_to_zeros) {
  const Tensor<double> x = random_tensor({4, 2, 3}, 11);
  Generator a(12);
  LSTM<double> lstm(options(2, false), a);
  Tape<double> tape;
  const Var<double> input = tape.input(x.ref());
  const RecurrentResult<double> none = lstm.forward(tape, input);
  const RecurrentResult<double> zeros =
      lstm.forward(tape, input, {tape.zeros({2, 2, 4}), tape.zeros({2, 2, 4})});
  const Tensor<double> h = random_tensor({2, 2, 4}, 13);
  const RecurrentResult<double> only_h = lstm.forward(tape, input, {tape.input(h.ref())});
  const RecurrentResult<double> h_and_zero_c =
      lstm.forward(tape, input, {tape.input(h.ref()), tape.zeros({2, 2, 4})});
  for (auto [p, q] : {std::pair{none, zeros}, std::pair{only_h, h_and_zero_c}}) {
    BOOST_TEST(identical(p.output.to_tensor(), q.output.to_tensor()));
    BOOST_TEST(identical(p.c_n.to_tensor(), q.c_n.to_tensor()));
  }
  BOOST_TEST(!identical(none.output.to_tensor(), only_h.output.to_tensor()));
}

BOOST_AUTO_TEST_CASE(errors_name_the_layer_and_the_shapes) {
  Generator rng(1);
  LSTM<float> lstm(options(2, true), rng);
  GRU<float> gru(options(1, false), rng);
  Tape<float> tape;
  const Var<float> x = tape.zeros({5, 3, 3});
  TAPELOOP_CHECK_THROW_MESSAGE(lstm.forward(tape, tape.zeros({5, 3})), ShapeError,
                               "LSTM: input [5,3]: expected [T,B,3] (input_size 3");
  TAPELOOP_CHECK_THROW_MESSAGE(lstm.forward(tape, tape.zeros({5, 3, 2})), ShapeError,
                               "LSTM: input [5,3,2]: expected [T,B,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(lstm.forward(tape, tape.zeros({0, 3, 3})), ShapeError,
                               "at least one step");
  TAPELOOP_CHECK_THROW_MESSAGE(
      lstm.forward(tape, x, {tape.zeros({2, 3, 4})}), ShapeError,
      "LSTM: h0 [2,3,4]: expected [4,3,4] (num_layers * directions, batch, hidden_size) for "
      "input [5,3,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(lstm.forward(tape, x, {{}, tape.zeros({4, 2, 4})}), ShapeError,
                               "LSTM: c0 [4,2,4]: expected [4,3,4]");
  TAPELOOP_CHECK_THROW_MESSAGE(gru.forward(tape, x, {tape.zeros({1, 3, 4}), tape.zeros({1, 3, 4})}),
                               ValueError, "GRU: c0 given, but only an LSTM has a cell state");
  const std::size_t recorded = tape.size();
  BOOST_CHECK_THROW(lstm.forward(tape, x, tape.zeros({2, 3, 4})), ShapeError);
  BOOST_TEST(tape.size() == recorded + 1);  // only the zeros: a failed call records nothing
  const std::int64_t two[] = {5, 5};
  TAPELOOP_CHECK_THROW_MESSAGE(gru.forward(tape, x, {}, two), ShapeError,
                               "GRU: 2 lengths for a batch of 3 (input [5,3,3])");
  const std::int64_t too_long[] = {5, 6, 1};
  TAPELOOP_CHECK_THROW_MESSAGE(gru.forward(tape, x, {}, too_long), ValueError,
                               "GRU: length 6 of sequence 1 is outside [0, 5] (input [5,3,3])");
  const Var<float> w[] = {tape.zeros({12, 3})};
  TAPELOOP_CHECK_THROW_MESSAGE(gru.forward_with(w, tape, x), ValueError,
                               "GRU: 1 weights given, expected 4");
  const Var<float> bad[] = {tape.zeros({12, 3}), tape.zeros({12, 3}), tape.zeros({12}),
                            tape.zeros({12})};
  TAPELOOP_CHECK_THROW_MESSAGE(gru.forward_with(bad, tape, x), ShapeError,
                               "GRU: weight weight_hh_l0 [12,3]: expected [12,4]");
  RecurrentOptions bf = options(1, false);
  bf.batch_first = true;
  RNN<float> rnn(bf, rng);
  TAPELOOP_CHECK_THROW_MESSAGE(rnn.forward(tape, tape.zeros({5, 3, 4})), ShapeError,
                               "RNN: input [5,3,4]: expected [B,T,3]");
  Tape<float> other;
  TAPELOOP_CHECK_THROW_MESSAGE(rnn.forward(other, x), TapeError, "RNN: the Var belongs to another");

  RecurrentOptions o = options(1, false);
  o.hidden_size = 0;
  TAPELOOP_CHECK_THROW_MESSAGE(LSTM<float>(o, rng), ValueError, "LSTM: hidden_size 0 is not");
  o = options(1, false);
  o.dropout = 1.0;
  TAPELOOP_CHECK_THROW_MESSAGE(GRU<float>(o, rng), ValueError, "GRU: dropout 1 is outside [0, 1)");
  o = options(1, false);
  o.checkpoint = 2;
  o.truncate = 2;
  TAPELOOP_CHECK_THROW_MESSAGE(RNN<float>(o, rng), ValueError, "nor both set");
}

BOOST_AUTO_TEST_SUITE_END()
