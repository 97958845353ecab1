// linear: values against a plain loop, every input rank, gradients, zero sizes, errors.
#include "support/check.hpp"

#include "tapeloop/ops/linear.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

// y[r,o] = sum_i x[r,i] w[o,i] + b[o] by the definition (b may be null).
std::vector<double> naive(const Tensor<double>& x, const Tensor<double>& w, const double* b) {
  const std::int64_t out = w.shape()[0], in = w.shape()[1], rows = x.numel() / in;
  std::vector<double> y(static_cast<std::size_t>(rows * out));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t o = 0; o < out; ++o) {
      double s = b ? b[o] : 0.0;
      for (std::int64_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      y[static_cast<std::size_t>(r * out + o)] = s;
    }
  return y;
}

const auto with_bias = [](auto&, const auto& v) { return linear(v[0], v[1], v[2]); };
const auto without_bias = [](auto&, const auto& v) { return linear(v[0], v[1]); };

}  // namespace

BOOST_AUTO_TEST_SUITE(test_linear)

BOOST_AUTO_TEST_CASE(values_match_a_plain_loop_for_every_rank) {
  const std::vector<Shape> inputs = {{5}, {3, 5}, {2, 3, 5}, {2, 1, 2, 5}};
  for (const Shape& xs : inputs) {
    Tape<double> tape;
    Tensor<double> x = random_tensor(xs, 1), w = random_tensor({4, 5}, 2),
                   b = random_tensor({4}, 3);
    Var<double> y = linear(tape.input(x.ref()), tape.input(w.ref()), tape.input(b.ref()));
    Shape want = xs;
    want[xs.rank() - 1] = 4;
    BOOST_TEST(y.shape() == want);
    const std::vector<double> ref = naive(x, w, b.data());
    for (std::size_t i = 0; i < ref.size(); ++i)
      BOOST_TEST(y.value()[static_cast<std::int64_t>(i)] == ref[i],
                 boost::test_tools::tolerance(1e-12));
    Var<double> y0 = linear(tape.input(x.ref()), tape.input(w.ref()));
    const std::vector<double> ref0 = naive(x, w, nullptr);
    for (std::size_t i = 0; i < ref0.size(); ++i)
      BOOST_TEST(y0.value()[static_cast<std::int64_t>(i)] == ref0[i],
                 boost::test_tools::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(small_example_by_hand) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::from({1, 2}, {1, 2}).ref());
  Var<float> w = tape.input(Tensor<float>::from({3, 2}, {1, 0, 0, 1, 1, 1}).ref());
  Var<float> b = tape.input(Tensor<float>::from({3}, {10, 20, 30}).ref());
  Var<float> y = linear(x, w, b);
  BOOST_TEST(y.value()[0] == 11.0f);
  BOOST_TEST(y.value()[1] == 22.0f);
  BOOST_TEST(y.value()[2] == 33.0f);
}

BOOST_AUTO_TEST_CASE(gradients_by_formula) {
  // For y = x W^T + b and seed g: dx = g W, dW = g^T x, db = column sums of g.
  Tape<double> tape;
  Tensor<double> xt = random_tensor({3, 4}, 4), wt = random_tensor({2, 4}, 5);
  Tensor<double> bt = random_tensor({2}, 6), gt = random_tensor({3, 2}, 7);
  Var<double> x = tape.input(xt.ref(), true), w = tape.input(wt.ref(), true);
  Var<double> b = tape.input(bt.ref(), true);
  tape.backward(linear(x, w, b), gt.ref());
  auto tol = boost::test_tools::tolerance(1e-12);
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 4; ++i) {
      double s = 0;
      for (int o = 0; o < 2; ++o) s += gt[r * 2 + o] * wt[o * 4 + i];
      BOOST_TEST(x.grad()[r * 4 + i] == s, tol);
    }
  for (int o = 0; o < 2; ++o) {
    double sb = 0;
    for (int r = 0; r < 3; ++r) sb += gt[r * 2 + o];
    BOOST_TEST(b.grad()[o] == sb, tol);
    for (int i = 0; i < 4; ++i) {
      double s = 0;
      for (int r = 0; r < 3; ++r) s += gt[r * 2 + o] * xt[r * 4 + i];
      BOOST_TEST(w.grad()[o * 4 + i] == s, tol);
    }
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_over_shapes) {
  // {input, weight}: rank 1, 2, 3 and 4 inputs; size-1 features and outputs.
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{5}, {3, 5}},    {{4, 3}, {2, 3}},       {{2, 3, 4}, {5, 4}}, {{1, 1}, {1, 1}},
      {{3, 1}, {4, 1}}, {{2, 2, 1, 3}, {1, 3}}, {{6, 2}, {6, 2}}};
  std::uint64_t seed = 10;
  for (const auto& [xs, ws] : shapes) {
    Tensor<double> x = random_tensor(xs, seed++), w = random_tensor(ws, seed++);
    TAPELOOP_CHECK_GRADCHECK(with_bias, {x, w, random_tensor({ws[0]}, seed++)});
    TAPELOOP_CHECK_GRADCHECK(without_bias, {x, w});
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_weight_shared_across_uses) {
  // A recurrence h = tanh(linear(h, W, b)) twice: the weight's gradient is the sum of both uses.
  std::vector<Tensor<double>> in = {random_tensor({2, 3}, 30), random_tensor({3, 3}, 31),
                                    random_tensor({3}, 32)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& v) { return linear(tanh(linear(v[0], v[1], v[2])), v[1], v[2]); }, in);
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  using tapeloop::testing::check_float_matches_double;
  check_float_matches_double(
      with_bias, {random_tensor({4, 7}, 40), random_tensor({5, 7}, 41), random_tensor({5}, 42)});
  check_float_matches_double(without_bias,
                             {random_tensor({2, 3, 7}, 43), random_tensor({5, 7}, 44)});
  check_float_matches_double(
      with_bias, {random_tensor({7}, 45), random_tensor({5, 7}, 46), random_tensor({5}, 47)});
}

BOOST_AUTO_TEST_CASE(zero_size_dimensions) {
  // No input features: y is the bias in every row, and the weight's gradient is empty.
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::zeros({3, 0}).ref(), true);
  Var<double> w = tape.input(Tensor<double>::zeros({2, 0}).ref(), true);
  Var<double> b = tape.input(Tensor<double>::from({2}, {1.5, -2.0}).ref(), true);
  Var<double> y = linear(x, w, b);
  BOOST_TEST(y.shape() == (Shape{3, 2}));
  for (int r = 0; r < 3; ++r) {
    BOOST_TEST(y.value()[r * 2] == 1.5);
    BOOST_TEST(y.value()[r * 2 + 1] == -2.0);
  }
  BOOST_TEST(linear(x, w).value()[5] == 0.0);
  tape.backward(y, Tensor<double>::ones({3, 2}).ref());
  BOOST_TEST(b.grad()[0] == 3.0);

  // No rows: an empty output; the gradients stay zero.
  Tape<double> t2;
  Var<double> e = t2.input(Tensor<double>::zeros({0, 4}).ref(), true);
  Var<double> w2 = t2.input(Tensor<double>::ones({3, 4}).ref(), true);
  Var<double> b2 = t2.input(Tensor<double>::ones({3}).ref(), true);
  Var<double> y2 = linear(e, w2, b2);
  BOOST_TEST(y2.shape() == (Shape{0, 3}));
  Var<double> keep = linear(t2.input(Tensor<double>::ones({1, 4}).ref()), w2, b2);
  t2.backward(keep, Tensor<double>::ones({1, 3}).ref());
  for (int i = 0; i < 12; ++i) BOOST_TEST(w2.grad()[i] == 1.0);
  for (int i = 0; i < 3; ++i) BOOST_TEST(b2.grad()[i] == 1.0);
}

BOOST_AUTO_TEST_CASE(errors_name_the_shapes) {
  Tape<float> tape;
  auto v = [&](const Shape& s) { return tape.input(Tensor<float>::zeros(s).ref()); };
  TAPELOOP_CHECK_THROW_MESSAGE(
      linear(v({32, 128}), v({256, 512})), ShapeError,
      "linear: input [32,128] and weight [256,512]: input features 128 and 512 differ");
  TAPELOOP_CHECK_THROW_MESSAGE(
      linear(v({2, 3, 4}), v({5, 3}), v({5})), ShapeError,
      "linear: input [2,3,4] and weight [5,3]: input features 4 and 3 differ");
  TAPELOOP_CHECK_THROW_MESSAGE(linear(v({2, 4}), v({5, 4}), v({4})), ShapeError,
                               "linear: weight [5,4] and bias [4]: expected bias [5]");
  TAPELOOP_CHECK_THROW_MESSAGE(linear(v({2, 4}), v({5, 4}), v({1, 5})), ShapeError,
                               "linear: weight [5,4] and bias [1,5]: expected bias [5]");
  TAPELOOP_CHECK_THROW_MESSAGE(linear(v({2, 4}), v({4})), ShapeError,
                               "linear: weight [4]: expected [out_features, in_features]");
  TAPELOOP_CHECK_THROW_MESSAGE(linear(v({2, 4}), v({2, 5, 4})), ShapeError,
                               "linear: weight [2,5,4]: expected [out_features, in_features]");
  TAPELOOP_CHECK_THROW_MESSAGE(linear(v({}), v({3, 1})), ShapeError,
                               "linear: input [] and weight [3,1]: the input needs at least one");
  const std::size_t nodes = tape.size();
  BOOST_CHECK_THROW(linear(v({2, 3}), v({4, 5})), ShapeError);
  BOOST_TEST(tape.size() == nodes + 2);  // the two inputs; the failed call recorded nothing
}

BOOST_AUTO_TEST_CASE(vars_of_another_tape_are_refused) {
  Tape<float> a, b;
  Var<float> x = a.input(Tensor<float>::zeros({2, 3}).ref());
  Var<float> w = b.input(Tensor<float>::zeros({4, 3}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(linear(x, w), TapeError, "linear: the Var belongs to another tape");
}

BOOST_AUTO_TEST_SUITE_END()
