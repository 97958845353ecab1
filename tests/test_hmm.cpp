// The HMM (lecture 7a): its forward algorithm as a scan cell against the sum over every state
// path, a distribution over sequences, and trained by gradient next to an RNN of as many units.
#include <cmath>

#include "support/check.hpp"
#include "tapeloop/models/hmm.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

// p(x) by enumerating every state path of a 1-sequence input.
double brute_force(const Hmm& h, const std::vector<std::int64_t>& x) {
  const std::int64_t K = h.states(), V = h.symbols(), T = static_cast<std::int64_t>(x.size());
  auto probs = [](const double* logits, std::int64_t n, std::int64_t i) {
    double z = 0;
    for (std::int64_t j = 0; j < n; ++j) z += std::exp(logits[j]);
    return std::exp(logits[i]) / z;
  };
  double total = 0;
  std::vector<std::int64_t> path(static_cast<std::size_t>(T), 0);
  for (;;) {
    double p = probs(h.initial.value().data(), K, path[0]);
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t s = path[static_cast<std::size_t>(t)];
      if (t > 0)
        p *= probs(h.transition.value().data() + path[static_cast<std::size_t>(t - 1)] * K, K, s);
      p *= probs(h.emission.value().data() + s * V, V, x[static_cast<std::size_t>(t)]);
    }
    total += p;
    std::int64_t t = 0;
    while (t < T && ++path[static_cast<std::size_t>(t)] == K)
      path[static_cast<std::size_t>(t++)] = 0;
    if (t == T) break;
  }
  return total;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_hmm)

BOOST_AUTO_TEST_CASE(the_forward_algorithm_sums_every_state_path) {
  Generator rng(1);
  Hmm h(3, 4, rng, 1.0);
  for (const std::vector<std::int64_t>& x :
       std::vector<std::vector<std::int64_t>>{{2}, {0, 3}, {1, 1, 2, 0}, {3, 2, 1, 0, 1}}) {
    Tape<double> tape;
    const Var<double> ll = h.log_likelihood(
        tape, tape.constant(one_hot(x, static_cast<std::int64_t>(x.size()), 1, 4).ref()));
    BOOST_TEST(ll.item() == std::log(brute_force(h, x)), boost::test_tools::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(probabilities_of_all_sequences_add_up_to_one) {
  Generator rng(2);
  Hmm h(2, 3, rng, 1.5);
  // All 27 sequences of length 3 as one batch.
  std::vector<std::int64_t> symbols(27 * 3);
  for (std::int64_t n = 0; n < 27; ++n) {
    for (std::int64_t t = 0, v = n; t < 3; ++t, v /= 3)
      symbols[static_cast<std::size_t>(t * 27 + n)] = v % 3;
  }
  Tape<double> tape;
  const Var<double> ll = h.log_likelihood(tape, tape.constant(one_hot(symbols, 3, 27, 3).ref()));
  double total = 0;
  for (std::int64_t n = 0; n < 27; ++n) total += std::exp(ll.value().data[n]);
  BOOST_TEST(total == 1.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(an_hmm_and_an_rnn_both_learn_the_sequences) {
  const HmmVersusRnnResult r = hmm_versus_rnn(HmmVersusRnnConfig{}, [](int, double, double) {});
  BOOST_TEST_MESSAGE("nats per symbol: true model " << r.true_model << ", trained HMM " << r.hmm
                                                    << ", RNN " << r.rnn << ", unigram "
                                                    << r.unigram);
  // Both close to the model that made the data, and both use memory: clearly better than the
  // symbol frequencies alone.
  BOOST_TEST(r.hmm - r.true_model < 0.03);
  BOOST_TEST(r.rnn - r.true_model < 0.03);
  BOOST_TEST(r.unigram - r.hmm > 0.05);
  BOOST_TEST(r.unigram - r.rnn > 0.05);
}

BOOST_AUTO_TEST_SUITE_END()
