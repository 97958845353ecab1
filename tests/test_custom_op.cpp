// An operator written outside the library, as docs/writing-an-operator.md describes: one rule
// struct recorded by record(), checked like every operator of the library.
#include <algorithm>
#include <cmath>

#include "support/check.hpp"
#include "support/doc_blocks.hpp"
#include "tapeloop/rule.hpp"

namespace my {

using namespace tapeloop;

// ---- writing-an-operator block: softplus ----
// softplus(x) = log(1 + e^x), evaluated as max(x, 0) + log1p(e^-|x|) so that it neither
// overflows nor loses the small values far left. Its derivative is sigmoid(x).
template <class T>
struct Softplus {
  static constexpr const char* name = "softplus";

  // The output's shape, from the inputs' shapes; throw here (ShapeError, ValueError) and
  // nothing is recorded.
  Shape check(InputShapes s) const { return s[0]; }

  // Fill every element of the output.
  void forward(ForwardContext<T>& c) const {
    const T* x = c.in(0);
    T* y = c.out();
    for (std::int64_t i = 0, n = c.out_shape().numel(); i < n; ++i) {
      y[i] = std::max(x[i], T(0)) + std::log1p(std::exp(-std::abs(x[i])));
    }
  }

  static T slope(T x) {  // sigmoid(x), exponentiating only non-positive numbers
    const T e = std::exp(-std::abs(x));
    return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
  }

  // Add (+=) the input's share of the output's gradient; grad(0) is null when x needs none.
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    const T* x = c.in(0);
    if (T* gx = c.grad(0)) {
      for (std::int64_t i = 0, n = c.out_shape().numel(); i < n; ++i) gx[i] += g[i] * slope(x[i]);
    }
  }

  // Forward mode: add J t into the output's tangent (Tape::jvp, Hessian-free training).
  void tangent(TangentContext<T>& c) const {
    const T* t = c.tangent(0);
    const T* x = c.in(0);
    T* ty = c.tangent_out();
    for (std::int64_t i = 0, n = c.out_shape().numel(); i < n; ++i) ty[i] += t[i] * slope(x[i]);
  }

  // Second order (Tape::hvp): add what the backward rule's factor changes along the tangent,
  // g f''(x) t, into the gradient's tangent grad(0); f'' = sigmoid (1 - sigmoid).
  void curvature(CurvatureContext<T>& c) const {
    const T* g = c.grad_out();
    const T* t = c.tangent(0);
    const T* x = c.in(0);
    if (T* gx = c.grad(0)) {
      for (std::int64_t i = 0, n = c.out_shape().numel(); i < n; ++i) {
        gx[i] += g[i] * slope(x[i]) * (T(1) - slope(x[i])) * t[i];
      }
    }
  }
};

template <class T>
Var<T> softplus(const Var<T>& x) {
  return record(Softplus<T>{}, x);
}
// ---- end of writing-an-operator block ----

// a * w + b * (1 - w) for a number w in [0, 1], a and b of one shape: parameters, a check that
// throws, two inputs, and an operator that has no tangent rule.
template <class T>
struct Blend {
  static constexpr const char* name = "blend";
  static constexpr bool no_tangent = true;
  T w;

  Shape check(InputShapes s) const {
    if (s[0] != s[1]) {
      throw ShapeError("blend: " + s[0].str() + " and " + s[1].str() + ": shapes differ");
    }
    if (!(w >= T(0) && w <= T(1))) throw ValueError("blend: w is outside [0, 1]");
    return s[0];
  }
  void forward(ForwardContext<T>& c) const {
    for (std::int64_t i = 0, n = c.out_shape().numel(); i < n; ++i) {
      c.out()[i] = c.in(0)[i] * w + c.in(1)[i] * (T(1) - w);
    }
  }
  void backward(BackwardContext<T>& c) const {
    const std::int64_t n = c.out_shape().numel();
    if (T* ga = c.grad(0)) {
      for (std::int64_t i = 0; i < n; ++i) ga[i] += c.grad_out()[i] * w;
    }
    if (T* gb = c.grad(1)) {
      for (std::int64_t i = 0; i < n; ++i) gb[i] += c.grad_out()[i] * (T(1) - w);
    }
  }
};

template <class T>
Var<T> blend(const Var<T>& a, const Var<T>& b, typename Var<T>::value_type w) {
  return record(Blend<T>{w}, a, b);
}

}  // namespace my

using namespace tapeloop;
using tapeloop::testing::random_tensor;

BOOST_AUTO_TEST_SUITE(test_custom_op)

BOOST_AUTO_TEST_CASE(softplus_values_against_the_closed_form) {
  Tape<double> tape;
  const Tensor<double> x = Tensor<double>::from({5}, {-100.0, -1.0, 0.0, 2.0, 100.0});
  const Tensor<double> y = my::softplus(tape.constant(x.ref())).to_tensor();
  BOOST_TEST(y[0] == std::exp(-100.0), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(y[1] == std::log(1.0 + std::exp(-1.0)), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(y[2] == std::log(2.0));
  BOOST_TEST(y[3] == std::log(1.0 + std::exp(2.0)), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(y[4] == 100.0);
}

BOOST_AUTO_TEST_CASE(softplus_gradient_tangent_and_curvature_pass_gradcheck) {
  for (const Shape& shape : {Shape{}, Shape{7}, Shape{3, 4}}) {
    const std::vector<Tensor<double>> in = {random_tensor(shape, 1)};
    auto f = [](Tape<double>&, const std::vector<Var<double>>& x) {
      return my::softplus(x[0]) * x[0];  // x used twice: the gradients add
    };
    TAPELOOP_CHECK_GRADCHECK(f, in);
    BOOST_TEST(gradcheck(f, in).tangents_checked);
    BOOST_TEST(gradcheck(f, in).curvature_checked);
  }
}

BOOST_AUTO_TEST_CASE(softplus_in_float_matches_double) {
  tapeloop::testing::check_float_matches_double(
      [](auto&, const auto& x) { return my::softplus(x[0]); }, {random_tensor({4, 5}, 2)});
}

BOOST_AUTO_TEST_CASE(a_rule_without_tangent_still_has_its_gradient) {
  const std::vector<Tensor<double>> in = {random_tensor({2, 3}, 3), random_tensor({2, 3}, 4)};
  auto f = [](Tape<double>&, const std::vector<Var<double>>& x) {
    return my::blend(my::softplus(x[0]), x[1], 0.25);
  };
  const GradcheckResult r = gradcheck(f, in);
  BOOST_TEST(r.passed, r.message);
  BOOST_TEST(!r.tangents_checked);
  BOOST_TEST(r.no_tangent == "jvp: blend has no tangent rule (no forward-mode derivative)");
  BOOST_TEST(!r.curvature_checked);
  BOOST_TEST(r.no_curvature == r.no_tangent);  // a Hessian-vector product starts with a jvp
}

BOOST_AUTO_TEST_CASE(a_failed_check_records_nothing) {
  Tape<float> tape;
  Var<float> a = tape.input(Tensor<float>::zeros({2, 3}).ref(), true);
  Var<float> b = tape.input(Tensor<float>::zeros({3, 2}).ref(), true);
  const std::size_t before = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(my::blend(a, b, 0.5f), ShapeError,
                               "blend: [2,3] and [3,2]: shapes differ");
  TAPELOOP_CHECK_THROW_MESSAGE(my::blend(a, a, 2.0f), ValueError, "blend: w is outside [0, 1]");
  Tape<float> other;
  Var<float> foreign = other.input(Tensor<float>::zeros({2, 3}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(my::blend(a, foreign, 0.5f), TapeError,
                               "blend: the Var belongs to another tape");
  TAPELOOP_CHECK_THROW_MESSAGE(my::softplus(Var<float>{}), TapeError,
                               "softplus: empty Var (default-constructed");
  BOOST_TEST(tape.size() == before);
}

BOOST_AUTO_TEST_CASE(a_rule_is_kept_only_when_a_gradient_flows) {
  Tape<float> tape;
  Var<float> x = tape.constant(Tensor<float>::full({3}, 1.0f).ref());
  Var<float> y = my::softplus(x);
  BOOST_TEST(!y.requires_grad());
  const std::size_t bytes = tape.arena().bytes_in_use();
  Var<float> w = tape.input(Tensor<float>::full({3}, 1.0f).ref(), true);
  const std::size_t with_input = tape.arena().bytes_in_use();
  Var<float> z = my::softplus(w);
  BOOST_TEST(z.requires_grad());
  BOOST_TEST(tape.arena().bytes_in_use() > with_input + 16);  // value and the rule
  BOOST_TEST(with_input > bytes);
  tape.backward(sum(z));
  BOOST_TEST(w.grad()[0] == my::Softplus<float>::slope(1.0f));
}

BOOST_AUTO_TEST_CASE(the_guide_shows_this_operator) {
  BOOST_TEST(tapeloop::testing::check_doc_blocks(__FILE__, "writing-an-operator.md",
                                                 "writing-an-operator") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
