// Learning test: a 2-layer LSTM character model trained on a real English text (the GPL-3
// licence from Debian's base-files) predicts held-out text far better than character
// frequencies alone.
#include "support/check.hpp"
#include "tapeloop/models/char_model.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

BOOST_AUTO_TEST_SUITE(test_char_model)

BOOST_AUTO_TEST_CASE(corpus_and_batches) {
  const CharCorpus c = CharCorpus::from_text("abracadabra");
  BOOST_TEST(c.alphabet == "abcdr");
  BOOST_TEST(c.ids.size() == 11u);
  BOOST_TEST(c.ids[1] == 1);  // 'b'
  // a:5 b:2 r:2 c:1 d:1 of 11
  const double h = -(5 * std::log(5 / 11.0) + 4 * std::log(2 / 11.0) + 2 * std::log(1 / 11.0)) / 11;
  BOOST_TEST(c.unigram_entropy(0, 11) == h, boost::test_tools::tolerance(1e-12));
  Generator rng(1);
  std::int64_t in[6], out[6];
  c.sample(rng, 0, 11, 3, 2, in, out);
  for (int t = 0; t + 1 < 3; ++t) {
    for (int b = 0; b < 2; ++b) BOOST_TEST(out[t * 2 + b] == in[(t + 1) * 2 + b]);
  }
}

BOOST_AUTO_TEST_CASE(a_text_too_short_for_its_windows_is_refused) {
  // A text of steps + 1 bytes made sample() draw below(0), a division by zero; a shorter one
  // made it read far outside the ids.
  const CharCorpus c = CharCorpus::from_text("abcd");
  Generator rng(1);
  std::int64_t in[8], out[8];
  TAPELOOP_CHECK_THROW_MESSAGE(c.sample(rng, 0, 4, 3, 2, in, out), ValueError,
                               "CharCorpus::sample: ids [0, 4) holds 4 ids, too few for windows "
                               "of 3 steps (at least steps + 2)");
  TAPELOOP_CHECK_THROW_MESSAGE(c.sample(rng, 0, 4, 8, 1, in, out), ValueError, "too few");
  TAPELOOP_CHECK_THROW_MESSAGE(c.sample(rng, 2, 9, 1, 1, in, out), ValueError,
                               "ids [2, 9) is not a range of the corpus's 4 ids");
  TAPELOOP_CHECK_THROW_MESSAGE(c.sample(rng, 0, 4, 1, 9, in, out), ValueError,
                               "[1,9] windows do not fit inputs of 8 and targets of 8 ids");
  TAPELOOP_CHECK_THROW_MESSAGE(c.sample(rng, 0, 4, 0, 1, in, out), ValueError,
                               "steps and batch must be at least 1, not 0 and 1");
  c.sample(rng, 0, 4, 2, 4, in, out);  // [0, 4) holds steps + 2 ids: one start, 0
  BOOST_TEST(in[0] == 0);
  BOOST_TEST(out[4] == 2);
  TAPELOOP_CHECK_THROW_MESSAGE(c.unigram_entropy(3, 5), ValueError,
                               "CharCorpus::unigram_entropy: ids [3, 5) is not a range");
  BOOST_TEST(c.unigram_entropy(2, 2) == 0.0);
}

BOOST_AUTO_TEST_CASE(lstm_learns_english_text) {
  const CharCorpus corpus = CharCorpus::from_file("/usr/share/common-licenses/GPL-3");
  const std::size_t split = corpus.ids.size() * 9 / 10;  // last 10% held out
  const double unigram = corpus.unigram_entropy(split, corpus.ids.size());
  const std::int64_t steps = 32, batch = 32;
  Generator rng(5);
  CharModel model({.vocabulary = corpus.vocabulary(), .embedding = 24, .hidden = 96, .layers = 2},
                  rng);
  std::vector<Parameter<float>*> params = model.parameters();
  Adam<float> optimizer(params, {.lr = 0.005});
  std::vector<std::int64_t> inputs(steps * batch), targets(steps * batch);
  Tape<float> tape;
  for (int step = 0; step < 400; ++step) {
    corpus.sample(rng, 0, split, steps, batch, inputs, targets);
    tape.clear();
    optimizer.zero_grad();
    Var<float> loss = cross_entropy(model.forward(tape, inputs, steps, batch), targets);
    tape.backward(loss);
    clip_grad_norm(params, 1.0);
    optimizer.step();
    if (step % 100 == 0) BOOST_TEST_MESSAGE("step " << step << " loss " << loss.item());
  }
  // Held-out loss, in nats per character, against the unigram entropy of the same text.
  double held_out = 0;
  const int batches = 8;
  for (int i = 0; i < batches; ++i) {
    corpus.sample(rng, split, corpus.ids.size(), steps, batch, inputs, targets);
    tape.clear();
    auto no_grad = tape.no_grad();
    held_out += cross_entropy(model.forward(tape, inputs, steps, batch), targets).item() / batches;
  }
  BOOST_TEST_MESSAGE("held-out loss " << held_out << " nats/char; unigram entropy " << unigram);
  BOOST_TEST(unigram > 2.8);  // this text, with case and punctuation: 3.36 nats (4.85 bits)
  BOOST_TEST(held_out < 0.7 * unigram);
}

BOOST_AUTO_TEST_SUITE_END()
