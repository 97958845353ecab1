// Fuzzes resuming from a checkpoint: a model (float with Adam, double with SGD), four schedules
// and two generators, each loaded all or nothing, and a training step after an accepted load.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "input_file.hpp"
#include "property.hpp"
#include "tapeloop/checkpoint.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/models/checkpoint.hpp"
#include "tapeloop/optim.hpp"
#include "tapeloop/optim/reduce_lr_on_plateau.hpp"
#include "tiny_model.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::fuzz::require;

namespace {

template <class T>
std::vector<std::string> parameter_names(models::Module<T>& model) {
  std::vector<std::string> names;
  for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
  return names;
}

// Everything a resumed run takes from a checkpoint, and every byte of it for the comparisons.
template <class T, class Optim, class Options>
struct Training {
  tapeloop::fuzz::TinyModel<T> model;
  std::vector<Parameter<T>*> params = model.parameters();
  std::vector<std::string> names = parameter_names(model);
  Optim optimizer;
  StepLR step_lr{optimizer, 3, 0.5};
  ExponentialLR exponential{optimizer, 0.9};
  WarmupCosineLR cosine{optimizer, 2, 10};
  ReduceLROnPlateau plateau{optimizer};
  Generator data{1}, dropout{2};

  explicit Training(const Options& options) : optimizer(params, options) {}

  std::vector<std::uint8_t> snapshot() {
    std::vector<std::uint8_t> out;
    auto add = [&](const void* p, std::size_t n) {
      const auto* bytes = static_cast<const std::uint8_t*>(p);
      out.insert(out.end(), bytes, bytes + n);
    };
    auto add_text = [&](const Metadata& m) {
      for (const auto& [key, value] : m) {
        add(key.data(), key.size());
        add(value.data(), value.size());
      }
    };
    for (const Parameter<T>* p : params) add(p->value().data(), sizeof(T) * p->numel());
    for (const auto& [name, t] : optimizer.named_state(names)) {
      add(t->data(), sizeof(T) * t->numel());
    }
    for (const auto& [name, count] : optimizer.named_steps(names)) add(count, sizeof *count);
    const double lr = optimizer.learning_rate();
    add(&lr, sizeof lr);
    add_text(step_lr.state_dict());
    add_text(exponential.state_dict());
    add_text(cosine.state_dict());
    add_text(plateau.state_dict());
    for (const Generator* g : {&data, &dropout}) {
      const Generator::State s = g->state();
      add(s.words, sizeof s.words);
      add(&s.has_spare, sizeof s.has_spare);
      if (s.has_spare) add(&s.spare_normal, sizeof s.spare_normal);
    }
    return out;
  }

  // Runs `load`; if it throws E, nothing may have changed. Returns whether it succeeded. Most
  // loads of a fuzzed file fail, so the state they are compared with is kept until one succeeds.
  template <class... E, class Load>
  bool all_or_nothing(Load load) {
    if (!before_) before_ = snapshot();
    try {
      load();
    } catch (const Error& e) {
      require((dynamic_cast<const E*>(&e) || ...), "a failed load throws the documented type");
      require(snapshot() == *before_, "a failed load changes nothing");
      return false;
    }
    before_.reset();
    return true;
  }
  std::optional<std::vector<std::uint8_t>> before_;

  // A loaded state must be one that saves and loads again.
  template <class Scheduler>
  void reload(Scheduler& scheduler) {
    const Metadata saved = scheduler.state_dict();
    require(all_or_nothing<>([&] { scheduler.load_state_dict(saved); }),
            "a loaded schedule's state_dict() loads again");
  }
  void reload(Generator& g, const char* key) {
    Metadata saved;
    save_generator_state(saved, key, g);
    require(all_or_nothing<>([&] { load_generator_state(saved, key, g); }),
            "a loaded generator's state loads again");
  }

  void run(const std::filesystem::path& path) {
    Metadata metadata;
    if (!all_or_nothing<FormatError>(
            [&] { metadata = models::load_parameters(path, model, &optimizer); })) {
      // A file a checkpoint loader refuses may still be a state_dict of the model's names.
      all_or_nothing<FormatError, ValueError, ShapeError>(
          [&] { model.load_state_dict(load_safetensors(path), false); });
      return;
    }
    if (all_or_nothing<FormatError>([&] { step_lr.load_state_dict(metadata); })) reload(step_lr);
    if (all_or_nothing<FormatError>([&] { exponential.load_state_dict(metadata); })) {
      reload(exponential);
    }
    if (all_or_nothing<FormatError>([&] { cosine.load_state_dict(metadata); })) reload(cosine);
    if (all_or_nothing<FormatError>([&] { plateau.load_state_dict(metadata); })) reload(plateau);
    if (all_or_nothing<FormatError>([&] { load_generator_state(metadata, "rng.data", data); })) {
      reload(data, "rng.data");
    }
    if (all_or_nothing<FormatError>(
            [&] { load_generator_state(metadata, "rng.dropout", dropout); })) {
      reload(dropout, "rng.dropout");
    }
    train_one_step();
  }

  // What the resumed run does next. A schedule may refuse to step (a rate that is no longer
  // finite, a step count at its limit) with ValueError; nothing else may go wrong.
  void train_one_step() {
    for (Parameter<T>* p : params) p->grad().fill(T(0.25));
    optimizer.step();
    before_.reset();
    for (LRScheduler* s : std::initializer_list<LRScheduler*>{&step_lr, &exponential, &cosine}) {
      all_or_nothing<ValueError>([&] { s->step(); });
    }
    all_or_nothing<ValueError>([&] { plateau.step(1.0); });
    data.normal();
    dropout.below(7);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tapeloop::fuzz::InputFile input;
  const std::filesystem::path& path = input.write(data, size);
  Training<float, Adam<float>, AdamOptions>({.lr = 0.01, .weight_decay = 0.1, .amsgrad = true})
      .run(path);
  Training<double, SGD<double>, SGDOptions>({.lr = 0.1, .momentum = 0.9}).run(path);
  return 0;
}
