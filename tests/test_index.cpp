// index_select and gather: values, repeated indices accumulating, gradients over axes, errors.
#include "support/check.hpp"

#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/index.hpp"

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

Tensor<double> iota(const Shape& shape) {
  Tensor<double> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<double>(i);
  return t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_index)

BOOST_AUTO_TEST_CASE(embedding_lookup_values_and_accumulating_gradient) {
  Tape<double> tape;
  Var<double> weight = tape.input(iota({5, 3}).ref(), true);
  std::vector<std::int64_t> ids = {4, 0, 4, 2};
  Var<double> e = index_select(weight, 0, ids);
  ids.assign({1, 1, 1, 1});  // the op kept its own copy of the indices
  BOOST_TEST(e.shape() == (Shape{4, 3}));
  const int rows[] = {4, 0, 4, 2};
  for (int j = 0; j < 4; ++j)
    for (int k = 0; k < 3; ++k) BOOST_TEST(e.value()[j * 3 + k] == rows[j] * 3 + k);
  tape.backward(e, Tensor<double>::ones({4, 3}).ref());
  const double count[] = {1, 0, 1, 0, 2};  // row 4 was looked up twice
  for (int r = 0; r < 5; ++r)
    for (int k = 0; k < 3; ++k) BOOST_TEST(weight.grad()[r * 3 + k] == count[r]);
}

BOOST_AUTO_TEST_CASE(index_select_inner_axes) {
  Tape<double> tape;
  Var<double> x = tape.input(iota({2, 4, 3}).ref());
  Var<double> a = index_select(x, 1, {3, 1});  // x[:, [3,1], :]
  BOOST_TEST(a.shape() == (Shape{2, 2, 3}));
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 3; ++k) {
      BOOST_TEST(a.value()[i * 6 + k] == i * 12 + 3 * 3 + k);
      BOOST_TEST(a.value()[i * 6 + 3 + k] == i * 12 + 1 * 3 + k);
    }
  Var<double> b = index_select(x, -1, {2, 2, 0, 1});  // x[:, :, [2,2,0,1]]
  BOOST_TEST(b.shape() == (Shape{2, 4, 4}));
  for (int r = 0; r < 8; ++r) {
    BOOST_TEST(b.value()[r * 4 + 0] == r * 3 + 2);
    BOOST_TEST(b.value()[r * 4 + 2] == r * 3 + 0);
  }
  BOOST_TEST(index_select(x, 0, std::span<const std::int64_t>()).shape() == (Shape{0, 4, 3}));
}

BOOST_AUTO_TEST_CASE(index_select_gradcheck_and_float) {
  const std::vector<Tensor<double>> in = {random_tensor({4, 3, 5}, 1)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        return index_select(x[0], 0, {3, 0, 3});
      },
      in);
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        return index_select(x[0], 1, {2, 2, 1, 0}) * 2.0;
      },
      in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return index_select(x[0], -1, {4, 1}); }, in);
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        return index_select(x[0], 0, {1}) + index_select(x[0], 0, {1, 1});
      },
      in);
  check_float_matches_double(
      [](auto&, const auto& x) {
        return index_select(x[0], 1, {0, 2, 0}) * 3.0;
      },
      in);
}

BOOST_AUTO_TEST_CASE(gather_values_like_torch) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({2, 3}, {1, 2, 3, 4, 5, 6}).ref(), true);
  // torch.gather(x, 1, [[2,0],[1,1]]) = [[3,1],[5,5]]
  const std::int64_t idx1[] = {2, 0, 1, 1};
  Var<double> g1 = gather(x, 1, idx1, Shape{2, 2});
  const double want1[] = {3, 1, 5, 5};
  for (int i = 0; i < 4; ++i) BOOST_TEST(g1.value()[i] == want1[i]);
  // torch.gather(x, 0, [[1,0,1]]) = [[4,2,6]]
  const std::int64_t idx0[] = {1, 0, 1};
  Var<double> g0 = gather(x, -2, idx0, Shape{1, 3});
  const double want0[] = {4, 2, 6};
  for (int i = 0; i < 3; ++i) BOOST_TEST(g0.value()[i] == want0[i]);
  Var<double> y = g1 * 2.0;
  tape.backward(y, Tensor<double>::ones({2, 2}).ref());
  const double grad[] = {2, 0, 2, 0, 4, 0};  // x[1,1] gathered twice
  for (int i = 0; i < 6; ++i) BOOST_TEST(x.grad()[i] == grad[i]);
}

BOOST_AUTO_TEST_CASE(gather_gradcheck_over_axes) {
  const std::vector<Tensor<double>> in = {random_tensor({3, 4, 2}, 2)};
  const std::int64_t i0[] = {2, 0, 1, 1, 0, 0, 2, 2, 1, 0, 1, 2};  // index shape [2,3,2]
  TAPELOOP_CHECK_GRADCHECK(
      [&](auto&, const auto& x) {
        return gather(x[0], 0, i0, Shape{2, 3, 2});
      },
      in);
  const std::int64_t i1[] = {3, 3, 0, 1, 2, 0};  // index shape [3,1,2]
  TAPELOOP_CHECK_GRADCHECK(
      [&](auto&, const auto& x) {
        return gather(x[0], 1, i1, Shape{3, 1, 2}) * 2.0;
      },
      in);
  const std::int64_t i2[] = {1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1,
                             0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1};
  TAPELOOP_CHECK_GRADCHECK(
      [&](auto&, const auto& x) {
        return gather(x[0], -1, i2, Shape{3, 4, 2});
      },
      in);
  check_float_matches_double(
      [&](auto&, const auto& x) {
        return gather(x[0], 0, i0, Shape{2, 3, 2}) * 1.5;
      },
      in);
}

BOOST_AUTO_TEST_CASE(index_errors) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({5, 3}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(
      index_select(x, 0, {1, 5}), ValueError,
      "index_select: index 5 at position 1 is out of range for axis 0 of [5,3] (size 5)");
  TAPELOOP_CHECK_THROW_MESSAGE(
      index_select(x, -1, {-1}), ValueError,
      "index_select: index -1 at position 0 is out of range for axis 1 of [5,3] (size 3)");
  TAPELOOP_CHECK_THROW_MESSAGE(index_select(x, 2, {0}), ShapeError,
                               "index_select: axis 2 is out of range for rank 2");
  const std::int64_t ok[] = {0, 1, 2, 0};
  TAPELOOP_CHECK_THROW_MESSAGE(gather(x, 1, ok, Shape{4}), ShapeError,
                               "gather: index shape [4] and x [5,3] differ in rank");
  TAPELOOP_CHECK_THROW_MESSAGE(gather(x, 1, ok, Shape{2, 3}), ShapeError,
                               "gather: 4 indices for index shape [2,3] (6 elements)");
  BOOST_TEST(gather(x, 1, ok, Shape{1, 4}).shape() == (Shape{1, 4}));  // any length along `axis`
  TAPELOOP_CHECK_THROW_MESSAGE(gather(x, 0, ok, Shape{1, 4}), ShapeError,
                               "gather: index shape [1,4] is larger than x [5,3] along axis 1");
  const std::int64_t bad[] = {0, 3};
  TAPELOOP_CHECK_THROW_MESSAGE(
      gather(x, 1, bad, Shape{2, 1}), ValueError,
      "gather: index 3 at position 1 is out of range for axis 1 of [5,3] (size 3)");
  const std::size_t nodes = tape.size();
  BOOST_CHECK_THROW(gather(x, 1, bad, Shape{2, 1}), ValueError);
  BOOST_TEST(tape.size() == nodes);  // a failed call records nothing
}

BOOST_AUTO_TEST_SUITE_END()
