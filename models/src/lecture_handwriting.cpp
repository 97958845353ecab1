// Demo 7e: a bidirectional LSTM trained with CTC reads cursive words written in Hershey script
// fonts by a random hand, and is measured on words it never saw.
#include <algorithm>
#include <cmath>
#include <string>

#include "tapeloop/models/ctc_decode.hpp"
#include "tapeloop/models/handwriting.hpp"
#include "tapeloop/models/lecture.hpp"
#include "tapeloop/models/metrics_log.hpp"
#include "tapeloop/models/progress.hpp"

namespace tapeloop::models {

void handwriting_anatomy(Report& report, HandwritingReader& reader, const HersheyFont& font,
                         const std::string& word, const HandwritingConfig& c);

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
  // A line at each report, every 250 steps and at the last (the time limit's): a few dozen.
  MetricsLog metrics((report.dir() / "handwriting_metrics.jsonl").string(),
                     {.format = MetricsFormat::jsonl});
  std::unique_ptr<HandwritingReader> reader;
  const HandwritingProgress last = train_handwriting(
      c, 250,
      [&](const HandwritingProgress& p) {
        progress.update(static_cast<std::int64_t>(p.seconds), p.held_out_cer);
        metrics.log(p.step, {{"seconds", p.seconds},
                             {"loss", p.loss},
                             {"train_cer", p.train_cer},
                             {"held_out_cer", p.held_out_cer}});
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
  handwriting_anatomy(report, *reader, font, sample[0], c);
}

// Lecture 7e-06 for one held-out word, four rows: when each character is emitted, a few hidden
// units over time, the pen trajectory, and how the most confident output depends on the pen's
// moves (its gradient with respect to the dx and dy inputs).
void handwriting_anatomy(Report& report, HandwritingReader& reader, const HersheyFont& font,
                         const std::string& word, const HandwritingConfig& c) {
  Generator rng(5);
  const std::vector<std::string> one{word};
  const HandwritingBatch batch =
      make_handwriting_batch(font, one, c.style, c.points_per_frame, rng);
  Tape<float> tape;
  const Var<float> x = tape.input(batch.inputs.ref(), true);
  Var<float> hidden;
  const Var<float> lp = reader.forward(tape, x, batch.input_lengths, &hidden);
  const std::int64_t T = lp.dim(0), C = lp.dim(2), H2 = hidden.dim(2);
  const float* p = lp.value().data;
  report.paragraph("The anatomy of reading '" + word +
                   "' (lecture 7e-06), a held-out word, frame by frame:");
  // Row 1: the probability of each character the greedy path emits.
  const auto greedy = ctc_greedy_decode<float>(lp.value(), batch.input_lengths);
  Plot emissions("1. When each character is emitted", "frame", "probability", {});
  for (std::int64_t label : greedy[0].labels) {
    Series s{std::string(1, static_cast<char>('a' + label - 1)), {}, {}, {}};
    for (std::int64_t t = 0; t < T; ++t) {
      s.x.push_back(static_cast<double>(t));
      s.y.push_back(std::exp(p[t * C + label]));
    }
    emissions.series.push_back(s);
  }
  report.plot("handwriting_1_emissions", emissions);
  // Row 2: the four hidden units of the top layer that vary most.
  std::vector<std::pair<double, std::int64_t>> spread;
  const float* h = hidden.value().data;
  for (std::int64_t j = 0; j < H2; ++j) {
    double lo = 1e9, hi = -1e9;
    for (std::int64_t t = 0; t < T; ++t) {
      lo = std::min(lo, static_cast<double>(h[t * H2 + j]));
      hi = std::max(hi, static_cast<double>(h[t * H2 + j]));
    }
    spread.push_back({hi - lo, j});
  }
  std::sort(spread.rbegin(), spread.rend());
  Plot units("2. Four hidden units of the top layer", "frame", "activation", {});
  for (int k = 0; k < 4 && k < static_cast<int>(spread.size()); ++k) {
    Series s{"unit " + std::to_string(spread[static_cast<std::size_t>(k)].second), {}, {}, {}};
    for (std::int64_t t = 0; t < T; ++t) {
      s.x.push_back(static_cast<double>(t));
      s.y.push_back(h[t * H2 + spread[static_cast<std::size_t>(k)].second]);
    }
    units.series.push_back(s);
  }
  report.plot("handwriting_2_hidden", units);
  // Row 3: the pen trajectory.
  const std::int64_t F = batch.inputs.shape()[2], k_points = F / 3;
  Plot pen("3. The pen trajectory", "x (letter heights)", "y", {});
  double px = 0, py = 0;
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t k = 0; k < k_points; ++k) {
      const float* f = batch.inputs.data() + t * F + 3 * k;
      if (t * k_points + k >= static_cast<std::int64_t>(batch.input_lengths[0] * k_points)) break;
      px += f[0];
      py += f[1];
      if (f[2] > 0.5f || pen.series.empty()) pen.series.push_back({"", {}, {}, {}});
      pen.series.back().x.push_back(px);
      pen.series.back().y.push_back(-py);  // font y points down
    }
  }
  pen.series.front().label = "pen down";
  report.plot("handwriting_3_pen", pen);
  // Row 4: d(most confident non-blank log-probability)/d(dx, dy) of every pen point.
  std::int64_t best_t = 0, best_k = 1;
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t k = 1; k < C; ++k) {
      if (p[t * C + k] > p[best_t * C + best_k]) best_t = t, best_k = k;
    }
  }
  Tensor<float> seed = Tensor<float>::zeros(lp.shape());
  seed[best_t * C + best_k] = 1.0f;
  tape.backward(lp, seed.ref());
  Series gx{"d/d dx", {}, {}, {}}, gy{"d/d dy", {}, {}, {}};
  const float* g = x.grad().data;
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t k = 0; k < k_points; ++k) {
      const double point = static_cast<double>(t * k_points + k);
      gx.x.push_back(point);
      gx.y.push_back(g[t * F + 3 * k]);
      gy.x.push_back(point);
      gy.y.push_back(g[t * F + 3 * k + 1]);
    }
  }
  Plot grads("4. Gradient of the output '" + std::string(1, static_cast<char>('a' + best_k - 1)) +
                 "' at frame " + std::to_string(best_t) + " w.r.t. the pen's moves",
             "pen point", "gradient", {gx, gy});
  report.plot("handwriting_4_gradient", grads);
}

}  // namespace tapeloop::models
