// LayerNorm module: PyTorch's parameter names, shapes and initialization, forward and gradients
// equal to the layer_norm operator's, a gradcheck through the module, the no-affine variants,
// state dicts by name, errors.
#include <cmath>
#include <limits>

#include "support/check.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/ops/layer_norm.hpp"

using namespace tapeloop;
using tapeloop::models::LayerNorm;
using tapeloop::testing::random_tensor;

namespace {

// Values other than the ones/zeros initialization, so that a weight or bias left out of the
// forward pass (or swapped) changes the result.
void randomize(LayerNorm<double>& ln, std::uint64_t seed) {
  if (ln.weight) ln.weight->value() = random_tensor(ln.normalized_shape(), seed, 0.5, 1.5);
  if (ln.bias) ln.bias->value() = random_tensor(ln.normalized_shape(), seed + 1);
}

// Bit for bit: the module must record exactly the operator's node.
bool same(TensorRef<const double> a, TensorRef<const double> b) {
  if (a.shape != b.shape) return false;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_layer_norm_module)

BOOST_AUTO_TEST_CASE(parameters_are_named_and_initialized_as_pytorch) {
  LayerNorm<double> ln(Shape{3, 4});
  BOOST_TEST(ln.elementwise_affine());
  BOOST_TEST(ln.eps() == 1e-5);
  BOOST_TEST(ln.normalized_shape() == (Shape{3, 4}));
  const auto named = ln.named_parameters();
  BOOST_REQUIRE_EQUAL(named.size(), 2u);
  BOOST_TEST(named[0].first == "weight");
  BOOST_TEST(named[1].first == "bias");
  BOOST_TEST(named[0].second->shape() == (Shape{3, 4}));
  BOOST_TEST(named[1].second->shape() == (Shape{3, 4}));
  for (std::int64_t i = 0; i < 12; ++i) {
    BOOST_TEST(named[0].second->value()[i] == 1.0);
    BOOST_TEST(named[1].second->value()[i] == 0.0);
  }
  // One axis, as nn.LayerNorm(8) with bias=False: the weight alone.
  LayerNorm<float> no_bias(Shape{8}, 1e-6, true, false);
  const auto only_weight = no_bias.named_parameters();
  BOOST_REQUIRE_EQUAL(only_weight.size(), 1u);
  BOOST_TEST(only_weight[0].first == "weight");
  BOOST_TEST(only_weight[0].second->shape() == (Shape{8}));
  BOOST_TEST(!no_bias.bias.has_value());
}

BOOST_AUTO_TEST_CASE(without_elementwise_affine_there_are_no_parameters) {
  for (bool bias : {true, false}) {
    LayerNorm<double> ln(Shape{5}, 1e-5, false, bias);
    BOOST_TEST(!ln.elementwise_affine());
    BOOST_TEST(ln.named_parameters().empty());
    const Tensor<double> x = random_tensor({2, 3, 5}, 7);
    Tape<double> tape;
    const Var<double> xv = tape.constant(x.ref());
    BOOST_TEST(same(ln.forward(xv).value(), layer_norm(xv, {5}).value()));
  }
}

BOOST_AUTO_TEST_CASE(forward_and_gradients_equal_the_operator) {
  for (bool bias : {true, false}) {
    BOOST_TEST_CONTEXT("bias " << bias) {
      LayerNorm<double> ln(Shape{2, 4}, 1e-3, true, bias);
      randomize(ln, 11);
      const Tensor<double> x = random_tensor({3, 2, 4}, 13, -2.0, 2.0);
      const Tensor<double> seed = random_tensor({3, 2, 4}, 17);

      Tape<double> module_tape;
      const Var<double> xm = module_tape.input(x.ref(), true);
      const Var<double> ym = ln.forward(xm);
      module_tape.backward(ym, seed.ref());

      Tape<double> op_tape;
      const Var<double> xo = op_tape.input(x.ref(), true);
      const Var<double> w = op_tape.input(ln.weight->value().ref(), true);
      const Var<double> b = bias ? op_tape.input(ln.bias->value().ref(), true) : Var<double>{};
      const Var<double> yo = layer_norm(xo, {2, 4}, w, b, 1e-3);
      op_tape.backward(yo, seed.ref());

      BOOST_TEST(same(ym.value(), yo.value()));
      BOOST_TEST(same(xm.grad(), xo.grad()));
      BOOST_TEST(same(ln.weight->grad(), w.grad()));
      if (bias) BOOST_TEST(same(ln.bias->grad(), b.grad()));
    }
  }
}

// gradcheck perturbs its own input tensors, so x goes through it while the parameters, living
// in the module, are checked by central differences here.
BOOST_AUTO_TEST_CASE(gradcheck_through_the_module) {
  LayerNorm<double> ln(Shape{4}, 1e-5);
  randomize(ln, 21);
  const Tensor<double> x = random_tensor({3, 4}, 23, -2.0, 2.0);
  TAPELOOP_CHECK_GRADCHECK([&](auto&, const auto& v) { return ln.forward(v[0]); },
                           std::vector<Tensor<double>>{x});

  const Tensor<double> seed = random_tensor({3, 4}, 29);
  auto objective = [&] {
    Tape<double> tape;
    const Var<double> y = ln.forward(tape.constant(x.ref()));
    double s = 0;
    for (std::int64_t i = 0; i < y.numel(); ++i) s += y.value()[i] * seed[i];
    return s;
  };
  ln.zero_grad();
  {
    Tape<double> tape;
    tape.backward(ln.forward(tape.constant(x.ref())), seed.ref());
  }
  const double h = 1e-6;
  for (auto& [name, p] : ln.named_parameters()) {
    for (std::int64_t i = 0; i < p->numel(); ++i) {
      const double kept = p->value()[i];
      p->value()[i] = kept + h;
      const double up = objective();
      p->value()[i] = kept - h;
      const double down = objective();
      p->value()[i] = kept;
      const double numeric = (up - down) / (2 * h);
      BOOST_TEST_CONTEXT(name << "[" << i << "]") {
        BOOST_TEST(std::abs(p->grad()[i] - numeric) <= 1e-6 + 1e-5 * std::abs(numeric));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(state_dict_moves_by_name) {
  LayerNorm<double> from(Shape{6});
  randomize(from, 31);
  LayerNorm<double> to(Shape{6});
  to.load_state_dict(from.state_dict());
  BOOST_TEST(same(to.weight->value(), from.weight->value()));
  BOOST_TEST(same(to.bias->value(), from.bias->value()));
  // A bias-free LayerNorm has no place for the bias.
  LayerNorm<double> weight_only(Shape{6}, 1e-5, true, false);
  BOOST_CHECK_THROW(weight_only.load_state_dict(from.state_dict()), ValueError);
}

BOOST_AUTO_TEST_CASE(float_forward_follows_double) {
  LayerNorm<float> ln(Shape{16});
  for (std::int64_t i = 0; i < 16; ++i) {
    ln.weight->value()[i] = 0.5f + 0.0625f * static_cast<float>(i);
    ln.bias->value()[i] = 0.125f * static_cast<float>(i) - 1.0f;
  }
  const Tensor<double> x = random_tensor({4, 16}, 37, -3.0, 3.0);
  Tensor<float> xf = testing::cast<float>(x);
  Tape<float> tape;
  const Var<float> y = ln.forward(tape.constant(xf.ref()));
  for (std::int64_t r = 0; r < 4; ++r) {
    double mean = 0, var = 0;
    for (std::int64_t j = 0; j < 16; ++j) mean += x[r * 16 + j] / 16;
    for (std::int64_t j = 0; j < 16; ++j)
      var += (x[r * 16 + j] - mean) * (x[r * 16 + j] - mean) / 16;
    for (std::int64_t j = 0; j < 16; ++j) {
      const double want = (x[r * 16 + j] - mean) / std::sqrt(var + 1e-5) * ln.weight->value()[j] +
                          ln.bias->value()[j];
      BOOST_TEST(std::abs(y.value()[r * 16 + j] - want) <= 1e-5 + 1e-5 * std::abs(want));
    }
  }
}

BOOST_AUTO_TEST_CASE(errors_name_layer_norm) {
  TAPELOOP_CHECK_THROW_MESSAGE(LayerNorm<float>(Shape{}), ValueError, "LayerNorm");
  TAPELOOP_CHECK_THROW_MESSAGE(LayerNorm<float>(Shape{4}, -1e-5), ValueError, "LayerNorm: eps");
  TAPELOOP_CHECK_THROW_MESSAGE(LayerNorm<float>(Shape{4}, std::numeric_limits<double>::quiet_NaN()),
                               ValueError, "LayerNorm: eps");
  LayerNorm<float> ln(Shape{4});
  Tape<float> tape;
  const Tensor<float> x = Tensor<float>::zeros({2, 3});
  BOOST_CHECK_THROW(ln.forward(tape.constant(x.ref())), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
