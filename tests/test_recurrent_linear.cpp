// RecurrentLinear: the values and gradients of linear at every step (the weight's summed over
// the steps, on a packed weight from 4 rows), gradients checked, float, recording modes, errors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <span>

#include "support/check.hpp"

#include "tapeloop/ops/recurrent_linear.hpp"
#include "tapeloop/ops/shape_ops.hpp"

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

// On a base: h_{t+1} = tanh(A_t + P(h_t)) with A = linear(xs, U), [T,B,H] (or packed rows,
// [sum of batch_sizes, H], the running batch shrinking as sequences end), its steps in time
// order or reversed, the first `skip` of them not run (so the rows written start further on).
// v = {xs, h0 [B,H], W [H,H], b [H] or [0] (no bias), U [H,I]}. `step` is
// (base, h, A_t) -> A_t + P(h).
template <class T, class Step>
Var<T> unroll_on_base(const std::vector<Var<T>>& v, std::span<const std::int64_t> batch_sizes,
                      bool reverse, std::int64_t skip, Step step) {
  const Var<T> base = linear(v[0], v[4]);
  const std::int64_t steps = static_cast<std::int64_t>(batch_sizes.size());
  std::vector<std::int64_t> offsets(batch_sizes.size() + 1, 0);
  for (std::size_t t = 0; t < batch_sizes.size(); ++t) offsets[t + 1] = offsets[t] + batch_sizes[t];
  const Var<T> rows = base.rank() == 3 ? reshape(base, Shape{offsets.back(), base.dim(2)}) : base;
  Var<T> h = v[1];
  std::vector<Var<T>> hs;
  for (std::int64_t k = 0; k < steps - skip; ++k) {
    const std::int64_t t = reverse ? steps - 1 - k : skip + k;
    const std::int64_t r = batch_sizes[static_cast<std::size_t>(t)];
    const Var<T> a = narrow(rows, 0, offsets[static_cast<std::size_t>(t)], r);
    h = tanh(step(base, narrow(h, 0, 0, std::min(r, h.dim(0))), a));
    hs.push_back(h);
  }
  return concat(hs, 0);
}

template <class T>
Var<T> on_base(const std::vector<Var<T>>& v, std::span<const std::int64_t> batch_sizes,
               bool reverse, std::int64_t skip = 0) {
  std::optional<RecurrentLinear<T>> p;
  return unroll_on_base(v, batch_sizes, reverse, skip,
                        [&](const Var<T>& base, const Var<T>& h, const Var<T>& a) {
                          if (!p)
                            p.emplace(v[2], v[3].numel() ? v[3] : Var<T>{}, v[1].dim(0), base);
                          return (*p)(h, a);
                        });
}

template <class T>
Var<T> on_base_with_linear(const std::vector<Var<T>>& v, std::span<const std::int64_t> batch_sizes,
                           bool reverse, std::int64_t skip) {
  return unroll_on_base(v, batch_sizes, reverse, skip,
                        [&](const Var<T>&, const Var<T>& h, const Var<T>& a) {
                          return (v[3].numel() ? linear(h, v[2], v[3]) : linear(h, v[2])) + a;
                        });
}

// Inputs of on_base: xs [T,B,I] for equal batch sizes, else packed [rows, I].
std::vector<Tensor<double>> base_inputs(std::span<const std::int64_t> batch_sizes,
                                        std::int64_t hidden, std::int64_t in, bool bias,
                                        std::uint64_t seed) {
  std::int64_t rows = 0;
  for (std::int64_t r : batch_sizes) rows += r;
  const std::int64_t batch = batch_sizes[0], steps = static_cast<std::int64_t>(batch_sizes.size());
  const bool uniform = rows == batch * steps;
  return {uniform ? random_tensor({steps, batch, in}, seed) : random_tensor({rows, in}, seed),
          random_tensor({batch, hidden}, seed + 1), random_tensor({hidden, hidden}, seed + 2),
          bias ? random_tensor({hidden}, seed + 3) : Tensor<double>(Shape{0}),
          random_tensor({hidden, in}, seed + 4)};
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

// A base run and its reference (linear + the window) on the same inputs: outputs and every
// gradient to rounding; `wants_grad` says which inputs require a gradient.
void check_on_base(const std::vector<Tensor<double>>& in, std::span<const std::int64_t> batch_sizes,
                   bool reverse, const std::vector<bool>& wants_grad, std::int64_t skip = 0) {
  auto run = [&](bool recurrent) {
    Tape<double> tape;
    std::vector<Var<double>> v;
    for (std::size_t i = 0; i < in.size(); ++i) v.push_back(tape.input(in[i].ref(), wants_grad[i]));
    const Var<double> y = recurrent ? on_base(v, batch_sizes, reverse, skip)
                                    : on_base_with_linear(v, batch_sizes, reverse, skip);
    const Tensor<double> seed = random_tensor(y.shape(), 77);
    std::vector<Tensor<double>> out = {y.to_tensor()};
    if (!y.requires_grad()) return out;
    tape.backward(y, seed.ref());
    for (const Var<double>& x : v) {
      if (x.requires_grad()) out.push_back(Tensor<double>::from(TensorRef<const double>(x.grad())));
    }
    return out;
  };
  const auto a = run(true), b = run(false);
  BOOST_TEST_REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST_REQUIRE(a[i].shape() == b[i].shape());
    if (a[i].numel() == 0) continue;  // an absent bias
    double scale = 0, worst = 0;
    for (std::int64_t j = 0; j < a[i].numel(); ++j) {
      scale = std::max(scale, std::abs(b[i][j]));
      worst = std::max(worst, std::abs(a[i][j] - b[i][j]));
    }
    BOOST_TEST(scale > 0.0);
    BOOST_TEST(worst <= 1e-14 * scale, "tensor " << i << ": " << worst << " of " << scale);
  }
}

BOOST_AUTO_TEST_CASE(on_a_base_adds_into_its_rows) {
  const std::int64_t uniform[] = {5, 5, 5, 5}, shrinking[] = {6, 6, 4, 1},
                     few_uniform[] = {2, 2, 2};
  const std::vector<bool> all(5, true);
  for (bool reverse : {false, true}) {
    for (bool bias : {true, false}) {
      BOOST_TEST_CONTEXT("reverse " << reverse << " bias " << bias) {
        // Packed weight (>= 4 rows), the weight as stored (2 rows), and (in time order: a
        // reverse sweep would need the batch to grow) a shrinking running batch.
        check_on_base(base_inputs(uniform, 6, 3, bias, 100), uniform, reverse, all);
        check_on_base(base_inputs(few_uniform, 4, 3, bias, 120), few_uniform, reverse, all);
        if (!reverse) check_on_base(base_inputs(shrinking, 6, 3, bias, 110), shrinking, false, all);
        // Not every row of the base written: the weight's gradient over those written only.
        check_on_base(base_inputs(uniform, 6, 3, bias, 115), uniform, reverse, all, 2);
      }
    }
  }
  // Every way a gradient may or may not reach the base, the weight and the state: in place
  // into the base, the base copied into a node of its own, a step node of its own, no gradient.
  for (const std::vector<bool>& wants_grad :
       {std::vector<bool>{false, true, true, true, false},    // base without one; W, h0 with
        std::vector<bool>{false, true, false, false, false},  // only h0: steps of their own
        std::vector<bool>{true, false, false, false, true},   // base only: steps in place
        std::vector<bool>{false, false, false, false, false}}) {
    check_on_base(base_inputs(shrinking, 6, 3, true, 130), shrinking, false, wants_grad);
  }
}

BOOST_AUTO_TEST_CASE(on_a_base_gradcheck_and_float) {
  const std::int64_t uniform[] = {5, 5, 5}, shrinking[] = {3, 2, 2, 1};
  for (bool reverse : {false, true}) {
    auto fn = [&](std::span<const std::int64_t> sizes) {
      return [sizes, reverse](auto&, const auto& v) { return on_base(v, sizes, reverse); };
    };
    TAPELOOP_CHECK_GRADCHECK(fn(uniform), base_inputs(uniform, 3, 2, true, 140));
    TAPELOOP_CHECK_GRADCHECK(fn(uniform), base_inputs(uniform, 3, 2, false, 145));
    check_float_matches_double(fn(uniform), base_inputs(uniform, 9, 4, true, 160));
  }
  auto packed = [&](auto&, const auto& v) { return on_base(v, shrinking, false); };
  TAPELOOP_CHECK_GRADCHECK(packed, base_inputs(shrinking, 3, 2, false, 150));
  check_float_matches_double(packed, base_inputs(shrinking, 9, 4, true, 170));
}

BOOST_AUTO_TEST_CASE(on_a_base_errors) {
  Tape<float> tape;
  auto v = [&](const Shape& s) { return tape.input(Tensor<float>::zeros(s).ref(), true); };
  const Var<float> w = v({8, 3}), x = v({6, 2}), u = v({8, 2});
  const Var<float> base = linear(x, u);  // [6, 8]: 3 steps of 2 rows
  TAPELOOP_CHECK_THROW_MESSAGE(RecurrentLinear<float>(w, Var<float>{}, 2, tanh(base)), ValueError,
                               "recurrent_linear: base made by tanh: expected the output of "
                               "linear or matmul");
  TAPELOOP_CHECK_THROW_MESSAGE(RecurrentLinear<float>(w, Var<float>{}, 2, linear(x, v({5, 2}))),
                               ShapeError, "recurrent_linear: base [6,5]: expected [..., 8]");
  RecurrentLinear<float> p(w, Var<float>{}, 2, base);
  const Var<float> h = v({2, 3});
  TAPELOOP_CHECK_THROW_MESSAGE(
      p(h), ValueError, "recurrent_linear: made on a base [6,8]: each call needs its addend");
  TAPELOOP_CHECK_THROW_MESSAGE(p(h, v({2, 8})), ValueError,
                               "recurrent_linear: addend [2,8] is not a window of whole rows of "
                               "base [6,8]");
  TAPELOOP_CHECK_THROW_MESSAGE(p(h, narrow(base, 0, 0, 3)), ShapeError,
                               "recurrent_linear: addend [3,8]: expected [2, 8] for input [2,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(
      p(v({3, 3}), narrow(base, 0, 0, 3)), ShapeError,
      "recurrent_linear: input [3,3]: expected [r, 3] with 1 <= r <= 2 (weight [8,3])");
  p(h, narrow(base, 0, 2, 2));  // rows [2, 4)
  TAPELOOP_CHECK_THROW_MESSAGE(p(h, narrow(base, 0, 2, 2)), ValueError,
                               "recurrent_linear: addend at rows [2, 4) of base [6,8] is not next "
                               "to the rows written so far, [2, 4)");
  p(h, narrow(base, 0, 0, 2));  // before them
  p(h, narrow(base, 0, 4, 2));  // after them
  BOOST_TEST(p.calls() == 3);
  RecurrentLinear<float> plain(w, Var<float>{}, 2, 3);
  TAPELOOP_CHECK_THROW_MESSAGE(plain(h, narrow(base, 0, 0, 2)), ValueError,
                               "recurrent_linear: an addend given, but made without a base");
}

BOOST_AUTO_TEST_SUITE_END()
