// Online handwriting: batches of written words, the BLSTM-CTC reader and its training.
#include "tapeloop/models/handwriting.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "tapeloop/errors.hpp"
#include "tapeloop/models/ctc_decode.hpp"
#include "tapeloop/ops/ctc.hpp"
#include "tapeloop/ops/softmax.hpp"
#include "tapeloop/optim.hpp"

namespace tapeloop::models {
namespace {

RecurrentOptions lstm_options(const HandwritingConfig& c) {
  RecurrentOptions o;
  o.input_size = 3 * c.points_per_frame;
  o.hidden_size = c.hidden;
  o.num_layers = c.layers;
  o.bidirectional = true;
  return o;
}

}  // namespace

HandwritingBatch make_handwriting_batch(const HersheyFont& font, std::span<const std::string> words,
                                        const HandStyle& style, int points_per_frame,
                                        Generator& rng) {
  if (words.empty() || points_per_frame < 1) {
    throw ValueError("make_handwriting_batch: no words, or fewer than 1 point per frame");
  }
  HandwritingBatch b;
  std::vector<std::vector<PenPoint>> paths;
  std::int64_t frames = 1;
  for (const std::string& w : words) {
    paths.push_back(write_word(font, w, style, rng));
    const auto n = static_cast<std::int64_t>(paths.back().size());
    b.input_lengths.push_back((n + points_per_frame - 1) / points_per_frame);
    frames = std::max(frames, b.input_lengths.back());
    b.target_lengths.push_back(static_cast<std::int64_t>(w.size()));
    for (char c : w) b.targets.push_back(c - 'a' + 1);
    b.words.push_back(w);
  }
  const auto B = static_cast<std::int64_t>(words.size());
  const std::int64_t F = 3 * points_per_frame;
  b.inputs = Tensor<float>::zeros({frames, B, F});
  for (std::int64_t w = 0; w < B; ++w) {
    const auto& path = paths[static_cast<std::size_t>(w)];
    for (std::size_t i = 0; i < path.size(); ++i) {
      const auto t = static_cast<std::int64_t>(i) / points_per_frame;
      const auto slot = static_cast<std::int64_t>(i) % points_per_frame;
      float* f = b.inputs.data() + (t * B + w) * F + 3 * slot;
      f[0] = path[i].dx;
      f[1] = path[i].dy;
      f[2] = path[i].pen_up ? 1.0f : 0.0f;
    }
  }
  return b;
}

std::string labels_to_word(std::span<const std::int64_t> labels) {
  std::string w;
  for (std::int64_t l : labels) w += l >= 1 && l <= 26 ? static_cast<char>('a' + l - 1) : '?';
  return w;
}

HandwritingReader::HandwritingReader(const HandwritingConfig& c, Generator& rng)
    : lstm_(lstm_options(c), rng), out_(2 * c.hidden, 27, rng) {}

Var<float> HandwritingReader::forward(Tape<float>& tape, const Var<float>& inputs,
                                      std::span<const std::int64_t> input_lengths,
                                      Var<float>* hidden) {
  const RecurrentResult<float> r = lstm_.forward(tape, inputs, {}, input_lengths);
  if (hidden) *hidden = r.output;
  return log_softmax(out_.forward(r.output), 2);
}

std::vector<Parameter<float>*> HandwritingReader::parameters() {
  std::vector<Parameter<float>*> all = lstm_.parameters();
  for (Parameter<float>* p : out_.parameters()) all.push_back(p);
  return all;
}

double character_error_rate(HandwritingReader& reader, const HandwritingBatch& batch) {
  Tape<float> tape;
  auto no_grad = tape.no_grad();
  const Var<float> lp =
      reader.forward(tape, tape.constant(batch.inputs.ref()), batch.input_lengths);
  const std::vector<CtcHypothesis> decoded =
      ctc_greedy_decode<float>(lp.value(), batch.input_lengths);
  std::int64_t errors = 0, letters = 0, first = 0;
  for (std::size_t b = 0; b < decoded.size(); ++b) {
    const std::span<const std::int64_t> truth(batch.targets.data() + first,
                                              static_cast<std::size_t>(batch.target_lengths[b]));
    first += batch.target_lengths[b];
    errors += edit_distance(decoded[b].labels, truth);
    letters += static_cast<std::int64_t>(truth.size());
  }
  return static_cast<double>(errors) / static_cast<double>(std::max<std::int64_t>(letters, 1));
}

HandwritingProgress train_handwriting(const HandwritingConfig& c, int report_every,
                                      const std::function<void(const HandwritingProgress&)>& report,
                                      std::unique_ptr<HandwritingReader>* reader_out) {
  if (c.batch < 1 || c.steps < 1 || c.held_out < 1 || report_every < 1) {
    throw ValueError("train_handwriting: batch, steps, held_out and report_every must be positive");
  }
  const HersheyFont font = load_hershey(c.font);
  const WordList words = load_words(c.words, c.min_letters, c.max_letters);
  Generator rng(c.seed);
  auto reader = std::make_unique<HandwritingReader>(c, rng);
  std::vector<Parameter<float>*> params = reader->parameters();
  Adam<float> optimizer(params, {.lr = c.learning_rate});
  // Fixed evaluation sets: held-out words, and as many training words, each written once.
  auto pick = [&](const std::vector<std::string>& from, std::int64_t n) {
    std::vector<std::string> out;
    for (std::int64_t i = 0; i < n; ++i) out.push_back(from[rng.below(from.size())]);
    return out;
  };
  const HandwritingBatch held_out = make_handwriting_batch(font, pick(words.held_out, c.held_out),
                                                           c.style, c.points_per_frame, rng);
  const HandwritingBatch train_eval =
      make_handwriting_batch(font, pick(words.train, c.held_out), c.style, c.points_per_frame, rng);
  Tape<float> tape;
  HandwritingProgress progress{};
  double seconds = 0;
  for (int step = 1; step <= c.steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    const HandwritingBatch batch =
        make_handwriting_batch(font, pick(words.train, c.batch), c.style, c.points_per_frame, rng);
    tape.clear();
    optimizer.zero_grad();
    const Var<float> lp =
        reader->forward(tape, tape.constant(batch.inputs.ref()), batch.input_lengths);
    const Var<float> loss = ctc_loss(lp, batch.targets, batch.input_lengths, batch.target_lengths);
    tape.backward(loss);
    clip_grad_norm(std::span<Parameter<float>* const>(params), c.clip);
    optimizer.step();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.step = step;
    progress.seconds = seconds;
    progress.loss = loss.item();
    const bool out_of_time = c.max_seconds > 0 && seconds >= c.max_seconds;
    if (step % report_every == 0 || step == c.steps || out_of_time) {
      progress.train_cer = character_error_rate(*reader, train_eval);
      progress.held_out_cer = character_error_rate(*reader, held_out);
      report(progress);
    }
    if (out_of_time) break;
  }
  if (reader_out) *reader_out = std::move(reader);
  return progress;
}

}  // namespace tapeloop::models
