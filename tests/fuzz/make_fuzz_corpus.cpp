// Writes the fuzz harnesses' seed corpus: files tapeloop writes itself (safetensors files,
// checkpoints of the harness's model with each schedule) and small hand-made valid and
// near-valid inputs. Usage: make_fuzz_corpus tests/fuzz/corpus (replaces what is there).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "tapeloop/checkpoint.hpp"
#include "tapeloop/models/checkpoint.hpp"
#include "tapeloop/optim.hpp"
#include "tapeloop/optim/reduce_lr_on_plateau.hpp"
#include "tapeloop/safetensors.hpp"
#include "tiny_model.hpp"

using namespace tapeloop;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw IoError("make_fuzz_corpus: cannot write " + path.string());
}

// A safetensors file from a header and a data section, as a hand-written one would be.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>(header.size() >> (8 * i) & 0xff);
  return bytes + header + data;
}

void safetensors_seeds(const fs::path& dir) {
  const Tensor<float> w = tapeloop::fuzz::counting<float>({2, 3}, 1.0f);
  const Tensor<double> d = tapeloop::fuzz::counting<double>({2}, -2.0);
  const std::int64_t n = 7;
  save_safetensors(dir / "tensors.safetensors",
                   {{"w", w.ref()}, {"d", d.ref()}, {"n", TensorRef<const std::int64_t>{&n, {}}}},
                   {{"epoch", "3"}});
  save_safetensors(dir / "empty.safetensors", std::span<const NamedTensor>());
  const Tensor<float> none = Tensor<float>::zeros({0, 3});
  save_safetensors(dir / "zero_elements.safetensors", {{"none", none.ref()}, {"d", d.ref()}});

  const std::string f32_one("\x00\x00\x80\x3f", 4);                  // 1.0f
  const std::string f64_two("\x00\x00\x00\x00\x00\x00\x00\x40", 8);  // 2.0
  // Valid, but written by hand: unpadded, so the F64 entry is not aligned.
  write_file(dir / "unaligned.safetensors",
             safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("b":{"dtype":"F64","shape":[],"data_offsets":[4,12]}})",
                               f32_one + f64_two));
  write_file(dir / "metadata_only.safetensors",
             safetensors_bytes(R"({"__metadata__":{"format":"pt","note":""}})", ""));
  // Near-valid: one thing wrong each.
  write_file(
      dir / "f16.safetensors",
      safetensors_bytes(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", f32_one));
  write_file(dir / "hole.safetensors",
             safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                               f32_one + f32_one));
  write_file(dir / "overlap.safetensors",
             safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                               f32_one));
  write_file(dir / "repeated_key.safetensors",
             safetensors_bytes(R"({"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                               R"("a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})",
                               f64_two));
  std::string lying = safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1]}})", f32_one);
  lying[1] = 1;  // a header length past the end of the file
  write_file(dir / "length_past_end.safetensors", lying);
}

// A checkpoint as a training program writes one: the model, its optimizer after a few steps, a
// schedule's state and two generators in the metadata.
template <class T, class Optim, class Options, class Scheduler, class... SchedulerArgs>
void write_checkpoint(const fs::path& path, const Options& options, SchedulerArgs... args) {
  tapeloop::fuzz::TinyModel<T> model;
  std::vector<Parameter<T>*> params = model.parameters();
  Optim optimizer(params, options);
  Scheduler scheduler(optimizer, args...);
  Generator data(11), dropout(12);
  for (int step = 0; step < 3; ++step) {
    for (Parameter<T>* p : params) p->grad() = Tensor<T>::normal(p->shape(), T(0), T(1), data);
    optimizer.step();
    if constexpr (std::is_same_v<Scheduler, ReduceLROnPlateau>) {
      scheduler.step(1.0);
    } else {
      scheduler.step();
    }
  }
  dropout.normal();  // leaves a spare normal in its state
  Metadata metadata = scheduler.state_dict();
  save_generator_state(metadata, "rng.data", data);
  save_generator_state(metadata, "rng.dropout", dropout);
  models::save_parameters(path, model, &optimizer, metadata);
}

void checkpoint_seeds(const fs::path& dir) {
  const AdamOptions adam{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true};
  write_checkpoint<float, Adam<float>, AdamOptions, StepLR>(dir / "adam_step_lr.safetensors", adam,
                                                            std::int64_t{2}, 0.5);
  write_checkpoint<float, Adam<float>, AdamOptions, ExponentialLR>(
      dir / "adam_exponential.safetensors", adam, 0.9);
  write_checkpoint<float, Adam<float>, AdamOptions, ReduceLROnPlateau>(
      dir / "adam_plateau.safetensors", adam, ReduceLROnPlateauOptions{.patience = 1});
  write_checkpoint<double, SGD<double>, SGDOptions, WarmupCosineLR>(
      dir / "sgd_double_cosine.safetensors", SGDOptions{.lr = 0.1, .momentum = 0.9},
      std::int64_t{2}, std::int64_t{10});
  // A module's state_dict alone, as PyTorch saves one: no optimizer, no metadata.
  tapeloop::fuzz::TinyModel<float> model;
  save_safetensors(dir / "state_dict.safetensors", model.state_dict());
  // Near-valid: step counts that the next step() would overflow.
  std::vector<Parameter<float>*> params = model.parameters();
  Adam<float> optimizer(params, adam);
  std::vector<std::string> names;
  for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
  for (const auto& [name, count] : optimizer.named_steps(names)) {
    *count = std::numeric_limits<std::int64_t>::max();
  }
  models::save_parameters(dir / "step_count_at_limit.safetensors", model, &optimizer);
}

// One glyph line of a .jhf font: number, count, margins, pairs; a line of more than 72
// characters wraps onto the next, as in the font files.
std::string glyph_line(int number, const std::string& margins, const std::string& pairs) {
  char head[16];
  std::snprintf(head, sizeof head, "%5d%3d", number,
                static_cast<int>(margins.size() + pairs.size()) / 2);
  std::string line = head + margins + pairs;
  std::string wrapped;
  while (line.size() > 72) {
    wrapped += line.substr(0, 72) + "\n";
    line = line.substr(72);
  }
  return wrapped + line + "\n";
}

std::string font_text(int glyphs) {
  std::string text;
  for (int i = 0; i < glyphs; ++i) {
    if (i == 0) {  // the space: margins only
      text += glyph_line(1, "JZ", "");
      continue;
    }
    // Two strokes with a pen lift between them, the points depending on the character.
    std::string pairs{'M',
                      static_cast<char>('K' + i % 9),
                      'W',
                      static_cast<char>('Y' - i % 7),
                      ' ',
                      'R',
                      static_cast<char>('P' + i % 5),
                      'R',
                      'T',
                      'M'};
    if (i == 'W' - ' ') {  // one glyph long enough to wrap
      pairs.clear();
      for (int k = 0; k < 40; ++k)
        pairs += {static_cast<char>('I' + k % 18), static_cast<char>('M' + k % 13)};
    }
    text += glyph_line(500 + i, "LU", pairs);
  }
  return text;
}

void hershey_seeds(const fs::path& dir) {
  write_file(dir / "font.jhf", font_text(96));
  write_file(dir / "five_glyphs.jhf", font_text(5));  // near-valid: too few glyphs
  write_file(dir / "glyph_cut_short.jhf", "  501  5LUMKWY RPR\n");
}

void word_list_seeds(const fs::path& dir) {
  write_file(dir / "words.txt",
             "the\nquick\nbrown\nfox\njumps\nover\nlazy\ndogs\nhandwriting\nletters\npen\nink\n"
             "paper\nwords\nscript\ncursive\nstroke\nglyph\nfont\nwrite\nread\nlearn\nmodel\n"
             "train\nheld\nout\nset\nten\nhash\nsplit\nApple\ndon't\nna\xc3\xafve\na\n\n"
             "extraordinarily\ncrlf\r\nzebra\n");
  write_file(dir / "nothing_fits.txt", "A\nBB\nab\n123\n");
}

void corpus_seeds(const fs::path& dir) {
  // The first byte also picks the options the harness reads the text with.
  write_file(dir / "words.txt", "a cat sat on the mat and the cat ate the rat\n");
  write_file(dir / "characters.txt",
             "\x80"
             "abracadabra abracadabra");
  write_file(dir / "specials.txt", "\x07<unk> tokens <pad> tokens and more tokens\n");
  write_file(dir / "whitespace.txt", "\x13\tTabs\tand\nnew lines\r\n\vvertical\fform\n");
  write_file(dir / "utf8.txt", "\xc2na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 d\xc3\xa9j\xc3\xa0 vu\n");
  write_file(dir / "short.txt",
             "\xff"
             "ab");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_corpus DIRECTORY (tests/fuzz/corpus)\n");
    return 2;
  }
  const fs::path root = argv[1];
  const std::pair<const char*, void (*)(const fs::path&)> harnesses[] = {
      {"safetensors", safetensors_seeds},
      {"checkpoint", checkpoint_seeds},
      {"hershey", hershey_seeds},
      {"word_list", word_list_seeds},
      {"corpus", corpus_seeds}};
  for (const auto& [name, write] : harnesses) {
    fs::remove_all(root / name);
    fs::create_directories(root / name);
    write(root / name);
  }
  return 0;
}
