// layer_norm: PyTorch's values and gradients, gradcheck with and without the affine map, far
// from zero, float agreement, errors.
#include "support/check.hpp"
#include "support/golden.hpp"
#include "tapeloop/ops/layer_norm.hpp"

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

Shape shape_of(const nlohmann::json& dims) {
  const std::vector<std::int64_t> d = testing::golden_ints(dims);
  return Shape(d.data(), static_cast<int>(d.size()));
}

template <class T>
void check_against_torch(const std::string& name, const nlohmann::json& g, double rtol,
                         double atol) {
  const Shape shape = shape_of(g["shape"]), normalized = shape_of(g["normalized_shape"]);
  const Tensor<T> x = testing::golden_tensor<T>(g["x"], shape);
  const Tensor<T> seed = testing::golden_tensor<T>(g["seed"], shape);
  Tape<T> tape;
  Var<T> xv = tape.input(x.ref(), true);
  Var<T> w, b;
  if (g.contains("weight")) {
    w = tape.input(testing::golden_tensor<T>(g["weight"], normalized).ref(), true);
    b = tape.input(testing::golden_tensor<T>(g["bias"], normalized).ref(), true);
  }
  Var<T> y = layer_norm(xv, normalized, w, b, g["eps"].get<double>());
  tape.backward(y, seed.ref());
  testing::check_close(name + " y", y.value().data, g["y"], rtol, atol);
  testing::check_close(name + " dx", xv.grad().data, g["dx"], rtol, atol);
  if (!w.empty()) {
    testing::check_close(name + " dweight", w.grad().data, g["dweight"], rtol, atol);
    testing::check_close(name + " dbias", b.grad().data, g["dbias"], rtol, atol);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_layer_norm)

BOOST_AUTO_TEST_CASE(values_and_gradients_match_pytorch) {
  for (const auto& [name, g] : testing::ops_golden()["layer_norm"].items()) {
    BOOST_TEST_CONTEXT(name) {
      check_against_torch<double>(name, g, 1e-11, 1e-13);
      check_against_torch<float>(name + " (float)", g, 2e-5, 2e-6);
    }
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_all_input_combinations) {
  const Tensor<double> x = random_tensor({3, 2, 4}, 1, -2.0, 2.0);
  const Tensor<double> w = random_tensor({4}, 2, 0.5, 1.5);
  const Tensor<double> b = random_tensor({4}, 3);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return layer_norm(v[0], {4}); },
                           std::vector<Tensor<double>>{x});
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return layer_norm(v[0], {4}, v[1]); },
                           std::vector<Tensor<double>>{x, w});
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& v) { return layer_norm(v[0], {4}, v[1], v[2], 1e-3); },
      std::vector<Tensor<double>>{x, w, b});
  const Tensor<double> w2 = random_tensor({2, 4}, 4, 0.5, 1.5);
  const Tensor<double> b2 = random_tensor({2, 4}, 5);
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& v) {
        return layer_norm(v[0], {2, 4}, v[1], v[2]);
      },
      std::vector<Tensor<double>>{x, w2, b2});
  check_float_matches_double([](auto&, const auto& v) { return layer_norm(v[0], {4}, v[1], v[2]); },
                             std::vector<Tensor<double>>{x, w, b});
}

BOOST_AUTO_TEST_CASE(rows_far_from_zero_are_normalized_exactly) {
  // 1e4 + small offsets in float: a one-pass E[x^2] - E[x]^2 variance loses every digit here.
  Tensor<float> x({2, 4});
  const float offsets[4] = {-1.5f, -0.5f, 0.5f, 1.5f};
  for (int r = 0; r < 2; ++r) {
    for (int j = 0; j < 4; ++j) x[r * 4 + j] = 1e4f + offsets[j];
  }
  Tape<float> tape;
  Var<float> y = layer_norm(tape.input(x.ref()), {4}, {}, {}, 0.0);
  const double sd = std::sqrt(1.25);  // the biased variance of the offsets is 1.25
  for (int k = 0; k < 8; ++k) {
    BOOST_TEST(y.value()[k] == offsets[k % 4] / sd, boost::test_tools::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_CASE(errors_name_op_and_shapes) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3}).ref(), true);
  Var<float> w3 = tape.input(Tensor<float>::ones({3}).ref(), true);
  Var<float> w2 = tape.input(Tensor<float>::ones({2}).ref(), true);
  const std::size_t before = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(layer_norm(x, {2}), ShapeError,
                               "layer_norm: x [2,3] does not end in normalized_shape [2]");
  TAPELOOP_CHECK_THROW_MESSAGE(layer_norm(x, {3}, w3, w2), ShapeError,
                               "layer_norm: bias [2]: expected normalized_shape [3]");
  TAPELOOP_CHECK_THROW_MESSAGE(layer_norm(x, {3}, Var<float>{}, w3), ValueError,
                               "layer_norm: a bias needs a weight");
  TAPELOOP_CHECK_THROW_MESSAGE(layer_norm(x, {3}, w3, w3, -1.0), ValueError,
                               "layer_norm: eps = -1.000000 must be >= 0");
  BOOST_TEST(tape.size() == before);
}

BOOST_AUTO_TEST_SUITE_END()
