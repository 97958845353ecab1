// The tail of every kernel, for every length from 1 to 2 batches + 1 in both precisions: the
// elements of a partial batch get bit for bit what the same elements get inside full batches,
// reductions match a long double reference, and nothing past the end of an array is written.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/elementwise.hpp"
#include "kernels/recurrent_cells.hpp"
#include "kernels/reduce.hpp"
#include "kernels/simd.hpp"
#include "kernels/softmax.hpp"
#include "support/check.hpp"

using namespace tapeloop;
using kernels::lanes;

namespace {

constexpr std::int64_t guard = 16;  // elements checked on each side of an array

// An array of n elements with guard elements before and after it that must never change.
template <class T>
struct Guarded {
  std::vector<T> buf;
  std::int64_t n;
  Guarded(std::int64_t count, std::uint64_t seed, double lo = -2, double hi = 2)
      : buf(static_cast<std::size_t>(count + 2 * guard)), n(count) {
    Generator rng(seed);
    for (T& e : buf) e = static_cast<T>(rng.uniform(lo, hi));
    for (std::int64_t g = 0; g < guard; ++g) {
      buf[static_cast<std::size_t>(g)] = sentinel;
      buf[static_cast<std::size_t>(guard + n + g)] = sentinel;
    }
  }
  T* data() { return buf.data() + guard; }
  const T* data() const { return buf.data() + guard; }
  T operator[](std::int64_t i) const { return data()[i]; }
  bool intact() const {
    for (std::int64_t g = 0; g < guard; ++g) {
      if (buf[static_cast<std::size_t>(g)] != sentinel ||
          buf[static_cast<std::size_t>(guard + n + g)] != sentinel)
        return false;
    }
    return true;
  }
  static constexpr T sentinel = T(-777);
};

// Copies the first n elements of `small` into a zero... random array of `big` elements: the same
// values then sit inside full batches.
template <class T>
Guarded<T> widen(const Guarded<T>& small, std::int64_t big, std::uint64_t seed) {
  Guarded<T> wide(big, seed, 0.25, 1.5);
  for (std::int64_t i = 0; i < small.n; ++i) wide.data()[i] = small[i];
  return wide;
}

// Every length from 1 to 2L + 1, and the wide length the same values are embedded in.
template <class T>
std::int64_t longest() {
  return 2 * lanes<T> + 1;
}
template <class T>
std::int64_t wide_length() {
  return 4 * lanes<T> + 8;
}

// A report of the first mismatches of one kernel at one length.
struct Mismatches {
  int count = 0;
  void add(bool ok, const char* kernel, std::int64_t n, std::int64_t i) {
    if (ok) return;
    if (count++ < 5) BOOST_ERROR(kernel << ": length " << n << ", element " << i);
  }
};

template <class T>
void unary_tails(Mismatches& bad) {
  using kernels::Unary;
  const T p0 = T(-0.5), p1 = T(0.75);
  const std::int64_t w = wide_length<T>();
  for (std::int64_t n = 1; n <= longest<T>(); ++n) {
    for (Unary f : kernels::all_unary) {
      const bool positive = f == Unary::log || f == Unary::sqrt || f == Unary::rdiv_scalar;
      Guarded<T> x(n, 10 + n, positive ? 0.1 : -3, 3), g(n, 20 + n), y(n, 30 + n), gx(n, 40 + n);
      Guarded<T> xw = widen(x, w, 1), gw = widen(g, w, 2), yw(w, 3), gxw = widen(gx, w, 4);
      kernels::unary<T>(f, x.data(), y.data(), n, p0, p1);
      kernels::unary<T>(f, xw.data(), yw.data(), w, p0, p1);
      kernels::unary_backward<T>(f, g.data(), x.data(), y.data(), gx.data(), n, p0, p1);
      kernels::unary_backward<T>(f, gw.data(), xw.data(), yw.data(), gxw.data(), w, p0, p1);
      for (std::int64_t i = 0; i < n; ++i) {
        bad.add(y[i] == yw[i], "unary forward", n, i);
        bad.add(gx[i] == gxw[i], "unary backward", n, i);
      }
      bad.add(x.intact() && y.intact() && gx.intact() && g.intact(), "unary guards", n, -1);
    }
  }
}

template <class T>
void binary_tails(Mismatches& bad) {
  using kernels::Binary;
  using kernels::Operand;
  const std::int64_t w = wide_length<T>();
  for (std::int64_t n = 1; n <= longest<T>(); ++n) {
    for (Binary f : {Binary::add, Binary::sub, Binary::mul, Binary::div}) {
      Guarded<T> a(n, 50 + n), b(n, 60 + n, 0.5, 2), y(n, 70 + n), g(n, 80 + n), ga(n, 90 + n),
          gb(n, 100 + n);
      Guarded<T> aw = widen(a, w, 5), bw = widen(b, w, 6), yw(w, 7), gw = widen(g, w, 8),
                 gaw = widen(ga, w, 9), gbw = widen(gb, w, 10);
      kernels::binary<T>(f, a.data(), b.data(), y.data(), n);
      kernels::binary<T>(f, aw.data(), bw.data(), yw.data(), w);
      kernels::binary_backward<T>(f, Operand::a, g.data(), a.data(), b.data(), y.data(), ga.data(),
                                  n);
      kernels::binary_backward<T>(f, Operand::b, g.data(), a.data(), b.data(), y.data(), gb.data(),
                                  n);
      kernels::binary_backward<T>(f, Operand::a, gw.data(), aw.data(), bw.data(), yw.data(),
                                  gaw.data(), w);
      kernels::binary_backward<T>(f, Operand::b, gw.data(), aw.data(), bw.data(), yw.data(),
                                  gbw.data(), w);
      for (std::int64_t i = 0; i < n; ++i) {
        bad.add(y[i] == yw[i], "binary forward", n, i);
        bad.add(ga[i] == gaw[i] && gb[i] == gbw[i], "binary backward", n, i);
      }
      bad.add(y.intact() && ga.intact() && gb.intact(), "binary guards", n, -1);

      // A row of n broadcast against a scalar: [n] op [1], and its backward summed to [1].
      const Shape out{n}, one{1};
      const kernels::Broadcast plan = kernels::plan_broadcast(out, out, one);
      Guarded<T> ys(n, 110 + n), scratch(n, 120 + n), gs(1, 130 + n);
      kernels::binary<T>(f, plan, a.data(), b.data(), ys.data());
      long double want_gs = gs[0];
      for (std::int64_t i = 0; i < n; ++i) {
        const long double va = a[i], vb = b[0], vg = g[i];
        const long double want = f == Binary::add   ? va + vb
                                 : f == Binary::sub ? va - vb
                                 : f == Binary::mul ? va * vb
                                                    : va / vb;
        bad.add(std::fabs(ys[i] - want) <= 2 * std::numeric_limits<T>::epsilon() * std::fabs(want),
                "binary broadcast forward", n, i);
        want_gs += f == Binary::add   ? vg
                   : f == Binary::sub ? -vg
                   : f == Binary::mul ? vg * va
                                      : -vg * va / (vb * vb);
      }
      kernels::binary_backward<T>(f, Operand::b, plan, g.data(), a.data(), b.data(), ys.data(),
                                  gs.data(), scratch.data());
      bad.add(std::fabs(gs[0] - want_gs) <= 64 * (n + 1) * std::numeric_limits<T>::epsilon(),
              "binary broadcast backward", n, 0);
      bad.add(ys.intact() && gs.intact(), "binary broadcast guards", n, -1);
    }
  }
}

template <class T>
void reduction_tails(Mismatches& bad) {
  const double eps = std::numeric_limits<T>::epsilon();
  for (std::int64_t n = 1; n <= longest<T>(); ++n) {
    Guarded<T> x(n, 140 + n), z(n, 150 + n);
    long double sum = 0, dot = 0, sq = 0, mag = 0, mag_dot = 0, mag_sq = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      sum += x[i];
      mag += std::fabs(x[i]);
      dot += static_cast<long double>(x[i]) * z[i];
      mag_dot += std::fabs(static_cast<long double>(x[i]) * z[i]);
      const long double d = static_cast<long double>(x[i]) - z[i];
      sq += d * d;
      mag_sq += d * d;
    }
    const double tol = (n + 2) * eps;
    bad.add(std::fabs(kernels::sum(x.data(), n) - sum) <= tol * mag, "sum", n, 0);
    bad.add(std::fabs(kernels::row_sum(x.data(), n) - sum) <= tol * mag, "row_sum", n, 0);
    bad.add(std::fabs(kernels::row_dot(x.data(), z.data(), n) - dot) <= tol * mag_dot, "row_dot", n,
            0);
    bad.add(std::fabs(kernels::sum_squared_difference(x.data(), z.data(), n) - sq) <= tol * mag_sq,
            "sum_squared_difference", n, 0);

    // Three rows of n summed down to one row of n (a bias gradient), and its backward.
    Guarded<T> rows(3 * n, 160 + n), col(n, 170 + n), back(3 * n, 180 + n);
    const Guarded<T> col0 = col, back0 = back;
    kernels::sum_middle(rows.data(), 1, 3, n, col.data(), T(1), true);
    kernels::expand_middle(col0.data(), 1, 3, n, back.data(), T(2));
    for (std::int64_t i = 0; i < n; ++i) {
      const long double want =
          static_cast<long double>(col0[i]) + rows[i] + rows[n + i] + rows[2 * n + i];
      bad.add(std::fabs(col[i] - want) <= 8 * eps * (std::fabs(want) + 8), "sum_middle", n, i);
      for (std::int64_t r = 0; r < 3; ++r) {
        const long double want_back = back0[r * n + i] + 2.0L * col0[i];
        bad.add(std::fabs(back[r * n + i] - want_back) <= 4 * eps * (std::fabs(want_back) + 4),
                "expand_middle", n, i);
      }
    }
    bad.add(col.intact() && back.intact(), "sum_middle guards", n, -1);
  }
}

template <class T>
void softmax_tails(Mismatches& bad) {
  const double eps = std::numeric_limits<T>::epsilon();
  for (std::int64_t n = 1; n <= longest<T>(); ++n) {
    const std::int64_t rows = 2;
    Guarded<T> x(rows * n, 190 + n, -5, 5), y(rows * n, 200 + n), ly(rows * n, 210 + n),
        lse(rows, 220 + n), g(rows * n, 230 + n), gx(rows * n, 240 + n);
    kernels::softmax_rows(x.data(), y.data(), rows, n, false);
    kernels::softmax_rows(x.data(), ly.data(), rows, n, true);
    kernels::logsumexp_rows(x.data(), lse.data(), rows, n);
    const Guarded<T> gx0 = gx;
    kernels::softmax_rows_backward(g.data(), y.data(), gx.data(), rows, n, false);
    for (std::int64_t r = 0; r < rows; ++r) {
      long double total = 0, gy = 0;
      for (std::int64_t i = 0; i < n; ++i)
        total += std::exp(static_cast<long double>(x[r * n + i]));
      for (std::int64_t i = 0; i < n; ++i) {
        const long double p = std::exp(static_cast<long double>(x[r * n + i])) / total;
        gy += g[r * n + i] * p;
      }
      bad.add(std::fabs(lse[r] - std::log(total)) <= 8 * eps * (1 + std::fabs(std::log(total))),
              "logsumexp_rows", n, r);
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t k = r * n + i;
        const long double p = std::exp(static_cast<long double>(x[k])) / total;
        bad.add(std::fabs(y[k] - p) <= 8 * eps * p + eps * 1e-3, "softmax_rows", n, k);
        bad.add(std::fabs(ly[k] - std::log(p)) <= 8 * eps * (1 + std::fabs(std::log(p))),
                "log_softmax_rows", n, k);
        const long double want_g = gx0[k] + p * (g[k] - gy);
        bad.add(std::fabs(gx[k] - want_g) <= 16 * eps * (1 + std::fabs(want_g)),
                "softmax_rows_backward", n, k);
      }
    }
    bad.add(y.intact() && ly.intact() && lse.intact() && gx.intact(), "softmax guards", n, -1);
  }
}

// Gate blocks of width n copied into gate blocks of width w (each of the `blocks` blocks of a
// row keeps its first n elements): the same values, inside full batches.
template <class T>
Guarded<T> widen_blocks(const Guarded<T>& small, std::int64_t n, std::int64_t w, int blocks,
                        std::uint64_t seed) {
  Guarded<T> wide(blocks * w, seed, 0.25, 1.5);
  for (int b = 0; b < blocks; ++b)
    for (std::int64_t i = 0; i < n; ++i) wide.data()[b * w + i] = small[b * n + i];
  return wide;
}

template <class T>
void cell_tails(Mismatches& bad) {
  const std::int64_t w = wide_length<T>();
  for (std::int64_t n = 1; n <= longest<T>(); ++n) {
    // Plain RNN step: flat elementwise over n.
    for (RnnActivation act : {RnnActivation::tanh, RnnActivation::relu}) {
      Guarded<T> gi(n, 250 + n), gh(n, 260 + n), h(n, 270 + n), dh(n, 280 + n), dgi(n, 290 + n);
      Guarded<T> giw = widen(gi, w, 11), ghw = widen(gh, w, 12), hw(w, 13), dhw = widen(dh, w, 14),
                 dgiw = widen(dgi, w, 15);
      kernels::rnn_cell_forward(act, gi.data(), gh.data(), h.data(), n);
      kernels::rnn_cell_forward(act, giw.data(), ghw.data(), hw.data(), w);
      kernels::rnn_cell_backward(act, dh.data(), h.data(), dgi.data(), static_cast<T*>(nullptr), n);
      kernels::rnn_cell_backward(act, dhw.data(), hw.data(), dgiw.data(), static_cast<T*>(nullptr),
                                 w);
      for (std::int64_t i = 0; i < n; ++i)
        bad.add(h[i] == hw[i] && dgi[i] == dgiw[i], "rnn cell", n, i);
      bad.add(h.intact() && dgi.intact(), "rnn cell guards", n, -1);
    }
    // LSTM step, batch 1, hidden n: gates i, f, g, o as four blocks of n.
    {
      Guarded<T> gi(4 * n, 300 + n), gh(4 * n, 310 + n), c0(n, 320 + n), h(n, 330 + n),
          c(n, 340 + n), saved(5 * n, 350 + n), dh(n, 360 + n), dc(n, 370 + n), dg(4 * n, 380 + n),
          dc0(n, 390 + n);
      Guarded<T> giw = widen_blocks(gi, n, w, 4, 16), ghw = widen_blocks(gh, n, w, 4, 17),
                 c0w = widen(c0, w, 18), hw(w, 19), cw(w, 20), savedw(5 * w, 21),
                 dhw = widen(dh, w, 22), dcw = widen(dc, w, 23),
                 dgw = widen_blocks(dg, n, w, 4, 24), dc0w = widen(dc0, w, 25);
      kernels::lstm_cell_forward(gi.data(), gh.data(), c0.data(), h.data(), c.data(), saved.data(),
                                 1, n);
      kernels::lstm_cell_forward(giw.data(), ghw.data(), c0w.data(), hw.data(), cw.data(),
                                 savedw.data(), 1, w);
      kernels::lstm_cell_backward(dh.data(), dc.data(), saved.data(), c0.data(), dg.data(),
                                  static_cast<T*>(nullptr), dc0.data(), 1, n);
      kernels::lstm_cell_backward(dhw.data(), dcw.data(), savedw.data(), c0w.data(), dgw.data(),
                                  static_cast<T*>(nullptr), dc0w.data(), 1, w);
      for (std::int64_t i = 0; i < n; ++i) {
        bad.add(h[i] == hw[i] && c[i] == cw[i] && dc0[i] == dc0w[i], "lstm cell", n, i);
        for (int b = 0; b < 4; ++b)
          bad.add(dg[b * n + i] == dgw[b * w + i], "lstm cell gate gradient", n, i);
      }
      bad.add(h.intact() && c.intact() && saved.intact() && dg.intact() && dc0.intact(),
              "lstm cell guards", n, -1);
    }
    // GRU step, batch 1, hidden n: gates r, z, n as three blocks of n.
    {
      Guarded<T> gi(3 * n, 400 + n), gh(3 * n, 410 + n), h0(n, 420 + n), h(n, 430 + n),
          saved(3 * n, 440 + n), dh(n, 450 + n), dgi(3 * n, 460 + n), dgh(3 * n, 470 + n),
          dh0(n, 480 + n);
      Guarded<T> giw = widen_blocks(gi, n, w, 3, 26), ghw = widen_blocks(gh, n, w, 3, 27),
                 h0w = widen(h0, w, 28), hw(w, 29), savedw(3 * w, 30), dhw = widen(dh, w, 31),
                 dgiw = widen_blocks(dgi, n, w, 3, 32), dghw = widen_blocks(dgh, n, w, 3, 33),
                 dh0w = widen(dh0, w, 34);
      kernels::gru_cell_forward(gi.data(), gh.data(), h0.data(), h.data(), saved.data(), 1, n);
      kernels::gru_cell_forward(giw.data(), ghw.data(), h0w.data(), hw.data(), savedw.data(), 1, w);
      kernels::gru_cell_backward(dh.data(), saved.data(), gh.data(), h0.data(), dgi.data(),
                                 dgh.data(), dh0.data(), 1, n);
      kernels::gru_cell_backward(dhw.data(), savedw.data(), ghw.data(), h0w.data(), dgiw.data(),
                                 dghw.data(), dh0w.data(), 1, w);
      for (std::int64_t i = 0; i < n; ++i) {
        bad.add(h[i] == hw[i] && dh0[i] == dh0w[i], "gru cell", n, i);
        for (int b = 0; b < 3; ++b)
          bad.add(dgi[b * n + i] == dgiw[b * w + i] && dgh[b * n + i] == dghw[b * w + i],
                  "gru cell gate gradients", n, i);
      }
      bad.add(h.intact() && saved.intact() && dgi.intact() && dgh.intact() && dh0.intact(),
              "gru cell guards", n, -1);
    }
  }
}

template <class T>
void all_tails() {
  BOOST_TEST_MESSAGE("batch of " << lanes<T> << " " << (sizeof(T) == 4 ? "floats" : "doubles")
                                 << ": lengths 1.." << longest<T>());
  Mismatches bad;
  unary_tails<T>(bad);
  binary_tails<T>(bad);
  reduction_tails<T>(bad);
  softmax_tails<T>(bad);
  cell_tails<T>(bad);
  BOOST_TEST(bad.count == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_kernel_tails)

BOOST_AUTO_TEST_CASE(every_kernel_at_every_tail_length_float) {
  all_tails<float>();
}

BOOST_AUTO_TEST_CASE(every_kernel_at_every_tail_length_double) {
  all_tails<double>();
}

BOOST_AUTO_TEST_SUITE_END()
