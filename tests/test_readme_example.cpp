// The examples of README.md: the lines between each pair of markers below are the body of a
// README main(), so they keep compiling and training; the last case checks that the README
// still shows exactly these lines.
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tapeloop/models.hpp"
#include "tapeloop/tapeloop.hpp"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_readme_example)

BOOST_AUTO_TEST_CASE(readme_example_trains) {
  // ---- README example begins ----
  using namespace tapeloop;

  // A two-layer net y = tanh(x W1 + b1) W2; its weights are Parameters, which outlive tapes.
  Generator rng(42);
  Parameter<float> W1(Tensor<float>::normal({3, 16}, 0.0f, 0.5f, rng), "W1");
  Parameter<float> b1(Tensor<float>::zeros({16}), "b1");
  Parameter<float> W2(Tensor<float>::normal({16, 1}, 0.0f, 0.5f, rng), "W2");
  Tensor<float> x = Tensor<float>::normal({32, 3}, 0.0f, 1.0f, rng);  // 32 inputs
  Tensor<float> y = Tensor<float>::normal({32, 1}, 0.0f, 1.0f, rng);  // and their targets

  Adam<float> optimizer({&W1, &b1, &W2}, {.lr = 0.01});
  Tape<float> tape;
  for (int step = 0; step <= 200; ++step) {
    tape.clear();  // forget the last step's recording, keep its memory
    optimizer.zero_grad();
    Var<float> h = tanh(matmul(tape.constant(x.ref()), W1.var(tape)) + b1.var(tape));
    Var<float> loss = mse_loss(matmul(h, W2.var(tape)), tape.constant(y.ref()));
    tape.backward(loss);  // fills W1.grad(), b1.grad(), W2.grad()
    optimizer.step();
    if (step % 50 == 0) std::printf("step %3d  loss %.4f\n", step, loss.item());
  }
  // ---- README example ends ----

  // Predicting 0 everywhere scores mean(y^2); the trained net must do far better than that.
  double baseline = 0;
  for (float v : y) baseline += v * v / 32.0;
  tape.clear();
  Var<float> h = tanh(matmul(tape.constant(x.ref()), W1.var(tape)) + b1.var(tape));
  const float final_loss = mse_loss(matmul(h, W2.var(tape)), tape.constant(y.ref())).item();
  BOOST_TEST(final_loss < 0.5 * baseline);
}

// The same kind of model with closed-form gradients: y = w x + b, loss = sum (y - 4)^2.
BOOST_AUTO_TEST_CASE(closed_form_gradients) {
  using namespace tapeloop;
  Parameter<double> w(Tensor<double>::full({}, 2.0), "w");
  Parameter<double> b(Tensor<double>::full({}, 0.5), "b");
  Tape<double> tape;
  Tensor<double> xs = Tensor<double>::from({3}, {1.0, 2.0, 3.0});
  Var<double> x = tape.input(xs.ref(), /*requires_grad=*/true);
  Var<double> error = w.var(tape) * x + b.var(tape) - 4.0;  // (2x + 0.5) - 4
  tape.backward(sum(error * error));
  BOOST_TEST(w.grad()[0] == 14.0);  // sum 2 e x
  BOOST_TEST(b.grad()[0] == 3.0);   // sum 2 e
  BOOST_TEST(x.grad()[0] == -6.0);  // 2 e w
  BOOST_TEST(x.grad()[1] == 2.0);
  BOOST_TEST(x.grad()[2] == 10.0);
}

// The README's second example, a character model: trained over streams with a carried state,
// checkpointed, restored and sampled from, in a directory of its own.
BOOST_AUTO_TEST_CASE(readme_char_model_trains_saves_and_generates) {
  const std::filesystem::path previous = std::filesystem::current_path();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "tapeloop_readme_char_model";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::current_path(dir);
  // ---- README char model begins ----
  using namespace tapeloop;
  using namespace tapeloop::models;

  // A text as character ids, read as 4 parallel streams in windows of 16 characters.
  std::string text;
  for (int i = 0; i < 40; ++i) text += "the quick brown fox jumps over the lazy dog. ";
  const TokenCorpus corpus = TokenCorpus::from_text(text);
  const std::int64_t batch = 4, steps = 16;
  const StreamBatches stream = corpus.batchify(batch, steps);

  // Embedding -> LSTM -> Linear, trained by Adam on a warm-up + cosine schedule.
  Generator rng(1);
  const CharModelOptions options{
      .vocabulary = corpus.vocabulary().size(), .embedding = 16, .hidden = 64, .layers = 1};
  CharModel model(options, rng);
  std::printf("%s", summary(model).c_str());
  const std::vector<Parameter<float>*> params = model.parameters();
  Adam<float> optimizer(params, {.lr = 0.01});
  const std::int64_t total = 6 * stream.full_windows();  // six passes over the text
  WarmupCosineLR schedule(optimizer, total / 10, total);
  Progress progress("training", total);

  // Truncated BPTT: the LSTM's state is carried from one window to the next, and the
  // gradient stops at the start of each window.
  Carry<float> state = model.carry(batch);
  std::vector<std::int64_t> inputs(steps * batch), targets(steps * batch);
  Tape<float> tape;
  for (std::int64_t step = 0; step < total; ++step) {
    const std::int64_t w = step % stream.full_windows();
    if (w == 0) state.reset();  // each pass reads the streams from their start
    stream.window(w, inputs, targets);
    tape.clear();
    optimizer.zero_grad();
    CharModelResult out = model.forward(tape, inputs, steps, batch, state.read(tape));
    Var<float> loss = cross_entropy(out.logits, targets);
    tape.backward(loss);
    state.write(out.state);
    clip_grad_norm(params, 1.0);
    optimizer.step();
    schedule.step();
    progress.update(step + 1, loss.item());
  }
  progress.finish();

  // A checkpoint: the parameters under PyTorch's names, Adam's state, the schedule's position.
  save_parameters("char_model.safetensors", model, &optimizer, schedule.state_dict());
  CharModel restored(options, rng);
  load_parameters("char_model.safetensors", restored);

  // Text from the restored model, sampled at temperature 0.5 among the 3 likeliest characters.
  const std::vector<std::int64_t> prompt = corpus.encode("the ");
  const std::vector<std::int64_t> more =
      generate(restored, prompt, 60, {.temperature = 0.5, .top_k = 3}, rng);
  std::printf("%s%s\n", corpus.decode(prompt).c_str(), corpus.decode(more).c_str());
  // ---- README char model ends ----

  std::filesystem::current_path(previous);
  std::filesystem::remove_all(dir);

  // The text is one sentence repeated: a trained model predicts most characters, far below the
  // log(28) = 3.3 nats of guessing (the last loss, on one window, was printed by progress).
  tape.clear();
  stream.window(1, inputs, targets);
  const float trained =
      cross_entropy(model.forward(tape, inputs, steps, batch), std::span(targets)).item();
  BOOST_TEST(trained < 0.3f);
  // The restored model is the trained one.
  const std::vector<NamedTensor> a = model.state_dict(), b = restored.state_dict();
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(a[i].name() == b[i].name());
    BOOST_TEST(std::memcmp(a[i].data(), b[i].data(), a[i].byte_size()) == 0);
  }
  // And what it writes continues the sentence: every character comes from the text.
  BOOST_TEST(more.size() == 60u);
  BOOST_TEST(corpus.decode(more).find_first_not_of("abcdefghijklmnopqrstuvwxyz. ") ==
             std::string::npos);
}

// The lines between "// ---- README <what> begins ----" and "... ends ----" in this file, as
// the body of main() after `headers`, must appear in README.md.
void check_readme_shows(const std::string& what, const std::string& headers) {
  const std::string self = read_file(__FILE__);
  const std::string begin = "  // ---- README " + what + " begins ----\n";
  const std::string end = "  // ---- README " + what + " ends ----\n";
  const auto from = self.find(begin);
  const auto to = self.find(end);
  BOOST_REQUIRE(from != std::string::npos && to != std::string::npos && from < to);
  const std::string body = self.substr(from + begin.size(), to - from - begin.size());

  const std::string readme = read_file(
      (std::filesystem::path(__FILE__).parent_path().parent_path() / "README.md").string());
  const std::string expected = "```cpp\n" + headers + "\nint main() {\n" + body + "}\n```\n";
  BOOST_CHECK_MESSAGE(readme.find(expected) != std::string::npos,
                      "README.md's " << what
                                     << " differs from tests/test_readme_example.cpp; "
                                        "README.md should contain:\n"
                                     << expected);
}

BOOST_AUTO_TEST_CASE(readme_shows_these_examples) {
  check_readme_shows("example", "#include <cstdio>\n#include <tapeloop/tapeloop.hpp>\n");
  check_readme_shows("char model",
                     "#include <cstdio>\n#include <string>\n#include <tapeloop/models.hpp>\n"
                     "#include <tapeloop/tapeloop.hpp>\n");
}

BOOST_AUTO_TEST_SUITE_END()
