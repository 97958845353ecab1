// Kernels: accuracy of the vector math over a sweep of the input range, every unary and binary
// kernel against a scalar reference (tails, broadcasting, the parallel path).
#include <cmath>
#include <cstring>
#include <limits>

#include "broadcast.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/parallel.hpp"
#include "support/check.hpp"
#include "tapeloop/threading.hpp"

using namespace tapeloop;
using kernels::Unary;

namespace {

// Distance from y to the exact value r in units in the last place of T at r (subnormals count
// in units of the smallest subnormal).
template <class T>
long double ulps(T y, long double r) {
  int e = 0;
  std::frexp(r, &e);
  const long double u = std::max<long double>(std::ldexp(1.0L, e - std::numeric_limits<T>::digits),
                                              std::numeric_limits<T>::denorm_min());
  return std::fabs(static_cast<long double>(y) - r) / u;
}

// Max error in ulps of kernels::unary(f) over [lo, hi]: every `stride`-th float bit pattern
// (doubles get those values nudged off the float grid). Overflow and NaN must match exactly.
template <class T, class Ref>
long double sweep(Unary f, float lo, float hi, Ref ref, std::uint32_t stride = 1999) {
  std::vector<T> x;
  auto add_range = [&](float a, float b) {  // a and b of one sign, |a| <= |b|
    std::uint32_t ua, ub;
    std::memcpy(&ua, &a, 4);
    std::memcpy(&ub, &b, 4);
    for (std::uint64_t u = ua; u <= ub; u += stride) {
      const auto bits = static_cast<std::uint32_t>(u);
      float v;
      std::memcpy(&v, &bits, 4);
      x.push_back(sizeof(T) == 8 ? static_cast<T>(v) * (T(1) + T(1e-9) * T(u % 7)) : T(v));
    }
  };
  if (lo < 0) add_range(-0.0f, lo);
  add_range(lo > 0 ? lo : 0.0f, hi);
  std::vector<T> y(x.size());
  kernels::unary<T>(f, x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  long double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    long double r = ref(static_cast<long double>(x[i]));
    if (std::fabs(r) > std::numeric_limits<T>::max()) r = r > 0 ? INFINITY : -INFINITY;
    if (std::isinf(r) || std::isnan(r)) {
      BOOST_CHECK_MESSAGE(std::isnan(r) ? std::isnan(y[i]) : y[i] == r,
                          "x = " << x[i] << ": got " << y[i] << ", want " << double(r));
      continue;
    }
    worst = std::max(worst, ulps(y[i], r));
  }
  return worst;
}

long double sigmoid_ref(long double x) {
  return 1.0L / (1.0L + std::exp(-x));
}

// The scalar reference of each kernel: forward and d/dx, in long double.
long double ref_forward(Unary f, long double x, long double p0, long double p1) {
  switch (f) {
    case Unary::neg:
      return -x;
    case Unary::add_scalar:
      return x + p0;
    case Unary::mul_scalar:
      return x * p0;
    case Unary::div_scalar:
      return x / p0;
    case Unary::rsub_scalar:
      return p0 - x;
    case Unary::rdiv_scalar:
      return p0 / x;
    case Unary::exp:
      return std::exp(x);
    case Unary::log:
      return std::log(x);
    case Unary::sqrt:
      return std::sqrt(x);
    case Unary::abs:
      return std::fabs(x);
    case Unary::tanh:
      return std::tanh(x);
    case Unary::sigmoid:
      return sigmoid_ref(x);
    case Unary::relu:
      return x > 0 ? x : 0;
    case Unary::clamp:
      return x < p0 ? p0 : (x > p1 ? p1 : x);
  }
  return 0;
}

long double ref_derivative(Unary f, long double x, long double p0, long double p1) {
  switch (f) {
    case Unary::neg:
      return -1;
    case Unary::add_scalar:
      return 1;
    case Unary::mul_scalar:
      return p0;
    case Unary::div_scalar:
      return 1 / p0;
    case Unary::rsub_scalar:
      return -1;
    case Unary::rdiv_scalar:
      return -p0 / (x * x);
    case Unary::exp:
      return std::exp(x);
    case Unary::log:
      return 1 / x;
    case Unary::sqrt:
      return 0.5L / std::sqrt(x);
    case Unary::abs:
      return x > 0 ? 1 : (x < 0 ? -1 : 0);
    case Unary::tanh:
      return 1 - std::tanh(x) * std::tanh(x);
    case Unary::sigmoid:
      return sigmoid_ref(x) * (1 - sigmoid_ref(x));
    case Unary::relu:
      return x > 0 ? 1 : 0;
    case Unary::clamp:
      return (x >= p0 && x <= p1) ? 1 : 0;
  }
  return 0;
}

using kernels::all_unary;

// Forward and backward of f on n elements against the reference; returns (y, gx) for the
// thread-count comparisons.
template <class T>
std::pair<std::vector<T>, std::vector<T>> check_unary(Unary f, std::int64_t n, double rtol) {
  const bool positive = f == Unary::log || f == Unary::sqrt || f == Unary::rdiv_scalar;
  Generator rng(static_cast<std::uint64_t>(f) * 1000 + static_cast<std::uint64_t>(n));
  std::vector<T> x(static_cast<std::size_t>(n)), g(x.size()), y(x.size()), gx(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<T>(positive ? rng.uniform(0.1, 4.0) : rng.uniform(-4.0, 4.0));
    g[i] = static_cast<T>(rng.uniform(-1.0, 1.0));
    gx[i] = static_cast<T>(rng.uniform(-1.0, 1.0));  // backward must add to this
  }
  const std::vector<T> gx0 = gx;
  const T p0 = f == Unary::clamp ? T(-0.5) : T(1.5), p1 = T(0.75);
  kernels::unary<T>(f, x.data(), y.data(), n, p0, p1);
  kernels::unary_backward<T>(f, g.data(), x.data(), y.data(), gx.data(), n, p0, p1);
  int bad = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const long double want_y = ref_forward(f, x[i], p0, p1);
    const long double want_g = gx0[i] + g[i] * ref_derivative(f, x[i], p0, p1);
    // The derivative is formed from the rounded output (1 - y^2, y (1 - y)), so its error is a
    // few ulp of max(1, |y|) times |g|, not of the derivative itself.
    const long double scale_g = std::fabs(gx0[i]) +
                                std::fabs(g[i] * ref_derivative(f, x[i], p0, p1)) +
                                std::fabs(g[i]) * (1 + std::fabs(want_y));
    if (std::fabs(y[i] - want_y) > rtol * std::fabs(want_y) ||
        std::fabs(gx[i] - want_g) > rtol * scale_g) {
      if (bad++ < 3) {
        BOOST_ERROR("unary " << int(f) << " n=" << n << " i=" << i << " x=" << x[i] << ": y "
                             << y[i] << " vs " << double(want_y) << ", gx " << gx[i] << " vs "
                             << double(want_g));
      }
    }
  }
  BOOST_TEST(bad == 0);
  return {y, gx};
}

// Flat index into an operand of shape `in` for output index i of shape `out` (numpy rules).
std::int64_t source_index(std::int64_t i, const Shape& out, const Shape& in) {
  std::int64_t offset = 0;
  for (int d = out.rank() - 1; d >= 0; --d) {
    const std::int64_t k = i % out[d];
    i /= out[d];
    const int t = d - (out.rank() - in.rank());
    if (t >= 0 && in[t] != 1) offset += k * in.stride(t);
  }
  return offset;
}

// kernels::binary and both backward rules against a long double reference.
template <class T>
void check_binary(kernels::Binary f, const Shape& sa, const Shape& sb, double rtol) {
  const Shape so = tapeloop::detail::broadcast_shapes("test", sa, sb);
  const std::int64_t n = so.numel();
  Generator rng(static_cast<std::uint64_t>(n) * 7 + static_cast<std::uint64_t>(f));
  auto fill = [&](std::int64_t count, double lo, double hi) {
    std::vector<T> v(static_cast<std::size_t>(count));
    for (T& e : v) e = static_cast<T>(rng.uniform(lo, hi));
    return v;
  };
  const std::vector<T> a = fill(sa.numel(), -2, 2), b = fill(sb.numel(), 0.5, 2),
                       g = fill(n, -1, 1);
  std::vector<T> y(static_cast<std::size_t>(n)), ga = fill(sa.numel(), -1, 1),
                                                 gb = fill(sb.numel(), -1, 1);
  std::vector<long double> want_ga(ga.begin(), ga.end()), want_gb(gb.begin(), gb.end());
  std::vector<long double> mag_ga(ga.size(), 1), mag_gb(gb.size(), 1);
  const kernels::Broadcast plan = kernels::plan_broadcast(so, sa, sb);
  kernels::binary<T>(f, plan, a.data(), b.data(), y.data());
  std::vector<T> scratch(static_cast<std::size_t>(n));
  kernels::binary_backward<T>(f, kernels::Operand::a, plan, g.data(), a.data(), b.data(), y.data(),
                              ga.data(), scratch.data());
  kernels::binary_backward<T>(f, kernels::Operand::b, plan, g.data(), a.data(), b.data(), y.data(),
                              gb.data(), scratch.data());
  int bad = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto ia = static_cast<std::size_t>(source_index(i, so, sa));
    const auto ib = static_cast<std::size_t>(source_index(i, so, sb));
    const long double va = a[ia], vb = b[ib], vg = g[static_cast<std::size_t>(i)];
    const long double want = f == kernels::Binary::add   ? va + vb
                             : f == kernels::Binary::sub ? va - vb
                             : f == kernels::Binary::mul ? va * vb
                                                         : va / vb;
    const long double da = f == kernels::Binary::mul ? vb : f == kernels::Binary::div ? 1 / vb : 1;
    const long double db = f == kernels::Binary::add   ? 1
                           : f == kernels::Binary::sub ? -1
                           : f == kernels::Binary::mul ? va
                                                       : -va / (vb * vb);
    want_ga[ia] += vg * da;
    want_gb[ib] += vg * db;
    mag_ga[ia] += std::fabs(vg * da);
    mag_gb[ib] += std::fabs(vg * db);
    if (std::fabs(y[static_cast<std::size_t>(i)] - want) > rtol * std::fabs(want) && bad++ < 3)
      BOOST_ERROR(sa.str() << " op " << int(f) << " " << sb.str() << " y[" << i << "]");
  }
  for (std::size_t i = 0; i < ga.size(); ++i)
    if (std::fabs(ga[i] - want_ga[i]) > 4 * rtol * mag_ga[i] && bad++ < 3)
      BOOST_ERROR(sa.str() << " op " << int(f) << " " << sb.str() << " ga[" << i << "] " << ga[i]
                           << " vs " << double(want_ga[i]));
  for (std::size_t i = 0; i < gb.size(); ++i)
    if (std::fabs(gb[i] - want_gb[i]) > 4 * rtol * mag_gb[i] && bad++ < 3)
      BOOST_ERROR(sa.str() << " op " << int(f) << " " << sb.str() << " gb[" << i << "] " << gb[i]
                           << " vs " << double(want_gb[i]));
  BOOST_TEST(bad == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_kernels)

BOOST_AUTO_TEST_CASE(vector_math_accuracy_over_the_input_range) {
  // The bounds documented in kernels/simd.hpp and docs/kernels.md, with the measured value in
  // the message. exp's range runs into overflow and deep into subnormal results.
  auto check = [](const char* name, long double measured, double bound) {
    BOOST_TEST_MESSAGE(name << ": max " << double(measured) << " ulp");
    BOOST_CHECK_MESSAGE(measured <= bound, name << ": " << double(measured) << " ulp > " << bound);
  };
  auto expl_ = [](long double x) { return std::exp(x); };
  auto logl_ = [](long double x) { return std::log(x); };
  auto tanhl_ = [](long double x) { return std::tanh(x); };
  check("exp float", sweep<float>(Unary::exp, -104.0f, 89.0f, expl_), 1.5);
  check("exp double", sweep<double>(Unary::exp, -746.0f, 710.0f, expl_), 1.0);
  check("log float", sweep<float>(Unary::log, 0.0f, 3.4e38f, logl_), 1.0);
  check("log double", sweep<double>(Unary::log, 0.0f, 3.4e38f, logl_), 1.0);
  check("tanh float", sweep<float>(Unary::tanh, -20.0f, 20.0f, tanhl_), 1.5);
  check("tanh double", sweep<double>(Unary::tanh, -40.0f, 40.0f, tanhl_), 1.5);
  check("sigmoid float", sweep<float>(Unary::sigmoid, -104.0f, 104.0f, sigmoid_ref), 2.5);
  check("sigmoid double", sweep<double>(Unary::sigmoid, -746.0f, 746.0f, sigmoid_ref), 2.5);
}

BOOST_AUTO_TEST_CASE(special_values_follow_std) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  const std::vector<float> x = {0.0f, -0.0f, 1e-40f, -1.0f, inf, -inf, nan, 88.5f, -100.0f};
  std::vector<float> y(x.size());
  for (Unary f : {Unary::exp, Unary::log, Unary::tanh, Unary::sigmoid}) {
    kernels::unary<float>(f, x.data(), y.data(), static_cast<std::int64_t>(x.size()));
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float want = f == Unary::exp    ? std::exp(x[i])
                         : f == Unary::log  ? std::log(x[i])
                         : f == Unary::tanh ? std::tanh(x[i])
                                            : static_cast<float>(sigmoid_ref(x[i]));
      const bool same = (std::isnan(want) && std::isnan(y[i])) || y[i] == want ||
                        std::fabs(y[i] - want) <= 2e-7f * std::fabs(want);
      BOOST_CHECK_MESSAGE(same, "f=" << int(f) << " x=" << x[i] << ": " << y[i] << " vs " << want);
    }
  }
}

BOOST_AUTO_TEST_CASE(unary_kernels_match_the_scalar_reference) {
  // Sizes around the batch width (tails), and one above the grain (the parallel path).
  for (std::int64_t n : {0, 1, 3, 4, 7, 8, 9, 16, 17, 33, 1000, 100003}) {
    for (Unary f : all_unary) {
      check_unary<float>(f, n, 4e-7);
      check_unary<double>(f, n, 1e-15);
    }
  }
}

BOOST_AUTO_TEST_CASE(binary_kernels_match_the_reference_under_broadcasting) {
  const std::pair<Shape, Shape> cases[] = {{{5, 7}, {5, 7}},
                                           {{5, 7}, {7}},
                                           {{5, 7}, {5, 1}},
                                           {{3, 1, 4}, {1, 5, 4}},
                                           {{2, 3, 4, 5}, {3, 1, 5}},
                                           {{1}, {6}},
                                           {{}, {4, 3}},
                                           {{4, 1}, {1, 3}},
                                           {{1, 9}, {9}},
                                           {{300, 257}, {257}},
                                           {{300, 257}, {300, 1}},
                                           {{64, 2, 130}, {2, 1}},
                                           {{100003}, {100003}},
                                           {{0, 3}, {3}}};
  for (const auto& [sa, sb] : cases) {
    for (auto f :
         {kernels::Binary::add, kernels::Binary::sub, kernels::Binary::mul, kernels::Binary::div}) {
      check_binary<float>(f, sa, sb, 2e-6);
      check_binary<double>(f, sa, sb, 1e-14);
      check_binary<float>(f, sb, sa, 2e-6);  // and with the roles swapped
    }
  }
}

BOOST_AUTO_TEST_CASE(unary_results_do_not_depend_on_the_thread_count) {
  const int before = num_threads();
  for (Unary f : all_unary) {
    set_num_threads(1);
    const auto one = check_unary<float>(f, 200003, 4e-7);
    set_num_threads(2);
    const auto two = check_unary<float>(f, 200003, 4e-7);
    set_num_threads(3);
    const auto three = check_unary<float>(f, 200003, 4e-7);
    BOOST_TEST((one == two && two == three), "unary " << int(f) << " differs across threads");
  }
  set_num_threads(before);
}

BOOST_AUTO_TEST_SUITE_END()
