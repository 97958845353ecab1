// ctc_loss against the sum over every alignment by brute force, against PyTorch's
// (tests/golden/make_ctc_golden.py), gradcheck (both derivatives), float vs double, the batch
// against one sequence at a time, impossible targets and errors.
#include <cmath>
#include <functional>

#include "support/check.hpp"
#include "support/golden.hpp"
#include "tapeloop/ops/ctc.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

// -log of the sum over all C^T paths that collapse (merge repeats, drop blanks) to `labels`.
double brute_force_nll(const Tensor<double>& lp, std::int64_t b, std::int64_t frames,
                       const std::vector<std::int64_t>& labels, std::int64_t blank) {
  const std::int64_t B = lp.shape()[1], C = lp.shape()[2];
  std::vector<std::int64_t> path(static_cast<std::size_t>(frames), 0);
  long double total = 0;
  for (;;) {
    std::vector<std::int64_t> collapsed;
    long double log_path = 0;
    for (std::int64_t t = 0; t < frames; ++t) {
      const std::int64_t k = path[static_cast<std::size_t>(t)];
      log_path += lp[(t * B + b) * C + k];
      if (k != blank && (t == 0 || path[static_cast<std::size_t>(t - 1)] != k)) {
        collapsed.push_back(k);
      }
    }
    if (collapsed == labels) total += std::exp(log_path);
    std::int64_t t = 0;  // next path: count in base C
    while (t < frames && ++path[static_cast<std::size_t>(t)] == C)
      path[static_cast<std::size_t>(t++)] = 0;
    if (t == frames) break;
  }
  return -static_cast<double>(std::log(total));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_ctc)

BOOST_AUTO_TEST_CASE(loss_is_the_sum_over_every_alignment) {
  // Unnormalized log-probabilities too: the recursion must not assume they sum to one.
  const std::vector<std::vector<std::int64_t>> label_sets = {{},     {1},       {2, 1},
                                                             {1, 1}, {2, 2, 1}, {1, 2, 1}};
  std::uint64_t seed = 1;
  for (std::int64_t frames : {1, 2, 3, 5, 6}) {
    for (const auto& labels : label_sets) {
      for (std::int64_t blank : {0, 3}) {
        std::vector<std::int64_t> mapped = labels;
        if (blank == 3) {
          for (auto& l : mapped) l -= 1;  // labels 0, 1 with the blank last
        }
        const Tensor<double> lp = random_tensor({frames, 1, 4}, seed++);
        Tape<double> tape;
        const std::int64_t in_len[] = {frames};
        const std::int64_t tgt_len[] = {static_cast<std::int64_t>(mapped.size())};
        CtcOptions o;
        o.blank = blank;
        const double got =
            ctc_loss_per_sequence(tape.constant(lp.ref()), mapped, in_len, tgt_len, o).item();
        const double want = brute_force_nll(lp, 0, frames, mapped, blank);
        BOOST_TEST_CONTEXT("T " << frames << " S " << mapped.size() << " blank " << blank) {
          if (std::isinf(want)) {
            BOOST_TEST(std::isinf(got));
          } else {
            BOOST_TEST(got == want, boost::test_tools::tolerance(1e-12));
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_batch_is_its_sequences_one_at_a_time) {
  const Tensor<double> lp = random_tensor({7, 3, 5}, 11);
  const std::int64_t in_len[] = {7, 4, 0};
  const std::int64_t tgt_len[] = {3, 2, 0};
  const std::vector<std::int64_t> targets = {1, 4, 4, 2, 3};
  Tape<double> tape;
  const Tensor<double> all =
      ctc_loss_per_sequence(tape.constant(lp.ref()), targets, in_len, tgt_len).to_tensor();
  std::int64_t first = 0;
  for (std::int64_t b = 0; b < 3; ++b) {
    const std::vector<std::int64_t> labels(targets.begin() + first,
                                           targets.begin() + first + tgt_len[b]);
    first += tgt_len[b];
    BOOST_TEST(all[b] == brute_force_nll(lp, b, in_len[b], labels, 0),
               boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(all[2] == 0.0);  // no frames, no labels: probability one
}

BOOST_AUTO_TEST_CASE(matches_pytorch) {
  const auto& golden = [] {
    static const nlohmann::json g = [] {
      std::ifstream in(testing::golden_path("ctc_golden.json"));
      BOOST_REQUIRE(in);
      return nlohmann::json::parse(in);
    }();
    return g;
  }();
  for (const auto& c : golden["cases"]) {
    BOOST_TEST_CONTEXT(c["name"].get<std::string>()) {
      const Shape shape{c["T"].get<std::int64_t>(), c["B"].get<std::int64_t>(),
                        c["C"].get<std::int64_t>()};
      const Tensor<double> logits = testing::golden_tensor<double>(c["logits"], shape);
      const auto targets = c["targets"].get<std::vector<std::int64_t>>();
      const auto in_len = c["input_lengths"].get<std::vector<std::int64_t>>();
      const auto tgt_len = c["target_lengths"].get<std::vector<std::int64_t>>();
      CtcOptions o;
      o.blank = c["blank"].get<std::int64_t>();
      for (Reduction r : {Reduction::sum, Reduction::mean}) {
        o.reduction = r;
        Tape<double> tape;
        Var<double> x = tape.input(logits.ref(), true);
        Var<double> loss = ctc_loss(log_softmax(x, 2), targets, in_len, tgt_len, o);
        testing::check_close("loss", loss.value().data,
                             c[r == Reduction::sum ? "loss_sum" : "loss_mean"], 1e-12, 1e-12);
        if (r == Reduction::mean) {
          tape.backward(loss);
          testing::check_close("gradient", x.grad().data, c["grad_mean"], 1e-10, 1e-12);
        }
      }
      Tape<double> tape;
      Var<double> per = ctc_loss_per_sequence(log_softmax(tape.constant(logits.ref()), 2), targets,
                                              in_len, tgt_len, o);
      testing::check_close("losses", per.value().data, c["loss_none"], 1e-12, 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_both_derivatives) {
  const std::int64_t in_len[] = {5, 3, 4};
  const std::int64_t tgt_len[] = {2, 1, 2};
  const std::vector<std::int64_t> targets = {1, 1, 2, 3, 1};
  for (bool normalized : {false, true}) {
    const std::vector<Tensor<double>> in = {random_tensor({5, 3, 4}, 21)};
    auto f = [&](Tape<double>&, const std::vector<Var<double>>& x) {
      const Var<double> lp = normalized ? log_softmax(x[0], 2) : x[0];
      return ctc_loss_per_sequence(lp, targets, in_len, tgt_len);
    };
    TAPELOOP_CHECK_GRADCHECK(f, in);
    BOOST_TEST(gradcheck(f, in).tangents_checked);
    auto mean_loss = [&](Tape<double>&, const std::vector<Var<double>>& x) {
      return ctc_loss(log_softmax(x[0], 2), targets, in_len, tgt_len);
    };
    TAPELOOP_CHECK_GRADCHECK(mean_loss, in);
  }
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  const std::int64_t in_len[] = {6, 2};
  const std::int64_t tgt_len[] = {3, 1};
  const std::vector<std::int64_t> targets = {2, 2, 1, 3};
  testing::check_float_matches_double(
      [&](auto&, const auto& x) {
        return ctc_loss_per_sequence(log_softmax(x[0], 2), targets, in_len, tgt_len);
      },
      {random_tensor({6, 2, 4}, 31)});
}

BOOST_AUTO_TEST_CASE(an_impossible_target_is_infinite_or_zero) {
  // Two equal labels need a blank between them: three frames at least.
  const Tensor<double> lp = random_tensor({2, 1, 3}, 41);
  const std::int64_t in_len[] = {2};
  const std::int64_t tgt_len[] = {2};
  const std::vector<std::int64_t> targets = {1, 1};
  for (bool zero : {false, true}) {
    Tape<double> tape;
    Var<double> x = tape.input(lp.ref(), true);
    CtcOptions o;
    o.zero_infinity = zero;
    Var<double> loss = ctc_loss_per_sequence(x, targets, in_len, tgt_len, o);
    BOOST_TEST((zero ? loss.item() == 0.0 : std::isinf(loss.item())));
    tape.backward(loss);
    for (std::int64_t i = 0; i < lp.numel(); ++i) BOOST_TEST(x.grad()[i] == 0.0);
  }
}

BOOST_AUTO_TEST_CASE(errors_name_ctc_loss_and_record_nothing) {
  Tape<float> tape;
  Var<float> lp = tape.input(Tensor<float>::zeros({4, 2, 3}).ref(), true);
  const std::size_t before = tape.size();
  const std::int64_t in_len[] = {4, 3};
  const std::int64_t tgt_len[] = {1, 2};
  const std::vector<std::int64_t> targets = {1, 2, 1};
  auto call = [&](const Var<float>& x, std::span<const std::int64_t> t,
                  std::span<const std::int64_t> il, std::span<const std::int64_t> tl,
                  std::int64_t blank = 0) {
    CtcOptions o;
    o.blank = blank;
    return ctc_loss(x, t, il, tl, o);
  };
  TAPELOOP_CHECK_THROW_MESSAGE(call(tape.zeros({4, 3}), targets, in_len, tgt_len), ShapeError,
                               "ctc_loss: log_probs [4,3]: expected [T, B, C]");
  const std::size_t zeros_made = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(call(lp, targets, in_len, tgt_len, 3), ValueError,
                               "ctc_loss: blank 3 is not a class of [4,2,3]");
  const std::int64_t three[] = {4, 4, 4};
  TAPELOOP_CHECK_THROW_MESSAGE(call(lp, targets, three, tgt_len), ShapeError,
                               "ctc_loss: 3 input lengths and 2 target lengths");
  const std::int64_t too_long[] = {4, 5};
  TAPELOOP_CHECK_THROW_MESSAGE(
      call(lp, targets, too_long, tgt_len), ValueError,
      "ctc_loss: length 5 of sequence 1 is outside [0, 4] (log_probs [4,2,3])");
  const std::int64_t negative[] = {-1, 2};
  TAPELOOP_CHECK_THROW_MESSAGE(call(lp, targets, in_len, negative), ValueError,
                               "ctc_loss: target length -1 of sequence 0 is negative");
  const std::int64_t four[] = {2, 2};
  TAPELOOP_CHECK_THROW_MESSAGE(call(lp, targets, in_len, four), ValueError,
                               "ctc_loss: the target lengths add up to 4, but there are 3 targets");
  const std::vector<std::int64_t> with_blank = {1, 0, 1};
  TAPELOOP_CHECK_THROW_MESSAGE(
      call(lp, with_blank, in_len, tgt_len), ValueError,
      "ctc_loss: target 0 at position 1 is not a label of [4,2,3] (classes [0,3), blank 0)");
  const std::vector<std::int64_t> past = {1, 2, 3};
  TAPELOOP_CHECK_THROW_MESSAGE(call(lp, past, in_len, tgt_len), ValueError,
                               "ctc_loss: target 3 at position 2");
  BOOST_TEST(tape.size() == zeros_made);
  BOOST_TEST(zeros_made == before + 1);
}

BOOST_AUTO_TEST_SUITE_END()
