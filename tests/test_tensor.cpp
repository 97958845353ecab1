// Tensors: creation functions, alignment, element access, seeded random streams, xtensor views.
#include <cstdint>

#include "support/check.hpp"
#include "tapeloop/xtensor.hpp"

using namespace tapeloop;

BOOST_AUTO_TEST_SUITE(test_tensor)

BOOST_AUTO_TEST_CASE(creation_functions) {
  auto z = Tensor<float>::zeros({2, 3});
  BOOST_TEST(z.shape() == (Shape{2, 3}));
  BOOST_TEST(z.numel() == 6);
  for (float v : z) BOOST_TEST(v == 0.0f);
  for (double v : Tensor<double>::ones({4})) BOOST_TEST(v == 1.0);
  for (float v : Tensor<float>::full({2, 2}, 7.5f)) BOOST_TEST(v == 7.5f);
  auto f = Tensor<double>::from({2, 2}, {1, 2, 3, 4});
  BOOST_TEST(f.at({1, 0}) == 3.0);
  auto r = Tensor<float>::arange(0.0f, 1.0f, 0.25f);
  BOOST_TEST(r.shape() == (Shape{4}));
  BOOST_TEST(r[3] == 0.75f);
  BOOST_TEST(Tensor<double>::arange(5).numel() == 5);
  BOOST_TEST(Tensor<double>::arange(3.0, 0.0, -1.0)[2] == 1.0);
  BOOST_TEST(Tensor<double>::arange(3.0, 0.0).numel() == 0);
  auto s = Tensor<float>::full({}, 2.0f);  // a rank-0 scalar
  BOOST_TEST(s.numel() == 1);
  BOOST_TEST(s.rank() == 0);
}

BOOST_AUTO_TEST_CASE(storage_is_64_byte_aligned) {
  for (int n : {1, 3, 17, 1000}) {
    auto t = Tensor<float>::zeros({n});
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0u);
  }
  // Tape values of a cache line or more start on one; smaller ones on 16 bytes (a one-element
  // value does not take a whole line of arena).
  Tape<double> tape;
  for (int n : {8, 9, 100}) {
    Var<double> v = tape.input(Tensor<double>::zeros({n}).ref());
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(v.value().data) % 64 == 0u);
  }
  for (int n : {1, 3, 5}) {
    Var<double> v = tape.input(Tensor<double>::zeros({n}).ref());
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(v.value().data) % 16 == 0u);
  }
}

BOOST_AUTO_TEST_CASE(copies_are_deep_and_moves_cheap) {
  auto a = Tensor<float>::from({2}, {1, 2});
  Tensor<float> b = a;
  b[0] = 5;
  BOOST_TEST(a[0] == 1.0f);
  const float* p = b.data();
  Tensor<float> c = std::move(b);
  BOOST_TEST(c.data() == p);
  c = a;  // same shape: assigned in place
  BOOST_TEST(c.data() == p);
  BOOST_TEST(c[0] == 1.0f);
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw) {
  TAPELOOP_CHECK_THROW_MESSAGE(Tensor<float>::from({2, 2}, {1, 2, 3}), ShapeError,
                               "shape [2,2] holds 4 values but 3 were given");
  auto t = Tensor<float>::zeros({2, 3});
  TAPELOOP_CHECK_THROW_MESSAGE(t.at({2, 0}), ValueError, "index 2 out of range for axis 0");
  TAPELOOP_CHECK_THROW_MESSAGE(t.at({1}), ValueError, "1 indices for shape [2,3]");
  TAPELOOP_CHECK_THROW_MESSAGE((Shape{1, 2, 3, 4, 5, 6, 7}), ShapeError, "rank would exceed 6");
  TAPELOOP_CHECK_THROW_MESSAGE(Tensor<float>::arange(0.0f, 1.0f, 0.0f), ValueError, "arange");
  TAPELOOP_CHECK_THROW_MESSAGE((Shape{1 << 30, 1 << 30, 1 << 30}), ShapeError,
                               "overflows the element count");
  Tensor<float> empty;
  BOOST_TEST(empty.numel() == 0);
  Tensor<float> copy = empty;  // copying an empty tensor is fine
  BOOST_TEST(copy.numel() == 0);
}

BOOST_AUTO_TEST_CASE(generator_streams_are_fixed) {
  // The first outputs of xoshiro256** seeded through splitmix64 with seed 0: pinned so that a
  // seed means the same numbers on every machine and every build.
  Generator a(0), b(0), c(1);
  const std::uint64_t first = a.next_u64();
  BOOST_TEST(first == b.next_u64());
  BOOST_TEST(first != c.next_u64());
  BOOST_TEST(first == 0x99ec5f36cb75f2b4ULL);
  Generator u(42);
  double lo = 1, hi = 0, sum = 0, sum2 = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double x = u.uniform();
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    const double z = u.normal();
    sum += z;
    sum2 += z * z;
  }
  BOOST_TEST(lo >= 0.0);
  BOOST_TEST(hi < 1.0);
  BOOST_TEST(std::abs(sum / n) < 0.02);         // mean 0 within ~6 standard errors
  BOOST_TEST(std::abs(sum2 / n - 1.0) < 0.03);  // variance 1
  Generator d(7);
  for (int i = 0; i < 1000; ++i) BOOST_TEST(d.below(10) < 10u);
  // No integer is below 0: a ValueError, not a division by zero.
  TAPELOOP_CHECK_THROW_MESSAGE(d.below(0), ValueError, "Generator::below: n must be at least 1");
}

BOOST_AUTO_TEST_CASE(random_tensors_repeat_with_the_seed) {
  Generator g1(5), g2(5);
  auto x = Tensor<float>::normal({3, 4}, 1.0f, 2.0f, g1);
  auto y = Tensor<float>::normal({3, 4}, 1.0f, 2.0f, g2);
  for (int i = 0; i < 12; ++i) BOOST_TEST(x[i] == y[i]);
  auto u = Tensor<double>::uniform({1000}, -2.0, 3.0, g1);
  for (double v : u) BOOST_TEST((v >= -2.0 && v < 3.0));
}

BOOST_AUTO_TEST_CASE(xtensor_view_shares_memory) {
  auto t = Tensor<double>::from({2, 3}, {1, 2, 3, 4, 5, 6});
  auto view = as_xtensor(t);
  BOOST_TEST(view.dimension() == 2u);
  BOOST_TEST(view(1, 2) == 6.0);
  view(0, 1) = 20.0;  // writes through to the tensor
  BOOST_TEST(t[1] == 20.0);
  Tape<double> tape;
  Var<double> v = tape.input(t.ref(), true);
  auto value = as_xtensor(v.value());
  BOOST_TEST(value(1, 0) == 4.0);
}

BOOST_AUTO_TEST_SUITE_END()
