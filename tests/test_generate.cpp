// Sampling from logits (temperature, top-k) and generation with a carried state: greedy
// generation equals re-reading the whole prefix each step; seeds reproduce; errors.
#include "support/check.hpp"
#include "tapeloop/models/generate.hpp"
#include "tapeloop/ops/select.hpp"

#include <cmath>
#include <set>

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

CharModel small_model(std::uint64_t seed) {
  Generator rng(seed);
  return CharModel({.vocabulary = 9, .embedding = 4, .hidden = 12, .layers = 2}, rng);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_generate)

BOOST_AUTO_TEST_CASE(sampling_follows_softmax_and_top_k) {
  // p = softmax(log w) = w / sum(w): 1, 3, 0 (left out by top_k = 2), 6 of 10.
  const Tensor<float> logits =
      Tensor<float>::from({4}, {std::log(1.0f), std::log(3.0f), -1.0f, std::log(6.0f)});
  Generator rng(2);
  std::vector<double> count(4, 0.0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++count[sample_logits(logits.ref(), {.top_k = 3}, rng)];
  BOOST_TEST(count[2] == 0.0);
  double chi2 = 0;
  for (int c : {0, 1, 3}) {
    const double expected = n * std::vector<double>{1, 3, 0, 6}[c] / 10.0;
    chi2 += (count[c] - expected) * (count[c] - expected) / expected;
  }
  BOOST_TEST(chi2 < 13.82);  // 2 degrees of freedom, p = 0.001 (fixed seed: always the same)

  // Temperature 2 flattens: p proportional to sqrt(w).
  std::fill(count.begin(), count.end(), 0.0);
  for (int i = 0; i < n; ++i) ++count[sample_logits(logits.ref(), {.temperature = 2.0}, rng)];
  const double z = 1 + std::sqrt(3.0) + std::exp(-0.5) + std::sqrt(6.0);
  BOOST_TEST(count[3] / n == std::sqrt(6.0) / z, boost::test_tools::tolerance(0.03));
}

BOOST_AUTO_TEST_CASE(greedy_and_top_one_are_argmax) {
  const Tensor<float> logits = Tensor<float>::from({5}, {0.5f, 2.0f, -1.0f, 1.9f, 0.0f});
  Generator rng(1);
  for (int i = 0; i < 20; ++i) {
    BOOST_TEST(sample_logits(logits.ref(), {.temperature = 0.0}, rng) == 1);
    BOOST_TEST(sample_logits(logits.ref(), {.temperature = 5.0, .top_k = 1}, rng) == 1);
  }
}

BOOST_AUTO_TEST_CASE(greedy_generation_equals_rereading_the_prefix) {
  CharModel model = small_model(4);
  const std::vector<std::int64_t> prompt = {3, 1, 4, 1, 5};
  Generator rng(0);
  const std::vector<std::int64_t> out = generate(model, prompt, 12, {.temperature = 0.0}, rng);
  BOOST_REQUIRE_EQUAL(out.size(), 12u);
  // The reference: the whole text so far read from a zero state, every time.
  std::vector<std::int64_t> text = prompt;
  Tape<float> tape;
  for (std::size_t i = 0; i < out.size(); ++i) {
    tape.clear();
    const auto steps = static_cast<std::int64_t>(text.size());
    Var<float> logits = model.forward(tape, text, steps, 1);
    const std::int64_t next = argmax(select(logits, 0, steps - 1), 0).item();
    BOOST_TEST(out[i] == next);
    text.push_back(next);
  }
  BOOST_TEST(model.training());  // the mode is restored
}

BOOST_AUTO_TEST_CASE(sampled_generation_reproduces_from_a_seed) {
  CharModel model = small_model(5);
  const std::vector<std::int64_t> prompt = {2};
  Generator a(7), b(7), c(8);
  const SamplingOptions options{.temperature = 1.5, .top_k = 4};
  const std::vector<std::int64_t> x = generate(model, prompt, 40, options, a);
  BOOST_TEST(x == generate(model, prompt, 40, options, b), boost::test_tools::per_element());
  BOOST_TEST(x != generate(model, prompt, 40, options, c));
  BOOST_TEST(std::set<std::int64_t>(x.begin(), x.end()).size() > 1u);
  model.eval();
  generate(model, prompt, 1, options, a);
  BOOST_TEST(!model.training());
}

BOOST_AUTO_TEST_CASE(errors_name_the_function) {
  CharModel model = small_model(6);
  Generator rng(1);
  const std::vector<std::int64_t> none, outside = {0, 9};
  TAPELOOP_CHECK_THROW_MESSAGE(generate(model, none, 3, {}, rng), ValueError,
                               "generate: the prompt is empty");
  TAPELOOP_CHECK_THROW_MESSAGE(generate(model, outside, 3, {}, rng), ValueError,
                               "generate: prompt id 9 is outside the vocabulary [0,9)");
  TAPELOOP_CHECK_THROW_MESSAGE(generate(model, std::vector<std::int64_t>{1}, -1, {}, rng),
                               ValueError, "generate: length -1 is negative");
  TAPELOOP_CHECK_THROW_MESSAGE(
      generate(model, std::vector<std::int64_t>{1}, 3, {.temperature = -0.5}, rng), ValueError,
      "generate: temperature -0.500000 and top_k 0: expected temperature >= 0 and top_k >= 0");
  BOOST_TEST(model.training());
  const Tensor<float> logits = Tensor<float>::from({2}, {0.0f, 1.0f});
  TAPELOOP_CHECK_THROW_MESSAGE(sample_logits(logits.ref(), {.temperature = -1.0}, rng), ValueError,
                               "sample_logits: temperature -1.000000 must be >= 0");
  TAPELOOP_CHECK_THROW_MESSAGE(sample_logits(logits.ref(), {.top_k = -2}, rng), ValueError,
                               "sample_logits: top_k -2 must be >= 0");
  const Tensor<float> bad = Tensor<float>::from({2}, {0.0f, INFINITY});
  TAPELOOP_CHECK_THROW_MESSAGE(sample_logits(bad.ref(), {}, rng), ValueError,
                               "sample_logits: logit inf of token 1 is not finite");
  TAPELOOP_CHECK_THROW_MESSAGE(sample_logits(Tensor<float>::zeros({1, 2}).ref(), {}, rng),
                               ValueError, "sample_logits: logits [1,2]: expected [C], C >= 1");
}

BOOST_AUTO_TEST_SUITE_END()
