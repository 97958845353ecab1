// RecurrentLinear: the values and gradients of linear at every step (the weight's summed over
// the steps, on a packed weight from 4 rows), gradients checked, float, recording modes, errors.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "support/check.hpp"

#include "tapeloop/ops/recurrent_linear.hpp"

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

// h_{t+1} = tanh(P(h_t) + x_t) for T steps, P the recurrent product; v = {xs [T,B,H], h0 [B,H],
// W [H,H], b [H]} (b absent: no bias). Returns every step's h joined along axis 0, so every
// step's gradient reaches the loss.
template <class T, class Product>
Var<T> unroll(const std::vector<Var<T>>& v, Product product) {
  const std::int64_t steps = v[0].dim(0);
  Var<T> h = v[1];
  std::vector<Var<T>> hs;
  for (std::int64_t t = 0; t < steps; ++t) {
    h = tanh(product(h) + select(v[0], 0, t));
    hs.push_back(h);
  }
  return concat(hs, 0);
}

template <class T>
Var<T> with_recurrent_linear(const std::vector<Var<T>>& v) {
  RecurrentLinear<T> p(v[2], v.size() > 3 ? v[3] : Var<T>{}, v[1].dim(0), v[0].dim(0));
  return unroll(v, [&](const Var<T>& h) { return p(h); });
}

template <class T>
Var<T> with_linear(const std::vector<Var<T>>& v) {
  return unroll(
      v, [&](const Var<T>& h) { return v.size() > 3 ? linear(h, v[2], v[3]) : linear(h, v[2]); });
}

std::vector<Tensor<double>> inputs(std::int64_t steps, std::int64_t batch, std::int64_t hidden,
                                   bool bias, std::uint64_t seed) {
  std::vector<Tensor<double>> in = {random_tensor({steps, batch, hidden}, seed),
                                    random_tensor({batch, hidden}, seed + 1),
                                    random_tensor({hidden, hidden}, seed + 2)};
  if (bias) in.push_back(random_tensor({hidden}, seed + 3));
  return in;
}

bool identical(TensorRef<const double> a, TensorRef<const double> b) {
  return a.shape == b.shape &&
         std::memcmp(a.data, b.data, sizeof(double) * static_cast<std::size_t>(a.numel())) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_recurrent_linear)

BOOST_AUTO_TEST_CASE(gradcheck_through_an_unrolled_loop) {
  for (bool bias : {true, false}) {
    BOOST_TEST_CONTEXT("bias " << bias) {
      // 2 rows: the weight as stored; 5 rows: packed for the kernel (a tile of 5 rows).
      for (std::int64_t rows : {2, 5}) {
        TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return with_recurrent_linear(v); },
                                 inputs(3, rows, 3, bias, 10));
      }
    }
  }
  // One step, one row.
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& v) { return with_recurrent_linear(v); },
                           inputs(1, 1, 2, true, 20));
}

BOOST_AUTO_TEST_CASE(same_as_linear_at_every_step) {
  // The same sums as linear at every step, in another order: the steps' products on the
  // packed weight (from 4 rows), W's and b's gradients as one GEMM over all steps.
  for (std::int64_t rows : {2, 5, 11}) {
    const std::vector<Tensor<double>> in = inputs(7, rows, 6, true, 30);
    auto run = [&](bool recurrent) {
      Tape<double> tape;
      std::vector<Var<double>> v;
      for (const Tensor<double>& t : in) v.push_back(tape.input(t.ref(), true));
      const Var<double> y = recurrent ? with_recurrent_linear(v) : with_linear(v);
      const Tensor<double> seed = random_tensor(y.shape(), 31);
      tape.backward(y, seed.ref());
      std::vector<Tensor<double>> out = {y.to_tensor()};
      for (const Var<double>& x : v)
        out.push_back(Tensor<double>::from(TensorRef<const double>(x.grad())));
      return out;
    };
    const auto a = run(true), b = run(false);
    for (std::size_t i = 0; i < a.size(); ++i) {
      double scale = 0, worst = 0;
      for (std::int64_t j = 0; j < a[i].numel(); ++j) {
        scale = std::max(scale, std::abs(b[i][j]));
        worst = std::max(worst, std::abs(a[i][j] - b[i][j]));
      }
      BOOST_TEST(scale > 0.0);
      BOOST_TEST(worst <= 1e-14 * scale,
                 "rows " << rows << ", tensor " << i << ": " << worst << " of " << scale);
    }
  }
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  check_float_matches_double([](auto&, const auto& v) { return with_recurrent_linear(v); },
                             inputs(4, 3, 9, true, 40));
}

BOOST_AUTO_TEST_CASE(backward_again_after_zero_grads_gives_the_same_gradients) {
  const std::vector<Tensor<double>> in = inputs(3, 2, 4, true, 50);
  Tape<double> tape;
  std::vector<Var<double>> v;
  for (const Tensor<double>& t : in) v.push_back(tape.input(t.ref(), true));
  const Var<double> loss = sum(with_recurrent_linear(v));
  tape.backward(loss);
  const Tensor<double> first = Tensor<double>::from(TensorRef<const double>(v[2].grad()));
  tape.zero_grads();
  tape.backward(loss);
  BOOST_TEST(identical(first.ref(), v[2].grad()));
}

BOOST_AUTO_TEST_CASE(frozen_weight_or_no_recording_is_plain_linear) {
  const std::vector<Tensor<double>> in = inputs(3, 2, 4, true, 60);
  {
    // Only the bias learns: the shared node still sums its gradient; the weight gets none.
    Tape<double> tape;
    std::vector<Var<double>> v = {tape.input(in[0].ref(), true), tape.input(in[1].ref(), true),
                                  tape.input(in[2].ref(), false), tape.input(in[3].ref(), true)};
    tape.backward(sum(with_recurrent_linear(v)));
    BOOST_TEST(!v[2].requires_grad());
    double norm = 0;
    for (std::int64_t j = 0; j < 4; ++j) norm += std::abs(v[3].grad()[j]);
    BOOST_TEST(norm > 0.0);
  }
  {
    // Nothing reaches W or b: each call is a linear node; h0 still gets its gradient.
    Tape<double> tape;
    std::vector<Var<double>> v = {tape.input(in[0].ref()), tape.input(in[1].ref(), true),
                                  tape.input(in[2].ref()), tape.input(in[3].ref())};
    RecurrentLinear<double> p(v[2], v[3], 2, 3);
    const Var<double> y = p(v[1]);
    BOOST_TEST(std::string(y.op()) == "linear");
    tape.backward(sum(y));
    BOOST_TEST(std::abs(v[1].grad()[0]) > 0.0);
  }
  {
    Tape<double> tape;
    const Var<double> w = tape.input(in[2].ref(), true), h = tape.input(in[1].ref(), true);
    auto guard = tape.no_grad();
    RecurrentLinear<double> p(w, Var<double>{}, 2, 1);
    BOOST_TEST(!p(h).requires_grad());
  }
  {
    // Not recording, with rows enough for the packed weight: each step is a node of its own
    // with linear's values (to rounding), and a call past `steps` still throws.
    Tape<double> tape;
    const Var<double> w = tape.input(in[2].ref()), b = tape.input(in[3].ref());
    const Tensor<double> x = random_tensor({6, 4}, 61);
    const Var<double> h = tape.input(x.ref());
    auto guard = tape.no_grad();
    RecurrentLinear<double> p(w, b, 6, 2);
    const Var<double> y = p(h), want = linear(h, w, b);
    BOOST_TEST(!y.requires_grad());
    for (std::int64_t j = 0; j < want.numel(); ++j) {
      BOOST_TEST(std::abs(y.value()[j] - want.value()[j]) <=
                 1e-14 * std::abs(want.value()[j]) + 1e-15);
    }
    p(h);
    BOOST_CHECK_THROW(p(h), ValueError);
  }
}

BOOST_AUTO_TEST_CASE(errors_name_the_operator_and_the_shapes) {
  Tape<float> tape;
  auto v = [&](const Shape& s) { return tape.input(Tensor<float>::zeros(s).ref(), true); };
  const Var<float> w = v({8, 3}), b = v({8});
  TAPELOOP_CHECK_THROW_MESSAGE(
      RecurrentLinear<float>(v({8, 3, 1}), b, 2, 4), ShapeError,
      "recurrent_linear: weight [8,3,1]: expected [out_features, in_features]");
  TAPELOOP_CHECK_THROW_MESSAGE(RecurrentLinear<float>(w, v({3}), 2, 4), ShapeError,
                               "recurrent_linear: weight [8,3] and bias [3]: expected bias [8]");
  TAPELOOP_CHECK_THROW_MESSAGE(RecurrentLinear<float>(w, b, 0, 4), ValueError,
                               "recurrent_linear: rows 0 and steps 4 must be positive");
  RecurrentLinear<float> p(w, b, 2, 2);
  TAPELOOP_CHECK_THROW_MESSAGE(
      p(v({3, 3})), ShapeError,
      "recurrent_linear: input [3,3]: expected [r, 3] with 1 <= r <= 2 (weight [8,3])");
  p(v({2, 3}));
  p(v({2, 3}));
  TAPELOOP_CHECK_THROW_MESSAGE(p(v({2, 3})), ValueError,
                               "recurrent_linear: more than the 2 steps it was made for");
  BOOST_TEST(p.calls() == 2);
}

BOOST_AUTO_TEST_SUITE_END()
