// Vocabulary, TokenCorpus (characters and words) and the truncated-BPTT streams, against
// hand-computed ids and windows.
#include <fstream>

#include "support/check.hpp"
#include "support/doc_blocks.hpp"
#include "support/files.hpp"
#include "tapeloop/models.hpp"
#include "tapeloop/models/char_model.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

using Ids = std::vector<std::int64_t>;

BOOST_AUTO_TEST_SUITE(test_corpus)

BOOST_AUTO_TEST_CASE(vocabulary_round_trip) {
  Vocabulary v({"<pad>", "<unk>"}, "<unk>");
  BOOST_TEST(v.size() == 2);
  BOOST_TEST(v.specials() == 2);
  BOOST_TEST(v.unknown_id() == 1);
  BOOST_TEST(v.add("cat") == 2);
  BOOST_TEST(v.add("dog") == 3);
  BOOST_TEST(v.add("cat") == 2);
  BOOST_TEST(v.size() == 4);
  BOOST_TEST(v.contains("dog"));
  BOOST_TEST(!v.contains("bird"));
  BOOST_TEST(v.id("<pad>") == 0);
  BOOST_TEST(v.id("bird") == 1);
  BOOST_TEST(v.token(3) == "dog");
  const std::vector<std::string> words{"dog", "bird", "cat", "<pad>"};
  const Ids ids = v.encode(words);
  BOOST_TEST(ids == (Ids{3, 1, 2, 0}));
  BOOST_TEST(v.decode(ids) == (std::vector<std::string>{"dog", "<unk>", "cat", "<pad>"}));
  TAPELOOP_CHECK_THROW_MESSAGE(v.token(4), ValueError, "Vocabulary::token: id 4 is outside [0, 4)");
  TAPELOOP_CHECK_THROW_MESSAGE(v.token(-1), ValueError, "id -1 is outside [0, 4)");
}

BOOST_AUTO_TEST_CASE(vocabulary_errors) {
  Vocabulary plain;
  plain.add("a");
  TAPELOOP_CHECK_THROW_MESSAGE(plain.id("zebra"), ValueError,
                               "Vocabulary::id: token 'zebra' is not in the vocabulary of 1 "
                               "tokens, which has no unknown token");
  TAPELOOP_CHECK_THROW_MESSAGE(Vocabulary({"<pad>", "<pad>"}), ValueError,
                               "special token '<pad>' is given twice");
  TAPELOOP_CHECK_THROW_MESSAGE(Vocabulary({"<pad>"}, "<unk>"), ValueError,
                               "the unknown token '<unk>' is not one of the 1 special tokens");
}

BOOST_AUTO_TEST_CASE(characters_match_char_corpus) {
  const std::string text = "abracadabra \xc3\xa9!";  // é is two bytes, two tokens
  const TokenCorpus c = TokenCorpus::from_text(text);
  const CharCorpus old = CharCorpus::from_text(text);
  BOOST_TEST(c.ids == old.ids);
  BOOST_TEST(c.vocabulary().size() == old.vocabulary());
  for (std::int64_t i = 0; i < c.vocabulary().size(); ++i) {
    BOOST_TEST(c.vocabulary().token(i) ==
               std::string(1, old.alphabet[static_cast<std::size_t>(i)]));
  }
  BOOST_TEST(c.decode(c.ids) == text);
  BOOST_TEST((c.tokenization() == Tokenization::characters));

  const TokenCorpus s =
      TokenCorpus::from_text("abba", {.specials = {"<pad>", "<unk>"}, .unknown = "<unk>"});
  BOOST_TEST(s.ids == (Ids{2, 3, 3, 2}));
  BOOST_TEST(s.encode("cab") == (Ids{1, 2, 3}));  // 'c' is unknown
  BOOST_TEST(s.decode(Ids{0, 2}) == "<pad>a");
}

BOOST_AUTO_TEST_CASE(words) {
  const CorpusOptions options{.tokenization = Tokenization::words};
  const TokenCorpus c = TokenCorpus::from_text("the cat sat\ton the  mat\n the end\n", options);
  // Byte order: cat end mat on sat the.
  BOOST_TEST(c.vocabulary().tokens() ==
             (std::vector<std::string>{"cat", "end", "mat", "on", "sat", "the"}));
  BOOST_TEST(c.ids == (Ids{5, 0, 4, 3, 5, 2, 5, 1}));
  BOOST_TEST(c.decode(c.ids) == "the cat sat on the mat the end");
  BOOST_TEST(tokenize("  a bb\n\nccc ", Tokenization::words) ==
             (std::vector<std::string>{"a", "bb", "ccc"}));
  BOOST_TEST(tokenize("ab", Tokenization::characters) == (std::vector<std::string>{"a", "b"}));
  TAPELOOP_CHECK_THROW_MESSAGE(c.encode("the dog"), ValueError, "token 'dog'");

  // Rare words become <unk>; a special in the text is that special.
  const TokenCorpus r =
      TokenCorpus::from_text("the cat <unk> the mat the end", {.tokenization = Tokenization::words,
                                                               .specials = {"<unk>"},
                                                               .unknown = "<unk>",
                                                               .min_count = 2});
  BOOST_TEST(r.vocabulary().tokens() == (std::vector<std::string>{"<unk>", "the"}));
  BOOST_TEST(r.ids == (Ids{1, 0, 0, 1, 0, 1, 0}));
  TAPELOOP_CHECK_THROW_MESSAGE(TokenCorpus::from_text("a a b", {.min_count = 2}), ValueError,
                               "min_count 2 leaves tokens out, which needs an unknown token");

  // A validation text encoded with the training text's vocabulary.
  const TokenCorpus valid =
      TokenCorpus::from_text("the dog the", r.vocabulary(), Tokenization::words);
  BOOST_TEST(valid.ids == (Ids{1, 0, 1}));
}

BOOST_AUTO_TEST_CASE(files) {
  tapeloop::testing::TempDir dir("corpus");
  const std::string path = (dir / "text.txt").string();
  std::ofstream(path) << "to be or not to be";
  const TokenCorpus c = TokenCorpus::from_file(path, {.tokenization = Tokenization::words});
  BOOST_TEST(c.ids == (Ids{3, 0, 2, 1, 3, 0}));  // be not or to
  const std::string missing = (dir / "missing.txt").string();
  TAPELOOP_CHECK_THROW_MESSAGE(TokenCorpus::from_file(missing), IoError,
                               "TokenCorpus: cannot read " + missing);
}

BOOST_AUTO_TEST_CASE(split) {
  const TokenCorpus c = TokenCorpus::from_text("abcdefghij");
  const auto [train, valid] = c.split(0.8);
  BOOST_TEST(train.ids == (Ids{0, 1, 2, 3, 4, 5, 6, 7}));
  BOOST_TEST(valid.ids == (Ids{8, 9}));
  BOOST_TEST(valid.vocabulary().size() == 10);
  BOOST_TEST(valid.decode(valid.ids) == "ij");
  BOOST_TEST(c.split(0.0).first.size() == 0);
  BOOST_TEST(c.split(1.0).second.size() == 0);
  TAPELOOP_CHECK_THROW_MESSAGE(c.split(1.5), ValueError,
                               "TokenCorpus::split: fraction 1.500000 is outside [0, 1]");
}

BOOST_AUTO_TEST_CASE(batchify_windows_by_hand) {
  // 26 ids 0..25, 4 streams of 6 (ids 24 and 25 are trimmed):
  //   stream 0: 0 1 2 3 4 5    stream 1: 6 7 8 9 10 11
  //   stream 2: 12 ... 17      stream 3: 18 ... 23
  // Windows of 2 steps start at times 0, 2, 4; the last has 1 step (its target is time 5).
  const TokenCorpus c = TokenCorpus::from_text("abcdefghijklmnopqrstuvwxyz");
  const StreamBatches s = c.batchify(4, 2);
  BOOST_TEST(s.length() == 6);
  BOOST_TEST(s.windows() == 3);
  BOOST_TEST(s.full_windows() == 2);
  BOOST_TEST(s.window_steps(0) == 2);
  BOOST_TEST(s.window_steps(2) == 1);
  auto [in0, out0] = s.window(0);
  BOOST_TEST(in0 == (Ids{0, 6, 12, 18, 1, 7, 13, 19}));
  BOOST_TEST(out0 == (Ids{1, 7, 13, 19, 2, 8, 14, 20}));
  auto [in1, out1] = s.window(1);
  BOOST_TEST(in1 == (Ids{2, 8, 14, 20, 3, 9, 15, 21}));
  BOOST_TEST(out1 == (Ids{3, 9, 15, 21, 4, 10, 16, 22}));
  Ids in(8, -1), out(8, -1);
  BOOST_TEST(s.window(2, in, out) == 1);
  BOOST_TEST(in == (Ids{4, 10, 16, 22, -1, -1, -1, -1}));
  BOOST_TEST(out == (Ids{5, 11, 17, 23, -1, -1, -1, -1}));

  // 5 per stream, windows of 2: times 0-1, 2-3 (targets up to time 4), none left.
  const StreamBatches even(Ids{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 2, 2);
  BOOST_TEST(even.windows() == 2);
  BOOST_TEST(even.full_windows() == 2);
  BOOST_TEST(even.window(1).second == (Ids{3, 8, 4, 9}));

  TAPELOOP_CHECK_THROW_MESSAGE(s.window(3), ValueError,
                               "StreamBatches: window 3 is outside [0, 3)");
  Ids small(7);
  TAPELOOP_CHECK_THROW_MESSAGE(s.window(0, small, out), ValueError,
                               "window 0 needs 8 ids ([2,4]); inputs hold 7 and targets 8");
  TAPELOOP_CHECK_THROW_MESSAGE(c.batchify(0, 2), ValueError,
                               "StreamBatches: batch and steps must be at least 1, not 0 and 2");
  TAPELOOP_CHECK_THROW_MESSAGE(c.batchify(14, 2), ValueError,
                               "StreamBatches: 26 ids make 14 streams of 1 ids");
}

BOOST_AUTO_TEST_CASE(documented_example) {
  tapeloop::testing::TempDir dir("corpus-doc");
  const std::string path = (dir / "input.txt").string();
  std::ofstream(path) << "the quick brown fox jumps over the lazy dog and the cat";
  std::int64_t trained_steps = 0;
  // ---- training block: corpus ----
  TokenCorpus corpus = TokenCorpus::from_file(
      path, {.tokenization = Tokenization::words, .specials = {"<unk>"}, .unknown = "<unk>"});
  auto [train, valid] = corpus.split(0.75);
  StreamBatches streams = train.batchify(/*batch=*/2, /*steps=*/2);
  for (std::int64_t w = 0; w < streams.windows(); ++w) {
    auto [inputs, targets] = streams.window(w);  // [steps, batch] time-major
    trained_steps += streams.window_steps(w);    // the model's forward and backward go here
  }
  // ---- end of training block ----
  BOOST_TEST(corpus.size() == 12);
  BOOST_TEST(train.size() == 9);
  BOOST_TEST(valid.decode(valid.ids) == "and the cat");
  BOOST_TEST(trained_steps == 3);  // streams of 4: windows of 2 and 1 steps
  BOOST_TEST(tapeloop::testing::check_doc_blocks(__FILE__, "training.md", "training") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
