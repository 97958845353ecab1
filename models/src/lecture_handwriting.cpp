// Demo 7e: a bidirectional LSTM trained with CTC reads cursive words written in Hershey script
// fonts by a random hand, and is measured on words it never saw.
#include <string>

#include "tapeloop/models/ctc_decode.hpp"
#include "tapeloop/models/handwriting.hpp"
#include "tapeloop/models/lecture.hpp"
#include "tapeloop/models/progress.hpp"

namespace tapeloop::models {

void handwriting_demo(Report& report, const DemoOptions& options) {
  HandwritingConfig c;
  c.steps = 1000000;  // the time budget decides
  c.max_seconds = options.full ? 300 : 120;
  const double target = options.full ? 0.01 : 0.05;
  report.section("7e: reading cursive handwriting",
                 "Words of 3 to 8 letters from Debian's word list, written with the Hershey "
                 "cursive font by a random hand (slant, size, a wobbling baseline, pen speed, "
                 "jitter) as pen trajectories (dx, dy, pen up), 3 points to a frame. A "
                 "bidirectional LSTM (2 layers of 64) reads the frames and a CTC loss trains it "
                 "to output the letters; one word in ten is held out of training altogether. " +
                     std::to_string(static_cast<int>(c.max_seconds)) +
                     " s of training on this "
                     "machine.");
  Series train{"training words", {}, {}, {}}, held{"held-out words", {}, {}, {}};
  Progress progress("handwriting (CTC)", static_cast<std::int64_t>(c.max_seconds), "s",
                    "held-out CER");
  std::unique_ptr<HandwritingReader> reader;
  const HandwritingProgress last = train_handwriting(
      c, 250,
      [&](const HandwritingProgress& p) {
        progress.update(static_cast<std::int64_t>(p.seconds), p.held_out_cer);
        train.x.push_back(p.seconds);
        train.y.push_back(p.train_cer);
        held.x.push_back(p.seconds);
        held.y.push_back(p.held_out_cer);
      },
      &reader);
  progress.finish();
  Plot plot("Character error rate while training", "training seconds", "CER (greedy decoding)",
            {train, held});
  plot.log_y = true;
  report.plot("handwriting_cer", plot);
  report.table(
      {"steps", "seconds", "training CER", "held-out CER"},
      {{std::to_string(last.step), format_number(last.seconds),
        format_number(100 * last.train_cer) + "%", format_number(100 * last.held_out_cer) + "%"}});
  report.claim("held-out character error rate " + format_number(100 * last.held_out_cer) +
                   "% after " + format_number(last.seconds) +
                   " s of training (target: " + format_number(100 * target) + "%)",
               last.held_out_cer <= target);

  // A few held-out words, decoded greedily and by beam search, and one written out.
  const HersheyFont font = load_hershey(c.font);
  const WordList words = load_words(c.words, c.min_letters, c.max_letters);
  Generator rng(77);
  std::vector<std::string> sample(words.held_out.begin(), words.held_out.begin() + 8);
  const HandwritingBatch batch =
      make_handwriting_batch(font, sample, c.style, c.points_per_frame, rng);
  Tape<float> tape;
  auto no_grad = tape.no_grad();
  const Var<float> lp =
      reader->forward(tape, tape.constant(batch.inputs.ref()), batch.input_lengths);
  const auto greedy = ctc_greedy_decode<float>(lp.value(), batch.input_lengths);
  const auto beam = ctc_beam_search<float>(lp.value(), batch.input_lengths, 8);
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < sample.size(); ++i) {
    rows.push_back({sample[i], labels_to_word(greedy[i].labels), labels_to_word(beam[i].labels)});
  }
  report.table({"held-out word", "greedy", "beam search (8)"}, rows);
  Generator pen_rng(5);
  const std::vector<PenPoint> path = write_word(font, sample[0], c.style, pen_rng);
  Plot pen("The pen trajectory of '" + sample[0] + "'", "x (letter heights)", "y", {});
  double x = 0, y = 0;
  for (const PenPoint& p : path) {
    x += p.dx;
    y += p.dy;
    if (p.pen_up || pen.series.empty()) pen.series.push_back({"", {}, {}, {}});
    pen.series.back().x.push_back(x);
    pen.series.back().y.push_back(-y);  // font y points down
  }
  pen.series.front().label = "pen down";
  report.plot("handwriting_pen", pen);
}

}  // namespace tapeloop::models
