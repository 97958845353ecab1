// Tensors with a zero-size axis through every kind of operator, backward, and files: PyTorch's
// results (tests/golden is not needed: each value below is what torch 1.13 gives) or a typed error.
#include <cmath>
#include <limits>
#include <vector>

#include "support/check.hpp"
#include "support/files.hpp"

using namespace tapeloop;

namespace {

// What one recording gives: the output and, after backpropagating sum(output) (a seed that
// exists for an empty output too), every input's gradient.
struct Run {
  Tensor<double> y;
  std::vector<Tensor<double>> grads;
};

// Runs fn on a tape that fills every new value with NaN, so an output element an operator
// leaves unwritten shows up.
template <class Fn>
Run run(Fn fn, const std::vector<Tensor<double>>& inputs) {
  Tape<double> tape;
  tape.set_poison_values(true);
  std::vector<Var<double>> xs;
  for (const Tensor<double>& x : inputs) xs.push_back(tape.input(x.ref(), true));
  const Var<double> y = fn(xs);
  Run r{y.to_tensor(), {}};
  tape.backward(sum(y));
  for (const Var<double>& x : xs) {
    r.grads.push_back(Tensor<double>::from(TensorRef<const double>(x.grad())));
  }
  return r;
}

void check_all(const Tensor<double>& t, const Shape& shape, double value) {
  BOOST_TEST(t.shape() == shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (std::isnan(value)) {
      BOOST_TEST(std::isnan(t[i]));
    } else {
      BOOST_TEST(t[i] == value);
    }
  }
}

// Gradients have their input's shape and are zero: nothing flows through an empty tensor.
void check_zero_grads(const Run& r, const std::vector<Tensor<double>>& inputs) {
  BOOST_REQUIRE(r.grads.size() == inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) check_all(r.grads[i], inputs[i].shape(), 0.0);
}

Tensor<double> filled(const Shape& shape, double start = 0.5) {
  Tensor<double> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = start + 0.25 * static_cast<double>(i);
  return t;
}

using Vars = std::vector<Var<double>>;

}  // namespace

BOOST_AUTO_TEST_SUITE(test_limits_empty)

BOOST_AUTO_TEST_CASE(elementwise_operators_keep_the_empty_shape) {
  for (const Shape& shape : {Shape{0, 3}, Shape{4, 0}, Shape{0}}) {
    BOOST_TEST_CONTEXT("shape " << shape.str()) {
      const std::vector<Tensor<double>> in = {Tensor<double>::zeros(shape),
                                              Tensor<double>::ones(shape)};
      auto unary = [&](auto op) {
        const Run r = run([&](const Vars& x) { return op(x[0]); }, in);
        BOOST_TEST(r.y.shape() == shape);
        check_zero_grads(r, in);
      };
      unary([](const Var<double>& x) { return exp(x); });
      unary([](const Var<double>& x) { return log(x); });
      unary([](const Var<double>& x) { return sqrt(x); });
      unary([](const Var<double>& x) { return abs(x); });
      unary([](const Var<double>& x) { return tanh(x); });
      unary([](const Var<double>& x) { return sigmoid(x); });
      unary([](const Var<double>& x) { return relu(x); });
      unary([](const Var<double>& x) { return pow(x, 3.0); });
      unary([](const Var<double>& x) { return clamp(x, -1.0, 1.0); });
      unary([](const Var<double>& x) { return -x * 2.0 + 1.0; });
      auto binary = [&](auto op) {
        const Run r = run([&](const Vars& x) { return op(x[0], x[1]); }, in);
        BOOST_TEST(r.y.shape() == shape);
        check_zero_grads(r, in);
      };
      binary([](const Var<double>& a, const Var<double>& b) { return a + b; });
      binary([](const Var<double>& a, const Var<double>& b) { return a - b; });
      binary([](const Var<double>& a, const Var<double>& b) { return a * b; });
      binary([](const Var<double>& a, const Var<double>& b) { return a / b; });
      binary([](const Var<double>& a, const Var<double>& b) { return where(a, a, b); });
    }
  }
}

BOOST_AUTO_TEST_CASE(broadcasting_against_an_empty_tensor_gives_zero_gradients) {
  // [4,0] with [4,1], [0,3] with [3] and with a scalar: the result is empty, and the operand
  // that is not gets a zero gradient of its own shape (a sum over no elements), as in PyTorch.
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{4, 0}, {4, 1}}, {{0, 3}, {3}}, {{0, 3}, {}}, {{0, 3}, {1, 3}}, {{2, 0, 3}, {2, 1, 3}}};
  for (const auto& [empty, full] : pairs) {
    BOOST_TEST_CONTEXT(empty.str() << " with " << full.str()) {
      const std::vector<Tensor<double>> in = {filled(empty), filled(full)};
      for (int op = 0; op < 4; ++op) {
        const Run r = run(
            [op](const Vars& x) {
              switch (op) {
                case 0:
                  return x[0] + x[1];
                case 1:
                  return x[1] - x[0];
                case 2:
                  return x[0] * x[1];
                default:
                  return x[1] / x[0];
              }
            },
            in);
        BOOST_TEST(r.y.shape() == empty);
        check_zero_grads(r, in);
      }
    }
  }
  Tape<double> tape;
  const Var<double> a = tape.input(Tensor<double>::zeros({0, 3}).ref());
  const Var<double> b = tape.input(Tensor<double>::zeros({2, 3}).ref());
  // A size-0 axis broadcasts only against 1, as in PyTorch.
  TAPELOOP_CHECK_THROW_MESSAGE(a + b, ShapeError, "add: [0,3] and [2,3]: cannot broadcast");
}

BOOST_AUTO_TEST_CASE(matrix_products_over_an_empty_inner_dimension_are_zeros) {
  // [2,0] x [0,3]: a sum of no products, so zeros (written: the tape poisons new values).
  const std::vector<Tensor<double>> k0 = {filled({2, 0}), filled({0, 3})};
  const Run r = run([](const Vars& x) { return matmul(x[0], x[1]); }, k0);
  check_all(r.y, {2, 3}, 0.0);
  check_zero_grads(r, k0);
  // Batched and shared-weight forms.
  const std::vector<Tensor<double>> bk0 = {filled({2, 3, 0}), filled({2, 0, 4})};
  check_all(run([](const Vars& x) { return matmul(x[0], x[1]); }, bk0).y, {2, 3, 4}, 0.0);
  const std::vector<Tensor<double>> sk0 = {filled({2, 3, 0}), filled({0, 4})};
  check_all(run([](const Vars& x) { return matmul(x[0], x[1]); }, sk0).y, {2, 3, 4}, 0.0);
  // M = 0 and N = 0: empty results; the other operand's gradient is zero.
  const std::vector<Tensor<double>> m0 = {filled({0, 4}), filled({4, 3})};
  const Run rm = run([](const Vars& x) { return matmul(x[0], x[1]); }, m0);
  BOOST_TEST(rm.y.shape() == (Shape{0, 3}));
  check_zero_grads(rm, m0);
  const std::vector<Tensor<double>> n0 = {filled({2, 4}), filled({4, 0})};
  const Run rn = run([](const Vars& x) { return matmul(x[0], x[1]); }, n0);
  BOOST_TEST(rn.y.shape() == (Shape{2, 0}));
  check_zero_grads(rn, n0);
  const std::vector<Tensor<double>> b0 = {filled({0, 2, 4}), filled({0, 4, 3})};
  BOOST_TEST(run([](const Vars& x) { return matmul(x[0], x[1]); }, b0).y.shape() ==
             (Shape{0, 2, 3}));
}

BOOST_AUTO_TEST_CASE(linear_with_no_rows_or_no_features) {
  // No input features: y = b in every row (torch: F.linear(zeros(2,0), ones(3,0), b) = b); the
  // bias's gradient is the column sum of the seed, 2 for two rows of ones.
  const std::vector<Tensor<double>> no_features = {filled({2, 0}), filled({3, 0}),
                                                   Tensor<double>::from({3}, {1, 2, 3})};
  const Run r = run([](const Vars& x) { return linear(x[0], x[1], x[2]); }, no_features);
  BOOST_TEST(r.y.shape() == (Shape{2, 3}));
  for (std::int64_t i = 0; i < 6; ++i) BOOST_TEST(r.y[i] == static_cast<double>(i % 3 + 1));
  check_all(r.grads[0], {2, 0}, 0.0);
  check_all(r.grads[1], {3, 0}, 0.0);
  check_all(r.grads[2], {3}, 2.0);
  // No rows: an empty result; the weight and bias get zero gradients (torch: zeros too).
  const std::vector<Tensor<double>> no_rows = {filled({0, 4}), filled({3, 4}), filled({3})};
  const Run e = run([](const Vars& x) { return linear(x[0], x[1], x[2]); }, no_rows);
  BOOST_TEST(e.y.shape() == (Shape{0, 3}));
  check_zero_grads(e, no_rows);
  const std::vector<Tensor<double>> no_rows_3d = {filled({5, 0, 4}), filled({3, 4})};
  const Run e3 = run([](const Vars& x) { return linear(x[0], x[1]); }, no_rows_3d);
  BOOST_TEST(e3.y.shape() == (Shape{5, 0, 3}));
  check_zero_grads(e3, no_rows_3d);
}

BOOST_AUTO_TEST_CASE(a_parameter_gradient_is_left_alone_by_an_empty_batch) {
  // A rule that assigned its gradient instead of adding, or wrote garbage for an empty batch,
  // would change what the parameter already holds.
  Parameter<double> w(filled({3, 4}));
  Parameter<double> b(filled({3}));
  w.grad().fill(7.0);
  b.grad().fill(-2.0);
  Tape<double> tape;
  const Var<double> x = tape.input(Tensor<double>::zeros({0, 4}).ref());
  tape.backward(sum(tanh(linear(x, w.var(tape), b.var(tape)))));
  check_all(Tensor<double>(w.grad()), {3, 4}, 7.0);
  check_all(Tensor<double>(b.grad()), {3}, -2.0);
}

BOOST_AUTO_TEST_CASE(reductions_of_nothing) {
  const std::vector<Tensor<double>> e03 = {filled({0, 3})};
  const std::vector<Tensor<double>> e40 = {filled({4, 0})};
  auto reduce = [](auto op, const std::vector<Tensor<double>>& in) {
    const Run r = run([&](const Vars& x) { return op(x[0]); }, in);
    check_zero_grads(r, in);
    return r.y;
  };
  // torch: sum of nothing 0, mean NaN; along an empty axis the same per slice.
  check_all(reduce([](const Var<double>& x) { return sum(x); }, e03), {}, 0.0);
  check_all(reduce([](const Var<double>& x) { return mean(x); }, e03), {}, NAN);
  check_all(reduce([](const Var<double>& x) { return sum(x, 0); }, e03), {3}, 0.0);
  check_all(reduce([](const Var<double>& x) { return mean(x, 0); }, e03), {3}, NAN);
  check_all(reduce([](const Var<double>& x) { return sum(x, 1, true); }, e40), {4, 1}, 0.0);
  check_all(reduce([](const Var<double>& x) { return mean(x, -1); }, e40), {4}, NAN);
  // Reducing the non-empty axis of an empty tensor: an empty result.
  check_all(reduce([](const Var<double>& x) { return sum(x, 1); }, e03), {0}, 0.0);
  check_all(reduce([](const Var<double>& x) { return max(x, 1); }, e03), {0}, 0.0);
  check_all(reduce([](const Var<double>& x) { return min(x, 0); }, e40), {0}, 0.0);
  // logsumexp over an empty axis is log(0) = -inf, as torch.logsumexp.
  const double inf = std::numeric_limits<double>::infinity();
  check_all(reduce([](const Var<double>& x) { return logsumexp(x, 1); }, e40), {4}, -inf);
  check_all(reduce([](const Var<double>& x) { return logsumexp(x, 0, true); }, e03), {1, 3}, -inf);
  check_all(reduce([](const Var<double>& x) { return logsumexp(x, 1); }, e03), {0}, 0.0);
  {
    Tape<float> tape;
    const Var<float> x = tape.input(Tensor<float>::zeros({4, 0}).ref());
    for (float v : logsumexp(x, 1).to_tensor())
      BOOST_TEST(v == -std::numeric_limits<float>::infinity());
  }

  // max, min, argmax and argmin have no value over an empty axis (torch: IndexError).
  Tape<double> tape;
  const Var<double> x = tape.input(Tensor<double>::zeros({0, 3}).ref(), true);
  const std::size_t nodes = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(max(x, 0), ShapeError, "max: [0,3]: cannot reduce axis 0 of size 0");
  TAPELOOP_CHECK_THROW_MESSAGE(min(x, -2, true), ShapeError,
                               "min: [0,3]: cannot reduce axis 0 of size 0");
  TAPELOOP_CHECK_THROW_MESSAGE(argmax(x, 0), ShapeError, "argmax: [0,3]: axis 0 has size 0");
  TAPELOOP_CHECK_THROW_MESSAGE(argmin(x, 0), ShapeError, "argmin: [0,3]: axis 0 has size 0");
  BOOST_TEST(tape.size() == nodes);  // nothing recorded by the failed calls
  // topk of 0 elements along an empty axis is fine (torch too); of 1 it is not.
  const Var<double> y = tape.input(Tensor<double>::zeros({4, 0}).ref(), true);
  BOOST_TEST(topk(y, 0, 1).values.shape() == (Shape{4, 0}));
  TAPELOOP_CHECK_THROW_MESSAGE(topk(y, 1, 1), ValueError, "topk: k = 1 for axis 1 of [4,0]");
}

BOOST_AUTO_TEST_CASE(softmax_and_layer_norm_of_empty_tensors) {
  for (const Shape& shape : {Shape{0, 3}, Shape{4, 0}}) {
    for (int axis : {0, 1}) {
      BOOST_TEST_CONTEXT(shape.str() << " axis " << axis) {
        const std::vector<Tensor<double>> in = {filled(shape)};
        const Run s = run([axis](const Vars& x) { return softmax(x[0], axis); }, in);
        BOOST_TEST(s.y.shape() == shape);
        check_zero_grads(s, in);
        const Run l = run([axis](const Vars& x) { return log_softmax(x[0], axis); }, in);
        BOOST_TEST(l.y.shape() == shape);
        check_zero_grads(l, in);
      }
    }
  }
  // layer_norm over [3] of no rows (torch: an empty result).
  const std::vector<Tensor<double>> rows = {filled({0, 3}), filled({3}), filled({3})};
  const Run ln = run([](const Vars& x) { return layer_norm(x[0], {3}, x[1], x[2], 1e-5); }, rows);
  BOOST_TEST(ln.y.shape() == (Shape{0, 3}));
  check_zero_grads(ln, rows);
}

BOOST_AUTO_TEST_CASE(layout_operators_with_empty_pieces) {
  // concat: empty pieces add nothing (torch.cat too); the non-empty piece gets the gradient.
  const std::vector<Tensor<double>> rows = {filled({0, 3}), filled({2, 3}), filled({0, 3})};
  const Run c = run([](const Vars& x) { return concat(x, 0); }, rows);
  BOOST_TEST(c.y.shape() == (Shape{2, 3}));
  for (std::int64_t i = 0; i < 6; ++i) BOOST_TEST(c.y[i] == rows[1][i]);
  check_all(c.grads[0], {0, 3}, 0.0);
  check_all(c.grads[1], {2, 3}, 1.0);
  const std::vector<Tensor<double>> cols = {filled({2, 0}), filled({2, 3})};
  const Run c1 = run([](const Vars& x) { return concat(x, 1); }, cols);
  BOOST_TEST(c1.y.shape() == (Shape{2, 3}));
  check_all(c1.grads[1], {2, 3}, 1.0);
  const std::vector<Tensor<double>> all_empty = {filled({0, 3}), filled({0, 3})};
  BOOST_TEST(run([](const Vars& x) { return concat(x, 0); }, all_empty).y.shape() == (Shape{0, 3}));
  // stack of empty tensors: [2,0,3] (torch.stack too).
  const Run st = run([](const Vars& x) { return stack(x, 0); }, all_empty);
  BOOST_TEST(st.y.shape() == (Shape{2, 0, 3}));
  check_zero_grads(st, all_empty);
  // reshape between empty shapes, permute, narrow to nothing, split and chunk.
  const std::vector<Tensor<double>> e = {filled({0, 3})};
  BOOST_TEST(run(
                 [](const Vars& x) {
                   return reshape(x[0], {3, 0});
                 },
                 e)
                 .y.shape() == (Shape{3, 0}));
  BOOST_TEST(run([](const Vars& x) { return reshape(x[0], {0}); }, e).y.shape() == (Shape{0}));
  BOOST_TEST(run([](const Vars& x) { return transpose(x[0], 0, 1); }, e).y.shape() ==
             (Shape{3, 0}));
  const std::vector<Tensor<double>> full = {filled({2, 3})};
  const Run n = run([](const Vars& x) { return narrow(x[0], 1, 3, 0); }, full);
  BOOST_TEST(n.y.shape() == (Shape{2, 0}));
  check_zero_grads(n, full);
  Tape<double> tape;
  const Var<double> x = tape.input(Tensor<double>::zeros({0, 3}).ref());
  const std::vector<Var<double>> pieces = split(x, {0, 0}, 0);
  BOOST_TEST(pieces.size() == 2u);
  BOOST_TEST(chunk(x, 3, 0).size() == 1u);  // one empty piece, as torch.chunk
  TAPELOOP_CHECK_THROW_MESSAGE(reshape(x, {2, 2}), ShapeError, "reshape: cannot view [0,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(select(x, 0, 0), ValueError, "select: index 0 is out of range");
  TAPELOOP_CHECK_THROW_MESSAGE(
      stack(std::vector<Var<double>>{x, tape.input(filled({1, 3}).ref())}, 0), ShapeError,
      "stack: shapes [0,3], [1,3] are not all equal");
}

BOOST_AUTO_TEST_CASE(losses_over_zero_rows_match_pytorch) {
  // torch 1.13: every loss with mean over zero terms is NaN, with sum 0; the gradient of the
  // input is empty either way.
  const std::vector<Tensor<double>> two = {filled({0, 3}), filled({0, 3})};
  const std::vector<Tensor<double>> one = {filled({0, 3})};
  const std::span<const std::int64_t> none;
  for (Reduction red : {Reduction::mean, Reduction::sum}) {
    const double expected = red == Reduction::mean ? NAN : 0.0;
    BOOST_TEST_CONTEXT("reduction " << (red == Reduction::mean ? "mean" : "sum")) {
      const Run m = run([red](const Vars& x) { return mse_loss(x[0], x[1], red); }, two);
      check_all(m.y, {}, expected);
      check_zero_grads(m, two);
      const Run b = run(
          [red](const Vars& x) { return binary_cross_entropy_with_logits(x[0], x[1], red); }, two);
      check_all(b.y, {}, expected);
      check_zero_grads(b, two);
      const Run ce = run([&](const Vars& x) { return cross_entropy(x[0], none, red); }, one);
      check_all(ce.y, {}, expected);
      check_zero_grads(ce, one);
      const double weights[] = {1.0, 2.0, 0.5};
      CrossEntropyOptions<double> options{
          .reduction = red, .weight = weights, .label_smoothing = 0.1};
      const Run cw = run([&](const Vars& x) { return cross_entropy(x[0], none, options); }, one);
      check_all(cw.y, {}, expected);
      check_zero_grads(cw, one);
      const Run nl =
          run([&](const Vars& x) { return nll_loss(x[0], none, {.reduction = red}); }, one);
      check_all(nl.y, {}, expected);
      check_zero_grads(nl, one);
    }
  }
  // Every target ignored: the same NaN / 0, and (torch) a zero gradient, not a NaN one.
  const std::vector<Tensor<double>> logits = {filled({2, 3})};
  const std::int64_t ignored[] = {-100, -100};
  for (Reduction red : {Reduction::mean, Reduction::sum}) {
    const Run r = run(
        [&](const Vars& x) {
          return cross_entropy(x[0], ignored, {.reduction = red, .label_smoothing = 0.1});
        },
        logits);
    check_all(r.y, {}, red == Reduction::mean ? NAN : 0.0);
    check_zero_grads(r, logits);
    const Run nl =
        run([&](const Vars& x) { return nll_loss(x[0], ignored, {.reduction = red}); }, logits);
    check_all(nl.y, {}, red == Reduction::mean ? NAN : 0.0);
    check_zero_grads(nl, logits);
  }
  // No classes: every target is out of range (torch: IndexError).
  Tape<double> tape;
  const Var<double> x = tape.input(Tensor<double>::zeros({2, 0}).ref());
  const std::int64_t zeros[] = {0, 0};
  TAPELOOP_CHECK_THROW_MESSAGE(
      cross_entropy(x, zeros), ValueError,
      "cross_entropy: logits [2,0]: target 0 at position 0 is out of range [0,0)");
}

BOOST_AUTO_TEST_CASE(backward_from_an_empty_output) {
  // A seed of zero elements is a valid vector-Jacobian product: every gradient is zero.
  Tape<double> tape;
  const Var<double> w = tape.input(filled({3, 4}).ref(), true);
  const Var<double> x = tape.input(filled({0, 3}).ref(), true);
  const Var<double> y = tanh(matmul(x, w));
  BOOST_TEST(y.shape() == (Shape{0, 4}));
  tape.backward(y, Tensor<double>::zeros({0, 4}).ref());
  check_all(Tensor<double>::from(TensorRef<const double>(w.grad())), {3, 4}, 0.0);
  // A scalar output needs a one-element one.
  TAPELOOP_CHECK_THROW_MESSAGE(tape.backward(y), ShapeError,
                               "backward: output of shape [0,4] is not a single value");
}

BOOST_AUTO_TEST_CASE(empty_tensors_and_parameters) {
  Tensor<float> t = Tensor<float>::zeros({0, 3});
  BOOST_TEST(t.numel() == 0);
  BOOST_TEST(t.data() != nullptr);  // storage of zero elements is still an allocation
  Tensor<float> copy = t;
  BOOST_TEST(copy.shape() == (Shape{0, 3}));
  copy = Tensor<float>::ones({2, 2});
  copy = t;
  BOOST_TEST(copy.shape() == (Shape{0, 3}));
  BOOST_TEST(Tensor<float>::from({4, 0}, std::vector<float>{}).shape() == (Shape{4, 0}));
  BOOST_TEST(Tensor<float>::arange(3).numel() == 3);
  BOOST_TEST(Tensor<float>::arange(2.0f, 2.0f).shape() == (Shape{0}));
  TAPELOOP_CHECK_THROW_MESSAGE(t.at({0, 0}), ValueError, "index 0 out of range for axis 0");

  // A parameter with no elements trains like any other: no gradient, no update, no NaN.
  Parameter<float> empty(Tensor<float>::zeros({0, 3}), "empty");
  Parameter<float> w(Tensor<float>::ones({3}), "w");
  Adam<float> adam({&empty, &w}, {.lr = 0.1});
  RMSProp<float> rmsprop({&empty}, {});
  for (int step = 0; step < 3; ++step) {
    Tape<float> tape;
    tape.backward(sum(w.var(tape) * sum(empty.var(tape))));
    adam.step();
    rmsprop.step();
  }
  BOOST_TEST(empty.grad().shape() == (Shape{0, 3}));
  for (float v : w.value()) BOOST_TEST(v == 1.0f);  // its gradient is sum(nothing) = 0
  Parameter<float>* params[] = {&empty};
  BOOST_TEST(clip_grad_norm(params, 1.0) == 0.0);  // torch: 0 too
}

BOOST_AUTO_TEST_CASE(empty_tensors_in_files) {
  testing::TempDir dir("limits-empty");
  const Tensor<float> e03 = Tensor<float>::zeros({0, 3});
  const Tensor<double> e0 = Tensor<double>::zeros({0});
  const Tensor<float> full = Tensor<float>::from({2}, {1.5f, -2.0f});
  save_safetensors(dir / "empty.safetensors",
                   {{"a", e03.ref()}, {"b", e0.ref()}, {"c", full.ref()}});
  const SafetensorsFile file = load_safetensors(dir / "empty.safetensors");
  BOOST_TEST(file.shape("a") == (Shape{0, 3}));
  BOOST_TEST(file.tensor<float>("a").shape() == (Shape{0, 3}));
  BOOST_TEST(file.tensor<double>("b").shape() == (Shape{0}));
  BOOST_TEST(file.tensor<float>("c")[1] == -2.0f);
  save_safetensors(dir / "nothing.safetensors", std::span<const NamedTensor>{});
  BOOST_TEST(load_safetensors(dir / "nothing.safetensors").names().empty());

  // A checkpoint with an empty parameter and its optimizer state round-trips.
  Parameter<float> empty(Tensor<float>::zeros({4, 0}), "empty");
  Parameter<float> w(Tensor<float>::from({2}, {3.0f, 4.0f}), "w");
  Adam<float> adam({&empty, &w}, {});
  w.grad().fill(1.0f);
  adam.step();
  save_parameters(dir / "ck.safetensors", {&empty, &w}, &adam);
  Parameter<float> empty2(Tensor<float>::zeros({4, 0}), "empty");
  Parameter<float> w2(Tensor<float>::zeros({2}), "w");
  Adam<float> adam2({&empty2, &w2}, {});
  load_parameters(dir / "ck.safetensors", {&empty2, &w2}, &adam2);
  BOOST_TEST(w2.value()[0] == w.value()[0]);
  BOOST_TEST(empty2.shape() == (Shape{4, 0}));
  // The shape is still checked: [0,4] is not [4,0].
  Parameter<float> wrong(Tensor<float>::zeros({0, 4}), "empty");
  BOOST_CHECK_THROW(load_parameters(dir / "ck.safetensors", {&wrong, &w2}), FormatError);
}

BOOST_AUTO_TEST_SUITE_END()
