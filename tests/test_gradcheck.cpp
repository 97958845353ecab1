// gradcheck itself: it passes a correct user-defined operator and catches each kind of broken
// backward rule (wrong derivative, assigning instead of adding, writing a gradient nobody asked
// for, leaving an output element unwritten).
#include <cmath>

#include "support/check.hpp"
#include "tapeloop/rule.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

enum class Bug { none, wrong_derivative, assigns, writes_frozen_input, skips_last_output };

// softplus(a) * b written the way a user writes an operator, optionally with one bug.
template <class T>
struct SoftplusTimes {
  static constexpr const char* name = "softplus_times";
  static constexpr bool no_tangent = true;
  Bug bug;
  Var<T> b;  // only for the bug that writes the gradient of b although b needs none

  Shape check(InputShapes s) const {
    if (s[0] != s[1]) throw ShapeError("softplus_times: shapes differ");
    return s[0];
  }
  void forward(ForwardContext<T>& c) const {
    const T* pa = c.in(0);
    const T* pb = c.in(1);
    T* py = c.out();
    const std::int64_t n = c.out_shape().numel() - (bug == Bug::skips_last_output ? 1 : 0);
    for (std::int64_t i = 0; i < n; ++i) py[i] = std::log1p(std::exp(pa[i])) * pb[i];
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    const T* pa = c.in(0);
    const T* pb = c.in(1);
    const std::int64_t m = c.out_shape().numel();
    if (T* ga = c.grad(0)) {
      for (std::int64_t i = 0; i < m; ++i) {
        const T sig = T(1) / (T(1) + std::exp(-pa[i]));
        const T d = g[i] * pb[i] * (bug == Bug::wrong_derivative ? sig * T(1.01) : sig);
        if (bug == Bug::assigns) {
          ga[i] = d;
        } else {
          ga[i] += d;
        }
      }
    }
    T* gb = c.grad(1);
    if (!gb && bug == Bug::writes_frozen_input) gb = b.grad().data;
    if (gb) {
      for (std::int64_t i = 0; i < m; ++i) gb[i] += g[i] * std::log1p(std::exp(pa[i]));
    }
  }
};

template <class T>
Var<T> softplus_times(const Var<T>& a, const Var<T>& b, Bug bug) {
  return record(SoftplusTimes<T>{.bug = bug, .b = b}, a, b);
}

GradcheckResult check(Bug bug, const Shape& shape = {2, 3}) {
  std::vector<Tensor<double>> in = {random_tensor(shape, 1), random_tensor(shape, 2)};
  return gradcheck(
      [bug](Tape<double>&, const std::vector<Var<double>>& x) {
        return softplus_times(x[0], x[1], bug);
      },
      in);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_gradcheck)

BOOST_AUTO_TEST_CASE(passes_a_correct_operator) {
  for (const Shape& s : {Shape{1}, Shape{2, 3}, Shape{50}}) {  // 50 > 32 outputs: projections
    const GradcheckResult r = check(Bug::none, s);
    BOOST_CHECK_MESSAGE(r.passed, r.message);
    BOOST_TEST(r.entries_checked > 0);
    BOOST_TEST(r.max_abs_error < 1e-8);
  }
}

BOOST_AUTO_TEST_CASE(catches_a_wrong_derivative) {
  const GradcheckResult r = check(Bug::wrong_derivative);
  BOOST_TEST(!r.passed);
  BOOST_TEST(r.message.find("finite differences give") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(catches_a_rule_that_assigns_instead_of_adding) {
  BOOST_TEST(!check(Bug::assigns).passed);
  GradcheckOptions lenient;
  lenient.check_accumulation = false;  // without the prefill trick the bug is invisible
  std::vector<Tensor<double>> in = {random_tensor({2, 3}, 1), random_tensor({2, 3}, 2)};
  BOOST_TEST(gradcheck(
                 [](Tape<double>&, const std::vector<Var<double>>& x) {
                   return softplus_times(x[0], x[1], Bug::assigns);
                 },
                 in, lenient)
                 .passed);
}

BOOST_AUTO_TEST_CASE(catches_a_write_to_a_gradient_nobody_asked_for) {
  const GradcheckResult r = check(Bug::writes_frozen_input);
  BOOST_TEST(!r.passed);
  BOOST_TEST(r.message.find("does not require a gradient, but backward wrote") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(catches_an_unwritten_output_element) {
  const GradcheckResult r = check(Bug::skips_last_output);
  BOOST_TEST(!r.passed);
  BOOST_TEST(r.message.find("NaN") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(float_version_of_a_user_operator) {
  std::vector<Tensor<double>> in = {random_tensor({3, 2}, 3), random_tensor({3, 2}, 4)};
  tapeloop::testing::check_float_matches_double(
      [](auto&, const auto& x) { return softplus_times(x[0], x[1], Bug::none); }, in);
}

BOOST_AUTO_TEST_SUITE_END()
