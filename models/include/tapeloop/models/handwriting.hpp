// Reading online cursive handwriting (lecture 7e): words written in Hershey script fonts by a
// random hand, read by a bidirectional LSTM trained with CTC.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "tapeloop/models/hershey.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/recurrent.hpp"
#include "tapeloop/models/word_list.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop::models {

/// A batch of written words: inputs [T, B, 3 k] (k pen points per frame, each dx, dy, pen up;
/// frames past a word's end are zero), frames per word, and the labels ('a' = 1 ... 'z' = 26;
/// 0 is CTC's blank) concatenated, with their lengths.
struct HandwritingBatch {
  Tensor<float> inputs;
  std::vector<std::int64_t> input_lengths, targets, target_lengths;
  std::vector<std::string> words;
};
HandwritingBatch make_handwriting_batch(const HersheyFont& font, std::span<const std::string> words,
                                        const HandStyle& style, int points_per_frame,
                                        Generator& rng);

/// The letters a label sequence stands for.
std::string labels_to_word(std::span<const std::int64_t> labels);

struct HandwritingConfig {
  std::filesystem::path font = "/usr/share/hershey-fonts/cursive.jhf";
  std::filesystem::path words = "/usr/share/dict/words";
  int min_letters = 3, max_letters = 8;
  HandStyle style;
  int points_per_frame = 3;
  std::int64_t hidden = 64;
  int layers = 2;
  std::int64_t batch = 32;
  int steps = 4000;
  double learning_rate = 3e-3;
  double clip = 5.0;            // the gradient's norm is clipped to this
  std::int64_t held_out = 200;  // held-out words evaluated at each report
  double max_seconds = 0;       // stop after this much training time (0: steps only)
  std::uint64_t seed = 1;
};

/// A bidirectional LSTM over the frames and a linear layer to 27 classes' log-probabilities.
class HandwritingReader {
 public:
  HandwritingReader(const HandwritingConfig& config, Generator& rng);
  /// log_probs [T, B, 27] for inputs [T, B, 3 k]; the top layer's outputs [T, B, 2H] in
  /// `hidden` when it is not null.
  Var<float> forward(Tape<float>& tape, const Var<float>& inputs,
                     std::span<const std::int64_t> input_lengths, Var<float>* hidden = nullptr);
  std::vector<Parameter<float>*> parameters();

 private:
  LSTM<float> lstm_;
  Linear<float> out_;
};

/// The character error rate of greedy decoding on `batch`: edit distance over letters.
double character_error_rate(HandwritingReader& reader, const HandwritingBatch& batch);

struct HandwritingProgress {
  int step;
  double seconds;  // training time so far
  float loss;      // CTC loss per label, this batch
  double train_cer, held_out_cer;
};

/// Trains a reader with Adam on random words of the training list written afresh every step;
/// reports every `report_every` steps (CER on 200 training words and on the held-out words) and
/// at the end. Returns the final progress; `reader_out`, when not null, receives the reader.
HandwritingProgress train_handwriting(const HandwritingConfig& config, int report_every,
                                      const std::function<void(const HandwritingProgress&)>& report,
                                      std::unique_ptr<HandwritingReader>* reader_out = nullptr);

}  // namespace tapeloop::models
