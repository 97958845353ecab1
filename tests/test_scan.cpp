// scan against hand-unrolled references: plain, reversed, variable lengths, truncated and
// checkpointed; gradcheck through scan; checkpointing's memory measured; error messages.
#include <cmath>
#include <cstring>

#include "support/check.hpp"
#include "tapeloop/scan.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

constexpr std::int64_t T_ = 6, B = 3, I = 4, H = 5;

// An Elman RNN cell from generic ops: h' = tanh(x W + h U + b).
struct RnnCell {
  template <class V>
  StepResult<V> operator()(std::span<const Var<V>> w, const State<V>& s, const Var<V>& x) const {
    const Var<V> h = tanh(matmul(x, w[0]) + matmul(s[0], w[1]) + w[2]);
    return {State<V>{h}, h};
  }
};

// An LSTM cell from generic ops, state {h, c}: checks that multi-part states work.
struct LstmCell {
  template <class V>
  StepResult<V> operator()(std::span<const Var<V>> w, const State<V>& s, const Var<V>& x) const {
    Var<V> gates = matmul(x, w[0]) + matmul(s[0], w[1]) + w[2];  // [B, 4H]
    Var<V> i = sigmoid(narrow(gates, 1, 0, H)), f = sigmoid(narrow(gates, 1, H, H));
    Var<V> g = tanh(narrow(gates, 1, 2 * H, H)), o = sigmoid(narrow(gates, 1, 3 * H, H));
    Var<V> c = f * s[1] + i * g;
    Var<V> h = o * tanh(c);
    return {State<V>{h, c}, h};
  }
};

struct Fixture {
  Tensor<double> xs = random_tensor({T_, B, I}, 1);
  Tensor<double> h0 = random_tensor({B, H}, 2);
  Tensor<double> c0 = random_tensor({B, H}, 3);
  Tensor<double> w = random_tensor({I, H}, 4);
  Tensor<double> u = random_tensor({H, H}, 5);
  Tensor<double> b = random_tensor({H}, 6);
  Tensor<double> w4 = random_tensor({I, 4 * H}, 7);
  Tensor<double> u4 = random_tensor({H, 4 * H}, 8);
  Tensor<double> b4 = random_tensor({4 * H}, 9);
  Tensor<double> target = random_tensor({T_, B, H}, 10);
};

// Everything one run produces: outputs, final state, and the gradients of all leaves.
struct Run {
  std::vector<Tensor<double>> values;
};

void expect_identical(const Run& a, const Run& b) {
  BOOST_REQUIRE_EQUAL(a.values.size(), b.values.size());
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    BOOST_REQUIRE(a.values[i].shape() == b.values[i].shape());
    int differing = 0;
    for (std::int64_t k = 0; k < a.values[i].numel(); ++k) {
      differing += std::memcmp(&a.values[i][k], &b.values[i][k], sizeof(double)) != 0;
    }
    BOOST_CHECK_MESSAGE(differing == 0, "tensor " << i << ": " << differing << " of "
                                                  << a.values[i].numel() << " elements differ");
  }
}

// Runs an RNN (lstm = false) or LSTM over the fixture either with scan or by hand, with the
// loss sum((outputs - target)^2) + sum(final h) (+ sum(final c)).
// checkpoint > 0 runs checkpointed_scan with segments of that many steps.
Run run(const Fixture& f, bool lstm, bool use_scan, const ScanOptions& options,
        int checkpoint = 0) {
  Tape<double> tape;
  Var<double> xs = tape.input(f.xs.ref(), true);
  Var<double> h0 = tape.input(f.h0.ref(), true);
  Var<double> c0 = tape.input(f.c0.ref(), true);
  Var<double> w = tape.input((lstm ? f.w4 : f.w).ref(), true);
  Var<double> u = tape.input((lstm ? f.u4 : f.u).ref(), true);
  Var<double> b = tape.input((lstm ? f.b4 : f.b).ref(), true);
  const std::vector<Var<double>> weights = {w, u, b};
  State<double> state0 = lstm ? State<double>{h0, c0} : State<double>{h0};
  Var<double> outputs;
  State<double> final_state;
  if (use_scan) {
    auto unroll = [&](auto cell) {
      return checkpoint > 0
                 ? checkpointed_scan(tape, cell, xs, state0, weights, checkpoint, options)
                 : scan(tape, cell, xs, state0, weights, options);
    };
    ScanResult<double> r = lstm ? unroll(LstmCell{}) : unroll(RnnCell{});
    outputs = r.outputs;
    final_state = r.state;
  } else {
    // The reference: the same cell written out step by step, with the options by hand.
    std::vector<Var<double>> outs(T_);
    State<double> s = state0;
    for (std::int64_t k = 0; k < T_; ++k) {
      if (options.truncate > 0 && k > 0 && k % options.truncate == 0) {
        for (int i = 0; i < s.size(); ++i) s[i] = detach(s[i]);
      }
      const std::int64_t t = options.reverse ? T_ - 1 - k : k;
      StepResult<double> next =
          lstm ? LstmCell{}(std::span<const Var<double>>(weights), s, select(xs, 0, t))
               : RnnCell{}(std::span<const Var<double>>(weights), s, select(xs, 0, t));
      if (!options.lengths.empty()) {
        Tensor<double> m({B, 1});
        for (std::int64_t bb = 0; bb < B; ++bb) m[bb] = t < options.lengths[bb] ? 1.0 : 0.0;
        Var<double> mask = tape.constant(m.ref());
        for (int i = 0; i < s.size(); ++i) next.state[i] = where(mask, next.state[i], s[i]);
        outs[t] = where(mask, next.y, tape.scalar(0.0));
      } else {
        outs[t] = next.y;
      }
      s = next.state;
    }
    outputs = stack(outs, 0);
    final_state = s;
  }
  Var<double> r = outputs - tape.constant(f.target.ref());
  Var<double> loss = sum(r * r);
  for (const Var<double>& part : final_state) loss = loss + sum(part);
  tape.backward(loss);
  Run result;
  result.values.push_back(outputs.to_tensor());
  for (const Var<double>& part : final_state) result.values.push_back(part.to_tensor());
  for (const Var<double>& leaf : {xs, h0, c0, w, u, b}) {
    result.values.push_back(Tensor<double>::from(TensorRef<const double>(leaf.grad())));
  }
  return result;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_scan)

BOOST_AUTO_TEST_CASE(scan_equals_the_hand_unrolled_loop_bit_for_bit) {
  Fixture f;
  for (bool lstm : {false, true}) {
    for (bool reverse : {false, true}) {
      ScanOptions o;
      o.reverse = reverse;
      BOOST_TEST_CONTEXT("lstm " << lstm << " reverse " << reverse) {
        expect_identical(run(f, lstm, true, o), run(f, lstm, false, o));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(variable_lengths_match_the_masked_reference) {
  Fixture f;
  const std::int64_t lengths[B] = {6, 2, 0};
  for (bool lstm : {false, true}) {
    for (bool reverse : {false, true}) {
      ScanOptions o;
      o.reverse = reverse;
      o.lengths = lengths;
      BOOST_TEST_CONTEXT("lstm " << lstm << " reverse " << reverse) {
        expect_identical(run(f, lstm, true, o), run(f, lstm, false, o));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(variable_lengths_equal_separate_sequences) {
  // Sequence b of a padded batch behaves exactly as the unpadded sequence run alone.
  Fixture f;
  const std::int64_t lengths[B] = {4, 6, 1};
  for (bool reverse : {false, true}) {
    Tape<double> tape;
    Var<double> xs = tape.input(f.xs.ref(), true);
    Var<double> h0 = tape.input(f.h0.ref());
    const std::vector<Var<double>> w = {tape.input(f.w.ref()), tape.input(f.u.ref()),
                                        tape.input(f.b.ref())};
    ScanOptions o;
    o.reverse = reverse;
    o.lengths = lengths;
    ScanResult<double> all = scan(tape, RnnCell{}, xs, State<double>{h0}, w, o);
    tape.backward(sum(all.outputs) + sum(all.state[0]));
    for (std::int64_t b = 0; b < B; ++b) {
      Tape<double> solo;
      Var<double> xb = solo.input(
          narrow(narrow(tape.input(f.xs.ref()), 1, b, 1), 0, 0, lengths[b]).to_tensor().ref(),
          true);
      Var<double> hb = solo.input(narrow(h0, 0, b, 1).to_tensor().ref());
      const std::vector<Var<double>> ws = {solo.input(f.w.ref()), solo.input(f.u.ref()),
                                           solo.input(f.b.ref())};
      ScanOptions so;
      so.reverse = reverse;
      ScanResult<double> one = scan(solo, RnnCell{}, xb, State<double>{hb}, ws, so);
      solo.backward(sum(one.outputs) + sum(one.state[0]));
      for (std::int64_t h = 0; h < H; ++h) {
        BOOST_TEST(all.state[0].value()[b * H + h] == one.state[0].value()[h],
                   boost::test_tools::tolerance(1e-14));
      }
      for (std::int64_t t = 0; t < T_; ++t) {
        for (std::int64_t h = 0; h < H; ++h) {
          const double out = all.outputs.value()[(t * B + b) * H + h];
          if (t < lengths[b]) {
            BOOST_TEST(out == one.outputs.value()[t * H + h], boost::test_tools::tolerance(1e-14));
          } else {
            // Padded outputs are +0.0, as PyTorch's (not -0.0 from a negative output times 0).
            BOOST_TEST(out == 0.0);
            BOOST_TEST(!std::signbit(out));
          }
        }
        for (std::int64_t i = 0; i < I; ++i) {
          const double g = xs.grad()[(t * B + b) * I + i];
          if (t < lengths[b]) {
            BOOST_TEST(g == xb.grad()[t * I + i], boost::test_tools::tolerance(1e-12));
          } else {
            BOOST_TEST(g == 0.0);  // padded inputs get no gradient
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_bptt_matches_detaching_by_hand) {
  Fixture f;
  for (int k : {1, 2, 4}) {
    ScanOptions o;
    o.truncate = k;
    BOOST_TEST_CONTEXT("truncate " << k) {
      const Run truncated = run(f, true, true, o);
      expect_identical(truncated, run(f, true, false, o));
      // The forward pass is unchanged; the gradients are not.
      const Run full = run(f, true, true, ScanOptions{});
      for (std::size_t i = 0; i < 3; ++i) {
        BOOST_TEST(std::memcmp(truncated.values[i].data(), full.values[i].data(),
                               sizeof(double) * truncated.values[i].numel()) == 0);
      }
      BOOST_TEST(std::memcmp(truncated.values.back().data(), full.values.back().data(),
                             sizeof(double) * full.values.back().numel()) != 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(checkpointed_scan_equals_full_bptt) {
  Fixture f;
  const std::int64_t lengths[B] = {5, 6, 2};
  for (int k : {1, 2, 4, 6, 10}) {
    for (bool lstm : {false, true}) {
      for (bool reverse : {false, true}) {
        for (bool with_lengths : {false, true}) {
          ScanOptions full;
          full.reverse = reverse;
          if (with_lengths) full.lengths = lengths;
          BOOST_TEST_CONTEXT("checkpoint " << k << " lstm " << lstm << " reverse " << reverse
                                           << " lengths " << with_lengths) {
            expect_identical(run(f, lstm, true, full, k), run(f, lstm, true, full));
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(checkpointing_cuts_activation_memory) {
  // Peak activation bytes of a many-to-one LSTM training step (main tape + recompute tape,
  // minus the input sequence itself) for several segment lengths k. With checkpointing the
  // main tape keeps ~T/k segment states and the recompute tape ~k steps of activations, so
  // bytes(k) = a T/k + b k: fit a and b on k = 4 and 16, and predict k = 8.
  const std::int64_t steps = 256, batch = 8, in = 16;
  Generator rng(4);
  const Tensor<float> x = Tensor<float>::normal({steps, batch, in}, 0.0f, 1.0f, rng);
  Parameter<float> w(Tensor<float>::normal({in, 4 * H}, 0.0f, 0.3f, rng));
  Parameter<float> u(Tensor<float>::normal({H, 4 * H}, 0.0f, 0.3f, rng));
  Parameter<float> b(Tensor<float>::zeros({4 * H}));
  auto activation_bytes = [&](int checkpoint, Tensor<float>* grad) {
    Tape<float> tape(4096);
    Var<float> xs = tape.constant(x.ref());
    Var<float> h0 = tape.constant(Tensor<float>::zeros({batch, H}).ref());
    const std::size_t inputs = tape.arena().bytes_in_use();
    ScanOptions o;
    o.collect_outputs = false;
    w.zero_grad();
    const State<float> state0{h0, h0};
    const Var<float> weights[] = {w.var(tape), u.var(tape), b.var(tape)};
    ScanResult<float> r =
        checkpoint > 0 ? checkpointed_scan(tape, LstmCell{}, xs, state0, weights, checkpoint, o)
                       : scan(tape, LstmCell{}, xs, state0, weights, o);
    tape.backward(sum(r.state[0]));
    *grad = w.grad();
    std::size_t bytes = tape.arena().peak_bytes() - inputs;
    if (checkpoint > 0) bytes += tape.recompute_tape_if_made()->arena().peak_bytes();
    return static_cast<double>(bytes);
  };
  Tensor<float> g_full, g_ck;
  const double full = activation_bytes(0, &g_full);
  double at[17] = {};
  for (int k : {4, 8, 16}) {
    at[k] = activation_bytes(k, &g_ck);
    for (std::int64_t i = 0; i < g_full.numel(); ++i) BOOST_TEST(g_full[i] == g_ck[i]);
  }
  const double T = static_cast<double>(steps);
  // Solve a T/4 + 4 b = at[4], a T/16 + 16 b = at[16].
  const double b_step = (at[16] - at[4] / 4.0) / (16.0 - 1.0);
  const double a_segment = (at[4] - 4.0 * b_step) / (T / 4.0);
  const double predicted8 = a_segment * T / 8.0 + b_step * 8.0;
  BOOST_TEST_MESSAGE("activation bytes: full " << full << ", k=4 " << at[4] << ", k=8 " << at[8]
                                               << " (predicted " << predicted8 << "), k=16 "
                                               << at[16]);
  BOOST_TEST(a_segment > 0.0);
  BOOST_TEST(b_step > 0.0);
  BOOST_TEST(at[8] == predicted8, boost::test_tools::tolerance(0.15));
  BOOST_TEST(full > 10.0 * at[8]);  // O(T) versus O(T/k + k)
}

BOOST_AUTO_TEST_CASE(gradcheck_through_scan) {
  const std::int64_t lengths[2] = {3, 1};
  for (std::int64_t steps : {1, 2, 5}) {
    for (int mode = 0; mode < 4; ++mode) {  // plain, reverse, lengths, checkpoint 2
      if (mode == 2 && steps < 3) continue;
      std::vector<Tensor<double>> in = {random_tensor({steps, 2, 3}, 11), random_tensor({2, 4}, 12),
                                        random_tensor({3, 4}, 13), random_tensor({4, 4}, 14),
                                        random_tensor({4}, 15)};
      ScanOptions o;
      o.reverse = mode == 1;
      if (mode == 2) o.lengths = lengths;
      const int checkpoint = mode == 3 ? 2 : 0;
      BOOST_TEST_CONTEXT("T " << steps << " mode " << mode) {
        TAPELOOP_CHECK_GRADCHECK(
            [o, checkpoint](Tape<double>& tape, const std::vector<Var<double>>& x) {
              const State<double> state0{x[1]};
              const Var<double> w[] = {x[2], x[3], x[4]};
              ScanResult<double> r = checkpoint > 0 ? checkpointed_scan(tape, RnnCell{}, x[0],
                                                                        state0, w, checkpoint, o)
                                                    : scan(tape, RnnCell{}, x[0], state0, w, o);
              return r.outputs * 0.5 + stack({r.state[0]}, 0);
            },
            in);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(float_scan_matches_double) {
  std::vector<Tensor<double>> in = {random_tensor({4, 2, 3}, 21), random_tensor({2, 4}, 22),
                                    random_tensor({3, 4}, 23), random_tensor({4, 4}, 24),
                                    random_tensor({4}, 25)};
  tapeloop::testing::check_float_matches_double(
      [](auto& tape, const auto& x) {
        return scan(tape, RnnCell{}, x[0], State{x[1]}, {x[2], x[3], x[4]}).outputs;
      },
      in);
}

BOOST_AUTO_TEST_CASE(the_step_output_is_any_var_or_none) {
  // y_t = 2 h_t summed over the hidden axis: [B] per step, not the state.
  Tape<double> tape;
  Fixture f;
  Var<double> xs = tape.input(f.xs.ref(), true);
  Var<double> h0 = tape.input(f.h0.ref());
  const Var<double> w[] = {tape.input(f.w.ref(), true), tape.input(f.u.ref(), true),
                           tape.input(f.b.ref(), true)};
  auto reduced = [](std::span<const Var<double>> w, const State<double>& s,
                    const Var<double>& x) -> StepResult<double> {
    const Var<double> h = tanh(matmul(x, w[0]) + matmul(s[0], w[1]) + w[2]);
    return {State<double>{h}, sum(h, 1) * 2.0};
  };
  ScanResult<double> r = scan(tape, reduced, xs, State<double>{h0}, w);
  ScanResult<double> plain = scan(tape, RnnCell{}, xs, State<double>{h0}, w);
  BOOST_TEST(r.outputs.shape() == (Shape{T_, B}));
  const Tensor<double> expected = (sum(plain.outputs, 2) * 2.0).to_tensor();
  const Tensor<double> got = r.outputs.to_tensor();
  for (std::int64_t i = 0; i < got.numel(); ++i) BOOST_TEST(got[i] == expected[i]);
  // No y at all: outputs stay empty and the final state is the same.
  auto silent = [](std::span<const Var<double>> w, const State<double>& s,
                   const Var<double>& x) -> StepResult<double> {
    return {State<double>{tanh(matmul(x, w[0]) + matmul(s[0], w[1]) + w[2])}, {}};
  };
  ScanResult<double> none = scan(tape, silent, xs, State<double>{h0}, w);
  BOOST_TEST(none.outputs.empty());
  const Tensor<double> a = none.state[0].to_tensor(), b = plain.state[0].to_tensor();
  for (std::int64_t i = 0; i < a.numel(); ++i) BOOST_TEST(a[i] == b[i]);
  ScanResult<double> none_ck = checkpointed_scan(tape, silent, xs, State<double>{h0}, w, 2);
  BOOST_TEST(none_ck.outputs.empty());
  const Tensor<double> c = none_ck.state[0].to_tensor();
  for (std::int64_t i = 0; i < c.numel(); ++i) BOOST_TEST(c[i] == b[i]);
}

BOOST_AUTO_TEST_CASE(a_state_of_many_parts) {
  // Three stacked LSTM layers carry six parts (h, c per layer): beyond the old limit of four.
  Tape<double> tape;
  Fixture f;
  Var<double> xs = tape.input(f.xs.ref(), true);
  const Tensor<double> w4h = random_tensor({H, 4 * H}, 31);
  const Var<double> w[] = {tape.input(f.w4.ref(), true), tape.input(f.u4.ref(), true),
                           tape.input(f.b4.ref(), true), tape.input(w4h.ref(), true)};
  auto stacked = [](std::span<const Var<double>> w, const State<double>& s,
                    const Var<double>& x) -> StepResult<double> {
    State<double> next;
    Var<double> in = x;
    for (int layer = 0; layer < 3; ++layer) {
      const Var<double> layer_w[] = {layer == 0 ? w[0] : w[3], w[1], w[2]};
      StepResult<double> r = LstmCell{}(std::span<const Var<double>>(layer_w),
                                        State<double>{s[2 * layer], s[2 * layer + 1]}, in);
      next.push_back(r.state[0]);
      next.push_back(r.state[1]);
      in = r.y;
    }
    return {next, in};
  };
  Var<double> z = tape.zeros({B, H});
  const State<double> state0{z, z, z, z, z, z};
  ScanResult<double> r = scan(tape, stacked, xs, state0, w);
  BOOST_TEST(r.state.size() == 6);
  BOOST_TEST(r.outputs.shape() == (Shape{T_, B, H}));
  tape.backward(sum(r.outputs));
  BOOST_TEST(w[3].grad()[0] != 0.0);
  State<double> full;
  for (int i = 0; i < State<double>::max_parts; ++i) full.push_back(z);
  TAPELOOP_CHECK_THROW_MESSAGE(full.push_back(z), ValueError, "State: more than 16 parts");
}

// The cell contract is checked at compile time.
struct ReturnsState {
  State<float> operator()(std::span<const Var<float>>, const State<float>& s,
                          const Var<float>&) const {
    return s;
  }
};
static_assert(ScanCell<RnnCell, double>);
static_assert(!ScanCell<ReturnsState, float>, "a cell returns (state, y), not a State");

BOOST_AUTO_TEST_CASE(errors_name_scan_and_the_shapes) {
  Tape<float> tape;
  Var<float> xs = tape.constant(Tensor<float>::zeros({4, 2, 3}).ref());
  Var<float> h0 = tape.constant(Tensor<float>::zeros({2, 5}).ref());
  Var<float> w = tape.constant(Tensor<float>::zeros({3, 6}).ref());
  auto grows = [](std::span<const Var<float>> weights, const State<float>&,
                  const Var<float>& x) -> StepResult<float> {
    return {State<float>{matmul(x, weights[0])}, {}};
  };
  TAPELOOP_CHECK_THROW_MESSAGE(
      scan(tape, grows, xs, State<float>{h0}, {w}), ShapeError,
      "scan: at step 0 the cell turned state part 0 from [2,5] into [2,6]");
  const std::int64_t three[3] = {1, 2, 3};
  ScanOptions o;
  o.lengths = three;
  auto keep = [](std::span<const Var<float>>, const State<float>& s,
                 const Var<float>&) -> StepResult<float> {
    return {s, s[0]};
  };
  TAPELOOP_CHECK_THROW_MESSAGE(scan(tape, keep, xs, State<float>{h0}, {}, o), ShapeError,
                               "scan: 3 lengths for a batch of 2 (xs [4,2,3])");
  const std::int64_t too_long[2] = {1, 5};
  o.lengths = too_long;
  TAPELOOP_CHECK_THROW_MESSAGE(scan(tape, keep, xs, State<float>{h0}, {}, o), ValueError,
                               "scan: length 5 of sequence 1 is outside [0, 4] (xs [4,2,3])");
  ScanOptions truncated;
  truncated.truncate = 2;
  TAPELOOP_CHECK_THROW_MESSAGE(
      checkpointed_scan(tape, keep, xs, State<float>{h0}, {}, 2, truncated), ValueError,
      "checkpointed_scan: checkpoint 2 and truncate 2: neither may be negative, nor both set");
  TAPELOOP_CHECK_THROW_MESSAGE(checkpointed_scan(tape, keep, xs, State<float>{h0}, {}, 0),
                               ValueError, "checkpointed_scan: segment 0 is not positive");
  Var<float> bad_h0 = tape.constant(Tensor<float>::zeros({3, 5}).ref());
  const std::int64_t two[2] = {4, 4};
  o.lengths = two;
  TAPELOOP_CHECK_THROW_MESSAGE(
      scan(tape, keep, xs, State<float>{bad_h0}, {}, o), ShapeError,
      "scan: state part [3,5] does not start with the batch size 2 of xs [4,2,3]");
  // y_t must keep one shape, be there at every step or at none, and start with the batch when
  // there are lengths.
  int calls = 0;
  auto wavering = [&calls](std::span<const Var<float>>, const State<float>& s,
                           const Var<float>&) -> StepResult<float> {
    return {s, calls++ % 2 == 0 ? s[0] : Var<float>{}};
  };
  TAPELOOP_CHECK_THROW_MESSAGE(scan(tape, wavering, xs, State<float>{h0}, {}), ShapeError,
                               "scan: at step 1 the cell returned no y, unlike at the first step");
  auto growing = [&calls](std::span<const Var<float>>, const State<float>& s,
                          const Var<float>& x) -> StepResult<float> {
    return {s, calls++ == 0 ? s[0] : x};
  };
  calls = 0;
  TAPELOOP_CHECK_THROW_MESSAGE(scan(tape, growing, xs, State<float>{h0}, {}), ShapeError,
                               "scan: at step 1 the cell returned y [2,3], not [2,5]");
  auto transposed = [](std::span<const Var<float>>, const State<float>& s,
                       const Var<float>&) -> StepResult<float> {
    return {s, transpose(s[0], 0, 1)};
  };
  TAPELOOP_CHECK_THROW_MESSAGE(scan(tape, transposed, xs, State<float>{h0}, {}, o), ShapeError,
                               "scan: at step 0 the cell returned y [5,2], which does not start "
                               "with the batch size 2");
  const std::size_t before = tape.size();
  BOOST_CHECK_THROW(
      scan(tape, keep, tape.constant(Tensor<float>::zeros({4}).ref()), State<float>{h0}, {}),
      ShapeError);
  BOOST_TEST(tape.size() == before + 1);  // the constant only: nothing recorded
}

BOOST_AUTO_TEST_SUITE_END()
