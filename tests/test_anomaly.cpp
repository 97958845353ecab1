// Anomaly detection: the first non-finite value or gradient is named with its operator, its
// inputs' shapes and, inside scan, the time step and the cell — as an exception or a callback.
#include <boost/mpl/list.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/check.hpp"
#include "tapeloop/scan.hpp"

using namespace tapeloop;

namespace {

using Scalars = boost::mpl::list<float, double>;

template <class T>
Tensor<T> values(const Shape& shape, std::vector<T> v) {
  return Tensor<T>::from(shape, v);
}

// Runs `fn` and returns the AnomalyError it throws; fails the test if it throws none.
template <class Fn>
AnomalyReport expect_anomaly(Fn fn) {
  try {
    fn();
  } catch (const AnomalyError& e) {
    BOOST_TEST_MESSAGE(e.what());
    BOOST_CHECK_EQUAL(std::string(e.what()), e.report().describe());
    return e.report();
  }
  BOOST_FAIL("expected an AnomalyError");
  return {};
}

// h' = h + x_t; y_t = sqrt(h'): NaN from the step where the running sum goes negative.
struct SqrtOfSumCell {
  template <class V>
  StepResult<V> operator()(std::span<const Var<V>> w, const State<V>& s, const Var<V>& x) const {
    const Var<V> h = s[0] + x * w[0];
    return {State<V>{h}, sqrt(h)};
  }
};

// y_t = sqrt(h') again, but the sum only touches zero (at t = 2), so the values are finite and
// the gradient 1 / (2 sqrt(0)) is the first non-finite number: found in backward.
constexpr double touches_zero[] = {1.0, 0.5, -1.5, 2.0, 1.0};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_anomaly)

BOOST_AUTO_TEST_CASE_TEMPLATE(off_by_default_nan_passes_silently, T, Scalars) {
  Tape<T> tape;
  BOOST_TEST(!tape.anomaly_detection());
  const Var<T> y = log(tape.input(values<T>({2}, {1, -1}).ref(), true));
  BOOST_TEST(std::isnan(y.value()[1]));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(forward_names_op_shapes_and_first_element, T, Scalars) {
  Tape<T> tape;
  tape.set_anomaly_detection(true);
  const Var<T> x = tape.input(values<T>({2, 3}, {1, 2, 3, 4, -5, 6}).ref(), true);
  const Var<T> doubled = x * T(2);  // finite: no report
  const AnomalyReport r = expect_anomaly([&] { log(doubled); });
  BOOST_TEST((r.phase == AnomalyPhase::forward));
  BOOST_TEST(r.op == "log");
  BOOST_TEST(r.node == 2u);
  BOOST_TEST(r.shape == (Shape{2, 3}));
  BOOST_TEST_REQUIRE(r.input_shapes.size() == 1u);
  BOOST_TEST(r.input_shapes[0] == (Shape{2, 3}));
  BOOST_TEST((r.first_index == std::vector<std::int64_t>{1, 1}));
  BOOST_TEST(std::isnan(r.first_value));
  BOOST_TEST(r.nan_count == 1);
  BOOST_TEST(r.inf_count == 0);
  BOOST_TEST(r.scan.empty());
  BOOST_TEST(r.describe().find("log (node 2) produced NaN") != std::string::npos);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(sqrt_of_negative_and_zero_over_zero, T, Scalars) {
  Tape<T> tape;
  tape.set_anomaly_detection(true);
  const Var<T> x = tape.input(values<T>({3}, {4, -1, 0}).ref());
  BOOST_TEST(expect_anomaly([&] { sqrt(x); }).op == "sqrt");
  const Var<T> zero = tape.input(values<T>({1}, {0}).ref());
  const AnomalyReport r = expect_anomaly([&] { zero / zero; });
  BOOST_TEST(r.op == "div");
  BOOST_TEST(r.input_shapes.size() == 2u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(infinities_are_caught_unless_allowed, T, Scalars) {
  const Tensor<T> x = values<T>({2}, {0, 1});
  {
    Tape<T> tape;
    tape.set_anomaly_detection(true);
    const Var<T> v = tape.input(x.ref());
    const AnomalyReport r = expect_anomaly([&] { log(v); });
    BOOST_TEST(r.inf_count == 1);
    BOOST_TEST(r.first_value == -std::numeric_limits<double>::infinity());
  }
  Tape<T> tape;
  AnomalyOptions options;
  options.allow_inf_values = true;
  tape.set_anomaly_detection(options);
  const Var<T> v = log(tape.input(x.ref()));  // -inf is allowed
  BOOST_TEST(std::isinf(v.value()[0]));
  const AnomalyReport r = expect_anomaly([&] { v* T(0); });  // -inf * 0 is NaN: still caught
  BOOST_TEST(r.op == "mul_scalar");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(leaves_are_checked, T, Scalars) {
  Tape<T> tape;
  tape.set_anomaly_detection(true);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  BOOST_TEST(expect_anomaly([&] { tape.input(values<T>({2}, {1, nan}).ref()); }).op == "input");
  Parameter<T> w(values<T>({2}, {std::numeric_limits<T>::infinity(), 1}));
  const AnomalyReport r = expect_anomaly([&] { w.var(tape); });
  BOOST_TEST(r.op == "parameter");
  BOOST_TEST(r.input_shapes.empty());
  BOOST_TEST(r.describe().find("a leaf") != std::string::npos);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(backward_names_the_rule_and_the_input, T, Scalars) {
  Tape<T> tape;
  tape.set_anomaly_detection(true);
  Parameter<T> w(values<T>({3}, {4, 0, 1}), "w");
  const Var<T> wv = w.var(tape);
  const Var<T> loss = sum(sqrt(wv) * T(3));  // sqrt(0) = 0: every value is finite
  const AnomalyReport r = expect_anomaly([&] { tape.backward(loss); });
  BOOST_TEST((r.phase == AnomalyPhase::backward));
  BOOST_TEST(r.op == "sqrt");
  BOOST_TEST(r.input == 0);
  BOOST_TEST(r.input_op == "parameter");
  BOOST_TEST(r.shape == (Shape{3}));
  BOOST_TEST((r.first_index == std::vector<std::int64_t>{1}));
  BOOST_TEST(r.inf_count == 1);
  BOOST_TEST(r.describe().find("backward rule of sqrt") != std::string::npos);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(non_finite_seed_and_stale_parameter_gradient, T, Scalars) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  Parameter<T> w(values<T>({2}, {1, 2}), "w");
  {
    Tape<T> tape;
    tape.set_anomaly_detection(true);
    const Var<T> y = w.var(tape) * T(2);
    const Tensor<T> seed = values<T>({2}, {1, nan});
    const AnomalyReport r = expect_anomaly([&] { tape.backward(y, seed.ref()); });
    BOOST_TEST(r.op == "mul_scalar");
    BOOST_TEST(r.input == -1);
    BOOST_TEST(r.describe().find("before backward began") != std::string::npos);
  }
  w.zero_grad();
  w.grad()[0] = std::numeric_limits<T>::infinity();  // left over from an earlier pass
  Tape<T> tape;
  tape.set_anomaly_detection(true);
  const AnomalyReport r = expect_anomaly([&] { tape.backward(sum(w.var(tape))); });
  BOOST_TEST(r.op == "parameter");
  BOOST_TEST(r.input == -1);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(scan_reports_step_and_cell, T, Scalars) {
  // The running sum 1, 1.5, 0, -0.5, ...: sqrt is NaN from t = 3.
  const Tensor<T> xs = values<T>({5, 1, 1}, {1, 0.5, -1.5, -0.5, 2});
  for (const bool reverse : {false, true}) {
    Tape<T> tape;
    tape.set_anomaly_detection(true);
    Parameter<T> w(values<T>({1}, {1}));
    const Var<T> wv = w.var(tape);
    ScanOptions options;
    options.reverse = reverse;
    // Reversed, the sum runs 2, 1.5, 0, 0.5, 1.5: finite; so reverse the data too.
    Tensor<T> data = xs;
    if (reverse) std::reverse(data.begin(), data.end());
    const Var<T> x = tape.input(data.ref());
    const AnomalyReport r = expect_anomaly([&] {
      scan(tape, SqrtOfSumCell{}, x, State<T>{tape.zeros({1, 1})}, {wv}, options);
    });
    BOOST_TEST(r.op == "sqrt");
    BOOST_TEST(r.scan == "scan");
    BOOST_TEST(r.step == (reverse ? 1 : 3));
    BOOST_TEST(r.cell.find("SqrtOfSumCell") != std::string::npos);
    BOOST_TEST(r.describe().find("in scan step t=") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(scan_backward_reports_step, T, Scalars) {
  std::vector<T> data(std::begin(touches_zero), std::end(touches_zero));
  const Tensor<T> xs = values<T>({5, 1, 1}, data);
  for (const int segment : {0, 2}) {
    Tape<T> tape;
    tape.set_anomaly_detection(true);
    Parameter<T> w(values<T>({1}, {1}), "w");
    const Var<T> wv = w.var(tape);
    const Var<T> x = tape.input(xs.ref());
    const State<T> h0{tape.zeros({1, 1})};
    const ScanResult<T> out = segment
                                  ? checkpointed_scan(tape, SqrtOfSumCell{}, x, h0, {wv}, segment)
                                  : scan(tape, SqrtOfSumCell{}, x, h0, {wv});
    const AnomalyReport r = expect_anomaly([&] { tape.backward(sum(out.outputs)); });
    BOOST_TEST((r.phase == AnomalyPhase::backward));
    BOOST_TEST(r.op == "sqrt");
    BOOST_TEST(r.step == 2);
    BOOST_TEST(r.scan == (segment ? "checkpointed_scan" : "scan"));
    BOOST_TEST(r.recomputed == (segment != 0));
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(handler_sees_the_first_of_each_phase, T, Scalars) {
  Tape<T> tape;
  std::vector<AnomalyReport> seen;
  AnomalyOptions options;
  options.handler = [&](const AnomalyReport& r) { seen.push_back(r); };
  tape.set_anomaly_detection(options);
  const Var<T> x = tape.input(values<T>({2}, {-1, 0}).ref(), true);
  const Var<T> a = sqrt(x);  // NaN: reported, recording goes on
  const Var<T> b = log(x);   // NaN and -inf: not reported, only the first is
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST(seen[0].op == "sqrt");
  tape.backward(sum(a + b));
  BOOST_TEST_REQUIRE(seen.size() == 2u);
  BOOST_TEST((seen[1].phase == AnomalyPhase::backward));
  tape.clear();
  log(tape.input(values<T>({1}, {-1}).ref()));  // a new recording reports again
  BOOST_TEST(seen.size() == 3u);
  tape.set_anomaly_detection(false);
  log(tape.input(values<T>({1}, {-1}).ref()));
  BOOST_TEST(seen.size() == 3u);
}

BOOST_AUTO_TEST_CASE(global_default_applies_to_new_tapes) {
  const bool before = detect_anomaly_by_default();
  set_detect_anomaly(true);
  Tape<float> on;
  set_detect_anomaly(false);
  Tape<float> off;
  set_detect_anomaly(before);
  BOOST_TEST(on.anomaly_detection());
  BOOST_TEST(!off.anomaly_detection());
}

BOOST_AUTO_TEST_CASE(finite_training_step_is_unchanged) {
  // Detection only looks: values and gradients are bit-identical with it on.
  const Tensor<double> xs = testing::random_tensor({4, 3}, 1);
  std::vector<double> grads[2];
  for (int on = 0; on < 2; ++on) {
    Parameter<double> w(testing::random_tensor({3, 2}, 2), "w");
    Tape<double> tape;
    tape.set_anomaly_detection(on == 1);
    tape.backward(sum(tanh(matmul(tape.input(xs.ref()), w.var(tape)))));
    grads[on].assign(w.grad().begin(), w.grad().end());
  }
  BOOST_TEST(grads[0] == grads[1], boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
