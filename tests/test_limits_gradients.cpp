// Gradients at zero: zero seeds, the subgradients at kinks and ties (PyTorch's), and clipping and
// the optimizers over gradients that are all zero.
#include <cmath>
#include <limits>
#include <vector>

#include "support/check.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

Tensor<double> grad_of(const Var<double>& v) {
  return Tensor<double>::from(TensorRef<const double>(v.grad()));
}

// d sum(seed * f(x)) / dx at the given points.
template <class Fn>
Tensor<double> gradient(Fn f, const Tensor<double>& x, const Tensor<double>& seed) {
  Tape<double> tape;
  const Var<double> v = tape.input(x.ref(), true);
  const Var<double> y = f(v);
  tape.backward(y, seed.ref());
  return grad_of(v);
}

void check_values(const Tensor<double>& t, std::vector<double> expected) {
  BOOST_REQUIRE(t.numel() == static_cast<std::int64_t>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST(t[static_cast<std::int64_t>(i)] == expected[i]);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_limits_gradients)

BOOST_AUTO_TEST_CASE(a_zero_seed_gives_zero_gradients) {
  // Through every kind of operator, away from singular points: exactly 0, never NaN.
  Tape<double> tape;
  const Var<double> x = tape.input(random_tensor({4, 6}, 1, 0.1, 1.0).ref(), true);
  const Var<double> w = tape.input(random_tensor({6, 3}, 2).ref(), true);
  const Var<double> b = tape.input(random_tensor({3}, 3).ref(), true);
  const Var<double> h = tanh(matmul(log(x) + sqrt(x) * exp(-x), w) + b);
  const Var<double> p = softmax(h, 1) / (abs(h) + 1.0) + sigmoid(h) * relu(h);
  const Var<double> y = concat({logsumexp(p, 1, true), max(p, 1, true), mean(p, 1, true)}, 1);
  const std::int64_t targets[] = {0, 2, 1, 1};
  const Var<double> loss = mse_loss(y, tape.constant(random_tensor({4, 3}, 4).ref())) +
                           cross_entropy(h, targets) + sum(pow(p, 3.0));
  tape.backward(loss, Tensor<double>::zeros({}).ref());
  for (const Var<double>& v : {x, w, b}) {
    for (double g : grad_of(v)) BOOST_TEST((g == 0.0 && !std::isnan(g)));
  }
  // A loss multiplied by 0 is the same zero seed one step later.
  Tape<double> t2;
  const Var<double> x2 = t2.input(random_tensor({5}, 5, 0.1, 1.0).ref(), true);
  t2.backward(sum(log(x2) * x2) * 0.0);
  for (double g : grad_of(x2)) BOOST_TEST(g == 0.0);
}

BOOST_AUTO_TEST_CASE(a_zero_seed_at_a_singular_point_is_nan_as_in_pytorch) {
  // Where the local derivative is infinite, 0 * inf is NaN: torch gives NaN for sqrt, log,
  // pow(x, 0.5) and 1 / x at 0 with a zero seed too. Documented, not masked.
  const Tensor<double> zero = Tensor<double>::zeros({1});
  const Tensor<double> seed = Tensor<double>::zeros({1});
  BOOST_TEST(std::isnan(gradient([](auto v) { return sqrt(v); }, zero, seed)[0]));
  BOOST_TEST(std::isnan(gradient([](auto v) { return log(v); }, zero, seed)[0]));
  BOOST_TEST(std::isnan(gradient([](auto v) { return pow(v, 0.5); }, zero, seed)[0]));
  BOOST_TEST(std::isnan(gradient([](auto v) { return 1.0 / v; }, zero, seed)[0]));
}

BOOST_AUTO_TEST_CASE(subgradients_at_kinks_and_ties_match_pytorch) {
  const Tensor<double> ones3 = Tensor<double>::ones({3});
  // relu: 0 at 0 (and at -0); abs: sign(0) = 0.
  check_values(
      gradient([](auto v) { return relu(v); }, Tensor<double>::from({3}, {-0.0, 0.0, 1.0}), ones3),
      {0, 0, 1});
  check_values(
      gradient([](auto v) { return abs(v); }, Tensor<double>::from({3}, {-0.0, 0.0, -2.0}), ones3),
      {0, 0, -1});
  // clamp: the bounds are inside (torch: [1, 1, 1, 0, 0]); with low == high only x == low.
  check_values(
      gradient([](auto v) { return clamp(v, 0.0, 1.0); },
               Tensor<double>::from({5}, {0.0, 0.5, 1.0, 2.0, -1.0}), Tensor<double>::ones({5})),
      {1, 1, 1, 0, 0});
  check_values(gradient([](auto v) { return clamp(v, 1.0, 1.0); },
                        Tensor<double>::from({3}, {0.5, 1.0, 2.0}), ones3),
               {0, 1, 0});
  // pow at 0: exponent 2 gives 0, exponent 0 gives 0 (not 0 * inf), 0.5 gives inf.
  const Tensor<double> zeros2 = Tensor<double>::zeros({2});
  const Tensor<double> ones2 = Tensor<double>::ones({2});
  check_values(gradient([](auto v) { return pow(v, 2.0); }, zeros2, ones2), {0, 0});
  check_values(gradient([](auto v) { return pow(v, 0.0); }, zeros2, ones2), {0, 0});
  BOOST_TEST(std::isinf(gradient([](auto v) { return pow(v, 0.5); }, zeros2, ones2)[0]));
  BOOST_TEST(std::isinf(gradient([](auto v) { return sqrt(v); }, zeros2, ones2)[0]));
  // max / min along an axis with ties: all of it to the first extremum (torch's max(dim)).
  const Tensor<double> ties = Tensor<double>::from({2, 3}, {1, 3, 3, 2, 2, 1});
  const Tensor<double> seed2 = Tensor<double>::ones({2});
  check_values(gradient([](auto v) { return max(v, 1); }, ties, seed2), {0, 1, 0, 1, 0, 0});
  const Tensor<double> low_ties = Tensor<double>::from({2, 3}, {1, 1, 3, 2, 0, 0});
  check_values(gradient([](auto v) { return min(v, 1); }, low_ties, seed2), {1, 0, 0, 0, 1, 0});
  // topk and argmax the same: the first of equal values.
  check_values(gradient([](auto v) { return topk(v, 1, 1).values; },
                        Tensor<double>::from({1, 3}, {2, 2, 1}), Tensor<double>::ones({1, 1})),
               {1, 0, 0});
  BOOST_TEST(argmax(Tensor<double>::from({3}, {1, 3, 3}).ref(), 0)[0] == 1);
  // logsumexp at a tie: split evenly (its gradient is the softmax), to the vector exp's
  // rounding (docs/kernels.md: within 2.5 ulp).
  const Tensor<double> split =
      gradient([](auto v) { return logsumexp(v, 1); }, Tensor<double>::from({1, 2}, {1, 1}),
               Tensor<double>::ones({1}));
  for (double g : split) BOOST_TEST(g == 0.5, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(split[0] == split[1]);
}

BOOST_AUTO_TEST_CASE(clipping_all_zero_gradients) {
  // The total norm is 0; PyTorch's coefficient max_norm / (0 + 1e-6) is >= 1 for max_norm >=
  // 1e-6 and nothing is scaled; for max_norm = 0 the gradients are scaled by 0. Never NaN.
  for (double norm_type : {2.0, 1.0, 3.0, std::numeric_limits<double>::infinity()}) {
    for (double max_norm : {1.0, 0.0}) {
      BOOST_TEST_CONTEXT("norm " << norm_type << " max_norm " << max_norm) {
        Parameter<float> a(Tensor<float>::ones({3, 2})), b(Tensor<float>::ones({4}));
        Parameter<float>* params[] = {&a, &b};
        BOOST_TEST(clip_grad_norm(params, max_norm, norm_type) == 0.0);
        for (const Parameter<float>* p : params) {
          for (float g : p->grad()) BOOST_TEST((g == 0.0f && !std::signbit(g)));
        }
      }
    }
  }
  BOOST_TEST(clip_grad_norm(std::span<Parameter<double>* const>{}, 1.0) == 0.0);
}

BOOST_AUTO_TEST_CASE(optimizers_over_zero_gradients_for_many_steps) {
  // 10,000 steps with every gradient 0: the moments stay 0, each update is 0 / (0 + eps) = 0,
  // and the parameters do not move (torch: unchanged after 10,000 Adam steps). Bias
  // corrections at large step counts are finite.
  const int steps = 10000;
  auto check = [&](auto make) {
    Parameter<float> p(Tensor<float>::from({3}, {1.0f, -2.0f, 0.5f}));
    auto optimizer = make(p);
    for (int step = 0; step < steps; ++step) {
      p.zero_grad();
      optimizer.step();
    }
    check_values(Tensor<double>::from({3}, {p.value()[0], p.value()[1], p.value()[2]}),
                 {1.0, -2.0, 0.5});
  };
  check([](Parameter<float>& p) { return Adam<float>({&p}, {.lr = 0.1}); });
  check([](Parameter<float>& p) { return Adam<float>({&p}, {.lr = 0.1, .amsgrad = true}); });
  check([](Parameter<float>& p) { return AdamW<float>({&p}, {.lr = 0.1, .weight_decay = 0.0}); });
  check([](Parameter<float>& p) { return RMSProp<float>({&p}, {.lr = 0.1}); });
  check([](Parameter<float>& p) {
    return RMSProp<float>({&p}, {.lr = 0.1, .momentum = 0.9, .centered = true});
  });
  check([](Parameter<float>& p) { return SGD<float>({&p}, {.lr = 0.1, .momentum = 0.9}); });
  // With weight decay the parameters shrink but stay finite.
  Parameter<float> q(Tensor<float>::ones({2}));
  AdamW<float> adamw({&q}, {.lr = 0.01, .weight_decay = 0.1});
  for (int step = 0; step < steps; ++step) {
    q.zero_grad();
    adamw.step();
  }
  for (float v : q.value()) BOOST_TEST((std::isfinite(v) && v > 0.0f && v < 1.0f));
  // eps = 0 makes the first update 0 / 0: NaN, exactly as torch.optim with eps=0.
  Parameter<float> r(Tensor<float>::ones({1}));
  Adam<float> no_eps({&r}, {.lr = 0.1, .eps = 0.0});
  no_eps.step();
  BOOST_TEST(std::isnan(r.value()[0]));
}

BOOST_AUTO_TEST_SUITE_END()
