// Learning-rate schedulers against torch.optim.lr_scheduler
// (tests/golden/lr_scheduler_golden.json), driving SGD and Adam, and their state through metadata
// and checkpoint files: a resumed schedule continues bit for bit, and damaged state throws
// FormatError and changes nothing.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/check.hpp"
#include "support/doc_blocks.hpp"
#include "support/files.hpp"
#include "support/golden.hpp"

using namespace tapeloop;
using nlohmann::json;
using testing::TempDir;

namespace {

const json& golden() {
  static const json data = testing::load_golden_json("lr_scheduler_golden.json");
  return data;
}

// torch computes most rates from the previous one and tapeloop in closed form, so they differ
// by rounding (a few ulp after 60 steps); 1e-12 leaves that room and nothing more. An expected
// 0 must be matched exactly.
constexpr double rtol = 1e-12;
bool close(double actual, double expected) {
  return std::abs(actual - expected) <= rtol * std::abs(expected);
}

constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

// JSON has no infinity: the generator writes a +inf metric as "inf".
double metric_of(const json& m) {
  if (m.is_string()) {
    BOOST_REQUIRE(m.get<std::string>() == "inf");
    return infinity;
  }
  return m.get<double>();
}

ReduceLROnPlateauOptions plateau_options(const json& o) {
  ReduceLROnPlateauOptions options;
  if (o.contains("mode")) options.mode = o["mode"] == "min" ? PlateauMode::min : PlateauMode::max;
  if (o.contains("factor")) options.factor = o["factor"].get<double>();
  if (o.contains("patience")) options.patience = o["patience"].get<std::int64_t>();
  if (o.contains("threshold")) options.threshold = o["threshold"].get<double>();
  if (o.contains("threshold_mode")) {
    options.threshold_mode = o["threshold_mode"] == "rel" ? ThresholdMode::rel : ThresholdMode::abs;
  }
  if (o.contains("cooldown")) options.cooldown = o["cooldown"].get<std::int64_t>();
  if (o.contains("min_lr")) options.min_lr = o["min_lr"].get<double>();
  if (o.contains("eps")) options.eps = o["eps"].get<double>();
  return options;
}

// A golden case's scheduler, of either family, behind one step(metric): the closed-form ones
// ignore the metric.
struct AnyScheduler {
  std::unique_ptr<LRScheduler> closed_form;
  std::unique_ptr<ReduceLROnPlateau> plateau;

  AnyScheduler(const json& c, OptimizerRef optimizer) {
    const json& o = c.at("options");
    const std::string kind = c.at("scheduler");
    if (kind == "StepLR") {
      const auto step_size = o["step_size"].get<std::int64_t>();
      closed_form = o.contains("gamma")
                        ? std::make_unique<StepLR>(optimizer, step_size, o["gamma"].get<double>())
                        : std::make_unique<StepLR>(optimizer, step_size);
    } else if (kind == "ExponentialLR") {
      closed_form = std::make_unique<ExponentialLR>(optimizer, o["gamma"].get<double>());
    } else if (kind == "WarmupCosineLR") {
      const auto warmup = o["warmup_steps"].get<std::int64_t>();
      const auto total = o["total_steps"].get<std::int64_t>();
      const double min_lr = o.value("min_lr", 0.0);
      closed_form = o.contains("warmup_start_factor")
                        ? std::make_unique<WarmupCosineLR>(optimizer, warmup, total, min_lr,
                                                           o["warmup_start_factor"].get<double>())
                        : std::make_unique<WarmupCosineLR>(optimizer, warmup, total, min_lr);
    } else {
      BOOST_REQUIRE(kind == "ReduceLROnPlateau");
      plateau = std::make_unique<ReduceLROnPlateau>(optimizer, plateau_options(o));
    }
  }
  void step(const json& c, std::size_t k) {
    if (plateau) {
      plateau->step(metric_of(c.at("metrics")[k]));
    } else {
      closed_form->step();
    }
  }
  double last_lr() const { return plateau ? plateau->last_lr() : closed_form->last_lr(); }
  std::int64_t last_epoch() const {
    return plateau ? plateau->last_epoch() : closed_form->last_epoch();
  }
};

// Replays a golden case on `optimizer` (whose rate must be the case's base_lr), checking every
// rate against torch's, and returns the rates for comparisons between optimizers.
template <class Optim>
std::vector<double> replay(const json& c, Optim& optimizer) {
  AnyScheduler scheduler(c, optimizer);
  const json& lrs = c.at("lrs");
  std::vector<double> seen;
  double worst = 0.0;
  for (std::size_t k = 0; k < lrs.size(); ++k) {
    if (k > 0) scheduler.step(c, k - 1);
    const double expected = lrs[k].get<double>();
    const double actual = scheduler.last_lr();
    BOOST_TEST(scheduler.last_epoch() == static_cast<std::int64_t>(k));
    BOOST_CHECK_MESSAGE(close(actual, expected), c.at("name").get<std::string>()
                                                     << " step " << k << ": lr "
                                                     << std::setprecision(17) << actual
                                                     << " vs torch " << expected);
    BOOST_TEST(optimizer.learning_rate() == actual);  // the optimizer follows exactly
    if (expected != 0.0) worst = std::max(worst, std::abs(actual - expected) / std::abs(expected));
    seen.push_back(actual);
  }
  BOOST_TEST_MESSAGE(c.at("name").get<std::string>() << ": largest relative difference " << worst);
  return seen;
}

// One parameter w = 1 with gradient 1: each SGD step subtracts exactly the learning rate.
struct OneWeight {
  Parameter<double> w{Tensor<double>::from({1}, {1.0}), "w"};
  std::vector<Parameter<double>*> params{&w};
  SGD<double> sgd;
  explicit OneWeight(double lr) : sgd(params, {.lr = lr}) { w.grad().fill(1.0); }
};

// Metadata equality that prints the first difference.
void check_same_state(const Metadata& actual, const Metadata& expected) {
  BOOST_TEST(actual.size() == expected.size());
  for (const auto& [key, value] : expected) {
    const auto it = actual.find(key);
    BOOST_CHECK_MESSAGE(
        it != actual.end() && it->second == value,
        key << ": " << (it == actual.end() ? "missing" : it->second) << " vs " << value);
  }
}

// What a damaged-state test needs of any scheduler.
struct Subject {
  std::function<Metadata()> state_dict;
  std::function<void(const Metadata&)> load_state_dict;
};

// Every way to damage one entry, and that each throws FormatError naming the key and leaves
// the scheduler (its whole state) and the optimizer's rate as they were.
void check_damage_is_refused(const Subject& s, const OptimizerRef& optimizer) {
  const Metadata good = s.state_dict();
  const double lr = optimizer.learning_rate();
  auto refused = [&](const Metadata& bad, const std::string& key) {
    TAPELOOP_CHECK_THROW_MESSAGE(s.load_state_dict(bad), FormatError, "'" + key + "'");
    check_same_state(s.state_dict(), good);
    BOOST_TEST(optimizer.learning_rate() == lr);
  };
  for (const auto& [key, value] : good) {
    BOOST_TEST_CONTEXT(key << " = " << value) {
      Metadata missing = good;
      missing.erase(key);
      refused(missing, key);
      const bool word =
          key == "scheduler.kind" || key == "scheduler.mode" || key == "scheduler.threshold_mode";
      std::vector<std::string> damages{"", "1.5abc", " 1", "nan", "-nan"};
      if (key != "scheduler.best") damages.insert(damages.end(), {"inf", "-inf"});
      if (!word) damages.insert(damages.end(), {"0x10", "1e400"});
      // Every number but the best metric is a count, a rate or an option that is >= 0.
      if (!word && key != "scheduler.best") damages.push_back("-1");
      for (const std::string& damage : damages) {
        BOOST_TEST_CONTEXT("damaged to '" << damage << "'") {
          Metadata bad = good;
          bad[key] = damage;
          refused(bad, key);
        }
      }
    }
  }
  Metadata extra = good;
  extra["scheduler.extra"] = "1";
  refused(extra, "scheduler.extra");
  // Keys outside "scheduler." belong to others: a checkpoint's metadata loads as it is.
  Metadata checkpoint = good;
  checkpoint["tapeloop.optimizer"] = "Adam";
  checkpoint["epoch"] = "12";
  s.load_state_dict(checkpoint);
  check_same_state(s.state_dict(), good);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_lr_scheduler)

BOOST_AUTO_TEST_CASE(golden_covers_every_scheduler) {
  std::map<std::string, int> cases;
  for (const json& c : golden().at("cases")) {
    ++cases[c.at("scheduler").get<std::string>()];
    BOOST_TEST(c.at("lrs").size() >= 30u);
  }
  BOOST_TEST(cases["StepLR"] >= 2);
  BOOST_TEST(cases["ExponentialLR"] >= 2);
  BOOST_TEST(cases["WarmupCosineLR"] >= 3);
  BOOST_TEST(cases["ReduceLROnPlateau"] >= 4);
}

BOOST_AUTO_TEST_CASE(the_tolerance_tells_rounding_from_a_wrong_rate) {
  BOOST_TEST(close(0.1 * (1 + 1e-13), 0.1));
  BOOST_TEST(!close(0.1 * (1 + 1e-11), 0.1));
  BOOST_TEST(!close(1e-300, 0.0));
}

BOOST_AUTO_TEST_CASE(rates_match_torch) {
  for (const json& c : golden().at("cases")) {
    BOOST_TEST_CONTEXT(c.at("name").get<std::string>()) {
      OneWeight model(c.at("base_lr").get<double>());
      replay(c, model.sgd);
    }
  }
}

// The rate is a double for either optimizer precision, so Adam<float> sees the same sequence.
BOOST_AUTO_TEST_CASE(rates_match_torch_on_adam_in_float) {
  for (const json& c : golden().at("cases")) {
    BOOST_TEST_CONTEXT(c.at("name").get<std::string>()) {
      Parameter<float> w(Tensor<float>::zeros({2}), "w");
      std::vector<Parameter<float>*> params{&w};
      Adam<float> adam(params, {.lr = c.at("base_lr").get<double>()});
      OneWeight model(c.at("base_lr").get<double>());
      BOOST_TEST(replay(c, adam) == replay(c, model.sgd), boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(sgd_updates_with_the_scheduled_rate) {
  OneWeight model(0.1);
  StepLR scheduler(model.sgd, 2, 0.5);
  double expected = 1.0;
  for (int epoch = 0; epoch < 7; ++epoch) {
    expected -= scheduler.last_lr();  // w -= lr * 1
    model.sgd.step();
    scheduler.step();
  }
  // lr 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125: exact binary fractions of 0.1 apart.
  BOOST_TEST(model.w.value()[0] == expected);
  BOOST_TEST(std::abs(expected - (1.0 - 0.3625)) < 1e-15);
}

// Adam under a schedule against Adam whose rate is set by hand to the same values: the
// scheduler's only effect on an optimizer is its rate.
BOOST_AUTO_TEST_CASE(adam_under_a_schedule_equals_adam_with_the_rates_set_by_hand) {
  Generator rng(5);
  Parameter<float> a(Tensor<float>::normal({3, 2}, 0.0f, 1.0f, rng), "w");
  Parameter<float> b(a.value(), "w");
  const Tensor<float> start = a.value();
  std::vector<Parameter<float>*> pa{&a}, pb{&b};
  Adam<float> scheduled(pa, {.lr = 0.05});
  Adam<float> by_hand(pb, {.lr = 0.05});
  WarmupCosineLR scheduler(scheduled, 3, 12, 1e-3);
  for (int epoch = 0; epoch < 15; ++epoch) {
    by_hand.set_learning_rate(scheduler.lr_at(epoch));
    BOOST_TEST(scheduled.learning_rate() == by_hand.learning_rate());
    a.grad() = Tensor<float>::normal({3, 2}, 0.0f, 1.0f, rng);
    b.grad() = a.grad();
    scheduled.step();
    by_hand.step();
    scheduler.step();
  }
  for (std::int64_t i = 0; i < 6; ++i) {
    BOOST_TEST(a.value()[i] == b.value()[i]);
    BOOST_TEST(a.value()[i] != start[i]);  // it did train
  }
}

BOOST_AUTO_TEST_CASE(warmup_cosine_holds_min_lr_after_total_steps) {
  OneWeight model(0.2);
  WarmupCosineLR scheduler(model.sgd, 4, 10, 0.01, 0.0);
  BOOST_TEST(scheduler.last_lr() == 0.0);  // a start factor of 0: no step at all at first
  BOOST_TEST(scheduler.lr_at(1) == 0.2 * 0.25);
  BOOST_TEST(scheduler.lr_at(4) == 0.2, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(scheduler.lr_at(10) == 0.01);
  for (int i = 0; i < 30; ++i) scheduler.step();
  BOOST_TEST(scheduler.last_lr() == 0.01);
  BOOST_TEST(model.sgd.learning_rate() == 0.01);
  BOOST_TEST(scheduler.base_lr() == 0.2);
  TAPELOOP_CHECK_THROW_MESSAGE(scheduler.lr_at(-1), ValueError, "epoch must be >= 0, got -1");
}

// The scheduler owns the rate: a hand-set one lasts until the next step.
BOOST_AUTO_TEST_CASE(a_rate_set_by_hand_lasts_until_the_next_step) {
  OneWeight model(1.0);
  ExponentialLR scheduler(model.sgd, 0.5);
  scheduler.step();
  model.sgd.set_learning_rate(3.0);
  scheduler.step();
  BOOST_TEST(model.sgd.learning_rate() == 0.25);
}

BOOST_AUTO_TEST_CASE(an_overflowing_rate_throws_and_changes_nothing) {
  OneWeight model(1.0);
  ExponentialLR scheduler(model.sgd, 0x1p300);  // a power of 2: the rates are exact
  scheduler.step();
  scheduler.step();
  scheduler.step();
  BOOST_TEST(scheduler.last_lr() == 0x1p900);
  TAPELOOP_CHECK_THROW_MESSAGE(scheduler.step(), ValueError,
                               "ExponentialLR: the learning rate at step 4 would be inf");
  BOOST_TEST(scheduler.last_epoch() == 3);
  BOOST_TEST(scheduler.last_lr() == 0x1p900);
  BOOST_TEST(model.sgd.learning_rate() == 0x1p900);
}

BOOST_AUTO_TEST_CASE(plateau_reduces_from_the_current_rate_and_refuses_nan) {
  OneWeight model(1.0);
  ReduceLROnPlateau plateau(model.sgd, {.factor = 0.5, .patience = 0});
  BOOST_TEST(plateau.best() == infinity);
  BOOST_TEST(plateau.last_lr() == 1.0);
  plateau.step(2.0);
  model.sgd.set_learning_rate(0.3);  // by hand, as torch allows
  plateau.step(2.0);                 // a bad epoch with patience 0: halve
  BOOST_TEST(plateau.last_lr() == 0.15);
  BOOST_TEST(model.sgd.learning_rate() == 0.15);
  const Metadata before = plateau.state_dict();
  TAPELOOP_CHECK_THROW_MESSAGE(plateau.step(not_a_number), ValueError,
                               "ReduceLROnPlateau: the metric at step 3 is nan");
  check_same_state(plateau.state_dict(), before);
  BOOST_TEST(model.sgd.learning_rate() == 0.15);
  plateau.step(-infinity);  // infinitely better: the best from now on
  BOOST_TEST(plateau.best() == -infinity);
  BOOST_TEST(plateau.last_epoch() == 3);
}

BOOST_AUTO_TEST_CASE(plateau_in_max_mode_starts_from_minus_infinity) {
  OneWeight model(1.0);
  ReduceLROnPlateau plateau(model.sgd, {.mode = PlateauMode::max});
  BOOST_TEST(plateau.best() == -infinity);
  BOOST_TEST(plateau.state_dict().at("scheduler.best") == "-inf");
  plateau.step(-1e300);
  BOOST_TEST(plateau.best() == -1e300);
}

// A state_dict taken mid-schedule and loaded into a scheduler made with other options (and an
// optimizer with another rate) continues exactly as the uninterrupted run.
BOOST_AUTO_TEST_CASE(state_dict_resumes_every_closed_form_schedule_exactly) {
  using Make = std::function<std::unique_ptr<LRScheduler>(OptimizerRef, int)>;
  // variant 0 is the original; variant 1 has every option different.
  const std::vector<std::pair<std::string, Make>> kinds{
      {"StepLR",
       [](OptimizerRef o, int v) { return std::make_unique<StepLR>(o, v ? 2 : 5, v ? 0.9 : 0.3); }},
      {"ExponentialLR",
       [](OptimizerRef o, int v) { return std::make_unique<ExponentialLR>(o, v ? 0.5 : 0.93); }},
      {"WarmupCosineLR",
       [](OptimizerRef o, int v) {
         return v ? std::make_unique<WarmupCosineLR>(o, 1, 3)
                  : std::make_unique<WarmupCosineLR>(o, 6, 33, 2e-3, 0.05);
       }},
  };
  for (const auto& [kind, make] : kinds) {
    BOOST_TEST_CONTEXT(kind) {
      OneWeight straight_model(0.07);
      std::unique_ptr<LRScheduler> straight = make(straight_model.sgd, 0);
      std::vector<double> expected;
      for (int i = 0; i < 40; ++i) {
        straight->step();
        expected.push_back(straight->last_lr());
      }

      OneWeight first_model(0.07);
      std::unique_ptr<LRScheduler> first = make(first_model.sgd, 0);
      for (int i = 0; i < 17; ++i) first->step();
      const Metadata state = first->state_dict();
      BOOST_TEST(state.at("scheduler.kind") == kind);
      BOOST_TEST(state.at("scheduler.last_epoch") == "17");
      BOOST_TEST(state.at("scheduler.base_lr") == "0.07");

      Parameter<float> w(Tensor<float>::zeros({1}), "w");
      std::vector<Parameter<float>*> params{&w};
      Adam<float> resumed_adam(params, {.lr = 0.9});
      std::unique_ptr<LRScheduler> resumed = make(resumed_adam, 1);
      resumed->load_state_dict(state);
      check_same_state(resumed->state_dict(), state);
      BOOST_TEST(resumed->last_epoch() == 17);
      BOOST_TEST(resumed->base_lr() == 0.07);
      BOOST_TEST(resumed->last_lr() == first->last_lr());
      BOOST_TEST(resumed_adam.learning_rate() == first->last_lr());
      for (int i = 17; i < 40; ++i) {
        resumed->step();
        BOOST_TEST(resumed->last_lr() == expected[static_cast<std::size_t>(i)]);
        BOOST_TEST(resumed_adam.learning_rate() == expected[static_cast<std::size_t>(i)]);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(state_dict_resumes_a_plateau_exactly) {
  const json* loss_case = nullptr;
  for (const json& c : golden().at("cases")) {
    if (c.at("name") == "plateau_min_rel") loss_case = &c;
  }
  BOOST_REQUIRE(loss_case != nullptr);
  const json& metrics = loss_case->at("metrics");
  const ReduceLROnPlateauOptions options = plateau_options(loss_case->at("options"));

  OneWeight straight_model(0.1);
  ReduceLROnPlateau straight(straight_model.sgd, options);
  std::vector<double> expected;
  for (const json& m : metrics) {
    straight.step(metric_of(m));
    expected.push_back(straight.last_lr());
  }
  // Stop in a cooldown with bad epochs counted before it, so that every counter matters.
  for (std::size_t stop : {std::size_t{5}, std::size_t{8}, std::size_t{21}}) {
    BOOST_TEST_CONTEXT("stopped after " << stop << " steps") {
      OneWeight first_model(0.1);
      ReduceLROnPlateau first(first_model.sgd, options);
      for (std::size_t k = 0; k < stop; ++k) first.step(metric_of(metrics[k]));
      const Metadata state = first.state_dict();

      OneWeight resumed_model(0.5);
      ReduceLROnPlateau resumed(resumed_model.sgd, {.mode = PlateauMode::max, .patience = 99});
      resumed.load_state_dict(state);
      check_same_state(resumed.state_dict(), state);
      BOOST_TEST(resumed_model.sgd.learning_rate() == first.last_lr());
      BOOST_TEST(resumed.best() == first.best());
      BOOST_TEST(resumed.num_bad_epochs() == first.num_bad_epochs());
      BOOST_TEST(resumed.cooldown_counter() == first.cooldown_counter());
      BOOST_TEST((resumed.options().mode == PlateauMode::min));
      for (std::size_t k = stop; k < metrics.size(); ++k) {
        resumed.step(metric_of(metrics[k]));
        BOOST_TEST(resumed.last_lr() == expected[k]);
      }
    }
  }
  OneWeight fresh_model(0.1);
  ReduceLROnPlateau fresh(fresh_model.sgd, options);
  BOOST_TEST(fresh.state_dict().at("scheduler.best") == "inf");
  OneWeight other_model(0.4);
  ReduceLROnPlateau other(other_model.sgd);
  other.load_state_dict(fresh.state_dict());  // an infinite best loads
  BOOST_TEST(other.best() == infinity);
  BOOST_TEST(other_model.sgd.learning_rate() == 0.1);
}

BOOST_AUTO_TEST_CASE(numbers_round_trip_exactly) {
  OneWeight model(0.1 + 0.2);  // 0.30000000000000004
  WarmupCosineLR scheduler(model.sgd, 3, 7, 1.0 / 3.0, 2.0 / 3.0);
  const Metadata state = scheduler.state_dict();
  BOOST_TEST(state.at("scheduler.base_lr") == "0.30000000000000004");
  BOOST_TEST(state.at("scheduler.min_lr") == "0.3333333333333333");
  OneWeight other(1.0);
  WarmupCosineLR loaded(other.sgd, 0, 1);
  loaded.load_state_dict(state);
  BOOST_TEST(loaded.base_lr() == 0.1 + 0.2);
  BOOST_TEST(loaded.min_lr() == 1.0 / 3.0);
  BOOST_TEST(loaded.warmup_start_factor() == 2.0 / 3.0);
  BOOST_TEST(loaded.last_lr() == scheduler.last_lr());
}

// Through a real checkpoint file: parameters, Adam's state and the scheduler's, resumed in a
// fresh model, continue bit for bit.
BOOST_AUTO_TEST_CASE(a_checkpoint_file_resumes_model_optimizer_and_schedule) {
  TempDir dir("lr-scheduler");
  struct Run {
    Parameter<float> w;
    std::vector<Parameter<float>*> params{&w};
    Adam<float> adam;
    WarmupCosineLR scheduler;
    Run(float init, double lr, std::int64_t warmup, std::int64_t total)
        : w(Tensor<float>::full({4}, init), "w"),
          adam(params, {.lr = lr}),
          scheduler(adam, warmup, total, 1e-4) {}
    void train(Generator& rng, int epochs) {
      for (int i = 0; i < epochs; ++i) {
        w.grad() = Tensor<float>::normal({4}, 0.0f, 1.0f, rng);
        adam.step();
        scheduler.step();
      }
    }
  };
  Generator rng_a(3);
  Run original(1.0f, 0.05, 4, 20);
  original.train(rng_a, 9);
  Metadata metadata = original.scheduler.state_dict();
  metadata["epoch"] = "9";
  save_parameters(dir / "ckpt.safetensors", original.params, &original.adam, metadata);

  Run resumed(-2.0f, 0.5, 1, 2);  // other values and another schedule, never stepped
  resumed.scheduler.load_state_dict(
      load_parameters(dir / "ckpt.safetensors", resumed.params, &resumed.adam));
  BOOST_TEST(resumed.scheduler.last_epoch() == 9);
  BOOST_TEST(resumed.scheduler.total_steps() == 20);
  BOOST_TEST(resumed.adam.learning_rate() == original.adam.learning_rate());
  Generator rng_b = rng_a;
  original.train(rng_a, 15);
  resumed.train(rng_b, 15);
  BOOST_TEST(resumed.scheduler.last_lr() == original.scheduler.last_lr());
  BOOST_TEST(resumed.scheduler.last_lr() == 1e-4);
  for (std::int64_t i = 0; i < 4; ++i) BOOST_TEST(resumed.w.value()[i] == original.w.value()[i]);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_file_resumes_a_plateau) {
  TempDir dir("lr-scheduler");
  Parameter<double> w(Tensor<double>::from({2}, {1.0, 2.0}), "w");
  std::vector<Parameter<double>*> params{&w};
  SGD<double> sgd(params, {.lr = 0.2, .momentum = 0.9});
  ReduceLROnPlateau plateau(sgd, {.factor = 0.5, .patience = 1, .cooldown = 2});
  for (double loss : {3.0, 2.0, 2.0, 2.5, 2.5}) plateau.step(loss);
  BOOST_TEST(plateau.last_lr() == 0.1);
  BOOST_TEST(plateau.cooldown_counter() == 1);
  save_parameters(dir / "ckpt.safetensors", params, &sgd, plateau.state_dict());

  Parameter<double> w2(Tensor<double>::zeros({2}), "w");
  std::vector<Parameter<double>*> params2{&w2};
  SGD<double> sgd2(params2, {.lr = 0.7, .momentum = 0.9});
  ReduceLROnPlateau plateau2(sgd2);
  plateau2.load_state_dict(load_parameters(dir / "ckpt.safetensors", params2, &sgd2));
  check_same_state(plateau2.state_dict(), plateau.state_dict());
  BOOST_TEST(sgd2.learning_rate() == 0.1);
}

BOOST_AUTO_TEST_CASE(damaged_state_is_refused_and_changes_nothing) {
  OneWeight model(0.3);
  StepLR step(model.sgd, 4, 0.5);
  for (int i = 0; i < 6; ++i) step.step();
  check_damage_is_refused(
      {[&] { return step.state_dict(); }, [&](const Metadata& m) { step.load_state_dict(m); }},
      model.sgd);

  OneWeight model2(0.3);
  ExponentialLR exponential(model2.sgd, 0.8);
  for (int i = 0; i < 6; ++i) exponential.step();
  check_damage_is_refused({[&] { return exponential.state_dict(); },
                           [&](const Metadata& m) { exponential.load_state_dict(m); }},
                          model2.sgd);

  OneWeight model3(0.3);
  WarmupCosineLR cosine(model3.sgd, 3, 20, 1e-3, 0.2);
  for (int i = 0; i < 6; ++i) cosine.step();
  check_damage_is_refused(
      {[&] { return cosine.state_dict(); }, [&](const Metadata& m) { cosine.load_state_dict(m); }},
      model3.sgd);

  OneWeight model4(0.3);
  ReduceLROnPlateau plateau(model4.sgd, {.factor = 0.5, .patience = 2, .cooldown = 3});
  for (double loss : {1.0, 0.5, 0.6, 0.6, 0.6, 0.7}) plateau.step(loss);
  BOOST_TEST(plateau.in_cooldown());
  check_damage_is_refused({[&] { return plateau.state_dict(); },
                           [&](const Metadata& m) { plateau.load_state_dict(m); }},
                          model4.sgd);
}

BOOST_AUTO_TEST_CASE(inconsistent_state_is_refused_with_the_reason) {
  OneWeight model(0.3);
  WarmupCosineLR cosine(model.sgd, 3, 20);
  Metadata state = cosine.state_dict();
  state["scheduler.total_steps"] = "3";
  TAPELOOP_CHECK_THROW_MESSAGE(cosine.load_state_dict(state), FormatError,
                               "WarmupCosineLR: cannot load the state: 'scheduler.total_steps' = "
                               "'3': total_steps must be > warmup_steps (3)");
  state = cosine.state_dict();
  state["scheduler.warmup_start_factor"] = "1.5";
  TAPELOOP_CHECK_THROW_MESSAGE(cosine.load_state_dict(state), FormatError,
                               "warmup_start_factor must be in [0, 1]");

  // Another scheduler's state.
  ExponentialLR exponential(model.sgd, 0.5);
  TAPELOOP_CHECK_THROW_MESSAGE(
      exponential.load_state_dict(cosine.state_dict()), FormatError,
      "ExponentialLR: cannot load the state: 'scheduler.kind' = 'WarmupCosineLR'");
  TAPELOOP_CHECK_THROW_MESSAGE(exponential.load_state_dict({}), FormatError,
                               "the metadata has no 'scheduler.kind'");

  // A loaded ExponentialLR whose rate would overflow where it stands.
  state = exponential.state_dict();
  state["scheduler.gamma"] = "1e100";
  state["scheduler.last_epoch"] = "4";
  TAPELOOP_CHECK_THROW_MESSAGE(exponential.load_state_dict(state), FormatError,
                               "its learning rate at 'scheduler.last_epoch' would be inf");

  ReduceLROnPlateau plateau(model.sgd, {.patience = 2, .cooldown = 1});
  state = plateau.state_dict();
  state["scheduler.num_bad_epochs"] = "3";
  TAPELOOP_CHECK_THROW_MESSAGE(plateau.load_state_dict(state), FormatError,
                               "'scheduler.num_bad_epochs' = '3': more than patience (2)");
  state = plateau.state_dict();
  state["scheduler.cooldown_counter"] = "2";
  TAPELOOP_CHECK_THROW_MESSAGE(plateau.load_state_dict(state), FormatError,
                               "'scheduler.cooldown_counter' = '2': more than cooldown (1)");
  state = plateau.state_dict();
  state["scheduler.mode"] = "minimum";
  TAPELOOP_CHECK_THROW_MESSAGE(plateau.load_state_dict(state), FormatError,
                               "'scheduler.mode' = 'minimum': expected 'min' or 'max'");
  state = plateau.state_dict();
  state["scheduler.patience"] = "2.0";
  TAPELOOP_CHECK_THROW_MESSAGE(plateau.load_state_dict(state), FormatError,
                               "'scheduler.patience' = '2.0': not an integer");
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw_value_error_naming_the_value) {
  OneWeight model(0.3);
  auto unchanged = [&] { BOOST_TEST(model.sgd.learning_rate() == 0.3); };
  TAPELOOP_CHECK_THROW_MESSAGE(StepLR(model.sgd, 0), ValueError,
                               "StepLR: step_size must be > 0, got 0");
  TAPELOOP_CHECK_THROW_MESSAGE(StepLR(model.sgd, -3), ValueError, "got -3");
  TAPELOOP_CHECK_THROW_MESSAGE(StepLR(model.sgd, 5, 0.0), ValueError,
                               "StepLR: gamma must be finite and > 0, got 0");
  TAPELOOP_CHECK_THROW_MESSAGE(StepLR(model.sgd, 5, -0.5), ValueError, "got -0.5");
  TAPELOOP_CHECK_THROW_MESSAGE(StepLR(model.sgd, 5, not_a_number), ValueError, "gamma");
  TAPELOOP_CHECK_THROW_MESSAGE(ExponentialLR(model.sgd, 0.0), ValueError,
                               "ExponentialLR: gamma must be finite and > 0, got 0");
  TAPELOOP_CHECK_THROW_MESSAGE(ExponentialLR(model.sgd, infinity), ValueError, "got inf");
  TAPELOOP_CHECK_THROW_MESSAGE(WarmupCosineLR(model.sgd, 10, 10), ValueError,
                               "WarmupCosineLR: total_steps must be > warmup_steps (10), got 10");
  TAPELOOP_CHECK_THROW_MESSAGE(WarmupCosineLR(model.sgd, -1, 10), ValueError,
                               "WarmupCosineLR: warmup_steps must be >= 0, got -1");
  TAPELOOP_CHECK_THROW_MESSAGE(WarmupCosineLR(model.sgd, 1, 10, -1e-3), ValueError,
                               "WarmupCosineLR: min_lr must be finite and >= 0, got -0.001");
  TAPELOOP_CHECK_THROW_MESSAGE(WarmupCosineLR(model.sgd, 1, 10, 0.0, 1.5), ValueError,
                               "WarmupCosineLR: warmup_start_factor must be in [0, 1], got 1.5");
  TAPELOOP_CHECK_THROW_MESSAGE(ReduceLROnPlateau(model.sgd, {.factor = 1.0}), ValueError,
                               "ReduceLROnPlateau: factor must be in [0, 1), got 1");
  TAPELOOP_CHECK_THROW_MESSAGE(ReduceLROnPlateau(model.sgd, {.factor = -0.1}), ValueError,
                               "got -0.1");
  TAPELOOP_CHECK_THROW_MESSAGE(ReduceLROnPlateau(model.sgd, {.patience = -1}), ValueError,
                               "ReduceLROnPlateau: patience must be >= 0, got -1");
  TAPELOOP_CHECK_THROW_MESSAGE(ReduceLROnPlateau(model.sgd, {.threshold = not_a_number}),
                               ValueError,
                               "ReduceLROnPlateau: threshold must be finite and >= 0, got nan");
  TAPELOOP_CHECK_THROW_MESSAGE(ReduceLROnPlateau(model.sgd, {.cooldown = -2}), ValueError,
                               "ReduceLROnPlateau: cooldown must be >= 0, got -2");
  TAPELOOP_CHECK_THROW_MESSAGE(ReduceLROnPlateau(model.sgd, {.min_lr = infinity}), ValueError,
                               "ReduceLROnPlateau: min_lr must be finite and >= 0, got inf");
  TAPELOOP_CHECK_THROW_MESSAGE(ReduceLROnPlateau(model.sgd, {.eps = -1.0}), ValueError,
                               "ReduceLROnPlateau: eps must be finite and >= 0, got -1");
  unchanged();
}

BOOST_AUTO_TEST_CASE(documented_use) {
  TempDir dir("lr-scheduler");
  const std::filesystem::path path = dir / "checkpoint.safetensors";
  Generator rng(42);
  Parameter<float> W(Tensor<float>::normal({3, 1}, 0.0f, 0.5f, rng), "W");
  std::vector<Parameter<float>*> params{&W};
  Tensor<float> x = Tensor<float>::normal({32, 3}, 0.0f, 1.0f, rng);
  Tensor<float> y = Tensor<float>::normal({32, 1}, 0.0f, 1.0f, rng);
  Tape<float> tape;
  // ---- lr-scheduler block: warmup-cosine ----
  Adam<float> optimizer(params, {.lr = 0.01});
  // 5 steps of warm-up from 0.01 / 3 to 0.01, then a cosine down to 1e-4 at step 100.
  WarmupCosineLR scheduler(optimizer, /*warmup_steps=*/5, /*total_steps=*/100, /*min_lr=*/1e-4);
  for (int step = 0; step < 40; ++step) {
    tape.clear();
    optimizer.zero_grad();
    tape.backward(mse_loss(matmul(tape.constant(x.ref()), W.var(tape)), tape.constant(y.ref())));
    optimizer.step();
    scheduler.step();  // after the optimizer's step, as in PyTorch
  }
  // The scheduler's state goes into the checkpoint's metadata...
  save_parameters(path, params, &optimizer, scheduler.state_dict());
  // ...and comes back from it; the optimizer's learning rate is set to scheduler.last_lr().
  scheduler.load_state_dict(load_parameters(path, params, &optimizer));
  // ---- end of lr-scheduler block ----
  BOOST_TEST(scheduler.last_epoch() == 40);
  BOOST_TEST(optimizer.learning_rate() == scheduler.lr_at(40));

  // ---- lr-scheduler block: plateau ----
  // Halve the rate when the validation loss has not improved for 3 epochs.
  ReduceLROnPlateau plateau(optimizer, {.factor = 0.5, .patience = 3});
  for (double validation_loss : {0.9, 0.8, 0.8, 0.8, 0.8, 0.8}) plateau.step(validation_loss);
  // ---- end of lr-scheduler block ----
  BOOST_TEST(optimizer.learning_rate() == scheduler.lr_at(40) * 0.5);
}

BOOST_AUTO_TEST_CASE(the_docs_show_these_blocks) {
  BOOST_TEST(testing::check_doc_blocks(__FILE__, "architecture.md", "lr-scheduler") == 2);
}

BOOST_AUTO_TEST_SUITE_END()
