// Initializers: bounds, spreads, orthogonality, identity, the forget-gate bias, determinism.
#include <cmath>

#include "support/check.hpp"

#include "tapeloop/models/init.hpp"

using namespace tapeloop;
namespace init = tapeloop::models::init;

namespace {

double max_abs(const Tensor<double>& w) {
  double m = 0;
  for (double v : w) m = std::max(m, std::abs(v));
  return m;
}

double mean_square(const Tensor<double>& w) {
  double s = 0;
  for (double v : w) s += v * v;
  return s / static_cast<double>(w.numel());
}

// max |A^T A - I| over the columns of a [m, n] matrix (or |A A^T - I| with rows = true).
double orthonormality_error(const Tensor<double>& a, bool rows) {
  const std::int64_t m = a.shape()[0], n = a.numel() / m;
  const std::int64_t k = rows ? m : n;
  double worst = 0;
  for (std::int64_t p = 0; p < k; ++p)
    for (std::int64_t q = 0; q < k; ++q) {
      double dot = 0;
      for (std::int64_t i = 0; i < (rows ? n : m); ++i)
        dot += rows ? a[p * n + i] * a[q * n + i] : a[i * n + p] * a[i * n + q];
      worst = std::max(worst, std::abs(dot - (p == q ? 1.0 : 0.0)));
    }
  return worst;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_init)

BOOST_AUTO_TEST_CASE(uniform_and_rnn_default_fill_their_bounds) {
  Generator rng(1);
  Tensor<double> w({64, 64});
  init::uniform(w, 0.3, rng);
  BOOST_TEST(max_abs(w) <= 0.3);
  BOOST_TEST(max_abs(w) > 0.29);
  init::rnn_default(w, 16, rng);  // U(±1/4)
  BOOST_TEST(max_abs(w) <= 0.25);
  BOOST_TEST(max_abs(w) > 0.24);
  BOOST_TEST(mean_square(w) == 0.25 * 0.25 / 3, boost::test_tools::tolerance(0.05));
  TAPELOOP_CHECK_THROW_MESSAGE(init::uniform(w, -1.0, rng), ValueError, "is negative");
  TAPELOOP_CHECK_THROW_MESSAGE(init::rnn_default(w, 0, rng), ValueError,
                               "hidden size 0 is not positive");
}

BOOST_AUTO_TEST_CASE(xavier_bounds_and_spreads) {
  Generator rng(2);
  Tensor<double> w({200, 100});  // fan_in 100, fan_out 200
  init::xavier_uniform(w, rng, 2.0);
  const double bound = 2.0 * std::sqrt(6.0 / 300.0);
  BOOST_TEST(max_abs(w) <= bound);
  BOOST_TEST(max_abs(w) > 0.99 * bound);
  init::xavier_normal(w, rng);
  BOOST_TEST(mean_square(w) == 2.0 / 300.0, boost::test_tools::tolerance(0.03));
  // A convolution-like shape counts the trailing dims in both fans: [8, 4, 3] -> 12 and 24.
  Tensor<double> k({8, 4, 3});
  init::xavier_uniform(k, rng);
  BOOST_TEST(max_abs(k) <= std::sqrt(6.0 / 36.0));
  Tensor<double> v({5});
  TAPELOOP_CHECK_THROW_MESSAGE(init::xavier_normal(v, rng), ValueError,
                               "init::xavier_normal: [5]: fans need a tensor with at least 2");
}

BOOST_AUTO_TEST_CASE(orthogonal_gives_orthonormal_columns_or_rows) {
  Generator rng(3);
  Tensor<double> square({32, 32}), tall({48, 12}), wide({6, 20});
  init::orthogonal(square, rng);
  init::orthogonal(tall, rng);
  init::orthogonal(wide, rng);
  BOOST_TEST(orthonormality_error(square, false) < 1e-13);  // Q^T Q = I
  BOOST_TEST(orthonormality_error(square, true) < 1e-13);   // and Q Q^T = I
  BOOST_TEST(orthonormality_error(tall, false) < 1e-13);
  BOOST_TEST(orthonormality_error(wide, true) < 1e-13);
  // With a gain, Q^T Q = gain^2 I; in float to float precision.
  Tensor<float> f({16, 16});
  init::orthogonal(f, rng, 2.0);
  Tensor<double> fd = tapeloop::testing::cast<double>(f);
  for (double& x : fd) x /= 2.0;
  BOOST_TEST(orthonormality_error(fd, false) < 1e-6);
  Tensor<double> v({4});
  TAPELOOP_CHECK_THROW_MESSAGE(init::orthogonal(v, rng), ValueError, "init::orthogonal: [4]");
}

BOOST_AUTO_TEST_CASE(a_seed_fixes_the_weights) {
  Tensor<double> a({8, 8}), b({8, 8});
  Generator r1(9), r2(9);
  init::orthogonal(a, r1);
  init::orthogonal(b, r2);
  for (std::int64_t i = 0; i < 64; ++i) BOOST_REQUIRE(a[i] == b[i]);
}

BOOST_AUTO_TEST_CASE(identity_scales_the_diagonal) {
  Tensor<float> w = Tensor<float>::full({3, 3}, 7.0f);
  init::identity(w, 0.5);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) BOOST_TEST(w.at({i, j}) == (i == j ? 0.5f : 0.0f));
  Tensor<float> r = Tensor<float>::full({2, 4}, 7.0f);
  init::identity(r);
  BOOST_TEST(r.at({1, 1}) == 1.0f);
  BOOST_TEST(r.at({1, 3}) == 0.0f);
  Tensor<float> v({3});
  TAPELOOP_CHECK_THROW_MESSAGE(init::identity(v), ValueError,
                               "init::identity: [3]: needs a matrix");
}

BOOST_AUTO_TEST_CASE(forget_gate_bias_sets_the_second_quarter) {
  Tensor<float> b = Tensor<float>::zeros({12});  // H = 3, gates i, f, g, o
  init::lstm_forget_gate_bias(b, 1.0);
  for (int k = 0; k < 12; ++k) BOOST_TEST(b[k] == ((k >= 3 && k < 6) ? 1.0f : 0.0f));
  Tensor<float> bad({10});
  TAPELOOP_CHECK_THROW_MESSAGE(init::lstm_forget_gate_bias(bad, 1.0), ValueError,
                               "init::lstm_forget_gate_bias: bias [10]: expected [4H]");
}

BOOST_AUTO_TEST_SUITE_END()
