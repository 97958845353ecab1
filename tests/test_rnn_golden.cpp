// RNN, LSTM and GRU layers against PyTorch: outputs, final states and every gradient of the
// golden files written by tests/golden/make_rnn_golden.py, in float and double, fused and generic.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "support/check.hpp"
#include "tapeloop/safetensors.hpp"

#include "tapeloop/models/recurrent.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

const char* const cases[] = {"rnn_tanh_2layer_bidir",
                             "rnn_relu_1layer",
                             "lstm_2layer_bidir",
                             "lstm_odd_batch_first",
                             "lstm_1layer_lengths",
                             "gru_2layer_bidir",
                             "gru_odd"};

// |got - want| <= atol + rtol * |want| per element. float: the two libraries sum in different
// orders, so a few ulps of float per operation, over a handful of steps; double: the same
// arithmetic 9 orders of magnitude finer.
struct Tolerance {
  double rtol, atol;
};
template <class T>
constexpr Tolerance tolerance = sizeof(T) == 4 ? Tolerance{1e-5, 1e-6} : Tolerance{1e-10, 1e-12};

// The largest errors seen over every compared element, reported at the end of a run.
struct Worst {
  double abs = 0, rel = 0, of_tolerance = 0;
};

template <class T>
void compare(const std::string& what, std::type_identity_t<TensorRef<const T>> got,
             const Tensor<T>& want, Worst& worst) {
  BOOST_REQUIRE_MESSAGE(got.shape == want.shape(), what << ": shape " << got.shape.str()
                                                        << ", PyTorch " << want.shape().str());
  const Tolerance tol = tolerance<T>;
  int bad = 0;
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    const double g = got[i], w = want[i], err = std::abs(g - w);
    worst.abs = std::max(worst.abs, err);
    if (std::abs(w) > 1e-3) worst.rel = std::max(worst.rel, err / std::abs(w));
    worst.of_tolerance = std::max(worst.of_tolerance, err / (tol.atol + tol.rtol * std::abs(w)));
    if (!(err <= tol.atol + tol.rtol * std::abs(w)) && bad++ < 3) {
      BOOST_ERROR(what << "[" << i << "]: " << g << ", PyTorch " << w << " (error " << err << ")");
    }
  }
}

RecurrentMode mode_of(const std::string& mode) {
  if (mode == "RNN_TANH") return RecurrentMode::rnn_tanh;
  if (mode == "RNN_RELU") return RecurrentMode::rnn_relu;
  if (mode == "LSTM") return RecurrentMode::lstm;
  BOOST_REQUIRE(mode == "GRU");
  return RecurrentMode::gru;
}

// Builds the layer a golden file describes, loads its parameters by PyTorch name, runs forward
// and backward with the file's seeds, and compares everything the file holds.
template <class T>
void check_case(const std::string& name, bool fused, Worst& worst) {
  const std::string suffix = sizeof(T) == 4 ? ".f32" : ".f64";
  const SafetensorsFile file =
      load_safetensors(std::string(TAPELOOP_GOLDEN_DIR) + "/" + name + suffix + ".safetensors");
  const RecurrentMode mode = mode_of(file.metadata().at("mode"));
  const bool lstm = mode == RecurrentMode::lstm;
  RecurrentOptions o;
  o.input_size = std::stoll(file.metadata().at("input_size"));
  o.hidden_size = std::stoll(file.metadata().at("hidden_size"));
  o.num_layers = std::stoi(file.metadata().at("num_layers"));
  o.bidirectional = file.metadata().at("bidirectional") == "1";
  o.batch_first = file.metadata().at("batch_first") == "1";
  o.fused = fused;
  Generator rng(1);
  RecurrentLayer<T> layer(mode, o, rng);

  // Parameters move in by name: each of ours is in the file with PyTorch's shape, and the file
  // has no parameter we lack.
  const auto named = layer.named_parameters();
  std::size_t params_in_file = 0;
  for (const std::string& n : file.names()) {
    params_in_file += n.rfind("weight_", 0) == 0 || n.rfind("bias_", 0) == 0;
  }
  BOOST_TEST(params_in_file == named.size());
  for (const auto& [n, p] : named) {
    BOOST_REQUIRE_MESSAGE(file.contains(n), "no " << n << " in the golden file");
    Tensor<T> value = file.tensor<T>(n);
    BOOST_REQUIRE_MESSAGE(value.shape() == p->shape(), n << ": ours " << p->shape().str()
                                                         << ", PyTorch " << value.shape().str());
    p->value() = value;
  }

  Tape<T> tape;
  const Tensor<T> x = file.tensor<T>("input"), h0 = file.tensor<T>("h0");
  const Var<T> input = tape.input(x.ref(), true);
  RecurrentState<T> initial{tape.input(h0.ref(), true), {}};
  Tensor<T> c0;
  if (lstm) {
    c0 = file.tensor<T>("c0");
    initial.c = tape.input(c0.ref(), true);
  }
  std::vector<std::int64_t> lengths;
  if (file.contains("lengths")) {
    for (T v : file.tensor<T>("lengths")) lengths.push_back(static_cast<std::int64_t>(v));
  }
  const RecurrentResult<T> r = layer.forward(tape, input, initial, lengths);
  compare("output", r.output.value(), file.tensor<T>("output"), worst);
  compare("h_n", r.h_n.value(), file.tensor<T>("h_n"), worst);
  if (lstm) compare("c_n", r.c_n.value(), file.tensor<T>("c_n"), worst);

  // loss = sum(output * dout) + sum(h_n * dh_n) [+ sum(c_n * dc_n)]: seed each with its factor.
  const Tensor<T> dout = file.tensor<T>("dout"), dh_n = file.tensor<T>("dh_n");
  const Tensor<T> dc_n = lstm ? file.tensor<T>("dc_n") : Tensor<T>();
  const Var<T> outputs[] = {r.output, r.h_n, r.c_n};
  const TensorRef<const T> seeds[] = {dout.ref(), dh_n.ref(), dc_n.ref()};
  const std::size_t count = lstm ? 3 : 2;
  layer.zero_grad();
  tape.backward(std::span<const Var<T>>(outputs, count),
                std::span<const TensorRef<const T>>(seeds, count));
  compare("grad.input", input.grad(), file.tensor<T>("grad.input"), worst);
  compare("grad.h0", initial.h.grad(), file.tensor<T>("grad.h0"), worst);
  if (lstm) compare("grad.c0", initial.c.grad(), file.tensor<T>("grad.c0"), worst);
  for (const auto& [n, p] : named) {
    compare("grad." + n, p->grad().ref(), file.tensor<T>("grad." + n), worst);
  }
}

template <class T>
void check_all_cases() {
  for (bool fused : {true, false}) {
    Worst worst;
    for (const char* name : cases) {
      BOOST_TEST_CONTEXT(name << (fused ? " fused" : " generic")) {
        check_case<T>(name, fused, worst);
      }
    }
    // Printed so that a change in accuracy is visible in the test log.
    std::printf(
        "golden %s %s: max abs error %.3g, max rel error %.3g (|want| > 1e-3), %.2f of the "
        "tolerance\n",
        sizeof(T) == 4 ? "float32" : "float64", fused ? "fused" : "generic", worst.abs, worst.rel,
        worst.of_tolerance);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_rnn_golden)

BOOST_AUTO_TEST_CASE(float32_layers_match_pytorch) {
  check_all_cases<float>();
}

BOOST_AUTO_TEST_CASE(float64_layers_match_pytorch) {
  check_all_cases<double>();
}

BOOST_AUTO_TEST_SUITE_END()
