// multinomial: frequencies against the weights (a fixed-seed chi-square test), zero weights
// never drawn, draws without replacement distinct, seeds reproducible, bad weights refused.
#include "support/check.hpp"
#include "tapeloop/ops/sampling.hpp"

#include <limits>
#include <set>

using namespace tapeloop;

BOOST_AUTO_TEST_SUITE(test_sampling)

BOOST_AUTO_TEST_CASE(frequencies_follow_the_weights) {
  // Unnormalized weights, one of them zero. 60000 draws; Pearson's chi-square with 3 degrees
  // of freedom is below 16.27 with probability 0.999 (the seed is fixed, so this either always
  // passes or always fails; a wrong distribution gives values in the hundreds).
  const Tensor<double> w = Tensor<double>::from({5}, {1.0, 0.0, 2.0, 3.0, 4.0});
  Generator rng(11);
  const std::int64_t n = 60000;
  const Indices draws = multinomial(w.ref(), n, rng, true);
  BOOST_TEST(draws.shape == Shape({n}));
  std::vector<double> count(5, 0.0);
  for (std::int64_t c : draws) count[static_cast<std::size_t>(c)] += 1;
  BOOST_TEST(count[1] == 0.0);
  double chi2 = 0;
  for (int c : {0, 2, 3, 4}) {
    const double expected = n * w[c] / 10.0;
    chi2 += (count[c] - expected) * (count[c] - expected) / expected;
  }
  BOOST_TEST(chi2 < 16.27);
}

BOOST_AUTO_TEST_CASE(rows_are_independent_and_seeds_reproduce) {
  const Tensor<float> w = Tensor<float>::from({2, 3}, {0, 0, 1, 1, 0, 0});
  Generator a(3), b(3);
  const Indices x = multinomial(w.ref(), 4, a, true);
  BOOST_TEST(x.shape == Shape({2, 4}));
  BOOST_TEST(x.values == std::vector<std::int64_t>({2, 2, 2, 2, 0, 0, 0, 0}),
             boost::test_tools::per_element());
  const Tensor<float> soft = Tensor<float>::from({4}, {0.1f, 0.2f, 0.3f, 0.4f});
  const Indices first = multinomial(soft.ref(), 20, a, true);
  multinomial(w.ref(), 4, b, true);
  BOOST_TEST(multinomial(soft.ref(), 20, b, true).values == first.values,
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(without_replacement_draws_each_category_once) {
  const Tensor<double> w = Tensor<double>::from({6}, {5, 1, 0, 2, 1, 3});
  Generator rng(5);
  for (int trial = 0; trial < 50; ++trial) {
    const Indices d = multinomial(w.ref(), 5, rng);
    const std::set<std::int64_t> distinct(d.begin(), d.end());
    BOOST_TEST(distinct.size() == 5u);
    BOOST_TEST(distinct.count(2) == 0u);
  }
  BOOST_TEST(multinomial(w.ref(), 0, rng).numel() == 0);
}

BOOST_AUTO_TEST_CASE(bad_weights_are_refused_before_drawing) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Generator rng(1), untouched(1);
  TAPELOOP_CHECK_THROW_MESSAGE(
      multinomial(Tensor<double>::from({2, 2}, {1, 1, -1, 1}).ref(), 1, rng), ValueError,
      "multinomial: weight -1.000000 of category 0 in row 1 of [2,2]");
  TAPELOOP_CHECK_THROW_MESSAGE(multinomial(Tensor<double>::from({2}, {nan, 1}).ref(), 1, rng),
                               ValueError, "multinomial: weight nan of category 0 in [2]");
  TAPELOOP_CHECK_THROW_MESSAGE(multinomial(Tensor<double>::from({2}, {0, 0}).ref(), 1, rng),
                               ValueError, "multinomial: the weights in [2] sum to 0");
  TAPELOOP_CHECK_THROW_MESSAGE(multinomial(Tensor<double>::from({3}, {1, 0, 1}).ref(), 3, rng),
                               ValueError,
                               "multinomial: 3 samples without replacement in [3], which has only "
                               "2 non-zero weights");
  TAPELOOP_CHECK_THROW_MESSAGE(multinomial(Tensor<double>::from({3}, {1, 0, 1}).ref(), -1, rng),
                               ValueError, "num_samples = -1");
  TAPELOOP_CHECK_THROW_MESSAGE(multinomial(Tensor<double>::zeros({1, 1, 1}).ref(), 1, rng),
                               ShapeError, "multinomial: weights [1,1,1]: expected [C] or [N,C]");
  BOOST_TEST(rng.next_u64() == untouched.next_u64());
}

BOOST_AUTO_TEST_SUITE_END()
