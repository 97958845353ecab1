// reshape, squeeze/unsqueeze, permute/transpose, narrow/slice/select: values, views versus copies,
// gradients, errors.
#include "support/check.hpp"

#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/shape_ops.hpp"

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

template <class T>
bool inside(const Var<T>& view, const Var<T>& parent) {
  const T* p = parent.value().data;
  const T* v = view.value().data;
  return v >= p && v < p + parent.numel();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_shape_ops)

BOOST_AUTO_TEST_CASE(reshape_is_zero_copy_and_shares_the_gradient) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::arange(6).ref(), true);
  Var<double> y = reshape(x, Shape{2, 3});
  BOOST_TEST(y.shape() == (Shape{2, 3}));
  BOOST_TEST(y.value().data == x.value().data);
  const std::size_t bytes = tape.arena().bytes_in_use();
  Var<double> z = reshape(y, Shape{3, 1, 2});
  BOOST_TEST(tape.arena().bytes_in_use() == bytes);  // no buffer at all
  Var<double> w = z * z;
  tape.backward(w, Tensor<double>::ones(w.shape()).ref());
  for (int i = 0; i < 6; ++i) BOOST_TEST(x.grad()[i] == 2.0 * i);
  BOOST_TEST(z.grad().data == x.grad().data);
}

BOOST_AUTO_TEST_CASE(reshape_gradcheck_and_error) {
  std::vector<Tensor<double>> in = {random_tensor({2, 3, 4}, 1)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        return reshape(x[0], Shape{4, 6}) * 3.0;
      },
      in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return reshape(x[0], Shape{24}); }, in);
  check_float_matches_double(
      [](auto&, const auto& x) {
        return reshape(x[0], Shape{6, 4}) * x[1];
      },
      {random_tensor({2, 3, 4}, 2), random_tensor({4}, 3)});
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(reshape(x, Shape{4, 2}), ShapeError,
                               "reshape: cannot view [2,3] (6 elements) as [4,2] (8 elements)");
}

BOOST_AUTO_TEST_CASE(squeeze_and_unsqueeze_are_views_with_pytorchs_shapes) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::arange(6).ref(), true);
  Var<double> a = reshape(x, Shape{2, 1, 3});
  // Shapes as torch.unsqueeze / torch.squeeze give them.
  BOOST_TEST(unsqueeze(a, 0).shape() == (Shape{1, 2, 1, 3}));
  BOOST_TEST(unsqueeze(a, 3).shape() == (Shape{2, 1, 3, 1}));
  BOOST_TEST(unsqueeze(a, -1).shape() == (Shape{2, 1, 3, 1}));
  BOOST_TEST(unsqueeze(a, -4).shape() == (Shape{1, 2, 1, 3}));
  BOOST_TEST(squeeze(a, 1).shape() == (Shape{2, 3}));
  BOOST_TEST(squeeze(a, -2).shape() == (Shape{2, 3}));
  BOOST_TEST(squeeze(a, 0).shape() == (Shape{2, 1, 3}));  // size 2: unchanged, as PyTorch
  BOOST_TEST(squeeze(unsqueeze(a, 0)).shape() == (Shape{2, 3}));
  BOOST_TEST(squeeze(reshape(x, Shape{1, 6, 1})).shape() == (Shape{6}));
  BOOST_TEST(squeeze(reshape(x, Shape{6})).shape() == (Shape{6}));
  // Views: the same memory, and the gradient is the parent's.
  const std::size_t bytes = tape.arena().bytes_in_use();
  Var<double> v = squeeze(unsqueeze(a, 2), 1);
  BOOST_TEST(v.value().data == x.value().data);
  BOOST_TEST(tape.arena().bytes_in_use() == bytes);
  Var<double> w = v * v;
  tape.backward(w, Tensor<double>::ones(w.shape()).ref());
  for (int i = 0; i < 6; ++i) BOOST_TEST(x.grad()[i] == 2.0 * i);
}

BOOST_AUTO_TEST_CASE(squeeze_and_unsqueeze_gradcheck_float_and_errors) {
  const std::vector<Tensor<double>> in = {random_tensor({3, 1, 2}, 4), random_tensor({3, 2, 1}, 5)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) { return unsqueeze(squeeze(x[0], 1), 2) * x[1]; }, in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return squeeze(x[0]) * 2.0; }, in);
  check_float_matches_double([](auto&, const auto& x) { return squeeze(x[1], -1) * squeeze(x[0]); },
                             in);
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(unsqueeze(x, 3), ShapeError,
                               "unsqueeze: axis 3 is outside [-3, 2] for [2,3]");
  TAPELOOP_CHECK_THROW_MESSAGE(squeeze(x, 2), ShapeError, "squeeze");
  Var<float> full = tape.input(Tensor<float>::zeros({1, 1, 1, 1, 1, 2}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(unsqueeze(full, 0), ShapeError,
                               "unsqueeze: [1,1,1,1,1,2] already has the largest rank, 6");
}

BOOST_AUTO_TEST_CASE(transpose_and_permute_values) {
  Tape<double> tape;
  Var<double> m = tape.input(Tensor<double>::from({2, 3}, {1, 2, 3, 4, 5, 6}).ref());
  Var<double> mt = transpose(m, 0, 1);
  BOOST_TEST(mt.shape() == (Shape{3, 2}));
  const double want[] = {1, 4, 2, 5, 3, 6};
  for (int i = 0; i < 6; ++i) BOOST_TEST(mt.value()[i] == want[i]);

  Tensor<double> t = Tensor<double>::arange(24);
  Var<double> x = tape.input(
      Tensor<double>::from(Shape{2, 3, 4}, std::vector<double>(t.begin(), t.end())).ref());
  Var<double> p = permute(x, {2, 0, 1});  // p[k,i,j] = x[i,j,k]
  BOOST_TEST(p.shape() == (Shape{4, 2, 3}));
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) BOOST_TEST(p.value()[k * 6 + i * 3 + j] == i * 12 + j * 4 + k);
  const int axes[] = {-1, -3, -2};  // the span overload with negative axes: the same permutation
  Var<double> q = permute(x, std::span<const int>(axes));
  for (int i = 0; i < 24; ++i) BOOST_TEST(q.value()[i] == p.value()[i]);
  Var<double> r = transpose(x, -1, 0);  // r[k,j,i] = x[i,j,k]
  BOOST_TEST(r.shape() == (Shape{4, 3, 2}));
  BOOST_TEST(r.value()[1 * 6 + 2 * 2 + 1] == 1 * 12 + 2 * 4 + 1);
}

BOOST_AUTO_TEST_CASE(permute_moving_only_unit_axes_is_a_view) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::arange(6).ref(), true);
  Var<double> y = reshape(x, Shape{1, 6, 1});
  Var<double> z = permute(y, {2, 1, 0});
  BOOST_TEST(z.value().data == x.value().data);
  Var<double> w = transpose(reshape(x, Shape{2, 3}), 0, 1);
  BOOST_TEST(w.value().data != x.value().data);  // a real transpose is copied
}

BOOST_AUTO_TEST_CASE(permute_gradcheck_and_float) {
  const std::vector<Tensor<double>> in = {random_tensor({2, 3, 4}, 4)};
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return transpose(x[0], 0, 2); }, in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return transpose(x[0], -1, 1) * 2.0; }, in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return permute(x[0], {1, 2, 0}); }, in);
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        return permute(x[0], {0, 2, 1}) + permute(x[0], {0, 2, 1});
      },
      in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return transpose(x[0], 0, 1); },
                           std::vector<Tensor<double>>{random_tensor({3, 1, 2, 2}, 5)});
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return transpose(x[0], 0, 1); },
                           std::vector<Tensor<double>>{random_tensor({5, 3}, 6)});
  check_float_matches_double(
      [](auto&, const auto& x) {
        return permute(x[0], {2, 0, 1}) * 1.5;
      },
      in);
}

BOOST_AUTO_TEST_CASE(permute_errors) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3, 4}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(
      permute(x, {0, 0, 1}), ShapeError,
      "permute: axes (0,0,1) are not a permutation of the axes of [2,3,4]");
  TAPELOOP_CHECK_THROW_MESSAGE(permute(x, {1, 0}), ShapeError,
                               "permute: axes (1,0) are not a permutation of the axes of [2,3,4]");
  TAPELOOP_CHECK_THROW_MESSAGE(permute(x, {0, 1, 3}), ShapeError,
                               "permute: axes (0,1,3) are not a permutation");
  TAPELOOP_CHECK_THROW_MESSAGE(transpose(x, 0, 3), ShapeError,
                               "transpose: axes 0 and 3 are not both axes of [2,3,4]");
}

BOOST_AUTO_TEST_CASE(narrow_slice_select_values) {
  Tape<double> tape;
  Tensor<double> t = Tensor<double>::arange(24);
  Var<double> x = tape.input(
      Tensor<double>::from(Shape{2, 3, 4}, std::vector<double>(t.begin(), t.end())).ref());
  Var<double> a = narrow(x, 1, 1, 2);  // x[:, 1:3, :]
  BOOST_TEST(a.shape() == (Shape{2, 2, 4}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 4; ++k)
        BOOST_TEST(a.value()[i * 8 + j * 4 + k] == i * 12 + (j + 1) * 4 + k);
  Var<double> b = slice(x, -1, -3, -1);  // x[:, :, 1:3]
  BOOST_TEST(b.shape() == (Shape{2, 3, 2}));
  for (int r = 0; r < 6; ++r)
    for (int k = 0; k < 2; ++k) BOOST_TEST(b.value()[r * 2 + k] == r * 4 + k + 1);
  Var<double> c = select(x, 2, -1);  // x[:, :, 3]
  BOOST_TEST(c.shape() == (Shape{2, 3}));
  for (int r = 0; r < 6; ++r) BOOST_TEST(c.value()[r] == r * 4 + 3);
  Var<double> d = select(x, 1, 0);
  BOOST_TEST(d.shape() == (Shape{2, 4}));
  BOOST_TEST(d.value()[5] == 13.0);
  BOOST_TEST(slice(x, 0, 1, 1).shape() == (Shape{0, 3, 4}));  // empty range
  BOOST_TEST(narrow(x, 2, 4, 0).shape() == (Shape{2, 3, 0}));
}

BOOST_AUTO_TEST_CASE(contiguous_blocks_are_views_strided_ones_copies) {
  Tape<double> tape;
  Var<double> x = tape.input(random_tensor({4, 3, 5}, 7).ref(), true);
  Var<double> rows = narrow(x, 0, 1, 2);
  BOOST_TEST(rows.value().data == x.value().data + 15);
  Var<double> whole = narrow(x, 1, 0, 3);  // the whole axis: still one block
  BOOST_TEST(whole.value().data == x.value().data);
  Var<double> one = reshape(select(x, 0, 2), Shape{1, 3, 5});
  Var<double> inner = select(one, 1, 1);  // axes before it have size 1
  BOOST_TEST(inner.value().data == x.value().data + 2 * 15 + 5);
  Var<double> cols = narrow(x, 1, 1, 1);
  BOOST_TEST(!inside(cols, x));
}

BOOST_AUTO_TEST_CASE(select_time_steps_of_a_time_major_sequence) {
  constexpr int T = 64, B = 4, H = 32;
  Tape<double> tape;
  Var<double> x = tape.input(random_tensor({T, B, H}, 8).ref(), true);
  const std::size_t full_bytes = sizeof(double) * T * B * H;
  const std::size_t before = tape.arena().bytes_in_use();

  Var<double> total = select(x, 0, 0);
  BOOST_TEST(total.value().data == x.value().data);
  for (int t = 1; t < T; ++t) {
    Var<double> step = select(x, 0, t);
    BOOST_TEST(inside(step, x));
    BOOST_TEST(step.value().data == x.value().data + t * B * H);  // no copy
    total = total + step * static_cast<double>(t);
  }
  tape.backward(total, Tensor<double>::ones({B, H}).ref());
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < B * H; ++i) BOOST_TEST(x.grad()[t * B * H + i] == (t == 0 ? 1.0 : t));
  // The views cost nothing: the arena holds x's gradient and the small per-step sums, far from
  // the T full-size buffers a copying slice with a dense backward would take.
  const std::size_t used = tape.arena().bytes_in_use() - before;
  BOOST_TEST_MESSAGE("arena growth " << used << " bytes, full buffer " << full_bytes);
  BOOST_TEST(used < 8 * full_bytes);
  BOOST_TEST(used * 4 < T * full_bytes);
}

BOOST_AUTO_TEST_CASE(strided_slices_add_in_place_without_full_size_buffers) {
  constexpr int B = 8, T = 64;
  Tape<double> tape;
  Var<double> x = tape.input(random_tensor({B, T}, 9).ref(), true);  // batch-major: strided
  const std::size_t full_bytes = sizeof(double) * B * T;
  const std::size_t before = tape.arena().bytes_in_use();
  Var<double> total = select(x, 1, 0);
  for (int t = 1; t < T; ++t) total = total + select(x, 1, t);
  tape.backward(total, Tensor<double>::ones({B}).ref());
  for (int i = 0; i < B * T; ++i) BOOST_TEST(x.grad()[i] == 1.0);
  BOOST_TEST(tape.arena().bytes_in_use() - before < 16 * full_bytes);
}

BOOST_AUTO_TEST_CASE(slicing_gradcheck_over_axes) {
  const std::vector<Tensor<double>> in = {random_tensor({3, 4, 5}, 10)};
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return narrow(x[0], 0, 1, 2); }, in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return narrow(x[0], 1, 1, 2) * 2.0; }, in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return narrow(x[0], 2, 0, 3); }, in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return slice(x[0], -1, 1, -1); }, in);
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) { return select(x[0], 0, -1) * select(x[0], 0, 0); }, in);
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) { return select(x[0], 1, 2) + select(x[0], -2, 2); }, in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return select(x[0], -1, 4); }, in);
  // Overlapping pieces of one input, views and copies mixed.
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) {
        return narrow(x[0], 1, 0, 3) * narrow(x[0], 1, 1, 3) + slice(x[0], 1, -3, 4);
      },
      in);
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return select(select(x[0], 2, 1), 1, 1); },
                           std::vector<Tensor<double>>{random_tensor({1, 3, 2}, 11)});
}

BOOST_AUTO_TEST_CASE(slicing_float_matches_double) {
  const std::vector<Tensor<double>> in = {random_tensor({3, 4, 5}, 12)};
  check_float_matches_double([](auto&, const auto& x) { return narrow(x[0], 1, 1, 2) * 2.0; }, in);
  check_float_matches_double([](auto&, const auto& x) { return slice(x[0], 0, -2, 3) + 1.0; }, in);
  check_float_matches_double(
      [](auto&, const auto& x) { return select(x[0], 2, 3) * select(x[0], 2, 1); }, in);
  check_float_matches_double([](auto&, const auto& x) { return select(x[0], 0, 1) * 2.0; }, in);
}

BOOST_AUTO_TEST_CASE(slicing_errors) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(
      narrow(x, 1, 2, 2), ValueError,
      "narrow: start 2, length 2 is out of range for axis 1 of [2,3] (size 3)");
  TAPELOOP_CHECK_THROW_MESSAGE(
      narrow(x, 0, -1, 1), ValueError,
      "narrow: start -1, length 1 is out of range for axis 0 of [2,3] (size 2)");
  TAPELOOP_CHECK_THROW_MESSAGE(narrow(x, 0, 0, -1), ValueError, "narrow: start 0, length -1");
  TAPELOOP_CHECK_THROW_MESSAGE(slice(x, -1, 1, 4), ValueError,
                               "slice: [1:4] is out of range for axis 1 of [2,3] (size 3)");
  TAPELOOP_CHECK_THROW_MESSAGE(slice(x, 1, 2, 1), ValueError,
                               "slice: [2:1] is out of range for axis 1 of [2,3] (size 3)");
  TAPELOOP_CHECK_THROW_MESSAGE(slice(x, 0, -3, 1), ValueError, "slice: [-3:1] is out of range");
  TAPELOOP_CHECK_THROW_MESSAGE(select(x, 0, 2), ValueError,
                               "select: index 2 is out of range for axis 0 of [2,3] (size 2)");
  TAPELOOP_CHECK_THROW_MESSAGE(select(x, 1, -4), ValueError,
                               "select: index -4 is out of range for axis 1 of [2,3] (size 3)");
  TAPELOOP_CHECK_THROW_MESSAGE(select(x, 2, 0), ShapeError,
                               "select: axis 2 is out of range for rank 2");
}

BOOST_AUTO_TEST_SUITE_END()
