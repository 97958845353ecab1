// Non-finite gradients: each optimizer's policy (raise, skip, unchecked) for NaN and infinities in
// float and double, with the weights, state and step counts bit-identical after a refused or
// skipped step; a failed check of any kind changes nothing; clip_grad_norm's error_if_nonfinite.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "support/check.hpp"
#include "support/doc_blocks.hpp"

using namespace tapeloop;

namespace {

const char* const kinds[] = {"SGD", "RMSProp", "Adam", "AdamW"};

// Every optimizer with the options that give it the most state to get wrong.
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const std::string& kind,
                                             std::span<Parameter<T>* const> params) {
  if (kind == "SGD") {
    return std::make_unique<SGD<T>>(params,
                                    SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  }
  if (kind == "RMSProp") {
    return std::make_unique<RMSProp<T>>(
        params,
        RMSPropOptions{.lr = 0.01, .weight_decay = 0.01, .momentum = 0.5, .centered = true});
  }
  if (kind == "Adam") {
    return std::make_unique<Adam<T>>(
        params, AdamOptions{.lr = 0.01, .weight_decay = 0.01, .amsgrad = true});
  }
  BOOST_REQUIRE_EQUAL(kind, "AdamW");
  return std::make_unique<AdamW<T>>(params, AdamWOptions{.lr = 0.01});
}

// Three trained parameters and a frozen one whose gradient is NaN throughout: a frozen
// parameter's gradient is never applied, so it is never checked either.
template <class T>
struct Model {
  Generator rng{21};
  Parameter<T> a{Tensor<T>::normal({2, 3}, T(0), T(1), rng), "a"};
  Parameter<T> b{Tensor<T>::normal({2, 3}, T(0), T(1), rng), "b"};
  Parameter<T> frozen{Tensor<T>::normal({4}, T(0), T(1), rng), "frozen"};
  Parameter<T> c{Tensor<T>::normal({5}, T(0), T(1), rng), "c"};
  std::vector<Parameter<T>*> params{&a, &b, &frozen, &c};

  Model() {
    frozen.set_requires_grad(false);
    frozen.grad().fill(std::numeric_limits<T>::quiet_NaN());
    new_gradients();
  }
  void new_gradients() {
    for (Parameter<T>* p : {&a, &b, &c}) p->grad() = Tensor<T>::normal(p->shape(), T(0), T(1), rng);
  }
};

template <class T>
bool bit_identical(const Tensor<T>& x, const Tensor<T>& y) {
  return x.shape() == y.shape() &&
         std::memcmp(x.data(), y.data(), sizeof(T) * static_cast<std::size_t>(x.numel())) == 0;
}

// Everything a step could change: the weights, the gradients, the state and the step counts.
template <class T>
struct Snapshot {
  std::vector<Tensor<T>> values, grads, state;
  std::vector<std::int64_t> steps;

  Snapshot(const Model<T>& m, const Optimizer<T>& optimizer) {
    for (const Parameter<T>* p : m.params) {
      values.push_back(p->value());
      grads.push_back(p->grad());
    }
    for (const auto& [name, tensor] : optimizer.named_state()) state.push_back(*tensor);
    for (const auto& [name, count] : optimizer.named_steps()) steps.push_back(*count);
  }
  bool operator==(const Snapshot& o) const {
    auto same = [](const std::vector<Tensor<T>>& x, const std::vector<Tensor<T>>& y) {
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!bit_identical(x[i], y[i])) return false;
      }
      return true;
    };
    return same(values, o.values) && same(grads, o.grads) && same(state, o.state) &&
           steps == o.steps;
  }
};

template <class T>
constexpr T bad_values[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                            -std::numeric_limits<T>::infinity()};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_nonfinite_grads)

template <class T>
void check_raise(const char* dtype) {
  for (const std::string kind : kinds) {
    for (const T bad : bad_values<T>) {
      BOOST_TEST_CONTEXT(kind << " " << dtype << " gradient " << bad) {
        Model<T> m;
        auto optimizer = make_optimizer<T>(kind, m.params);
        BOOST_TEST((optimizer->nonfinite_policy() == NonFiniteGradPolicy::raise));
        for (int i = 0; i < 2; ++i) {  // some state to keep intact
          optimizer->step();
          m.new_gradients();
        }
        m.b.grad()[4] = bad;
        const Snapshot<T> before(m, *optimizer);
        const std::string expected =
            kind + ": the gradient of parameter 1 ('b', shape [2,3]) has " +
            (std::isnan(bad) ? "1 NaN and 0 infinite" : "0 NaN and 1 infinite") +
            " elements of 6, the first at flat index 4; the step was not taken";
        BOOST_CHECK_EXCEPTION(optimizer->step(), NonFiniteError, [&](const NonFiniteError& e) {
          BOOST_TEST_INFO("message: " << e.what());
          BOOST_TEST(std::string(e.what()).find(expected) != std::string::npos);
          BOOST_TEST(e.parameter_index() == 1u);
          BOOST_TEST(e.nan_count() == (std::isnan(bad) ? 1 : 0));
          BOOST_TEST(e.inf_count() == (std::isnan(bad) ? 0 : 1));
          BOOST_TEST(e.first_index() == 4);
          return true;
        });
        // The first parameter comes before the bad one: it was not updated either.
        BOOST_TEST((Snapshot<T>(m, *optimizer) == before));
        BOOST_TEST(!optimizer->last_step_skipped());
        BOOST_TEST(optimizer->skipped_steps() == 0);
        // A NonFiniteError is a ValueError: existing handlers of bad values catch it.
        BOOST_CHECK_THROW(optimizer->step(), ValueError);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(raise_is_the_default_names_the_parameter_and_changes_nothing) {
  check_raise<float>("float");
  check_raise<double>("double");
}

template <class T>
void check_skip(const char* dtype) {
  for (const std::string kind : kinds) {
    for (const T bad : bad_values<T>) {
      BOOST_TEST_CONTEXT(kind << " " << dtype << " gradient " << bad) {
        Model<T> m;
        auto optimizer = make_optimizer<T>(kind, m.params);
        optimizer->set_nonfinite_policy(NonFiniteGradPolicy::skip);
        optimizer->step();
        BOOST_TEST(!optimizer->last_step_skipped());
        m.new_gradients();
        // In the last parameter: every parameter before it would have been updated already.
        m.c.grad()[2] = bad;
        const Snapshot<T> before(m, *optimizer);
        optimizer->step();
        BOOST_TEST(optimizer->last_step_skipped());
        BOOST_TEST(optimizer->skipped_steps() == 1);
        BOOST_TEST((Snapshot<T>(m, *optimizer) == before));
        optimizer->step();
        BOOST_TEST(optimizer->skipped_steps() == 2);
        BOOST_TEST((Snapshot<T>(m, *optimizer) == before));
        // A finite gradient again: the step is taken, and the count of skipped ones stays.
        m.c.grad()[2] = T(0.5);
        optimizer->step();
        BOOST_TEST(!optimizer->last_step_skipped());
        BOOST_TEST(optimizer->skipped_steps() == 2);
        BOOST_TEST(optimizer->step_count(0) == 2);
        BOOST_TEST(optimizer->step_count(2) == 0);  // frozen
        BOOST_TEST(!bit_identical(m.a.value(), before.values[0]));
        BOOST_TEST(!bit_identical(m.c.value(), before.values[3]));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(skip_skips_the_whole_step_and_counts_it) {
  check_skip<float>("float");
  check_skip<double>("double");
}

template <class T>
void check_unchecked(const char* dtype) {
  for (const std::string kind : kinds) {
    for (const T bad : bad_values<T>) {
      BOOST_TEST_CONTEXT(kind << " " << dtype << " gradient " << bad) {
        // Finite gradients: unchecked and raise take the same step, bit for bit.
        Model<T> checked_model, unchecked_model;
        auto checked = make_optimizer<T>(kind, checked_model.params);
        auto unchecked = make_optimizer<T>(kind, unchecked_model.params);
        unchecked->set_nonfinite_policy(NonFiniteGradPolicy::unchecked);
        checked->step();
        unchecked->step();
        BOOST_TEST(
            (Snapshot<T>(checked_model, *checked) == Snapshot<T>(unchecked_model, *unchecked)));
        // A bad element: the update rule runs on it as it did before there was a check, and
        // the element's weight becomes NaN or infinite while its neighbours stay finite.
        Model<T>& m = unchecked_model;
        m.new_gradients();
        m.b.grad()[4] = bad;
        const Tensor<T> a_before = m.a.value(), b_before = m.b.value();
        unchecked->step();
        BOOST_TEST(!unchecked->last_step_skipped());
        BOOST_TEST(unchecked->skipped_steps() == 0);
        BOOST_TEST(unchecked->step_count(1) == 2);
        BOOST_TEST(!std::isfinite(m.b.value()[4]));
        for (std::int64_t j : {0, 1, 2, 3, 5}) {
          BOOST_TEST(std::isfinite(m.b.value()[j]));
          BOOST_TEST(m.b.value()[j] != b_before[j]);
        }
        BOOST_TEST(!bit_identical(m.a.value(), a_before));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(unchecked_applies_the_update_as_before) {
  check_unchecked<float>("float");
  check_unchecked<double>("double");
}

BOOST_AUTO_TEST_CASE(counts_and_first_index) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  Parameter<float> w(Tensor<float>::zeros({2, 4}), "w");
  w.grad() = Tensor<float>::from({2, 4}, {0.5f, 1.0f, nan, 2.0f, inf, nan, -inf, 3.0f});
  Adam<float> adam({&w});
  BOOST_CHECK_EXCEPTION(adam.step(), NonFiniteError, [](const NonFiniteError& e) {
    BOOST_TEST_INFO("message: " << e.what());
    BOOST_TEST(std::string(e.what()).find("Adam: the gradient of parameter 0 ('w', shape [2,4]) "
                                          "has 2 NaN and 2 infinite elements of 8, the first at "
                                          "flat index 2") != std::string::npos);
    BOOST_TEST(e.nan_count() == 2);
    BOOST_TEST(e.inf_count() == 2);
    BOOST_TEST(e.first_index() == 2);
    return true;
  });
}

BOOST_AUTO_TEST_CASE(unnamed_parameter_is_named_by_its_index) {
  Parameter<double> p(Tensor<double>::zeros({3}));
  Parameter<double> q(Tensor<double>::zeros({3}));
  q.grad()[2] = std::nan("");
  SGD<double> sgd({&p, &q});
  TAPELOOP_CHECK_THROW_MESSAGE(sgd.step(), NonFiniteError,
                               "SGD: the gradient of parameter 1 (unnamed, shape [3]) has 1 NaN");
}

BOOST_AUTO_TEST_CASE(a_failed_shape_check_changes_nothing_either) {
  // Shapes are checked for every parameter before the first is updated.
  Parameter<float> a(Tensor<float>::ones({3}), "a");
  Parameter<float> b(Tensor<float>::ones({2}), "b");
  a.grad().fill(1.0f);
  b.grad().fill(1.0f);
  Adam<float> adam({&a, &b});
  b.value() = Tensor<float>::ones({4});
  TAPELOOP_CHECK_THROW_MESSAGE(adam.step(), ShapeError, "Adam: parameter 'b' had shape [2]");
  BOOST_TEST(a.value()[0] == 1.0f);
  BOOST_TEST(adam.step_count(0) == 0);
}

template <class T>
void check_clip_error_if_nonfinite(const char* dtype) {
  const double inf_norm = std::numeric_limits<double>::infinity();
  for (const T bad : bad_values<T>) {
    for (const double norm_type : {2.0, 1.0, 3.0, inf_norm}) {
      BOOST_TEST_CONTEXT(dtype << " gradient " << bad << " norm_type " << norm_type) {
        Model<T> m;
        m.b.grad()[1] = bad;
        m.b.grad()[3] = bad;
        const Snapshot<T> before(m, SGD<T>(m.params));
        // The default: the non-finite norm is returned and nothing is touched.
        BOOST_TEST(!std::isfinite(clip_grad_norm(m.params, 0.1, norm_type)));
        BOOST_TEST((Snapshot<T>(m, SGD<T>(m.params)) == before));
        BOOST_CHECK_EXCEPTION(
            clip_grad_norm(m.params, 0.1, norm_type, true), NonFiniteError,
            [&](const NonFiniteError& e) {
              BOOST_TEST_INFO("message: " << e.what());
              BOOST_TEST(std::string(e.what()).find(
                             "clip_grad_norm: the gradient of parameter 1 ('b', shape [2,3]) "
                             "has ") != std::string::npos);
              BOOST_TEST(std::string(e.what()).find("not clipped") != std::string::npos);
              BOOST_TEST(e.parameter_index() == 1u);
              BOOST_TEST(e.nan_count() + e.inf_count() == 2);
              BOOST_TEST(e.first_index() == 1);
              return true;
            });
        BOOST_TEST((Snapshot<T>(m, SGD<T>(m.params)) == before));
      }
    }
  }
  // Finite gradients: the option changes nothing (the frozen NaN gradient is not looked at).
  Model<T> with, without;
  const double n1 = clip_grad_norm(with.params, 0.1, 2.0, true);
  const double n2 = clip_grad_norm(without.params, 0.1, 2.0);
  BOOST_TEST(n1 == n2);
  BOOST_TEST(
      (Snapshot<T>(with, SGD<T>(with.params)) == Snapshot<T>(without, SGD<T>(without.params))));
  BOOST_TEST(!bit_identical(with.a.grad(), Model<T>().a.grad()));  // and it did clip
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_error_if_nonfinite) {
  check_clip_error_if_nonfinite<float>("float");
  check_clip_error_if_nonfinite<double>("double");
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_overflow_is_not_blamed_on_a_parameter) {
  // Every element is finite, but their squares overflow a double: the norm is infinite.
  Parameter<double> p(Tensor<double>::zeros({4}), "p");
  p.grad().fill(1e200);
  std::vector<Parameter<double>*> params{&p};
  BOOST_TEST(std::isinf(clip_grad_norm(params, 1.0)));
  BOOST_TEST(p.grad()[0] == 1e200);
  TAPELOOP_CHECK_THROW_MESSAGE(clip_grad_norm(params, 1.0, 2.0, true), ValueError,
                               "although every gradient element is finite");
  BOOST_CHECK_EXCEPTION(
      clip_grad_norm(params, 1.0, 2.0, true), ValueError,
      [](const ValueError& e) { return dynamic_cast<const NonFiniteError*>(&e) == nullptr; });
  BOOST_TEST(p.grad()[0] == 1e200);
}

BOOST_AUTO_TEST_CASE(documented_example) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<Tensor<float>> batches;
  for (int i = 0; i < 10; ++i) batches.push_back(Tensor<float>::from({3}, {1.0f, 2.0f, 3.0f}));
  batches[4][1] = nan;  // a damaged sample
  // ---- training block: nonfinite ----
  Parameter<float> w(Tensor<float>::zeros({3}), "w");
  std::vector<Parameter<float>*> params{&w};
  Adam<float> optimizer(params, {.lr = 0.1});
  optimizer.set_nonfinite_policy(NonFiniteGradPolicy::skip);  // the default, raise, would throw
  Tape<float> tape;
  for (const Tensor<float>& x : batches) {  // one of them holds a NaN
    tape.clear();
    optimizer.zero_grad();
    Var<float> loss = mse_loss(w.var(tape), tape.constant(x.ref()));
    tape.backward(loss);
    clip_grad_norm(params, 1.0);  // a NaN norm leaves the gradients as they are...
    optimizer.step();             // ...and this step is skipped: w and Adam's state are untouched
  }
  // optimizer.skipped_steps() == 1, and w is finite
  // ---- end of training block ----
  BOOST_TEST(optimizer.skipped_steps() == 1);
  BOOST_TEST(optimizer.step_count(0) == 9);
  for (std::int64_t j = 0; j < 3; ++j) {
    BOOST_TEST(std::isfinite(w.value()[j]));
    BOOST_TEST(w.value()[j] > 0.5f);  // 9 Adam steps of about 0.1 towards 1, 2 and 3
  }
  BOOST_TEST(tapeloop::testing::check_doc_blocks(__FILE__, "training.md", "training") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
