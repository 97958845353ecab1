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

BOOST_AUTO_TEST_CASE(readme_example_gradients) {
  // ---- README example begins ----
  using namespace tapeloop;

  // A model y = w * x + b: its weights are Parameters, which outlive every tape.
  Parameter<double> w(Tensor<double>::full({}, 2.0), "w");
  Parameter<double> b(Tensor<double>::full({}, 0.5), "b");

  // Three points, recorded on a tape as one [3] input; w and b broadcast against it.
  Tape<double> tape;
  Tensor<double> xs = Tensor<double>::from({3}, {1.0, 2.0, 3.0});
  Var<double> x = tape.input(xs.ref(), /*requires_grad=*/true);
  Var<double> error = w.var(tape) * x + b.var(tape) - 4.0;  // [3]: (2x + 0.5) - 4
  Var<double> squared = error * error;                       // [3]: squared error per point

  // Backpropagate sum(squared): a vector output takes a seed of its shape, here all ones.
  tape.backward(squared, Tensor<double>::ones(squared.shape()).ref());

  // d/dw = sum 2 e x = 14, d/db = sum 2 e = 3, d/dx = 2 e w = {-6, 2, 10}
  double dw = w.grad()[0], db = b.grad()[0];
  TensorRef<double> dx = x.grad();
  std::printf("dw %g  db %g  dx %g %g %g\n", dw, db, dx[0], dx[1], dx[2]);
  // ---- README example ends ----

  BOOST_TEST(dw == 14.0);
  BOOST_TEST(db == 3.0);
  BOOST_TEST(dx[0] == -6.0);
  BOOST_TEST(dx[1] == 2.0);
  BOOST_TEST(dx[2] == 10.0);
  BOOST_TEST(squared.value()[2] == 6.25);  // (2 * 3 + 0.5 - 4)^2

  // Parameter gradients accumulate until zero_grad(); a cleared tape records the next step.
  w.zero_grad();
  b.zero_grad();
  tape.clear();
  Var<double> e = w.var(tape) * 3.0 + b.var(tape) - 4.0;  // 2.5
  Var<double> loss = e * e;
  tape.backward(loss);
  BOOST_TEST(loss.item() == 6.25);
  BOOST_TEST(w.grad()[0] == 15.0);  // 2 * 2.5 * 3
  BOOST_TEST(b.grad()[0] == 5.0);   // 2 * 2.5
}

BOOST_AUTO_TEST_CASE(readme_shows_this_example) {
  const std::string self = read_file(__FILE__);
  const std::string begin = "  // ---- README example begins ----\n";
  const std::string end = "  // ---- README example ends ----\n";
  const auto from = self.find(begin);
  const auto to = self.find(end);
  BOOST_REQUIRE(from != std::string::npos && to != std::string::npos && from < to);
  const std::string body = self.substr(from + begin.size(), to - from - begin.size());

  const std::string readme =
      read_file((std::filesystem::path(__FILE__).parent_path().parent_path() / "README.md").string());
  const std::string expected = "```cpp\n#include <cstdio>\n#include <tapeloop/tapeloop.hpp>\n\n"
                               "int main() {\n" + body + "}\n```\n";
  BOOST_CHECK_MESSAGE(readme.find(expected) != std::string::npos,
                      "README.md's example differs from tests/test_readme_example.cpp; README.md "
                      "should contain:\n" << expected);
}

BOOST_AUTO_TEST_SUITE_END()
