// Stateful truncated BPTT: windows recorded one at a time with the state kept in a Carry give
// the gradients of one long recording cut by scan's `truncate` at the same boundaries.
#include "support/check.hpp"
#include "tapeloop/models/char_model.hpp"
#include "tapeloop/models/generate.hpp"

using namespace tapeloop;

namespace {

constexpr std::int64_t vocab = 7, embed = 4, hidden = 5, batch = 3, window = 4, windows = 5;
constexpr std::int64_t steps = window * windows;

// A stream of ids [steps + 1, batch]: inputs are rows 0..steps-1, targets rows 1..steps.
std::vector<std::int64_t> stream(std::uint64_t seed) {
  Generator rng(seed);
  std::vector<std::int64_t> ids(static_cast<std::size_t>((steps + 1) * batch));
  for (std::int64_t& id : ids) id = static_cast<std::int64_t>(rng.below(vocab));
  return ids;
}

std::span<const std::int64_t> rows(const std::vector<std::int64_t>& ids, std::int64_t first,
                                   std::int64_t count) {
  return std::span<const std::int64_t>(ids).subspan(static_cast<std::size_t>(first * batch),
                                                    static_cast<std::size_t>(count * batch));
}

// Embedding -> 2-layer LSTM -> Linear in T, as CharModel, with the LSTM's truncate option.
template <class T>
struct Net : models::Module<T> {
  Generator rng{21};
  models::Embedding<T> embedding{vocab, embed, rng};
  models::LSTM<T> lstm;
  models::Linear<T> readout{hidden, vocab, rng};
  explicit Net(int truncate) : lstm(options(truncate), rng) {}
  static models::RecurrentOptions options(int truncate) {
    models::RecurrentOptions o;
    o.input_size = embed;
    o.hidden_size = hidden;
    o.num_layers = 2;
    o.truncate = truncate;
    return o;
  }
  void visit(models::ModuleVisitor<T>& v) override {
    v.module("embedding", embedding);
    v.module("lstm", lstm);
    v.module("readout", readout);
  }
  models::RecurrentResult<T> run(Tape<T>& tape, std::span<const std::int64_t> ids, std::int64_t t,
                                 const models::RecurrentState<T>& initial, Var<T>& logits) {
    Var<T> x = embedding.forward(tape, ids, Shape{t, batch});
    models::RecurrentResult<T> r = lstm.forward(tape, x, initial);
    logits = readout.forward(reshape(r.output, Shape{t * batch, hidden}));
    return r;
  }
};

// Gradients (in named_parameters order, concatenated) and total loss of the windowed run.
template <class T>
std::pair<std::vector<T>, T> windowed(Net<T>& net, const std::vector<std::int64_t>& ids) {
  net.zero_grad();
  Carry<T> carry = net.lstm.carry(batch);
  Tape<T> tape;
  T total = 0;
  for (std::int64_t w = 0; w < windows; ++w) {
    tape.clear();
    Var<T> logits;
    const auto r = net.run(tape, rows(ids, w * window, window), window, carry.read(tape), logits);
    carry.write(r.state());  // before backward: the leaves read above must stay intact
    Var<T> loss = cross_entropy(logits, rows(ids, w * window + 1, window), Reduction::sum);
    tape.backward(loss);  // gradients add up over the windows
    total += loss.item();
  }
  std::vector<T> grads;
  for (Parameter<T>* p : net.parameters())
    grads.insert(grads.end(), p->grad().begin(), p->grad().end());
  return {grads, total};
}

template <class T>
std::pair<std::vector<T>, T> one_recording(Net<T>& net, const std::vector<std::int64_t>& ids) {
  net.zero_grad();
  Tape<T> tape;
  Var<T> logits;
  net.run(tape, rows(ids, 0, steps), steps, {}, logits);
  Var<T> loss = cross_entropy(logits, rows(ids, 1, steps), Reduction::sum);
  tape.backward(loss);
  std::vector<T> grads;
  for (Parameter<T>* p : net.parameters())
    grads.insert(grads.end(), p->grad().begin(), p->grad().end());
  return {grads, loss.item()};
}

template <class T>
void check_equivalence(double rtol, double atol) {
  const std::vector<std::int64_t> ids = stream(5);
  Net<T> carried(0), truncated(window), full(0);
  const auto [ga, la] = windowed(carried, ids);
  const auto [gb, lb] = one_recording(truncated, ids);
  const auto [gc, lc] = one_recording(full, ids);
  BOOST_TEST(la == lb, boost::test_tools::tolerance(static_cast<T>(rtol)));
  BOOST_TEST(la == lc, boost::test_tools::tolerance(static_cast<T>(rtol)));  // forward unchanged
  BOOST_REQUIRE_EQUAL(ga.size(), gb.size());
  int bad = 0;
  double differs_from_full = 0;
  for (std::size_t i = 0; i < ga.size(); ++i) {
    if (!(std::abs(ga[i] - gb[i]) <= atol + rtol * std::abs(gb[i])) && bad++ < 5) {
      BOOST_ERROR("gradient " << i << ": carried " << ga[i] << " vs truncate " << gb[i]);
    }
    differs_from_full = std::max(differs_from_full, static_cast<double>(std::abs(ga[i] - gc[i])));
  }
  // And truncation matters here: full BPTT's gradient is measurably different.
  BOOST_TEST(differs_from_full > 1e3 * atol);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_stateful_tbptt)

BOOST_AUTO_TEST_CASE(carry_equals_scan_truncate_in_double) {
  check_equivalence<double>(1e-12, 1e-14);
}

BOOST_AUTO_TEST_CASE(carry_equals_scan_truncate_in_float) {
  check_equivalence<float>(2e-5, 1e-6);
}

BOOST_AUTO_TEST_CASE(char_model_windows_carry_the_state) {
  // The CharModel's stateful forward over two windows equals its plain forward over both.
  Generator rng(3);
  models::CharModel model({.vocabulary = vocab, .embedding = 4, .hidden = 6, .layers = 2}, rng);
  const std::vector<std::int64_t> ids = stream(9);
  Tape<float> tape;
  const Tensor<float> whole =
      model.forward(tape, rows(ids, 0, 2 * window), 2 * window, batch).to_tensor();
  Carry<float> carry = model.carry(batch);
  for (std::int64_t w = 0; w < 2; ++w) {
    tape.clear();
    const models::CharModelResult r =
        model.forward(tape, rows(ids, w * window, window), window, batch, carry.read(tape));
    for (std::int64_t i = 0; i < window * batch * vocab; ++i) {
      BOOST_TEST(r.logits.value()[i] == whole[w * window * batch * vocab + i],
                 boost::test_tools::tolerance(1e-5f));
    }
    carry.write(r.state);
  }
  carry.reset();
  BOOST_TEST(carry.value(0)[0] == 0.0f);
  BOOST_TEST(carry.value(1)[0] == 0.0f);
}

BOOST_AUTO_TEST_CASE(carry_errors_name_the_part) {
  Carry<float> carry({Shape{2, 3}, Shape{2, 3}});
  Tape<float> tape;
  Var<float> h = tape.zeros({2, 3}), wrong = tape.zeros({3, 2});
  TAPELOOP_CHECK_THROW_MESSAGE(carry.write(State<float>{h}), ShapeError,
                               "Carry::write: a state of 1 parts for a carry of 2");
  TAPELOOP_CHECK_THROW_MESSAGE(carry.write(State<float>{h, wrong}), ShapeError,
                               "Carry::write: part 1 is [3,2], expected [2,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(Carry<float>(std::vector<Shape>{}), ValueError,
                               "Carry: 0 parts: expected 1 to 16");
  const State<float> s = carry.read(tape);
  BOOST_TEST(s.size() == 2);
  BOOST_TEST(!s[0].requires_grad());  // detached: nothing flows into the previous window
}

BOOST_AUTO_TEST_SUITE_END()
