// Gradient clipping against torch.nn.utils.clip_grad_norm_ and clip_grad_value_
// (tests/golden/optim_golden.json), and its edge cases: frozen parameters, non-finite norms,
// float gradients whose squares overflow float, argument checks.
#include <limits>
#include <memory>

#include "support/check.hpp"
#include "support/golden.hpp"

using namespace tapeloop;
using nlohmann::json;
using testing::check_close;
using testing::golden_tensor;
using testing::optim_golden;

namespace {

// The golden parameters: "frozen" is frozen and given a gradient that must survive untouched.
template <class T>
struct Model {
  std::vector<std::unique_ptr<Parameter<T>>> owned;
  std::vector<Parameter<T>*> params;

  explicit Model(const json& grads) {
    for (const json& p : optim_golden().at("params")) {
      const std::string name = p.at("name");
      Shape shape;
      for (const json& d : p.at("shape")) shape.push_back(d.get<std::int64_t>());
      owned.push_back(std::make_unique<Parameter<T>>(Tensor<T>::zeros(shape), name));
      owned.back()->grad() = golden_tensor<T>(grads.at(name), shape);
      owned.back()->set_requires_grad(!p.at("trained_from").is_null());
      params.push_back(owned.back().get());
    }
  }
};

template <class T>
void check_norm_cases(const char* dtype, double rtol) {
  const json& cases = optim_golden().at("clip").at(dtype).at("norm");
  BOOST_TEST(cases.size() >= 8u);
  for (const json& c : cases) {
    const double norm_type = c.at("norm_type") == "inf" ? std::numeric_limits<double>::infinity()
                                                        : c.at("norm_type").get<double>();
    const double max_norm = c.at("max_norm");
    BOOST_TEST_CONTEXT(dtype << " norm_type " << norm_type << " max_norm " << max_norm) {
      Model<T> m(c.at("grads"));
      const Tensor<T> frozen_grad = m.params.back()->grad();
      const double total = clip_grad_norm(m.params, max_norm, norm_type);
      const double want = c.at("total_norm");
      BOOST_TEST(std::abs(total - want) <= rtol * want, total << " vs torch " << want);
      for (Parameter<T>* p : m.params) {
        if (!p->requires_grad()) continue;
        check_close(p->name(), p->grad().data(), c.at("clipped").at(p->name()), rtol, 1e-7 * rtol);
      }
      BOOST_TEST(
          std::equal(frozen_grad.begin(), frozen_grad.end(), m.params.back()->grad().begin()));
    }
  }
}

template <class T>
void check_value_case(const char* dtype) {
  const json& c = optim_golden().at("clip").at(dtype).at("value");
  Model<T> m(c.at("grads"));
  const Tensor<T> frozen_grad = m.params.back()->grad();
  clip_grad_value(m.params, c.at("clip").get<double>());
  for (Parameter<T>* p : m.params) {
    if (!p->requires_grad()) continue;
    check_close(p->name(), p->grad().data(), c.at("clipped").at(p->name()), 0.0, 0.0);  // exact
  }
  BOOST_TEST(std::equal(frozen_grad.begin(), frozen_grad.end(), m.params.back()->grad().begin()));
  BOOST_TEST(std::abs(frozen_grad[0]) > 0.0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_clip)

BOOST_AUTO_TEST_CASE(clip_grad_norm_matches_torch) {
  // Double agrees to rounding; float differs by torch summing in float where we sum in double.
  check_norm_cases<double>("float64", 1e-12);
  check_norm_cases<float>("float32", 1e-6);
}

BOOST_AUTO_TEST_CASE(clip_grad_value_matches_torch) {
  check_value_case<double>("float64");
  check_value_case<float>("float32");
}

BOOST_AUTO_TEST_CASE(norm_of_nothing_is_zero) {
  Parameter<float> p(Tensor<float>::zeros({2}), "p");
  p.grad().fill(3.0f);
  p.set_requires_grad(false);
  std::vector<Parameter<float>*> params{&p};
  BOOST_TEST(clip_grad_norm(params, 1.0) == 0.0);
  BOOST_TEST(clip_grad_norm(std::vector<Parameter<float>*>{}, 1.0) == 0.0);
  BOOST_TEST(p.grad()[0] == 3.0f);
}

BOOST_AUTO_TEST_CASE(small_norm_is_left_alone_and_large_one_scaled) {
  Parameter<double> p(Tensor<double>::zeros({2}), "p");
  std::vector<Parameter<double>*> params{&p};
  p.grad() = Tensor<double>::from({2}, {3.0, 4.0});
  BOOST_TEST(clip_grad_norm(params, 10.0) == 5.0);
  BOOST_TEST(p.grad()[0] == 3.0);  // no multiplication by a coefficient near 1
  BOOST_TEST(clip_grad_norm(params, 1.0) == 5.0);
  const double coef = 1.0 / (5.0 + 1e-6);  // PyTorch's coefficient, guarded against a zero norm
  BOOST_TEST(p.grad()[0] == 3.0 * coef);
  BOOST_TEST(p.grad()[1] == 4.0 * coef);
  BOOST_TEST(clip_grad_norm(params, 1.0, std::numeric_limits<double>::infinity()) == 4.0 * coef);
}

BOOST_AUTO_TEST_CASE(non_finite_norm_leaves_gradients_alone) {
  Parameter<float> p(Tensor<float>::zeros({3}), "p");
  std::vector<Parameter<float>*> params{&p};
  p.grad() = Tensor<float>::from({3}, {1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f});
  BOOST_TEST(std::isnan(clip_grad_norm(params, 1.0)));
  BOOST_TEST(std::isnan(clip_grad_norm(params, 1.0, std::numeric_limits<double>::infinity())));
  BOOST_TEST(p.grad()[0] == 1.0f);
  p.grad()[1] = std::numeric_limits<float>::infinity();
  BOOST_TEST(std::isinf(clip_grad_norm(params, 1.0)));
  BOOST_TEST(p.grad()[2] == 2.0f);
}

BOOST_AUTO_TEST_CASE(float_gradients_whose_squares_overflow_float) {
  // 1e20^2 overflows float; the norm is accumulated in double.
  Parameter<float> p(Tensor<float>::zeros({100}), "p");
  p.grad().fill(1e20f);
  std::vector<Parameter<float>*> params{&p};
  const double total = clip_grad_norm(params, 1.0);
  BOOST_TEST(total == 10.0 * static_cast<double>(1e20f), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(p.grad()[7] == 0.1f, boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(clip_grad_value_clamps_and_keeps_nan) {
  Parameter<double> p(Tensor<double>::zeros({4}), "p");
  std::vector<Parameter<double>*> params{&p};
  p.grad() = Tensor<double>::from({4}, {-3.0, 0.5, 7.0, std::nan("")});
  clip_grad_value(params, 1.0);
  BOOST_TEST(p.grad()[0] == -1.0);
  BOOST_TEST(p.grad()[1] == 0.5);
  BOOST_TEST(p.grad()[2] == 1.0);
  BOOST_TEST(std::isnan(p.grad()[3]));
  clip_grad_value(params, std::numeric_limits<double>::infinity());
  BOOST_TEST(p.grad()[0] == -1.0);
}

BOOST_AUTO_TEST_CASE(arguments_are_checked) {
  Parameter<float> p(Tensor<float>::zeros({1}), "p");
  std::vector<Parameter<float>*> params{&p};
  TAPELOOP_CHECK_THROW_MESSAGE(clip_grad_norm(params, -1.0), ValueError,
                               "clip_grad_norm: max_norm must be finite and >= 0, got -1");
  TAPELOOP_CHECK_THROW_MESSAGE(clip_grad_norm(params, std::nan("")), ValueError, "max_norm");
  TAPELOOP_CHECK_THROW_MESSAGE(clip_grad_norm(params, 1.0, 0.0), ValueError,
                               "clip_grad_norm: norm_type must be > 0 or infinity, got 0");
  TAPELOOP_CHECK_THROW_MESSAGE(clip_grad_norm(params, 1.0, std::nan("")), ValueError, "norm_type");
  TAPELOOP_CHECK_THROW_MESSAGE(clip_grad_value(params, -0.5), ValueError,
                               "clip_grad_value: clip must be >= 0, got -0.5");
}

BOOST_AUTO_TEST_SUITE_END()
