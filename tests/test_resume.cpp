// Resuming from a checkpoint is bit-exact: N steps, save, load into fresh objects, M more steps
// give the parameters of N + M uninterrupted steps — parameters, Adam's state, the schedule's
// position, the dropout generator and the data-order generator all restored.
#include <cstring>

#include "support/check.hpp"
#include "support/files.hpp"
#include "tapeloop/models/char_model.hpp"
#include "tapeloop/models/checkpoint.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

constexpr std::int64_t steps = 8, batch = 4;

const CharCorpus& corpus() {
  static const CharCorpus c =
      CharCorpus::from_text("a stream of text to learn from, read at random offsets. ");
  return c;
}

// A model, its optimizer and schedule, and the generator that orders the data: the whole
// training state. Not movable (the optimizer points at the model's parameters).
struct Training {
  Generator init;
  CharModel model;
  std::vector<Parameter<float>*> params = model.parameters();
  Adam<float> adam;
  WarmupCosineLR schedule;
  Generator data;
  Tape<float> tape;

  Training(std::uint64_t init_seed, std::uint64_t data_seed)
      : init(init_seed),
        model({.vocabulary = corpus().vocabulary(),
               .embedding = 6,
               .hidden = 10,
               .layers = 2,
               .dropout = 0.3},
              init),
        adam(params, {.lr = 0.02, .weight_decay = 1e-4}),
        schedule(adam, 3, 40),
        data(data_seed) {}

  void train(int count) {
    std::vector<std::int64_t> inputs(steps * batch), targets(steps * batch);
    const std::size_t size = corpus().ids.size();
    for (int i = 0; i < count; ++i) {
      corpus().sample(data, 0, size, steps, batch, inputs, targets);
      tape.clear();
      adam.zero_grad();
      Var<float> loss = cross_entropy(model.forward(tape, inputs, steps, batch), targets);
      tape.backward(loss);
      clip_grad_norm(std::span<Parameter<float>* const>(params), 1.0);
      adam.step();
      schedule.step();
    }
  }

  void save(const std::string& path) {
    Metadata meta = schedule.state_dict();
    save_generator_state(meta, "rng.data", data);
    save_generator_state(meta, "rng.dropout", model.lstm.dropout_generator());
    models::save_parameters(path, model, &adam, meta);
  }
  void load(const std::string& path, bool with_dropout_generator = true) {
    const Metadata meta = models::load_parameters(path, model, &adam);
    schedule.load_state_dict(meta);
    load_generator_state(meta, "rng.data", data);
    if (with_dropout_generator) {
      load_generator_state(meta, "rng.dropout", model.lstm.dropout_generator());
    }
  }

  bool same_parameters(Training& other) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Parameter<float>& a = *params[i];
      const Parameter<float>& b = *other.params[i];
      if (std::memcmp(a.value().data(), b.value().data(), a.numel() * sizeof(float)) != 0) {
        return false;
      }
    }
    return true;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_resume)

BOOST_AUTO_TEST_CASE(resumed_training_is_bit_identical) {
  testing::TempDir dir("resume");
  const std::string path = (dir.path() / "step10.safetensors").string();
  Training straight(1, 2);
  straight.train(25);

  Training first(1, 2);
  first.train(10);
  first.save(path);
  Training resumed(77, 78);  // other initial weights and data order: all must come from the file
  resumed.load(path);
  BOOST_TEST(resumed.schedule.last_epoch() == 10);
  resumed.train(15);
  BOOST_TEST(resumed.same_parameters(straight));

  // The check can fail: without the dropout generator's state the masks differ.
  Training partial(77, 78);
  partial.load(path, false);
  partial.train(15);
  BOOST_TEST(!partial.same_parameters(straight));
}

BOOST_AUTO_TEST_CASE(generator_state_round_trips_through_metadata) {
  Generator a(5);
  a.normal();  // leaves a spare normal: part of the state
  Metadata meta;
  save_generator_state(meta, "rng", a);
  Generator b(6);
  load_generator_state(meta, "rng", b);
  for (int i = 0; i < 5; ++i) BOOST_TEST(a.normal() == b.normal());
  BOOST_TEST(a.next_u64() == b.next_u64());
}

BOOST_AUTO_TEST_CASE(damaged_generator_state_is_refused_and_changes_nothing) {
  Generator a(5);
  Metadata good;
  save_generator_state(good, "rng", a);
  const std::string text = good["rng"];
  const std::vector<std::string> bad = {
      "",
      "xoshiro256**",
      text.substr(0, text.size() - 5),
      text + " 1",
      "xoshiro256** 0000000000000000 0000000000000000 0000000000000000 0000000000000000 none",
      "xoshiro256** 000000000000000g 0000000000000001 0000000000000000 0000000000000000 none",
      "pcg " + text.substr(13),
  };
  for (const std::string& b : bad) {
    Generator g(9), untouched(9);
    BOOST_TEST_CONTEXT("'" << b << "'") {
      TAPELOOP_CHECK_THROW_MESSAGE(load_generator_state({{"rng", b}}, "rng", g), FormatError,
                                   "load_generator_state: 'rng' = ");
      BOOST_TEST(g.next_u64() == untouched.next_u64());
    }
  }
  Generator g(1);
  TAPELOOP_CHECK_THROW_MESSAGE(load_generator_state(good, "other", g), FormatError,
                               "load_generator_state: no entry 'other' in the metadata");
  TAPELOOP_CHECK_THROW_MESSAGE(g.set_state({{0, 0, 0, 0}, 0.0, false}), ValueError,
                               "Generator::set_state: all four words are zero");
}

BOOST_AUTO_TEST_SUITE_END()
