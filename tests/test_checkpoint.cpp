// Checkpoints of parameters and optimizer state: a resumed run continues bit for bit, and every
// kind of damaged or mismatched file throws FormatError and leaves the model and the optimizer
// bit-identical — including a loop over every truncation and many byte flips.
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "support/check.hpp"
#include "support/files.hpp"

using namespace tapeloop;
using nlohmann::json;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

namespace {

// A small model (two named parameters) with Adam, after a few steps so the state is not zero.
struct Trained {
  Parameter<float> w;
  Parameter<float> b;
  std::vector<Parameter<float>*> params{&w, &b};
  Adam<float> adam;

  explicit Trained(std::uint64_t seed, int steps = 3)
      : w(random(seed, {2, 3}), "w"), b(random(seed + 1, {3}), "b"), adam(params, {.lr = 0.01}) {
    Generator rng(seed + 2);
    for (int i = 0; i < steps; ++i) {
      w.grad() = Tensor<float>::normal(w.shape(), 0.0f, 1.0f, rng);
      b.grad() = Tensor<float>::normal(b.shape(), 0.0f, 1.0f, rng);
      adam.step();
    }
  }
  static Tensor<float> random(std::uint64_t seed, const Shape& shape) {
    Generator rng(seed);
    return Tensor<float>::normal(shape, 0.0f, 1.0f, rng);
  }

  // Every byte the model and the optimizer hold, to prove a failed load changed none.
  std::vector<std::uint8_t> snapshot() const {
    std::vector<std::uint8_t> out;
    auto add = [&](const void* p, std::size_t n) {
      const auto* bytes = static_cast<const std::uint8_t*>(p);
      out.insert(out.end(), bytes, bytes + n);
    };
    for (const Parameter<float>* p : params) add(p->value().data(), sizeof(float) * p->numel());
    for (const auto& [name, t] : adam.named_state()) add(t->data(), sizeof(float) * t->numel());
    for (const auto& [name, count] : adam.named_steps()) add(count, sizeof *count);
    return out;
  }
};

// Rewrites a file's JSON header with `edit` and keeps its data section.
template <class Edit>
std::vector<std::uint8_t> edit_header(const std::vector<std::uint8_t>& file, Edit edit) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | file[static_cast<std::size_t>(i)];
  json header = json::parse(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  edit(header);
  return testing::safetensors_bytes(
      header.dump(),
      std::vector<std::uint8_t>(file.begin() + 8 + static_cast<std::ptrdiff_t>(n), file.end()));
}

// Overwrites the data of entry `name` with `value`'s bytes.
template <class V>
void overwrite_entry(std::vector<std::uint8_t>& file, const std::string& name, V value) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | file[static_cast<std::size_t>(i)];
  const json header =
      json::parse(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  const std::size_t begin = header.at(name).at("data_offsets")[0].get<std::size_t>();
  std::memcpy(file.data() + 8 + n + begin, &value, sizeof value);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_checkpoint)

BOOST_AUTO_TEST_CASE(a_resumed_run_continues_bit_for_bit) {
  TempDir dir("checkpoint");
  Trained original(1);
  save_parameters(dir / "ckpt.safetensors", original.params, &original.adam, {{"epoch", "7"}});

  Trained resumed(100, 0);  // other values, never stepped
  const Metadata metadata =
      load_parameters(dir / "ckpt.safetensors", resumed.params, &resumed.adam);
  BOOST_TEST(metadata.at("epoch") == "7");
  BOOST_TEST(metadata.at("tapeloop.optimizer") == "Adam");
  BOOST_TEST(resumed.snapshot() == original.snapshot());
  BOOST_TEST(resumed.adam.step_count(0) == 3);

  Generator rng(77);
  for (int i = 0; i < 3; ++i) {
    original.w.grad() = Tensor<float>::normal({2, 3}, 0.0f, 1.0f, rng);
    original.b.grad() = Tensor<float>::normal({3}, 0.0f, 1.0f, rng);
    resumed.w.grad() = original.w.grad();
    resumed.b.grad() = original.b.grad();
    original.adam.step();
    resumed.adam.step();
  }
  BOOST_TEST(resumed.snapshot() == original.snapshot());
}

BOOST_AUTO_TEST_CASE(file_contents_are_named_as_documented) {
  TempDir dir("checkpoint");
  Trained t(1);
  save_parameters(dir / "ckpt.safetensors", t.params, &t.adam);
  const SafetensorsFile file = load_safetensors(dir / "ckpt.safetensors");
  BOOST_TEST(
      file.names() == (std::vector<std::string>{"b", "optimizer/exp_avg.b", "optimizer/exp_avg.w",
                                                "optimizer/exp_avg_sq.b", "optimizer/exp_avg_sq.w",
                                                "optimizer/step.b", "optimizer/step.w", "w"}),
      boost::test_tools::per_element());
  BOOST_TEST((file.dtype("optimizer/step.w") == Dtype::I64));
  BOOST_TEST(file.shape("optimizer/step.w").rank() == 0);
  BOOST_TEST(file.metadata().at("tapeloop.optimizer") == "Adam");
}

BOOST_AUTO_TEST_CASE(parameters_alone_and_in_double) {
  TempDir dir("checkpoint");
  Parameter<double> a(Tensor<double>::from({2}, {0.1, 0.2}), "a");
  Parameter<double> frozen(Tensor<double>::from({1}, {3.0}), "frozen");
  frozen.set_requires_grad(false);
  std::vector<Parameter<double>*> params{&a, &frozen};
  save_parameters(dir / "p.safetensors", params);
  a.value().fill(0.0);
  frozen.value().fill(0.0);
  load_parameters(dir / "p.safetensors", params);
  BOOST_TEST(a.value()[1] == 0.2);
  BOOST_TEST(frozen.value()[0] == 3.0);  // frozen parameters are part of the model

  // A float model cannot load double parameters: no silent conversion.
  Parameter<float> af(Tensor<float>::zeros({2}), "a");
  Parameter<float> ff(Tensor<float>::zeros({1}), "frozen");
  std::vector<Parameter<float>*> float_params{&af, &ff};
  TAPELOOP_CHECK_THROW_MESSAGE(load_parameters(dir / "p.safetensors", float_params), FormatError,
                               "parameter 'a' is stored as F64, expected F32");
}

BOOST_AUTO_TEST_CASE(optimizer_entries_are_optional_to_load) {
  TempDir dir("checkpoint");
  Trained t(1);
  save_parameters(dir / "with.safetensors", t.params, &t.adam);
  save_parameters(dir / "without.safetensors", t.params);

  Trained u(2);
  load_parameters(dir / "with.safetensors", u.params);  // weights only: the state is ignored
  BOOST_TEST(std::memcmp(u.w.value().data(), t.w.value().data(), 6 * sizeof(float)) == 0);

  const auto before = u.snapshot();
  TAPELOOP_CHECK_THROW_MESSAGE(load_parameters(dir / "without.safetensors", u.params, &u.adam),
                               FormatError,
                               "without.safetensors: the file holds no optimizer state");
  SGD<float> sgd(u.params, {.momentum = 0.9});
  TAPELOOP_CHECK_THROW_MESSAGE(load_parameters(dir / "with.safetensors", u.params, &sgd),
                               FormatError, "the file holds Adam state, not SGD");
  Adam<float> amsgrad(u.params, {.amsgrad = true});
  TAPELOOP_CHECK_THROW_MESSAGE(load_parameters(dir / "with.safetensors", u.params, &amsgrad),
                               FormatError,
                               "no entry for optimizer state 'optimizer/max_exp_avg_sq.w'");
  BOOST_TEST(u.snapshot() == before);
}

BOOST_AUTO_TEST_CASE(names_must_identify_parameters) {
  TempDir dir("checkpoint");
  Parameter<float> a(Tensor<float>::zeros({1}), "a");
  Parameter<float> also_a(Tensor<float>::zeros({1}), "a");
  Parameter<float> unnamed(Tensor<float>::zeros({1}));
  Parameter<float> reserved(Tensor<float>::zeros({1}), "optimizer/x");
  using Ps = std::vector<Parameter<float>*>;
  TAPELOOP_CHECK_THROW_MESSAGE(save_parameters(dir / "x", Ps{&a, &also_a}), ValueError,
                               "save_parameters: two parameters are named 'a'");
  TAPELOOP_CHECK_THROW_MESSAGE(save_parameters(dir / "x", Ps{&unnamed}), ValueError,
                               "parameter 0 has no name");
  TAPELOOP_CHECK_THROW_MESSAGE(save_parameters(dir / "x", Ps{&reserved}), ValueError,
                               "reserved for optimizer state");
  TAPELOOP_CHECK_THROW_MESSAGE(
      save_parameters(dir / "x", Ps{&a}, nullptr, {{"tapeloop.optimizer", "x"}}), ValueError,
      "the metadata key 'tapeloop.optimizer' is reserved");
  BOOST_TEST(dir.listing().empty());
}

BOOST_AUTO_TEST_CASE(damaged_or_mismatched_files_change_nothing) {
  TempDir dir("checkpoint");
  Trained saved(1);
  save_parameters(dir / "good.safetensors", saved.params, &saved.adam);
  const std::vector<std::uint8_t> good = read_bytes(dir / "good.safetensors");

  Trained model(50);  // different values, so any partial load would show
  const std::vector<std::uint8_t> before = model.snapshot();
  auto check = [&](const std::string& what, const std::vector<std::uint8_t>& bytes,
                   const std::string& message) {
    BOOST_TEST_CONTEXT(what) {
      write_bytes(dir / "bad.safetensors", bytes);
      TAPELOOP_CHECK_THROW_MESSAGE(
          load_parameters(dir / "bad.safetensors", model.params, &model.adam), FormatError,
          message);
      BOOST_TEST(model.snapshot() == before);
    }
  };
  std::vector<std::uint8_t> bytes;

  check("truncated", std::vector<std::uint8_t>(good.begin(), good.end() - 5),
        "run past the data section");
  bytes = good;
  bytes[0] ^= 0x04;  // the header length, off by 4: the JSON is cut or runs into the data
  check("header length flipped", bytes, "bad.safetensors");
  bytes = good;
  bytes[5] = 0x01;  // 2^40
  check("header length beyond the cap", bytes, "exceeds the limit");
  bytes = good;
  bytes[1] ^= 0x10;
  check("header length past the end", bytes, "runs past the end of the file");
  bytes = good;
  bytes[8] = '[';  // the opening brace
  check("invalid JSON", bytes, "the header is not valid JSON");
  check("overlapping offsets",
        edit_header(good,
                    [](json& h) {
                      h["w"]["data_offsets"][0] = h["w"]["data_offsets"][0].get<int>() - 4;
                      h["w"]["data_offsets"][1] = h["w"]["data_offsets"][1].get<int>() - 4;
                    }),
        "overlaps");
  check("offsets out of range",
        edit_header(good,
                    [](json& h) {
                      h["w"]["data_offsets"][0] = 1u << 20;
                      h["w"]["data_offsets"][1] = (1u << 20) + 24;
                    }),
        "run past the data section");
  check("wrong shape",
        edit_header(good,
                    [](json& h) {
                      h["w"]["shape"] = {3, 2};
                    }),
        "parameter 'w' is stored with shape [3,2], expected [2,3]");
  check("missing name",
        edit_header(good,
                    [](json& h) {
                      json entry = h["w"];
                      h.erase("w");
                      h["renamed"] = entry;
                    }),
        "no entry for parameter 'w'");
  check("unknown dtype", edit_header(good, [](json& h) { h["w"]["dtype"] = "Q8"; }),
        "entry 'w': unknown dtype 'Q8'");
  check("unsupported dtype",
        edit_header(good,
                    [](json& h) {
                      h["w"]["dtype"] = "F16";
                      h["w"]["shape"] = {2, 6};
                    }),
        "entry 'w': unsupported dtype F16");
  check("dtype of the other precision",
        edit_header(good,
                    [](json& h) {
                      h["w"]["dtype"] =
                          "F64";  // 6 floats are 3 doubles: a valid file, the wrong model
                      h["w"]["shape"] = {3};
                    }),
        "parameter 'w' is stored as F64, expected F32");
  check("optimizer state of the wrong shape",
        edit_header(good, [](json& h) { h["optimizer/exp_avg.w"]["shape"] = {6}; }),
        "optimizer state 'optimizer/exp_avg.w' is stored with shape [6], expected [2,3]");
  check("step count not an integer",
        edit_header(good, [](json& h) { h["optimizer/step.b"]["dtype"] = "F64"; }),
        "step count 'optimizer/step.b' is stored as F64, expected I64");
  bytes = good;
  overwrite_entry(bytes, "optimizer/step.b", std::int64_t{-3});
  check("negative step count", bytes, "step count 'optimizer/step.b' is negative");
  // The next step() adds one to the count: the largest int64 would overflow (undefined
  // behaviour in Adam, SGD and RMSProp alike) on the first step after loading.
  bytes = good;
  overwrite_entry(bytes, "optimizer/step.b", std::numeric_limits<std::int64_t>::max());
  check("step count at the largest int64", bytes,
        "step count 'optimizer/step.b' is 9223372036854775807, too large to step again");

  // An entry the model does not have: refused, unless allowed.
  Parameter<float> extra(Tensor<float>::ones({2}), "extra");
  std::vector<Parameter<float>*> bigger{&saved.w, &saved.b, &extra};
  save_parameters(dir / "bigger.safetensors", bigger, &saved.adam);
  check("unexpected entry", read_bytes(dir / "bigger.safetensors"), "unexpected entry 'extra'");
  load_parameters(dir / "bigger.safetensors", model.params, &model.adam,
                  {.allow_unexpected = true});
  BOOST_TEST(model.snapshot() == saved.snapshot());
}

BOOST_AUTO_TEST_CASE(random_damage_gives_format_errors_and_changes_nothing) {
  // Every truncation, and three byte flips at every position, of a small checkpoint: loading
  // either succeeds (a flip in the data section makes other valid numbers) or throws
  // FormatError with the model and optimizer bit-identical. Nothing else, and no crash.
  TempDir dir("checkpoint");
  Trained saved(1, 2);
  save_parameters(dir / "good.safetensors", saved.params, &saved.adam);
  const std::vector<std::uint8_t> good = read_bytes(dir / "good.safetensors");
  Trained model(50);
  const std::vector<std::uint8_t> before = model.snapshot();
  int format_errors = 0, loaded = 0, unchanged_failures = 0;
  auto attempt = [&](const std::vector<std::uint8_t>& bytes) {
    write_bytes(dir / "damaged.safetensors", bytes);
    try {
      load_parameters(dir / "damaged.safetensors", model.params, &model.adam);
      ++loaded;
      // Put the model back for the next attempt.
      load_parameters(dir / "restore.safetensors", model.params, &model.adam);
    } catch (const FormatError&) {
      ++format_errors;
      if (model.snapshot() != before) ++unchanged_failures;
    } catch (const std::exception& e) {
      BOOST_ERROR("not a FormatError: " << e.what());
    }
  };
  save_parameters(dir / "restore.safetensors", model.params, &model.adam);
  for (std::size_t length = 0; length < good.size(); ++length) {
    attempt(std::vector<std::uint8_t>(good.begin(),
                                      good.begin() + static_cast<std::ptrdiff_t>(length)));
  }
  BOOST_TEST(loaded == 0);
  Generator rng(3);
  for (std::size_t pos = 0; pos < good.size(); ++pos) {
    for (std::uint8_t mask :
         {std::uint8_t{0x01}, std::uint8_t{0x20}, static_cast<std::uint8_t>(1 + rng.below(255))}) {
      std::vector<std::uint8_t> bytes = good;
      bytes[pos] ^= mask;
      attempt(bytes);
    }
  }
  BOOST_TEST_MESSAGE(format_errors << " damaged checkpoints refused, " << loaded << " loaded");
  BOOST_TEST(unchanged_failures == 0);
  BOOST_TEST(loaded > 0);
  BOOST_TEST(format_errors > static_cast<int>(good.size()));
}

BOOST_AUTO_TEST_CASE(parameters_listed_in_place) {
  TempDir dir("ckpt-list");
  Parameter<double> w(Tensor<double>::full({2, 3}, 1.5), "w");
  Parameter<double> b(Tensor<double>::full({3}, -2.0), "b");
  SGD<double> sgd({&w, &b}, {.lr = 0.1, .momentum = 0.9});
  w.grad().fill(1.0);
  b.grad().fill(1.0);
  sgd.step();
  save_parameters(dir.path() / "list.safetensors", {&w, &b}, &sgd, {{"epoch", "2"}});
  Parameter<double> w2(Tensor<double>::zeros({2, 3}), "w");
  Parameter<double> b2(Tensor<double>::zeros({3}), "b");
  SGD<double> sgd2({&w2, &b2}, {.lr = 0.1, .momentum = 0.9});
  const Metadata meta = load_parameters(dir.path() / "list.safetensors", {&w2, &b2}, &sgd2);
  BOOST_TEST(meta.at("epoch") == "2");
  BOOST_TEST(w2.value()[5] == w.value()[5]);
  BOOST_TEST(b2.value()[0] == b.value()[0]);
  BOOST_TEST(sgd2.step_count(0) == 1);
  load_parameters(dir.path() / "list.safetensors", {&w2, &b2});  // without the optimizer
}

BOOST_AUTO_TEST_SUITE_END()
