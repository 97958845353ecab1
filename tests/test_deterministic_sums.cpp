// Sums and the broadcast backward: bit-identical run after run and for every thread count, and
// accurate in float for a million elements (against a double reference).
#include <cmath>
#include <cstring>

#include "kernels/elementwise.hpp"
#include "kernels/reduce.hpp"
#include "support/check.hpp"
#include "tapeloop/threading.hpp"

using namespace tapeloop;

namespace {

template <class T>
std::vector<T> uniform(std::int64_t n, std::uint64_t seed, double lo, double hi) {
  Generator rng(seed);
  std::vector<T> x(static_cast<std::size_t>(n));
  for (T& v : x) v = static_cast<T>(rng.uniform(lo, hi));
  return x;
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Runs fn() (returning a vector) under each thread count and many times, and checks that every
// result is bit-identical to the first.
template <class Fn>
void check_deterministic(Fn fn, int repeats = 20) {
  const int before = num_threads();
  set_num_threads(1);
  const auto first = fn();
  for (int threads : {1, 2, 3, 4}) {
    set_num_threads(threads);
    for (int r = 0; r < repeats; ++r) {
      BOOST_REQUIRE_MESSAGE(bitwise_equal(fn(), first),
                            "result differs with " << threads << " threads, repeat " << r);
    }
  }
  set_num_threads(before);
}

// y[o, k] = sum_j x[o, j, k] in double.
std::vector<double> reference_middle(const std::vector<float>& x, std::int64_t outer,
                                     std::int64_t n, std::int64_t inner) {
  std::vector<double> y(static_cast<std::size_t>(outer * inner), 0.0);
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t k = 0; k < inner; ++k)
        y[static_cast<std::size_t>(o * inner + k)] +=
            x[static_cast<std::size_t>((o * n + j) * inner + k)];
  return y;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_deterministic_sums)

BOOST_AUTO_TEST_CASE(float_sum_of_a_million_is_accurate) {
  for (std::int64_t n : {std::int64_t{1000000}, std::int64_t{1} << 20, std::int64_t{3000017}}) {
    const std::vector<float> x = uniform<float>(n, 7, 0.0, 1.0);
    double exact = 0;
    for (float v : x) exact += v;
    float naive = 0;
    for (float v : x) naive += v;
    const double err = std::fabs(kernels::sum(x.data(), n) - exact) / exact;
    const double naive_err = std::fabs(naive - exact) / exact;
    BOOST_TEST_MESSAGE("n = " << n << ": relative error " << err << ", plain loop " << naive_err);
    // Bound (sum_block / 32 + log2 n) * 2^-24 ~ 5e-6; in practice a few 1e-8.
    BOOST_TEST(err < 1e-6);
    BOOST_TEST(err < naive_err / 10);
  }
}

BOOST_AUTO_TEST_CASE(sum_is_bit_identical_for_every_run_and_thread_count) {
  for (std::int64_t n :
       {std::int64_t{1}, std::int64_t{2049}, std::int64_t{100000}, std::int64_t{1000003}}) {
    const std::vector<float> xf = uniform<float>(n, 11, -1.0, 1.0);
    const std::vector<double> xd = uniform<double>(n, 12, -1.0, 1.0);
    check_deterministic([&] { return std::vector<float>{kernels::sum(xf.data(), n)}; });
    check_deterministic([&] { return std::vector<double>{kernels::sum(xd.data(), n)}; });
  }
}

BOOST_AUTO_TEST_CASE(axis_sums_are_accurate_and_deterministic) {
  // [outer, n, inner]: contiguous rows, strided columns (one and several column blocks),
  // a middle axis, and shapes large enough for the parallel path.
  const std::int64_t cases[][3] = {{1, 7, 1},      {3, 5, 1},      {1, 5, 3},
                                   {2, 3, 4},      {4, 1000, 1},   {1, 3200, 1024},
                                   {64, 100, 130}, {1, 200000, 5}, {2, 0, 3}};
  for (const auto& c : cases) {
    const std::int64_t outer = c[0], n = c[1], inner = c[2];
    const std::vector<float> x = uniform<float>(outer * n * inner, 13, 0.0, 1.0);
    const std::vector<double> want = reference_middle(x, outer, n, inner);
    auto run = [&] {
      std::vector<float> y(static_cast<std::size_t>(outer * inner));
      kernels::sum_middle(x.data(), outer, n, inner, y.data(), 1.0f, false);
      return y;
    };
    const std::vector<float> y = run();
    for (std::size_t i = 0; i < y.size(); ++i) {
      BOOST_TEST(std::fabs(y[i] - want[i]) <= 1e-6 * std::fabs(want[i]) + 1e-6,
                 "[" << outer << "," << n << "," << inner << "] element " << i << ": " << y[i]
                     << " vs " << want[i]);
    }
    check_deterministic(run, 3);
  }
}

BOOST_AUTO_TEST_CASE(sum_to_matches_a_reference_and_is_deterministic) {
  // from -> to: leading, trailing, middle and split broadcast axes (the last is the serial
  // fallback), and the bias gradient of an LSTM-M input projection.
  const std::pair<Shape, Shape> cases[] = {
      {{5, 7}, {7}},       {{5, 7}, {5, 1}},       {{3, 4, 5}, {1, 4, 1}},
      {{3, 4, 5}, {4, 5}}, {{3, 4, 5}, {3, 1, 5}}, {{2, 3, 4, 5}, {3, 1, 1}},
      {{6}, {}},           {{1600, 1024}, {1024}}, {{4, 3, 2}, {4, 3, 2}}};
  for (const auto& [from, to] : cases) {
    const std::vector<float> src = uniform<float>(from.numel(), 17, -1.0, 1.0);
    const std::vector<float> dst0 = uniform<float>(to.numel(), 18, -1.0, 1.0);
    // Reference: walk `from`, add each element into the element of `to` it came from.
    std::vector<double> want(dst0.begin(), dst0.end());
    std::vector<std::int64_t> index(static_cast<std::size_t>(from.rank()), 0);
    for (std::int64_t i = 0; i < from.numel(); ++i) {
      std::int64_t rest = i, offset = 0;
      for (int d = from.rank() - 1; d >= 0; --d) {
        const std::int64_t k = rest % from[d];
        rest /= from[d];
        const int t = d - (from.rank() - to.rank());
        if (t >= 0 && to[t] != 1) offset += k * to.stride(t);
      }
      want[static_cast<std::size_t>(offset)] += 2.0 * src[static_cast<std::size_t>(i)];
    }
    auto run = [&] {
      std::vector<float> dst = dst0;
      kernels::sum_to(src.data(), from, dst.data(), to, 2.0f);
      return dst;
    };
    const std::vector<float> got = run();
    for (std::size_t i = 0; i < got.size(); ++i) {
      BOOST_TEST(std::fabs(got[i] - want[i]) <= 1e-5 * (1 + std::fabs(want[i])),
                 from.str() << " -> " << to.str() << " element " << i << ": " << got[i] << " vs "
                            << want[i]);
    }
    check_deterministic(run, 3);
  }
}

BOOST_AUTO_TEST_CASE(broadcast_backward_through_ops_is_deterministic) {
  // The gradient of a bias and of a broadcast multiplier, on the parallel path.
  Generator rng(5);
  const Tensor<float> x = Tensor<float>::normal({512, 300}, 0.0f, 1.0f, rng);
  const Tensor<float> b = Tensor<float>::normal({300}, 0.0f, 1.0f, rng);
  auto run = [&] {
    Tape<float> tape;
    Var<float> vx = tape.input(x.ref(), true);
    Var<float> vb = tape.input(b.ref(), true);
    Var<float> loss = sum(tanh(vx + vb) * vb);
    tape.backward(loss);
    std::vector<float> out(vb.grad().begin(), vb.grad().end());
    out.push_back(loss.item());
    return out;
  };
  check_deterministic(run, 5);
}

BOOST_AUTO_TEST_CASE(row_softmax_logsumexp_and_mse_are_deterministic_and_accurate) {
  // Rows long enough for several sum blocks, enough rows for the parallel path.
  Generator rng(9);
  const Tensor<float> x = Tensor<float>::normal({64, 5000}, 0.0f, 3.0f, rng);
  const Tensor<float> t = Tensor<float>::normal({64, 5000}, 0.0f, 1.0f, rng);
  auto run = [&] {
    Tape<float> tape;
    Var<float> vx = tape.input(x.ref(), true);
    Var<float> vt = tape.input(t.ref(), true);
    Var<float> loss = sum(softmax(vx, 1) * vt) + sum(log_softmax(vx, -1) * vt) +
                      sum(logsumexp(vx, 1)) + mse_loss(vx, vt);
    tape.backward(loss);
    std::vector<float> out(vx.grad().begin(), vx.grad().end());
    out.insert(out.end(), vt.grad().begin(), vt.grad().end());
    out.push_back(loss.item());
    return out;
  };
  check_deterministic(run, 3);
  // Against double: the float loss of 320K-element rows and a 320K-element mse.
  Tape<double> td;
  Var<double> dx = td.input(tapeloop::testing::cast<double>(x).ref());
  Var<double> dt = td.input(tapeloop::testing::cast<double>(t).ref());
  const double want = (sum(softmax(dx, 1) * dt) + sum(log_softmax(dx, -1) * dt) +
                       sum(logsumexp(dx, 1)) + mse_loss(dx, dt))
                          .item();
  const float got = run().back();
  BOOST_TEST(std::fabs(got - want) <= 1e-5 * std::fabs(want), got << " vs " << want);
}

BOOST_AUTO_TEST_SUITE_END()
