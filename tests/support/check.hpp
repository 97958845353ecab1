// Helpers shared by the operator suites: gradcheck as a Boost check, float-vs-double agreement,
// random inputs, and exception-message checks.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "tapeloop/tapeloop.hpp"

namespace tapeloop::testing {

/// Uniform random tensor in [low, high) from a fixed seed.
inline Tensor<double> random_tensor(const Shape& shape, std::uint64_t seed, double low = -1.0,
                                    double high = 1.0) {
  Generator rng(seed);
  return Tensor<double>::uniform(shape, low, high, rng);
}

template <class To, class From>
Tensor<To> cast(const Tensor<From>& x) {
  Tensor<To> y(x.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) y[i] = static_cast<To>(x[i]);
  return y;
}

/// Runs `fn(tape, inputs)` (a generic lambda) on Tape<float> and on Tape<double> with the same
/// inputs, backpropagates the same random seed, and checks that the float values and input
/// gradients agree with the double ones: |f - d| <= atol + rtol * |d|.
template <class Fn>
void check_float_matches_double(Fn fn, const std::vector<Tensor<double>>& inputs,
                                double rtol = 2e-5, double atol = 2e-6) {
  Tape<double> td;
  Tape<float> tf;
  std::vector<Var<double>> xd;
  std::vector<Var<float>> xf;
  for (const auto& x : inputs) {
    xd.push_back(td.input(x.ref(), true));
    Tensor<float> f = cast<float>(x);
    xf.push_back(tf.input(f.ref(), true));
  }
  Var<double> yd = fn(td, xd);
  Var<float> yf = fn(tf, xf);
  BOOST_REQUIRE(yd.shape() == yf.shape());
  Generator rng(99);
  Tensor<double> seed = Tensor<double>::normal(yd.shape(), 0.0, 1.0, rng);
  Tensor<float> seed_f = cast<float>(seed);
  td.backward(yd, seed.ref());
  tf.backward(yf, seed_f.ref());
  auto close = [&](double f, double d) { return std::abs(f - d) <= atol + rtol * std::abs(d); };
  int bad = 0;
  for (std::int64_t k = 0; k < yd.numel(); ++k) {
    if (!close(yf.value()[k], yd.value()[k]) && bad++ < 5) {
      BOOST_ERROR("value " << k << ": float " << yf.value()[k] << " vs double " << yd.value()[k]);
    }
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    for (std::int64_t k = 0; k < inputs[i].numel(); ++k) {
      if (!close(xf[i].grad()[k], xd[i].grad()[k]) && bad++ < 5) {
        BOOST_ERROR("input " << i << " gradient " << k << ": float " << xf[i].grad()[k]
                             << " vs double " << xd[i].grad()[k]);
      }
    }
  }
  BOOST_CHECK_EQUAL(bad, 0);
}

}  // namespace tapeloop::testing

/// gradcheck as a Boost check that prints what failed.
#define TAPELOOP_CHECK_GRADCHECK(fn, inputs, ...)                                        \
  do {                                                                                   \
    const auto gc_result_ = ::tapeloop::gradcheck(fn, inputs, ##__VA_ARGS__);            \
    BOOST_CHECK_MESSAGE(gc_result_.passed, "gradcheck failed:\n" << gc_result_.message); \
    BOOST_CHECK_GT(gc_result_.entries_checked, 0);                                       \
  } while (0)

/// Checks that `statement` throws `type` whose message contains `text`.
#define TAPELOOP_CHECK_THROW_MESSAGE(statement, type, text)                  \
  BOOST_CHECK_EXCEPTION(statement, type, [&](const type& e_) {               \
    const bool ok_ = std::string(e_.what()).find(text) != std::string::npos; \
    if (!ok_) BOOST_TEST_MESSAGE("message was: " << e_.what());              \
    return ok_;                                                              \
  })
