// The optimizers against torch.optim (tests/golden/optim_golden.json): several steps of every
// option combination that matters, in double and float, through a learning-rate change, with a
// frozen parameter and one unfrozen late; then the optimizer contract: frozen parameters are
// untouched, state is named and restorable, options are checked.
#include <map>
#include <memory>
#include <set>

#include "support/check.hpp"
#include "support/golden.hpp"

using namespace tapeloop;
using nlohmann::json;
using testing::check_close;
using testing::golden_tensor;
using testing::optim_golden;

namespace {

// The tolerances of the comparison with torch. Double: the same operations in the same order,
// so only the odd rounding (a fused multiply-add, pow) differs. Float: torch and we round each
// operation to float too, but an ulp here and there compounds over seven steps of
// division-heavy updates.
constexpr double double_rtol = 1e-12, double_atol = 1e-14;
constexpr double float_rtol = 1e-6, float_atol = 1e-7;

Shape shape_of(const json& dims) {
  Shape s;
  for (const json& d : dims) s.push_back(d.get<std::int64_t>());
  return s;
}

// The options of a golden case; a key the case does not set keeps our default, which therefore
// has to be torch's default too.
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const json& c, std::span<Parameter<T>* const> params) {
  const std::string kind = c.at("optimizer");
  const json& o = c.at("options");
  if (kind == "SGD") {
    SGDOptions opt;
    opt.lr = o.value("lr", opt.lr);
    opt.momentum = o.value("momentum", opt.momentum);
    opt.dampening = o.value("dampening", opt.dampening);
    opt.weight_decay = o.value("weight_decay", opt.weight_decay);
    opt.nesterov = o.value("nesterov", opt.nesterov);
    return std::make_unique<SGD<T>>(params, opt);
  }
  if (kind == "RMSProp") {
    RMSPropOptions opt;
    opt.lr = o.value("lr", opt.lr);
    opt.alpha = o.value("alpha", opt.alpha);
    opt.eps = o.value("eps", opt.eps);
    opt.weight_decay = o.value("weight_decay", opt.weight_decay);
    opt.momentum = o.value("momentum", opt.momentum);
    opt.centered = o.value("centered", opt.centered);
    return std::make_unique<RMSProp<T>>(params, opt);
  }
  if (kind == "Adam") {
    AdamOptions opt;
    opt.lr = o.value("lr", opt.lr);
    opt.beta1 = o.value("beta1", opt.beta1);
    opt.beta2 = o.value("beta2", opt.beta2);
    opt.eps = o.value("eps", opt.eps);
    opt.weight_decay = o.value("weight_decay", opt.weight_decay);
    opt.amsgrad = o.value("amsgrad", opt.amsgrad);
    return std::make_unique<Adam<T>>(params, opt);
  }
  BOOST_REQUIRE_EQUAL(kind, "AdamW");
  AdamWOptions opt;
  opt.lr = o.value("lr", opt.lr);
  opt.beta1 = o.value("beta1", opt.beta1);
  opt.beta2 = o.value("beta2", opt.beta2);
  opt.eps = o.value("eps", opt.eps);
  opt.weight_decay = o.value("weight_decay", opt.weight_decay);
  opt.amsgrad = o.value("amsgrad", opt.amsgrad);
  return std::make_unique<AdamW<T>>(params, opt);
}

// Replays one golden case: the same starting values, gradient sequence, freezing schedule and
// learning-rate change as the generator, comparing every parameter after every step, then the
// state and the step counts.
template <class T>
void replay(const json& c, const char* dtype, double rtol, double atol) {
  const json& golden = optim_golden();
  const std::string name = c.at("name");
  const json& expected = c.at(dtype);
  std::vector<std::unique_ptr<Parameter<T>>> owned;
  std::vector<Parameter<T>*> params;
  std::vector<std::int64_t> trained_steps;
  for (const json& p : golden.at("params")) {
    const std::string pname = p.at("name");
    owned.push_back(std::make_unique<Parameter<T>>(
        golden_tensor<T>(golden.at("init").at(pname), shape_of(p.at("shape"))), pname));
    params.push_back(owned.back().get());
    trained_steps.push_back(0);
  }
  const Tensor<T> frozen_start = params.back()->value();
  std::unique_ptr<Optimizer<T>> opt = make_optimizer<T>(c, params);
  BOOST_TEST(opt->name() == c.at("optimizer").get<std::string>());

  double worst = 0.0;
  const int steps = golden.at("steps");
  for (int step = 0; step < steps; ++step) {
    if (step == golden.at("lr_change").at("step").get<int>()) {
      opt->set_learning_rate(opt->learning_rate() *
                             golden.at("lr_change").at("factor").get<double>());
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const json& from = golden.at("params")[i].at("trained_from");
      const bool trained = !from.is_null() && step >= from.get<int>();
      Parameter<T>& p = *params[i];
      p.set_requires_grad(trained);
      if (trained) {
        p.grad() = golden_tensor<T>(golden.at("grads")[step].at(p.name()), p.shape());
        ++trained_steps[i];
      } else {
        p.grad().fill(T(1000));  // a frozen parameter's gradient must be ignored, not zero
      }
    }
    opt->step();
    for (Parameter<T>* p : params) {
      const json& want = expected.at("history")[step].at(p->name());
      worst = std::max(
          worst, check_close(name + " " + dtype + " step " + std::to_string(step) + " " + p->name(),
                             p->value().data(), want, rtol, atol));
    }
  }
  BOOST_TEST_MESSAGE(name << " " << dtype << ": the largest difference from torch is " << worst
                          << " of the tolerance");

  // The frozen parameter: bit-identical, no state, no steps.
  const Parameter<T>& frozen = *params.back();
  BOOST_TEST(std::equal(frozen.value().begin(), frozen.value().end(), frozen_start.begin()));

  // State: every torch state tensor exists under the same name with the same values; our extra
  // entries are the never-stepped frozen parameter's, still zero.
  std::set<std::string> ours;
  for (const auto& [sname, tensor] : opt->named_state()) {
    ours.insert(sname);
    if (expected.at("state").contains(sname)) {
      check_close(name + " " + dtype + " state " + sname, tensor->data(),
                  expected.at("state").at(sname), rtol, atol);
    } else {
      BOOST_TEST(sname.ends_with(".frozen"), name << ": unexpected state " << sname);
      BOOST_TEST(std::all_of(tensor->begin(), tensor->end(), [](T v) { return v == T(0); }));
    }
  }
  for (const auto& [sname, values] : expected.at("state").items()) {
    BOOST_TEST(ours.count(sname) == 1u, name << ": missing state " << sname);
  }
  const std::vector<NamedStep> counts = opt->named_steps();
  BOOST_REQUIRE_EQUAL(counts.size(), params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    BOOST_TEST(counts[i].first == "step." + params[i]->name());
    BOOST_TEST(*counts[i].second == trained_steps[i]);
    const std::string& pname = params[i]->name();
    if (expected.at("steps").contains(pname)) {
      BOOST_TEST(*counts[i].second == expected.at("steps").at(pname).get<std::int64_t>());
    }
  }
}

void replay_all(const std::string& kind, std::size_t at_least) {
  std::size_t n = 0;
  for (const json& c : optim_golden().at("cases")) {
    if (c.at("optimizer") != kind) continue;
    ++n;
    BOOST_TEST_CONTEXT("case " << c.at("name").get<std::string>()) {
      replay<double>(c, "float64", double_rtol, double_atol);
      replay<float>(c, "float32", float_rtol, float_atol);
    }
  }
  BOOST_TEST(n >= at_least);
}

// A parameter of the given values with a gradient of the given values.
template <class T>
std::unique_ptr<Parameter<T>> param(const char* name, std::initializer_list<T> value,
                                    std::initializer_list<T> grad) {
  auto p = std::make_unique<Parameter<T>>(
      Tensor<T>::from({static_cast<std::int64_t>(value.size())}, value), name);
  p->grad() = Tensor<T>::from({static_cast<std::int64_t>(grad.size())}, grad);
  return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_optim)

BOOST_AUTO_TEST_CASE(sgd_matches_torch) {
  replay_all("SGD", 7);
}

BOOST_AUTO_TEST_CASE(rmsprop_matches_torch) {
  replay_all("RMSProp", 5);
}

BOOST_AUTO_TEST_CASE(adam_matches_torch) {
  replay_all("Adam", 4);
}

BOOST_AUTO_TEST_CASE(adamw_matches_torch) {
  replay_all("AdamW", 4);
}

BOOST_AUTO_TEST_CASE(frozen_parameter_is_untouched_by_every_optimizer) {
  // Weight decay and momentum on, so that any update at all would move the frozen values.
  auto frozen = param<float>("frozen", {1.5f, -2.0f}, {0.25f, 4.0f});
  auto live = param<float>("live", {1.0f}, {0.5f});
  frozen->set_requires_grad(false);
  std::vector<Parameter<float>*> ps{frozen.get(), live.get()};
  std::vector<std::unique_ptr<Optimizer<float>>> opts;
  opts.push_back(std::make_unique<SGD<float>>(
      ps, SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1}));
  opts.push_back(std::make_unique<RMSProp<float>>(
      ps, RMSPropOptions{.weight_decay = 0.1, .momentum = 0.9, .centered = true}));
  opts.push_back(
      std::make_unique<Adam<float>>(ps, AdamOptions{.weight_decay = 0.1, .amsgrad = true}));
  opts.push_back(std::make_unique<AdamW<float>>(ps, AdamWOptions{.weight_decay = 0.5}));
  for (auto& opt : opts) {
    BOOST_TEST_CONTEXT(opt->name()) {
      const float before = live->value()[0];
      for (int i = 0; i < 3; ++i) opt->step();
      BOOST_TEST(frozen->value()[0] == 1.5f);
      BOOST_TEST(frozen->value()[1] == -2.0f);
      BOOST_TEST(frozen->grad()[1] == 4.0f);  // step() leaves gradients alone
      BOOST_TEST(opt->step_count(0) == 0);
      BOOST_TEST(opt->step_count(1) == 3);
      for (const auto& [name, tensor] : opt->named_state()) {
        if (name.ends_with(".frozen")) {
          BOOST_TEST((*tensor)[0] == 0.0f);
          BOOST_TEST((*tensor)[1] == 0.0f);
        }
      }
      BOOST_TEST(live->value()[0] != before);
    }
  }
}

BOOST_AUTO_TEST_CASE(zero_grad_zeroes_every_gradient) {
  auto a = param<double>("a", {1.0, 2.0}, {3.0, 4.0});
  auto b = param<double>("b", {1.0}, {5.0});
  b->set_requires_grad(false);
  SGD<double> opt({a.get(), b.get()}, {.lr = 0.1});
  opt.zero_grad();
  BOOST_TEST(a->grad()[0] == 0.0);
  BOOST_TEST(a->grad()[1] == 0.0);
  BOOST_TEST(b->grad()[0] == 0.0);
}

BOOST_AUTO_TEST_CASE(learning_rate_is_settable) {
  auto a = param<float>("a", {1.0f}, {1.0f});
  SGD<float> opt({a.get()}, {.lr = 0.5});
  BOOST_TEST(opt.learning_rate() == 0.5);
  opt.step();
  BOOST_TEST(a->value()[0] == 0.5f);
  opt.set_learning_rate(0.25);
  BOOST_TEST(opt.learning_rate() == 0.25);
  opt.step();
  BOOST_TEST(a->value()[0] == 0.25f);
  TAPELOOP_CHECK_THROW_MESSAGE(opt.set_learning_rate(-1.0), ValueError,
                               "SGD: learning rate must be finite and >= 0, got -1");
  TAPELOOP_CHECK_THROW_MESSAGE(opt.set_learning_rate(std::nan("")), ValueError, "learning rate");
  BOOST_TEST(opt.learning_rate() == 0.25);
}

BOOST_AUTO_TEST_CASE(options_are_checked) {
  auto a = param<float>("a", {1.0f}, {1.0f});
  std::vector<Parameter<float>*> ps{a.get()};
  TAPELOOP_CHECK_THROW_MESSAGE(SGD<float>(ps, {.nesterov = true}), ValueError,
                               "SGD: Nesterov momentum needs momentum > 0 and dampening = 0");
  TAPELOOP_CHECK_THROW_MESSAGE(
      SGD<float>(ps, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}), ValueError,
      "Nesterov");
  TAPELOOP_CHECK_THROW_MESSAGE(SGD<float>(ps, {.momentum = -0.1}), ValueError,
                               "SGD: momentum must be finite and >= 0, got -0.1");
  TAPELOOP_CHECK_THROW_MESSAGE(SGD<float>(ps, {.lr = -1e-3}), ValueError,
                               "SGD: learning rate must be finite and >= 0, got -0.001");
  TAPELOOP_CHECK_THROW_MESSAGE(RMSProp<float>(ps, {.eps = -1e-8}), ValueError,
                               "RMSProp: eps must be finite and >= 0, got -1e-08");
  TAPELOOP_CHECK_THROW_MESSAGE(RMSProp<float>(ps, {.alpha = -0.5}), ValueError, "alpha");
  TAPELOOP_CHECK_THROW_MESSAGE(Adam<float>(ps, {.beta1 = 1.0}), ValueError,
                               "Adam: beta1 must be in [0, 1), got 1");
  TAPELOOP_CHECK_THROW_MESSAGE(AdamW<float>(ps, {.beta2 = -0.1}), ValueError,
                               "AdamW: beta2 must be in [0, 1), got -0.1");
  TAPELOOP_CHECK_THROW_MESSAGE(AdamW<float>(ps, {.weight_decay = std::nan("")}), ValueError,
                               "AdamW: weight_decay must be finite and >= 0");
}

BOOST_AUTO_TEST_CASE(parameter_list_is_checked) {
  auto a = param<float>("a", {1.0f}, {1.0f});
  TAPELOOP_CHECK_THROW_MESSAGE(Adam<float>({a.get(), a.get()}), ValueError,
                               "Adam: parameter 1 ('a') appears twice");
  TAPELOOP_CHECK_THROW_MESSAGE(Adam<float>({a.get(), nullptr}), ValueError,
                               "Adam: parameter 1 is null");
}

BOOST_AUTO_TEST_CASE(a_parameter_that_changes_shape_is_an_error) {
  auto a = param<float>("a", {1.0f, 2.0f}, {1.0f, 1.0f});
  Adam<float> opt({a.get()});
  a->value() = Tensor<float>::zeros({3});
  a->grad() = Tensor<float>::zeros({3});
  TAPELOOP_CHECK_THROW_MESSAGE(opt.step(), ShapeError,
                               "Adam: parameter 'a' had shape [2] when the optimizer was made; "
                               "now its value is [3] and its gradient [3]");
}

BOOST_AUTO_TEST_CASE(state_is_named_per_kind_and_parameter) {
  auto w = param<float>("w", {1.0f, 2.0f}, {0.1f, 0.2f});
  auto b = param<float>("b", {0.5f}, {0.3f});
  std::vector<Parameter<float>*> ps{w.get(), b.get()};
  auto names = [](const Optimizer<float>& opt) {
    std::vector<std::string> out;
    for (const auto& [name, tensor] : opt.named_state()) out.push_back(name);
    return out;
  };
  using V = std::vector<std::string>;
  BOOST_TEST(names(SGD<float>(ps, {})) == V{}, boost::test_tools::per_element());
  BOOST_TEST(
      names(SGD<float>(ps, {.momentum = 0.9})) == (V{"momentum_buffer.w", "momentum_buffer.b"}),
      boost::test_tools::per_element());
  BOOST_TEST(names(RMSProp<float>(ps, {.momentum = 0.9, .centered = true})) ==
                 (V{"square_avg.w", "square_avg.b", "momentum_buffer.w", "momentum_buffer.b",
                    "grad_avg.w", "grad_avg.b"}),
             boost::test_tools::per_element());
  BOOST_TEST(names(Adam<float>(ps, {.amsgrad = true})) ==
                 (V{"exp_avg.w", "exp_avg.b", "exp_avg_sq.w", "exp_avg_sq.b", "max_exp_avg_sq.w",
                    "max_exp_avg_sq.b"}),
             boost::test_tools::per_element());
  BOOST_TEST(
      names(AdamW<float>(ps)) == (V{"exp_avg.w", "exp_avg.b", "exp_avg_sq.w", "exp_avg_sq.b"}),
      boost::test_tools::per_element());
  Adam<float> adam(ps);
  BOOST_TEST(adam.named_steps()[1].first == "step.b");

  b->set_name("w");
  TAPELOOP_CHECK_THROW_MESSAGE(adam.named_state(), ValueError, "two parameters are named 'w'");
  b->set_name("");
  TAPELOOP_CHECK_THROW_MESSAGE(adam.named_steps(), ValueError, "parameter 1 has no name");
}

BOOST_AUTO_TEST_CASE(state_written_through_named_state_resumes_the_run) {
  // Run A for three steps, copy its state into a fresh B, then step both: bit-identical.
  Generator rng(5);
  Parameter<double> wa(Tensor<double>::normal({4}, 0.0, 1.0, rng), "w");
  Parameter<double> wb(Tensor<double>::zeros({4}), "w");
  AdamW<double> a({&wa}, {.lr = 0.05, .amsgrad = true});
  AdamW<double> b({&wb}, {.lr = 0.05, .amsgrad = true});
  for (int i = 0; i < 3; ++i) {
    wa.grad() = Tensor<double>::normal({4}, 0.0, 1.0, rng);
    a.step();
  }
  wb.value() = wa.value();
  const auto from = a.named_state();
  const auto to = b.named_state();
  for (std::size_t i = 0; i < from.size(); ++i) *to[i].second = *from[i].second;
  *b.named_steps()[0].second = *a.named_steps()[0].second;
  for (int i = 0; i < 2; ++i) {
    wa.grad() = Tensor<double>::normal({4}, 0.0, 1.0, rng);
    wb.grad() = wa.grad();
    a.step();
    b.step();
  }
  BOOST_TEST(std::equal(wa.value().begin(), wa.value().end(), wb.value().begin()));
}

BOOST_AUTO_TEST_CASE(adam_trains_the_readme_model) {
  // The README's two-layer net with Adam and clipping instead of the hand-written update.
  Generator rng(42);
  Parameter<float> W1(Tensor<float>::normal({3, 16}, 0.0f, 0.5f, rng), "W1");
  Parameter<float> b1(Tensor<float>::zeros({16}), "b1");
  Parameter<float> W2(Tensor<float>::normal({16, 1}, 0.0f, 0.5f, rng), "W2");
  Tensor<float> x = Tensor<float>::normal({32, 3}, 0.0f, 1.0f, rng);
  Tensor<float> y = Tensor<float>::normal({32, 1}, 0.0f, 1.0f, rng);
  std::vector<Parameter<float>*> params{&W1, &b1, &W2};
  Adam<float> opt(params, {.lr = 0.02});
  Tape<float> tape;
  float first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    tape.clear();
    opt.zero_grad();
    Var<float> h = tanh(matmul(tape.constant(x.ref()), W1.var(tape)) + b1.var(tape));
    Var<float> loss = mse_loss(matmul(h, W2.var(tape)), tape.constant(y.ref()));
    tape.backward(loss);
    clip_grad_norm(params, 1.0);
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  BOOST_TEST(last < 0.5f * first);
}

BOOST_AUTO_TEST_SUITE_END()
