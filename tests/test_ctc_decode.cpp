// CTC decoding: best path on a hand-made example, prefix beam search against the most probable
// labelling found by enumerating every alignment, the edit distance, and errors.
#include <cmath>
#include <map>

#include "support/check.hpp"
#include "tapeloop/models/ctc_decode.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::testing::random_tensor;

namespace {

// Every labelling's probability, summing all C^T alignments of sequence 0 of lp [T, 1, C].
std::map<std::vector<std::int64_t>, double> labelling_probs(const Tensor<double>& lp,
                                                            std::int64_t blank) {
  const std::int64_t T = lp.shape()[0], C = lp.shape()[2];
  std::map<std::vector<std::int64_t>, double> probs;
  std::vector<std::int64_t> path(static_cast<std::size_t>(T), 0);
  for (;;) {
    std::vector<std::int64_t> collapsed;
    double log_path = 0;
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t k = path[static_cast<std::size_t>(t)];
      log_path += lp[t * C + k];
      if (k != blank && (t == 0 || path[static_cast<std::size_t>(t - 1)] != k)) {
        collapsed.push_back(k);
      }
    }
    probs[collapsed] += std::exp(log_path);
    std::int64_t t = 0;
    while (t < T && ++path[static_cast<std::size_t>(t)] == C)
      path[static_cast<std::size_t>(t++)] = 0;
    if (t == T) break;
  }
  return probs;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_ctc_decode)

BOOST_AUTO_TEST_CASE(greedy_collapses_the_best_path) {
  // Frames favour 1, 1, blank, 1, 2, 2: the labelling is 1 1 2 (the blank separates the 1s).
  const std::int64_t best[] = {1, 1, 0, 1, 2, 2};
  Tensor<double> lp = Tensor<double>::full({6, 1, 3}, std::log(0.1));
  for (std::int64_t t = 0; t < 6; ++t) lp[t * 3 + best[t]] = std::log(0.8);
  const std::int64_t len[] = {6};
  const auto h = ctc_greedy_decode<double>(lp.ref(), len);
  BOOST_TEST(h[0].labels == (std::vector<std::int64_t>{1, 1, 2}));
  BOOST_TEST(h[0].log_prob == 6 * std::log(0.8), boost::test_tools::tolerance(1e-12));
  // Only the first frames of a shorter sequence count.
  const std::int64_t three[] = {3};
  BOOST_TEST(ctc_greedy_decode<double>(lp.ref(), three)[0].labels ==
             (std::vector<std::int64_t>{1}));
}

BOOST_AUTO_TEST_CASE(a_wide_beam_finds_the_most_probable_labelling) {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    const std::int64_t T = 3 + static_cast<std::int64_t>(seed % 3), C = 3;
    Tensor<double> lp = random_tensor({T, 1, C}, seed);
    for (std::int64_t t = 0; t < T; ++t) {  // normalize each frame
      double z = 0;
      for (std::int64_t k = 0; k < C; ++k) z += std::exp(2 * lp[t * C + k]);
      for (std::int64_t k = 0; k < C; ++k) lp[t * C + k] = 2 * lp[t * C + k] - std::log(z);
    }
    const std::int64_t blank = static_cast<std::int64_t>(seed % 2) * 2;  // 0 or 2
    const auto probs = labelling_probs(lp, blank);
    auto best = probs.begin();
    for (auto it = probs.begin(); it != probs.end(); ++it) {
      if (it->second > best->second) best = it;
    }
    const std::int64_t len[] = {T};
    const auto h = ctc_beam_search<double>(lp.ref(), len, 1000, blank);
    BOOST_TEST_CONTEXT("seed " << seed) {
      BOOST_TEST(h[0].labels == best->first);
      BOOST_TEST(h[0].log_prob == std::log(best->second), boost::test_tools::tolerance(1e-12));
      // A narrow beam's labelling is still scored by the sum over its alignments it kept.
      const auto narrow = ctc_beam_search<double>(lp.ref(), len, 2, blank);
      BOOST_TEST(narrow[0].log_prob <= std::log(probs.at(narrow[0].labels)) + 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(edit_distance_counts_the_fewest_edits) {
  auto d = [](std::vector<std::int64_t> a, std::vector<std::int64_t> b) {
    return edit_distance(a, b);
  };
  // kitten -> sitting: k->s, e->i, +g.
  BOOST_TEST(d({10, 8, 19, 19, 4, 13}, {18, 8, 19, 19, 8, 13, 6}) == 3);
  BOOST_TEST(d({}, {1, 2, 3}) == 3);
  BOOST_TEST(d({1, 2, 3}, {}) == 3);
  BOOST_TEST(d({1, 2, 3}, {1, 2, 3}) == 0);
  BOOST_TEST(d({1, 2, 3}, {3, 2, 1}) == 2);
}

BOOST_AUTO_TEST_CASE(errors_name_the_decoder) {
  const Tensor<float> lp = Tensor<float>::zeros({4, 2, 3});
  const std::int64_t len[] = {4, 4};
  const std::int64_t one[] = {4};
  const std::int64_t long_len[] = {4, 5};
  TAPELOOP_CHECK_THROW_MESSAGE(ctc_beam_search<float>(lp.ref(), len, 0), ValueError,
                               "ctc_beam_search: beam width 0 is not positive");
  TAPELOOP_CHECK_THROW_MESSAGE(ctc_greedy_decode<float>(lp.ref(), one), ShapeError,
                               "ctc_greedy_decode: 1 lengths for a batch of 2");
  TAPELOOP_CHECK_THROW_MESSAGE(ctc_greedy_decode<float>(lp.ref(), long_len), ValueError,
                               "ctc_greedy_decode: length 5 of sequence 1 is outside [0, 4]");
  TAPELOOP_CHECK_THROW_MESSAGE(ctc_greedy_decode<float>(lp.ref(), len, 3), ValueError,
                               "ctc_greedy_decode: blank 3 is not a class of [4,2,3]");
  const Tensor<float> flat = Tensor<float>::zeros({4, 3});
  TAPELOOP_CHECK_THROW_MESSAGE(ctc_greedy_decode<float>(flat.ref(), len), ShapeError,
                               "ctc_greedy_decode: log_probs [4,3]: expected [T, B, C]");
}

BOOST_AUTO_TEST_SUITE_END()
