// The example of README.md: the lines between the markers below are the body of the README's
// main(), so it keeps compiling and its gradients stay right; a second case checks that the
// README still shows exactly these lines.
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

BOOST_AUTO_TEST_CASE(readme_shows_this_example) {
  const std::string self = read_file(__FILE__);
  const std::string begin = "  // ---- README example begins ----\n";
  const std::string end = "  // ---- README example ends ----\n";
  const auto from = self.find(begin);
  const auto to = self.find(end);
  BOOST_REQUIRE(from != std::string::npos && to != std::string::npos && from < to);
  const std::string body = self.substr(from + begin.size(), to - from - begin.size());

  const std::string readme = read_file(
      (std::filesystem::path(__FILE__).parent_path().parent_path() / "README.md").string());
  const std::string expected =
      "```cpp\n#include <cstdio>\n#include <tapeloop/tapeloop.hpp>\n\n"
      "int main() {\n" +
      body + "}\n```\n";
  BOOST_CHECK_MESSAGE(readme.find(expected) != std::string::npos,
                      "README.md's example differs from tests/test_readme_example.cpp; README.md "
                      "should contain:\n"
                          << expected);
}

BOOST_AUTO_TEST_SUITE_END()
