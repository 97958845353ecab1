// cross_entropy and nll_loss with ignore_index, class weights, label smoothing and [N,C,d...]
// inputs: PyTorch's values and gradients, gradcheck, float agreement, errors.
#include "support/check.hpp"
#include "support/golden.hpp"
#include "tapeloop/ops/loss.hpp"

#include <limits>

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::ops_golden;
using tapeloop::testing::random_tensor;

namespace {

// One golden case run on a tape of T: the loss and the input's gradient.
template <class T>
void check_against_torch(const std::string& name, const nlohmann::json& g, double rtol,
                         double atol) {
  const std::vector<std::int64_t> dims = testing::golden_ints(g["input_shape"]);
  const Shape shape(dims.data(), static_cast<int>(dims.size()));
  const Tensor<T> x = testing::golden_tensor<T>(g["input"], shape);
  const std::vector<std::int64_t> targets = testing::golden_ints(g["target"]);
  std::vector<T> weight;
  if (g.contains("weight")) {
    for (const auto& w : g["weight"]) weight.push_back(static_cast<T>(w.get<double>()));
  }
  CrossEntropyOptions<T> options;
  options.reduction = g["reduction"] == "sum" ? Reduction::sum : Reduction::mean;
  options.ignore_index = g["ignore_index"].get<std::int64_t>();
  options.weight = weight;
  options.label_smoothing = g["label_smoothing"].get<double>();

  Tape<T> tape;
  Var<T> in = tape.input(x.ref(), true);
  Var<T> loss = g["kind"] == "cross_entropy" ? cross_entropy(in, targets, options)
                                             : nll_loss(in, targets, options);
  tape.backward(loss);
  const T value = loss.item();
  testing::check_close(name + " loss", &value, nlohmann::json::array({g["loss"]}), rtol, atol);
  testing::check_close(name + " gradient", in.grad().data, g["grad"], rtol, atol);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_classification_loss)

BOOST_AUTO_TEST_CASE(values_and_gradients_match_pytorch) {
  const nlohmann::json& cases = ops_golden()["losses"];
  BOOST_REQUIRE_GE(cases.size(), 13u);
  for (const auto& [name, g] : cases.items()) {
    BOOST_TEST_CONTEXT(name) {
      check_against_torch<double>(name, g, 1e-12, 1e-15);
      check_against_torch<float>(name + " (float)", g, 2e-5, 2e-6);
    }
  }
}

BOOST_AUTO_TEST_CASE(plain_overload_is_the_default_options) {
  const Tensor<double> x = random_tensor({4, 3}, 1, -2.0, 2.0);
  const std::vector<std::int64_t> t = {2, 0, 1, 1};
  Tape<double> tape;
  Var<double> in = tape.input(x.ref());
  BOOST_TEST(cross_entropy(in, t, Reduction::sum).item() ==
             cross_entropy(in, t, {.reduction = Reduction::sum}).item());
  // Log-probabilities through nll_loss give cross_entropy exactly up to rounding.
  BOOST_TEST(nll_loss(log_softmax(in, 1), t).item() == cross_entropy(in, t).item(),
             boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(smoothing_one_is_the_uniform_target) {
  // eps = 1: every position's target is uniform, so the loss is the mean over classes of
  // -log softmax, the same whatever the targets are.
  const Tensor<double> x = random_tensor({3, 5}, 2, -2.0, 2.0);
  Tape<double> tape;
  Var<double> in = tape.input(x.ref());
  const std::vector<std::int64_t> a = {0, 1, 2}, b = {4, 4, 3};
  const double la = cross_entropy(in, a, {.label_smoothing = 1.0}).item();
  const double lb = cross_entropy(in, b, {.label_smoothing = 1.0}).item();
  BOOST_TEST(la == lb, boost::test_tools::tolerance(1e-14));
  double expected = 0;
  for (int i = 0; i < 3; ++i) {
    double m = -1e300, s = 0;
    for (int j = 0; j < 5; ++j) m = std::max(m, x[i * 5 + j]);
    for (int j = 0; j < 5; ++j) s += std::exp(x[i * 5 + j] - m);
    for (int j = 0; j < 5; ++j) expected += (m + std::log(s) - x[i * 5 + j]) / 5.0;
  }
  BOOST_TEST(la == expected / 3.0, boost::test_tools::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(gradcheck_every_option) {
  const std::vector<double> weight = {0.5, 2.0, 1.25, 0.75};
  struct Case {
    Shape shape;
    std::vector<std::int64_t> targets;
    bool weighted;
    double smoothing;
  };
  const std::vector<Case> cases = {
      {{4}, {2}, false, 0.0},
      {{3, 4}, {0, -100, 3}, true, 0.0},
      {{2, 4, 3}, {1, 2, -100, 0, 3, 3}, true, 0.2},
      {{2, 4, 2, 2}, {0, 1, 2, 3, -100, -100, 1, 0}, false, 0.1},
  };
  std::uint64_t seed = 10;
  for (const Case& c : cases) {
    const std::vector<Tensor<double>> in = {random_tensor(c.shape, seed++, -2.0, 2.0)};
    for (Reduction r : {Reduction::mean, Reduction::sum}) {
      CrossEntropyOptions<double> o{
          .reduction = r,
          .weight = c.weighted ? std::span<const double>(weight) : std::span<const double>{},
          .label_smoothing = c.smoothing};
      const std::vector<std::int64_t>* t = &c.targets;
      TAPELOOP_CHECK_GRADCHECK([t, o](auto&, const auto& x) { return cross_entropy(x[0], *t, o); },
                               in);
      o.label_smoothing = 0.0;
      TAPELOOP_CHECK_GRADCHECK([t, o](auto&, const auto& x) { return nll_loss(x[0], *t, o); }, in);
    }
  }
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  const std::vector<Tensor<double>> in = {random_tensor({3, 4, 2}, 40, -3.0, 3.0)};
  const std::vector<std::int64_t> t = {3, 0, -100, 1, 2, 2};
  check_float_matches_double(
      [&](auto& tape, const auto& x) {
        using T = typename std::decay_t<decltype(tape)>::value_type;
        static const std::vector<T> w = {1, 2, 0.5, 1.5};
        return cross_entropy(x[0], t, {.weight = w, .label_smoothing = 0.15});
      },
      in);
}

BOOST_AUTO_TEST_CASE(ignored_positions_get_no_gradient_and_all_ignored_is_nan) {
  const Tensor<double> x = random_tensor({3, 4}, 3, -2.0, 2.0);
  Tape<double> tape;
  Var<double> in = tape.input(x.ref(), true);
  const std::vector<std::int64_t> t = {1, 0, 1};
  tape.backward(cross_entropy(in, t, {.ignore_index = 0, .label_smoothing = 0.3}));
  for (int j = 0; j < 4; ++j) BOOST_TEST(in.grad()[4 + j] == 0.0);
  BOOST_TEST(in.grad()[0] != 0.0);
  tape.clear();
  Var<double> again = tape.input(x.ref(), true);
  const std::vector<std::int64_t> none = {-100, -100, -100};
  BOOST_TEST(std::isnan(cross_entropy(again, none).item()));
  BOOST_TEST(cross_entropy(again, none, Reduction::sum).item() == 0.0);
}

BOOST_AUTO_TEST_CASE(errors_name_op_and_shapes) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3, 4}).ref(), true);
  const std::size_t before = tape.size();
  const std::vector<std::int64_t> eight(8, 0), six(6, 0);
  const std::vector<float> two_weights = {1, 1};
  TAPELOOP_CHECK_THROW_MESSAGE(cross_entropy(x, six), ShapeError,
                               "cross_entropy: logits [2,3,4] and 6 targets: expected one target "
                               "per position (8)");
  TAPELOOP_CHECK_THROW_MESSAGE(nll_loss(x, eight, {.weight = two_weights}), ShapeError,
                               "nll_loss: log_probs [2,3,4] and 2 class weights: expected C = 3");
  TAPELOOP_CHECK_THROW_MESSAGE(cross_entropy(x, eight, {.label_smoothing = 1.5}), ValueError,
                               "cross_entropy: label_smoothing 1.5");
  TAPELOOP_CHECK_THROW_MESSAGE(nll_loss(x, eight, {.label_smoothing = 0.1}), ValueError,
                               "nll_loss: label_smoothing 0.1");
  std::vector<std::int64_t> bad = eight;
  bad[5] = 3;
  TAPELOOP_CHECK_THROW_MESSAGE(cross_entropy(x, bad, {.ignore_index = -1}), ValueError,
                               "cross_entropy: logits [2,3,4]: target 3 at position 5 is out of "
                               "range [0,3) for C = 3 (and is not ignore_index -1)");
  BOOST_TEST(tape.size() == before);
}

BOOST_AUTO_TEST_SUITE_END()
