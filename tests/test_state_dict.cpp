// Module state dicts and module checkpoints: parameters under their dotted names, a PyTorch
// state_dict loaded with no renaming, all-or-nothing loading, optimizer state under the same names.
#include <cmath>
#include <string>
#include <vector>

#include "support/check.hpp"
#include "support/files.hpp"
#include "support/golden.hpp"
#include "tapeloop/models.hpp"
#include "tapeloop/models/char_model.hpp"
#include "tapeloop/tapeloop.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::testing::TempDir;

namespace {

CharModelOptions small_char_model() {
  CharModelOptions options;
  options.vocabulary = 11;
  options.embedding = 5;
  options.hidden = 7;
  options.layers = 2;
  return options;
}

std::vector<std::int64_t> some_ids(std::int64_t count, std::int64_t vocabulary) {
  std::vector<std::int64_t> ids;
  for (std::int64_t i = 0; i < count; ++i) ids.push_back((7 * i + 3) % vocabulary);
  return ids;
}

Tensor<float> logits_of(CharModel& model, std::span<const std::int64_t> ids, std::int64_t steps,
                        std::int64_t batch) {
  Tape<float> tape;
  NoGradGuard<float> no_grad(tape);
  return model.forward(tape, ids, steps, batch).to_tensor();
}

std::vector<float> values_of(CharModel& model) {
  std::vector<float> out;
  for (Parameter<float>* p : model.parameters())
    out.insert(out.end(), p->value().begin(), p->value().end());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_state_dict)

BOOST_AUTO_TEST_CASE(state_dict_views_every_parameter_under_its_dotted_name) {
  Generator rng(1);
  CharModel model(small_char_model(), rng);
  const std::vector<NamedTensor> state = model.state_dict();
  const auto named = model.named_parameters();
  BOOST_TEST_REQUIRE(state.size() == named.size());
  for (std::size_t i = 0; i < state.size(); ++i) {
    BOOST_TEST(state[i].name() == named[i].first);
    BOOST_TEST(state[i].data() == static_cast<const void*>(named[i].second->value().data()));
    BOOST_TEST(state[i].shape() == named[i].second->shape());
    BOOST_TEST(std::string(dtype_name(state[i].dtype())) == "F32");
  }
  BOOST_TEST(state.front().name() == "embedding.weight");
  BOOST_TEST(state[1].name() == "lstm.weight_ih_l0");
  BOOST_TEST(state.back().name() == "readout.bias");
}

BOOST_AUTO_TEST_CASE(load_state_dict_copies_one_model_into_another) {
  Generator rng_a(1), rng_b(2);
  CharModel a(small_char_model(), rng_a), b(small_char_model(), rng_b);
  const std::vector<std::int64_t> ids = some_ids(12, 11);
  BOOST_TEST(values_of(a) != values_of(b));
  b.load_state_dict(a.state_dict());
  BOOST_TEST(values_of(a) == values_of(b));
  const Tensor<float> la = logits_of(a, ids, 4, 3), lb = logits_of(b, ids, 4, 3);
  BOOST_TEST(std::vector<float>(la.begin(), la.end()) == std::vector<float>(lb.begin(), lb.end()));
}

BOOST_AUTO_TEST_CASE(a_state_dict_that_does_not_fit_changes_nothing) {
  Generator rng_a(1), rng_b(2);
  CharModel a(small_char_model(), rng_a), b(small_char_model(), rng_b);
  const std::vector<float> before = values_of(b);

  // Missing and unexpected names: both listed, nothing copied.
  std::vector<NamedTensor> renamed = a.state_dict();
  BOOST_TEST_REQUIRE(renamed.back().name() == "readout.bias");
  renamed.back() = NamedTensor("readout.offset", std::as_const(a.readout.bias->value()).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(
      b.load_state_dict(renamed), ValueError,
      "load_state_dict: missing 'readout.bias'; unexpected 'readout.offset'");
  BOOST_TEST(values_of(b) == before);

  // The wrong shape: named with both shapes, nothing copied (the entry is not the first one).
  CharModelOptions wider = small_char_model();
  wider.hidden = 8;
  Generator rng_c(3);
  CharModel c(wider, rng_c);
  TAPELOOP_CHECK_THROW_MESSAGE(
      b.load_state_dict(c.state_dict()), ShapeError,
      "load_state_dict: 'lstm.weight_ih_l0' has shape [32,5], the parameter [28,5]");
  BOOST_TEST(values_of(b) == before);

  // The wrong dtype: no silent conversion.
  Tensor<double> wide = Tensor<double>::zeros({11, 5});
  std::vector<NamedTensor> doubles = a.state_dict();
  doubles.front() = NamedTensor("embedding.weight", std::as_const(wide).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(b.load_state_dict(doubles), ValueError,
                               "'embedding.weight' is F64, the parameter is F32");
  BOOST_TEST(values_of(b) == before);

  // strict = false: the names both have are loaded, the rest left alone.
  b.load_state_dict(renamed, false);
  const std::vector<float> a_values = values_of(a), b_values = values_of(b);
  const std::size_t bias = static_cast<std::size_t>(b.readout.bias->numel());
  BOOST_TEST(std::vector<float>(b_values.begin(), b_values.end() - bias) ==
             std::vector<float>(a_values.begin(), a_values.end() - bias));
  BOOST_TEST(std::vector<float>(b_values.end() - bias, b_values.end()) ==
             std::vector<float>(before.end() - bias, before.end()));
}

BOOST_AUTO_TEST_CASE(a_pytorch_state_dict_loads_with_no_renaming) {
  // tests/golden/make_state_dict_golden.py: torch's own state_dict() keys, and its logits.
  Generator rng(5);
  CharModel model(small_char_model(), rng);
  load_parameters(testing::golden_path("char_model_state_dict.safetensors"), model);

  const SafetensorsFile reference =
      load_safetensors(testing::golden_path("char_model_logits.safetensors"));
  const Shape ids_shape = reference.shape("ids");  // [T, B]
  std::vector<std::int64_t> ids(static_cast<std::size_t>(ids_shape.numel()));
  reference.read("ids", TensorRef<std::int64_t>{ids.data(), ids_shape});
  const Tensor<float> expected = reference.tensor<float>("logits");
  const Tensor<float> logits = logits_of(model, ids, ids_shape[0], ids_shape[1]);
  BOOST_TEST_REQUIRE(logits.shape() == expected.shape());
  // Float rounding in another order than PyTorch's: absolute, as logits near zero cancel (the
  // largest difference is about 1e-8; a weight in the wrong place changes logits by 1e-2).
  for (std::int64_t i = 0; i < logits.numel(); ++i) {
    BOOST_TEST(std::abs(logits[i] - expected[i]) <= 1e-6f,
               i << ": " << logits[i] << " vs " << expected[i]);
  }

  // The same file through load_state_dict, into a model that has drifted: the same logits.
  Generator other(6);
  CharModel again(small_char_model(), other);
  again.load_state_dict(
      load_safetensors(testing::golden_path("char_model_state_dict.safetensors")));
  BOOST_TEST(values_of(again) == values_of(model));
}

BOOST_AUTO_TEST_CASE(a_module_checkpoint_resumes_training_bit_exactly) {
  const std::vector<std::int64_t> ids = some_ids(12, 11);
  const std::vector<std::int64_t> targets = some_ids(12, 11);
  const auto train_step = [&](CharModel& model, Adam<float>& adam, Tape<float>& tape) {
    tape.clear();
    adam.zero_grad();
    Var<float> loss = cross_entropy(model.forward(tape, ids, 4, 3), targets);
    tape.backward(loss);
    adam.step();
  };
  TempDir dir("state-dict");
  Generator rng(1);
  CharModel model(small_char_model(), rng);
  Adam<float> adam(model.parameters(), {.lr = 0.01});
  Tape<float> tape;
  for (int i = 0; i < 3; ++i) train_step(model, adam, tape);
  save_parameters(dir / "model.safetensors", model, &adam, {{"epoch", "3"}});
  // The file holds PyTorch's keys, and the optimizer's state under the same names.
  const SafetensorsFile file = load_safetensors(dir / "model.safetensors");
  BOOST_TEST(file.contains("lstm.weight_hh_l1"));
  BOOST_TEST(file.contains("optimizer/exp_avg.lstm.weight_hh_l1"));
  BOOST_TEST(file.contains("optimizer/step.readout.bias"));

  Generator other(9);
  CharModel resumed(small_char_model(), other);
  Adam<float> resumed_adam(resumed.parameters(), {.lr = 0.01});
  const Metadata metadata = load_parameters(dir / "model.safetensors", resumed, &resumed_adam);
  BOOST_TEST(metadata.at("epoch") == "3");
  Tape<float> resumed_tape;
  for (int i = 0; i < 2; ++i) {
    train_step(model, adam, tape);
    train_step(resumed, resumed_adam, resumed_tape);
  }
  BOOST_TEST(values_of(resumed) == values_of(model));
}

BOOST_AUTO_TEST_CASE(saving_a_module_by_its_parameters_own_names_says_what_to_do) {
  Generator rng(1);
  Linear<float> first(3, 2, rng), second(2, 1, rng);
  std::vector<Parameter<float>*> params = first.parameters();
  for (Parameter<float>* p : second.parameters()) params.push_back(p);
  TempDir dir("state-dict-names");
  TAPELOOP_CHECK_THROW_MESSAGE(save_parameters(dir / "x.safetensors", params), ValueError,
                               "models::save_parameters(path, module)");
}

BOOST_AUTO_TEST_SUITE_END()
