// What the GEMM kernel suites share: random operands, C with guard elements around it, and the
// element-by-element check against a long double reference with FMA's error bound.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tapeloop/random.hpp"

namespace tapeloop::testing {

/// `count` values uniform in [-1, 1) from a fixed seed.
template <class T>
std::vector<T> random_values(std::int64_t count, std::uint64_t seed) {
  Generator rng(seed);
  std::vector<T> v(static_cast<std::size_t>(count));
  for (T& e : v) e = static_cast<T>(rng.uniform(-1.0, 1.0));
  return v;
}

/// C [m,n] with `guard` sentinel elements before and after it, which a kernel must not touch
/// (a masked tail must not write past a row); the initial C is random.
template <class T>
struct GuardedMatrix {
  static constexpr std::int64_t guard = 17;
  static constexpr T sentinel = T(12345);
  std::vector<T> storage;
  std::vector<T> initial;  // a copy of the whole storage before the kernel ran
  std::int64_t numel;

  GuardedMatrix(std::int64_t m, std::int64_t n, std::uint64_t seed)
      : storage(random_values<T>(m * n + 2 * guard, seed)), numel(m * n) {
    for (std::int64_t g = 0; g < guard; ++g) {
      storage[static_cast<std::size_t>(g)] = sentinel;
      storage[static_cast<std::size_t>(guard + numel + g)] = sentinel;
    }
    initial = storage;
  }
  T* data() { return storage.data() + guard; }
  T before(std::int64_t i) const { return initial[static_cast<std::size_t>(guard + i)]; }
  /// Guard elements that were overwritten.
  int guards_touched() const {
    int touched = 0;
    for (std::int64_t g = 0; g < guard; ++g) {
      touched += storage[static_cast<std::size_t>(g)] != sentinel;
      touched += storage[static_cast<std::size_t>(guard + numel + g)] != sentinel;
    }
    return touched;
  }
};

/// Elements of C = op(A) op(B) + beta C0 that are further from the long double product than a
/// sum of k products, each rounded once by FMA, in any order, may be: k eps sum|x y|.
/// a_at(i, p) and b_at(p, j) read op(A) and op(B).
template <class T, class A, class B>
int wrong_elements(const GuardedMatrix<T>& c, std::int64_t m, std::int64_t n, std::int64_t k,
                   T beta, A a_at, B b_at) {
  const double eps = std::numeric_limits<T>::epsilon();
  const T* got = c.storage.data() + GuardedMatrix<T>::guard;
  int bad = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      long double want = beta == T(0) ? 0.0L : c.before(i * n + j);
      long double magnitude = std::fabs(want);
      for (std::int64_t p = 0; p < k; ++p) {
        const long double x = a_at(i, p), y = b_at(p, j);
        want += x * y;
        magnitude += std::fabs(x * y);
      }
      if (std::fabs(got[i * n + j] - want) > static_cast<double>(k + 1) * eps * magnitude) ++bad;
    }
  }
  return bad;
}

}  // namespace tapeloop::testing
