// concat, stack, split and chunk: values, every overload, gradients over axes, errors.
#include "support/check.hpp"

#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/shape_ops.hpp"

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

BOOST_AUTO_TEST_SUITE(test_shape_ops_join)

BOOST_AUTO_TEST_CASE(concat_values_along_each_axis) {
  Tape<double> tape;
  Var<double> a = tape.input(Tensor<double>::from({2, 2}, {1, 2, 3, 4}).ref());
  Var<double> b = tape.input(Tensor<double>::from({2, 1}, {5, 6}).ref());
  Var<double> c = tape.input(Tensor<double>::from({1, 2}, {7, 8}).ref());
  Var<double> rows = concat({a, c}, 0);
  BOOST_TEST(rows.shape() == (Shape{3, 2}));
  const double want_rows[] = {1, 2, 3, 4, 7, 8};
  for (int i = 0; i < 6; ++i) BOOST_TEST(rows.value()[i] == want_rows[i]);
  const std::vector<Var<double>> list = {a, b, a};
  Var<double> cols = concat(list, -1);
  BOOST_TEST(cols.shape() == (Shape{2, 5}));
  const double want_cols[] = {1, 2, 5, 1, 2, 3, 4, 6, 3, 4};
  for (int i = 0; i < 10; ++i) BOOST_TEST(cols.value()[i] == want_cols[i]);
  Var<double> same = concat(std::span<const Var<double>>(list.data(), 2), 1);
  BOOST_TEST(same.shape() == (Shape{2, 3}));
  BOOST_TEST(same.value()[2] == 5.0);
}

BOOST_AUTO_TEST_CASE(stack_values_along_each_axis) {
  Tape<double> tape;
  Var<double> a = tape.input(Tensor<double>::from({2, 2}, {1, 2, 3, 4}).ref());
  Var<double> b = tape.input(Tensor<double>::from({2, 2}, {5, 6, 7, 8}).ref());
  Var<double> s0 = stack({a, b}, 0);
  BOOST_TEST(s0.shape() == (Shape{2, 2, 2}));
  for (int i = 0; i < 8; ++i) BOOST_TEST(s0.value()[i] == i + 1);
  Var<double> s1 = stack({a, b}, 1);  // s1[i, k, j] = (k ? b : a)[i, j]
  BOOST_TEST(s1.shape() == (Shape{2, 2, 2}));
  const double want1[] = {1, 2, 5, 6, 3, 4, 7, 8};
  for (int i = 0; i < 8; ++i) BOOST_TEST(s1.value()[i] == want1[i]);
  const std::vector<Var<double>> list = {a, b, a};
  Var<double> s2 = stack(list, -1);
  BOOST_TEST(s2.shape() == (Shape{2, 2, 3}));
  const double want2[] = {1, 5, 1, 2, 6, 2, 3, 7, 3, 4, 8, 4};
  for (int i = 0; i < 12; ++i) BOOST_TEST(s2.value()[i] == want2[i]);
  Var<double> scalars = stack({tape.scalar(1.0), tape.scalar(2.0)}, 0);
  BOOST_TEST(scalars.shape() == (Shape{2}));
  BOOST_TEST(scalars.value()[1] == 2.0);
}

BOOST_AUTO_TEST_CASE(concat_and_stack_gradcheck_over_axes) {
  const std::vector<Tensor<double>> in = {random_tensor({2, 3, 4}, 1), random_tensor({2, 3, 4}, 2),
                                          random_tensor({2, 1, 4}, 3)};
  for (int axis : {0, 1, 2, -1, -3}) {
    TAPELOOP_CHECK_GRADCHECK(
        [axis](auto&, const auto& x) {
          return concat({x[0], x[1]}, axis);
        },
        in);
  }
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return concat({x[0], x[2], x[1]}, 1); }, in);
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        return concat({x[2], x[2], x[2]}, -2) * x[0];
      },
      in);
  for (int axis : {0, 1, 3, -1, -2}) {
    TAPELOOP_CHECK_GRADCHECK(
        [axis](auto&, const auto& x) { return stack(x, axis); },
        std::vector<Tensor<double>>{random_tensor({2, 1, 3}, 4), random_tensor({2, 1, 3}, 5)});
  }
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return stack({x[0], x[1], x[0]}, 1); }, in);
}

BOOST_AUTO_TEST_CASE(concat_and_stack_float_matches_double) {
  const std::vector<Tensor<double>> in = {random_tensor({3, 4}, 6), random_tensor({3, 2}, 7)};
  check_float_matches_double([](auto&, const auto& x) { return concat(x, 1) * 2.0; }, in);
  check_float_matches_double([](auto&, const auto& x) { return stack({x[0], x[0]}, 1); }, in);
}

BOOST_AUTO_TEST_CASE(concat_backward_writes_only_inputs_that_need_it) {
  Tape<double> tape;
  Var<double> a = tape.input(Tensor<double>::ones({2, 2}).ref(), true);
  Var<double> b = tape.input(Tensor<double>::ones({2, 3}).ref(), false);
  Var<double> y = concat({a, b, a}, 1);
  tape.backward(y, Tensor<double>::full({2, 7}, 1.5).ref());
  for (int i = 0; i < 4; ++i) BOOST_TEST(a.grad()[i] == 3.0);  // used twice: the blocks add
}

BOOST_AUTO_TEST_CASE(split_and_chunk_values_and_gradients) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::arange(12).ref(), true);
  Var<double> m = reshape(x, Shape{3, 4});
  std::vector<Var<double>> parts = split(m, {1, 3}, 1);
  BOOST_TEST(parts.size() == 2u);
  BOOST_TEST(parts[0].shape() == (Shape{3, 1}));
  BOOST_TEST(parts[1].shape() == (Shape{3, 3}));
  BOOST_TEST(parts[1].value()[3] == 5.0);
  const std::int64_t sizes[] = {2, 0, 1};
  std::vector<Var<double>> rows = split(m, std::span<const std::int64_t>(sizes), 0);
  BOOST_TEST(rows.size() == 3u);
  BOOST_TEST(rows[1].shape() == (Shape{0, 4}));
  BOOST_TEST(rows[2].value()[0] == 8.0);
  BOOST_TEST(rows[0].value().data == x.value().data);  // leading rows: a view

  std::vector<Var<double>> c = chunk(m, 3, -1);  // size ceil(4/3) = 2: two pieces
  BOOST_TEST(c.size() == 2u);
  BOOST_TEST(c[1].shape() == (Shape{3, 2}));
  BOOST_TEST(chunk(m, 3, 0).size() == 3u);
  BOOST_TEST(chunk(m, 5, 1).size() == 4u);
  BOOST_TEST(chunk(narrow(m, 0, 0, 0), 2, 0).size() == 1u);

  const std::vector<Tensor<double>> in = {random_tensor({4, 6}, 8)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        auto p = split(x[0], {2, 4}, -1);
        return narrow(p[1], 1, 0, 2) * p[0];
      },
      in);
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        auto g = chunk(x[0], 2, 0);
        return g[0] - g[1] * 2.0;
      },
      in);
  check_float_matches_double(
      [](auto&, const auto& x) {
        auto g = chunk(x[0], 3, 1);
        return g[0] * g[1] + g[2];
      },
      in);
}

BOOST_AUTO_TEST_CASE(join_and_split_errors) {
  Tape<float> tape;
  auto v = [&](const Shape& s) { return tape.input(Tensor<float>::zeros(s).ref()); };
  Var<float> a = v({2, 3}), b = v({2, 4}), c = v({3, 3});
  TAPELOOP_CHECK_THROW_MESSAGE(concat({a, b, c}, 1), ShapeError,
                               "concat: shapes [2,3], [2,4], [3,3] differ outside axis 1");
  TAPELOOP_CHECK_THROW_MESSAGE(concat({a, v({2, 3, 1})}, 0), ShapeError,
                               "concat: shapes [2,3], [2,3,1] differ outside axis 0");
  TAPELOOP_CHECK_THROW_MESSAGE(concat(std::span<const Var<float>>(), 0), ValueError,
                               "concat: no inputs");
  TAPELOOP_CHECK_THROW_MESSAGE(concat({a, b}, 2), ShapeError,
                               "concat: axis 2 is out of range for rank 2");
  TAPELOOP_CHECK_THROW_MESSAGE(stack({a, b}, 0), ShapeError,
                               "stack: shapes [2,3], [2,4] are not all equal");
  TAPELOOP_CHECK_THROW_MESSAGE(stack({a, a}, 3), ShapeError,
                               "stack: axis 3 is out of range for rank 3");
  TAPELOOP_CHECK_THROW_MESSAGE(stack(std::span<const Var<float>>(), 0), ValueError,
                               "stack: no inputs");
  Var<float> r6 = v({1, 1, 1, 1, 1, 2});
  TAPELOOP_CHECK_THROW_MESSAGE(stack({r6, r6}, 0), ShapeError,
                               "stack: stacking [1,1,1,1,1,2] would exceed rank 6");
  TAPELOOP_CHECK_THROW_MESSAGE(
      split(b, {1, 2}, 1), ShapeError,
      "split: sizes (1,2) add up to 3, not the size of axis 1 of [2,4] (size 4)");
  TAPELOOP_CHECK_THROW_MESSAGE(split(b, {5, -1}, 1), ValueError, "split: negative size in (5,-1)");
  TAPELOOP_CHECK_THROW_MESSAGE(
      chunk(b, 0, 0), ValueError,
      "chunk: 0 chunks requested for axis 0 of [2,4] (size 2); need at least 1");
}

BOOST_AUTO_TEST_SUITE_END()
