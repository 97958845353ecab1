// Online handwriting (lecture 7e): the Hershey parser, strict about its format; words written as
// pen trajectories; the word lists' split; batches; and a small BLSTM-CTC reader that learns to
// read words it never saw.
#include <set>

#include "support/check.hpp"
#include "tapeloop/models/handwriting.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

// A font of 96 glyphs, all "12345  1JZ" (margins only) but for `lines` given by index.
std::string font_text(const std::vector<std::pair<int, std::string>>& lines = {}) {
  std::string text;
  for (int i = 0; i < 96; ++i) {
    std::string line = "12345  1JZ";
    for (const auto& [at, replacement] : lines) {
      if (at == i) line = replacement;
    }
    text += line + "\n";
  }
  return text;
}

const HersheyFont& cursive() {
  static const HersheyFont font = load_hershey(HandwritingConfig{}.font);
  return font;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_handwriting)

BOOST_AUTO_TEST_CASE(parses_glyphs_strokes_and_pen_lifts) {
  // 'A' (index 33): margins J,Z; a stroke of two points, a lift, a stroke of one point.
  const HersheyFont f = parse_hershey(font_text({{33, "  123  5JZRFRT RRY"}}), "test.jhf");
  const Glyph& a = f.glyph('A');
  BOOST_TEST(a.left == 'J' - 'R');
  BOOST_TEST(a.right == 'Z' - 'R');
  BOOST_REQUIRE(a.strokes.size() == 2u);
  BOOST_TEST(a.strokes[0].size() == 2u);
  BOOST_TEST(a.strokes[0][1].y == 'T' - 'R');
  BOOST_TEST(a.strokes[1][0].y == 'Y' - 'R');
  // A glyph too long for its 72-character line continues on the next.
  std::string wrapped = "  123 34JZ";
  for (int i = 0; i < 31; ++i) wrapped += "RF";
  BOOST_REQUIRE(wrapped.size() == 72u);
  const HersheyFont g = parse_hershey(font_text({{33, wrapped + "\nRTRY"}}), "t");
  BOOST_REQUIRE(g.glyph('A').strokes.size() == 1u);
  BOOST_TEST(g.glyph('A').strokes[0].size() == 33u);
  // The real fonts: 96 glyphs each, a's strokes joinable.
  BOOST_TEST(cursive().glyphs.size() == 96u);
  BOOST_TEST(!cursive().glyph('a').strokes.empty());
}

BOOST_AUTO_TEST_CASE(malformed_fonts_name_the_line) {
  TAPELOOP_CHECK_THROW_MESSAGE(parse_hershey(font_text({{3, "12345  3JZRF"}}), "f.jhf"),
                               FormatError,
                               "f.jhf: line 4: glyph 3 has 4 coordinate characters, "
                               "its count 3 says 6");
  TAPELOOP_CHECK_THROW_MESSAGE(parse_hershey(font_text({{5, "12345 x2JZRF"}}), "f.jhf"),
                               FormatError, "f.jhf: line 6: the count ' x2' is not a number");
  TAPELOOP_CHECK_THROW_MESSAGE(parse_hershey(font_text({{7, "12345  3JZ RRF"}}), "f.jhf"),
                               FormatError, "f.jhf: line 8: a pen lift where no stroke was drawn");
  TAPELOOP_CHECK_THROW_MESSAGE(parse_hershey(font_text({{9, "12345  2JZR\x7f"}}), "f.jhf"),
                               FormatError, "is outside the coordinate range");
  // Found by fuzzing: margins outside the range were taken as they were, an advance of up to
  // -210 font units for a byte such as 0x80.
  TAPELOOP_CHECK_THROW_MESSAGE(parse_hershey(font_text({{2, "12345  2J\x80RF"}}), "f.jhf"),
                               FormatError,
                               "f.jhf: line 3: the margins 'J\x80' are outside the coordinate "
                               "range");
  TAPELOOP_CHECK_THROW_MESSAGE(parse_hershey(font_text({{0, "12345  1\x01Z"}}), "f.jhf"),
                               FormatError, "the margins '\x01Z' are outside");
  TAPELOOP_CHECK_THROW_MESSAGE(parse_hershey(font_text({{0, "12"}}), "f.jhf"), FormatError,
                               "f.jhf: line 1: too short for a glyph header");
  TAPELOOP_CHECK_THROW_MESSAGE(parse_hershey("12345  1JZ\n", "f.jhf"), FormatError,
                               "f.jhf: 1 glyphs, not the 96 printable ASCII characters");
  BOOST_CHECK_THROW(load_hershey("/no/such/font.jhf"), IoError);
  TAPELOOP_CHECK_THROW_MESSAGE(cursive().glyph('\x01'), ValueError, "is not in the font");
}

BOOST_AUTO_TEST_CASE(a_written_word_is_a_resampled_pen_path) {
  HandStyle style;
  Generator a(1), b(1), c(2);
  const auto path = write_word(cursive(), "minimum", style, a);
  // About 11 points per letter; the i's dots are strokes of their own: the pen lifts for them.
  BOOST_TEST(path.size() > 6u * 7u);
  BOOST_TEST(path.size() < 16u * 7u);
  int lifts = 0;
  for (const PenPoint& p : path) lifts += p.pen_up;
  BOOST_TEST(lifts >= 3);  // the start and two i-dots at least
  BOOST_TEST(path[0].pen_up);
  // The same seed writes the same word the same way; another seed another way.
  const auto again = write_word(cursive(), "minimum", style, b);
  const auto other = write_word(cursive(), "minimum", style, c);
  BOOST_REQUIRE(again.size() == path.size());
  for (std::size_t i = 0; i < path.size(); ++i) BOOST_REQUIRE(again[i].dx == path[i].dx);
  BOOST_TEST((other.size() != path.size() || other[1].dx != path[1].dx));
}

BOOST_AUTO_TEST_CASE(held_out_words_are_never_trained_on) {
  const WordList w = load_words(HandwritingConfig{}.words, 3, 8);
  const std::set<std::string> train(w.train.begin(), w.train.end());
  for (const std::string& s : w.held_out) BOOST_REQUIRE(train.count(s) == 0);
  const double share = static_cast<double>(w.held_out.size()) /
                       static_cast<double>(w.held_out.size() + w.train.size());
  BOOST_TEST(share == 0.1, boost::test_tools::tolerance(0.1));
  BOOST_CHECK_THROW(load_words("/no/such/list", 3, 8), IoError);
}

BOOST_AUTO_TEST_CASE(batches_pack_frames_and_labels) {
  Generator rng(3);
  const std::vector<std::string> words = {"cab", "hello"};
  const HandwritingBatch b = make_handwriting_batch(cursive(), words, HandStyle{}, 3, rng);
  BOOST_TEST(b.inputs.shape()[1] == 2);
  BOOST_TEST(b.inputs.shape()[2] == 9);
  BOOST_TEST(b.targets == (std::vector<std::int64_t>{3, 1, 2, 8, 5, 12, 12, 15}));
  BOOST_TEST(b.target_lengths == (std::vector<std::int64_t>{3, 5}));
  BOOST_TEST(b.input_lengths[1] == b.inputs.shape()[0]);  // the longer word fills the frames
  BOOST_TEST(labels_to_word(std::vector<std::int64_t>{8, 9}) == "hi");
}

// A small reader (one bidirectional layer of 32) on short words, a fixed budget of steps.
BOOST_AUTO_TEST_CASE(a_small_blstm_ctc_reader_learns_to_read_unseen_words) {
  HandwritingConfig c;
  c.hidden = 32;
  c.layers = 1;
  c.max_letters = 5;
  c.steps = 2500;
  const HandwritingProgress p = train_handwriting(c, c.steps, [](const HandwritingProgress&) {});
  BOOST_TEST_MESSAGE("after " << p.step << " steps (" << p.seconds << " s): training CER "
                              << p.train_cer << ", held-out CER " << p.held_out_cer);
  BOOST_TEST(p.held_out_cer <= 0.25);
}

BOOST_AUTO_TEST_SUITE_END()
