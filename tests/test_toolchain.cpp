// What the compiler must get right under the flags tapeloop is built with: vectors of constants
// whose upper half is zero (GCC 12 on AVX-512 targets broadcast the lower half over them; the
// workaround is in CMakeLists.txt).
#include <cstdint>
#include <vector>

#include "support/check.hpp"

namespace {

// Out of line, so that each vector is built at run time from the constants, as in a program.
template <class T>
__attribute__((noinline)) std::vector<T> low_half_twos(std::size_t n) {
  std::vector<T> v(n, T(0));
  if (n == 4) v = {2, 2, 0, 0};
  if (n == 8) v = {2, 2, 2, 2, 0, 0, 0, 0};
  if (n == 16) v = {2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0};
  return v;
}

template <class T>
void check_upper_half_zero() {
  for (std::size_t n : {4, 8, 16}) {
    const std::vector<T> v = low_half_twos<T>(n);
    for (std::size_t i = 0; i < n; ++i) {
      BOOST_TEST(static_cast<double>(v[i]) == (i < n / 2 ? 2.0 : 0.0),
                 "element " << i << " of " << n);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_toolchain)

BOOST_AUTO_TEST_CASE(constant_vectors_with_a_zero_upper_half) {
  check_upper_half_zero<std::int64_t>();
  check_upper_half_zero<std::int32_t>();
  check_upper_half_zero<std::int16_t>();
  check_upper_half_zero<double>();
  check_upper_half_zero<float>();
}

BOOST_AUTO_TEST_SUITE_END()
