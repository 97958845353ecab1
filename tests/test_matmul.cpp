// matmul: values against a naive triple loop, all three forms, gradients, empty sizes, errors.
#include "support/check.hpp"

#include "tapeloop/ops/matmul.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

// C[M,N] = A[M,K] B[K,N] by the definition.
std::vector<double> naive(const double* a, const double* b, std::int64_t m, std::int64_t k,
                          std::int64_t n) {
  std::vector<double> c(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t p = 0; p < k; ++p)
        c[static_cast<std::size_t>(i * n + j)] += a[i * k + p] * b[p * n + j];
  return c;
}

void check_close(const double* got, const std::vector<double>& want) {
  for (std::size_t i = 0; i < want.size(); ++i)
    BOOST_TEST(got[i] == want[i], boost::test_tools::tolerance(1e-12));
}

const auto mm = [](auto&, const auto& x) { return matmul(x[0], x[1]); };

}  // namespace

BOOST_AUTO_TEST_SUITE(test_matmul)

BOOST_AUTO_TEST_CASE(matrix_product_matches_triple_loop) {
  Tape<double> tape;
  Tensor<double> a = random_tensor({3, 5}, 1), b = random_tensor({5, 7}, 2);
  Var<double> y = matmul(tape.input(a.ref()), tape.input(b.ref()));
  BOOST_TEST(y.shape() == (Shape{3, 7}));
  check_close(y.value().data, naive(a.data(), b.data(), 3, 5, 7));
}

BOOST_AUTO_TEST_CASE(small_product_by_hand) {
  Tape<float> tape;
  Var<float> a = tape.input(Tensor<float>::from({2, 2}, {1, 2, 3, 4}).ref());
  Var<float> b = tape.input(Tensor<float>::from({2, 1}, {5, 6}).ref());
  Var<float> y = matmul(a, b);
  BOOST_TEST(y.value()[0] == 17.0f);  // 1*5 + 2*6
  BOOST_TEST(y.value()[1] == 39.0f);  // 3*5 + 4*6
}

BOOST_AUTO_TEST_CASE(batched_product_matches_triple_loop_per_batch) {
  Tape<double> tape;
  Tensor<double> a = random_tensor({4, 3, 5}, 3), b = random_tensor({4, 5, 7}, 4);
  Var<double> y = matmul(tape.input(a.ref()), tape.input(b.ref()));
  BOOST_TEST(y.shape() == (Shape{4, 3, 7}));
  for (int i = 0; i < 4; ++i) {
    check_close(y.value().data + i * 21, naive(a.data() + i * 15, b.data() + i * 35, 3, 5, 7));
  }
}

BOOST_AUTO_TEST_CASE(shared_weight_product_matches_triple_loop_per_batch) {
  Tape<double> tape;
  Tensor<double> a = random_tensor({4, 3, 5}, 5), w = random_tensor({5, 7}, 6);
  Var<double> y = matmul(tape.input(a.ref()), tape.input(w.ref()));
  BOOST_TEST(y.shape() == (Shape{4, 3, 7}));
  for (int i = 0; i < 4; ++i) {
    check_close(y.value().data + i * 21, naive(a.data() + i * 15, w.data(), 3, 5, 7));
  }
}

BOOST_AUTO_TEST_CASE(shared_weight_gradient_is_sum_over_batch) {
  // d sum(Y) / dW = sum over b, m of A[b,m,:]^T: check against the hand sum.
  Tape<double> tape;
  Tensor<double> a = random_tensor({2, 3, 4}, 7), w = random_tensor({4, 5}, 8);
  Var<double> x = tape.input(a.ref(), true), wv = tape.input(w.ref(), true);
  Var<double> y = matmul(x, wv);
  tape.backward(y, Tensor<double>::ones(y.shape()).ref());
  for (int k = 0; k < 4; ++k) {
    double s = 0;
    for (int r = 0; r < 6; ++r) s += a[r * 4 + k];
    for (int n = 0; n < 5; ++n)
      BOOST_TEST(wv.grad()[k * 5 + n] == s, boost::test_tools::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_all_forms) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 5}, {5, 7}},       {{1, 1}, {1, 1}},       {{4, 1}, {1, 3}},    {{1, 6}, {6, 1}},
      {{2, 3, 5}, {2, 5, 7}}, {{3, 2, 4}, {3, 4, 1}}, {{2, 3, 5}, {5, 7}}, {{3, 1, 2}, {2, 4}}};
  std::uint64_t seed = 10;
  for (const auto& [sa, sb] : shapes) {
    std::vector<Tensor<double>> in = {random_tensor(sa, seed++), random_tensor(sb, seed++)};
    TAPELOOP_CHECK_GRADCHECK(mm, in);
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_weight_used_twice) {
  std::vector<Tensor<double>> in = {random_tensor({2, 3, 4}, 20), random_tensor({4, 4}, 21)};
  TAPELOOP_CHECK_GRADCHECK(
      [](auto&, const auto& x) { return matmul(matmul(x[0], x[1]), x[1]) + matmul(x[0], x[1]); },
      in);
}

BOOST_AUTO_TEST_CASE(float_matches_double_all_forms) {
  using tapeloop::testing::check_float_matches_double;
  check_float_matches_double(mm, {random_tensor({3, 5}, 30), random_tensor({5, 7}, 31)});
  check_float_matches_double(mm, {random_tensor({4, 3, 5}, 32), random_tensor({4, 5, 7}, 33)});
  check_float_matches_double(mm, {random_tensor({4, 3, 5}, 34), random_tensor({5, 7}, 35)});
}

BOOST_AUTO_TEST_CASE(zero_size_dimensions) {
  Tape<double> tape;
  // K = 0: the product over an empty inner dimension is all zeros.
  Var<double> a = tape.input(Tensor<double>::zeros({2, 0}).ref(), true);
  Var<double> b = tape.input(Tensor<double>::zeros({0, 3}).ref(), true);
  Var<double> y = matmul(a, b);
  BOOST_TEST(y.shape() == (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) BOOST_TEST(y.value()[i] == 0.0);
  tape.backward(y, Tensor<double>::ones({2, 3}).ref());
  BOOST_TEST(a.grad().numel() == 0);

  // M = 0, N = 0, and B = 0: empty outputs; backward leaves zero gradients.
  Tape<double> t2;
  Var<double> m0 = t2.input(Tensor<double>::zeros({0, 4}).ref(), true);
  Var<double> w = t2.input(Tensor<double>::ones({4, 3}).ref(), true);
  Var<double> n0 = t2.input(Tensor<double>::ones({4, 0}).ref(), true);
  Var<double> b0 = t2.input(Tensor<double>::zeros({0, 2, 4}).ref(), true);
  BOOST_TEST(matmul(m0, w).shape() == (Shape{0, 3}));
  BOOST_TEST(matmul(b0, w).shape() == (Shape{0, 2, 3}));
  Var<double> x = t2.input(Tensor<double>::ones({2, 4}).ref(), true);
  Var<double> z = matmul(x, n0);
  BOOST_TEST(z.shape() == (Shape{2, 0}));
  Var<double> s = matmul(x, w);  // keeps the output non-empty so backward can seed it
  t2.backward(s, Tensor<double>::ones({2, 3}).ref());
  for (int i = 0; i < 12; ++i) BOOST_TEST(w.grad()[i] == 2.0);
}

BOOST_AUTO_TEST_CASE(errors_name_both_shapes) {
  Tape<float> tape;
  auto v = [&](const Shape& s) { return tape.input(Tensor<float>::zeros(s).ref()); };
  TAPELOOP_CHECK_THROW_MESSAGE(matmul(v({32, 128}), v({256, 512})), ShapeError,
                               "matmul: [32,128] x [256,512]: inner dimensions 128 and 256 differ");
  TAPELOOP_CHECK_THROW_MESSAGE(matmul(v({2, 3, 4}), v({5, 4, 6})), ShapeError,
                               "matmul: [2,3,4] x [5,4,6]: batch sizes 2 and 5 differ");
  TAPELOOP_CHECK_THROW_MESSAGE(matmul(v({2, 3, 4}), v({2, 5, 6})), ShapeError,
                               "matmul: [2,3,4] x [2,5,6]: inner dimensions 4 and 5 differ");
  TAPELOOP_CHECK_THROW_MESSAGE(matmul(v({2, 3, 4}), v({5, 6})), ShapeError,
                               "matmul: [2,3,4] x [5,6]: inner dimensions 4 and 5 differ");
  TAPELOOP_CHECK_THROW_MESSAGE(matmul(v({3, 4}), v({2, 4, 5})), ShapeError,
                               "matmul: [3,4] x [2,4,5]: expected [M,K] x [K,N]");
  TAPELOOP_CHECK_THROW_MESSAGE(matmul(v({4}), v({4, 5})), ShapeError,
                               "matmul: [4] x [4,5]: expected");
  // B*M flattened rows past int range (K = 0 keeps the tensors empty).
  TAPELOOP_CHECK_THROW_MESSAGE(
      matmul(v({65536, 65536, 0}), v({0, 3})), ShapeError,
      "matmul: [65536,65536,0] x [0,3]: a matrix dimension exceeds the BLAS limit");
  const std::size_t nodes = tape.size();
  BOOST_CHECK_THROW(matmul(v({2, 3}), v({4, 5})), ShapeError);
  BOOST_TEST(tape.size() == nodes + 2);  // the two inputs; the failed call recorded nothing
}

BOOST_AUTO_TEST_SUITE_END()
