// RNN, LSTM and GRU layers: PyTorch's parameter names and initialization, gradcheck of whole
// unrolled layers, float against double, and the fused path against the generic cells.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "support/check.hpp"

#include "tapeloop/models/init.hpp"
#include "tapeloop/models/recurrent.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::testing::random_tensor;

namespace {

const RecurrentMode all_modes[] = {RecurrentMode::rnn_tanh, RecurrentMode::rnn_relu,
                                   RecurrentMode::lstm, RecurrentMode::gru};

RecurrentOptions small(int layers, bool bidirectional, bool bias = true) {
  RecurrentOptions o;
  o.input_size = 3;
  o.hidden_size = 2;
  o.num_layers = layers;
  o.bidirectional = bidirectional;
  o.bias = bias;
  return o;
}

// Everything a layer returns, flattened into one Var: output, h_n and (LSTM) c_n.
template <class T>
Var<T> flat(const RecurrentResult<T>& r) {
  std::vector<Var<T>> parts;
  for (const Var<T>& v : {r.output, r.h_n, r.c_n}) {
    if (!v.empty()) parts.push_back(reshape(v, Shape{v.numel()}));
  }
  return concat(parts, 0);
}

// Gradcheck inputs of a layer: x, h0, c0 (LSTM), then the parameters in named order.
std::vector<Tensor<double>> layer_inputs(RecurrentLayer<double>& layer, std::int64_t steps,
                                         std::int64_t batch, std::uint64_t seed) {
  const RecurrentOptions& o = layer.options();
  const std::int64_t states = o.num_layers * layer.directions();
  std::vector<Tensor<double>> in = {random_tensor({steps, batch, o.input_size}, seed),
                                    random_tensor({states, batch, o.hidden_size}, seed + 1)};
  if (layer.mode() == RecurrentMode::lstm) {
    in.push_back(random_tensor({states, batch, o.hidden_size}, seed + 2));
  }
  for (auto& [name, p] : layer.named_parameters()) in.push_back(p->value());
  return in;
}

// The layer as a function of those inputs, through forward_with.
template <class T>
Var<T> run_layer(RecurrentLayer<T>& layer, const std::vector<Var<T>>& v,
                 std::span<const std::int64_t> lengths) {
  const bool lstm = layer.mode() == RecurrentMode::lstm;
  const std::size_t first = lstm ? 3 : 2;
  const std::span<const Var<T>> weights(v.data() + first, v.size() - first);
  const RecurrentState<T> initial{v[1], lstm ? v[2] : Var<T>{}};
  return flat(layer.forward_with(weights, v[0].tape(), v[0], initial, lengths));
}

// Outputs and every gradient (input, h0, c0, each parameter) of one forward and backward pass
// with random seeds, through forward() and the layer's Parameters.
std::vector<double> values_and_gradients(RecurrentLayer<double>& layer, const Tensor<double>& x,
                                         const Tensor<double>& h0, const Tensor<double>& c0,
                                         std::span<const std::int64_t> lengths) {
  Tape<double> tape;
  const bool lstm = layer.mode() == RecurrentMode::lstm;
  const Var<double> input = tape.input(x.ref(), true);
  const RecurrentState<double> initial{tape.input(h0.ref(), true),
                                       lstm ? tape.input(c0.ref(), true) : Var<double>{}};
  layer.zero_grad();
  const Var<double> y = flat(layer.forward(tape, input, initial, lengths));
  Generator rng(5);
  const Tensor<double> seed = Tensor<double>::normal(y.shape(), 0.0, 1.0, rng);
  tape.backward(y, seed.ref());
  std::vector<double> out(y.value().begin(), y.value().end());
  for (const Var<double>& v : {input, initial.h, initial.c}) {
    if (!v.empty()) out.insert(out.end(), v.grad().begin(), v.grad().end());
  }
  for (auto& [name, p] : layer.named_parameters()) {
    out.insert(out.end(), p->grad().begin(), p->grad().end());
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_rnn_layers)

BOOST_AUTO_TEST_CASE(parameters_have_pytorchs_names_shapes_and_order) {
  RecurrentOptions o = small(2, true);
  o.input_size = 4;
  o.hidden_size = 6;
  Generator rng(1);
  LSTM<float> lstm(o, rng);
  const std::vector<std::pair<std::string, Shape>> want = {{"weight_ih_l0", {24, 4}},
                                                           {"weight_hh_l0", {24, 6}},
                                                           {"bias_ih_l0", {24}},
                                                           {"bias_hh_l0", {24}},
                                                           {"weight_ih_l0_reverse", {24, 4}},
                                                           {"weight_hh_l0_reverse", {24, 6}},
                                                           {"bias_ih_l0_reverse", {24}},
                                                           {"bias_hh_l0_reverse", {24}},
                                                           {"weight_ih_l1", {24, 12}},
                                                           {"weight_hh_l1", {24, 6}},
                                                           {"bias_ih_l1", {24}},
                                                           {"bias_hh_l1", {24}},
                                                           {"weight_ih_l1_reverse", {24, 12}},
                                                           {"weight_hh_l1_reverse", {24, 6}},
                                                           {"bias_ih_l1_reverse", {24}},
                                                           {"bias_hh_l1_reverse", {24}}};
  const auto named = lstm.named_parameters();
  BOOST_REQUIRE_EQUAL(named.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    BOOST_TEST(named[i].first == want[i].first);
    BOOST_TEST(named[i].second->shape() == want[i].second, want[i].first);
    BOOST_TEST(named[i].second->name() == want[i].first);
  }
  BOOST_TEST(&lstm.weight_ih(1, true) == named[12].second);
  BOOST_TEST(&lstm.bias_hh(0) == named[3].second);

  // Without biases, a GRU has the two weights per direction, 3H rows; an RNN has H rows.
  Generator rng2(2);
  GRU<double> gru(small(1, false, false), rng2);
  const auto g = gru.named_parameters();
  BOOST_REQUIRE_EQUAL(g.size(), 2u);
  BOOST_TEST(g[0].first == "weight_ih_l0");
  BOOST_TEST(g[1].second->shape() == (Shape{6, 2}));
  BOOST_CHECK_THROW(gru.bias_ih(0), ValueError);
  BOOST_CHECK_THROW(gru.weight_hh(0, true), ValueError);
  RNN<float> relu(small(1, false), rng2, Nonlinearity::relu);
  BOOST_TEST((relu.mode() == RecurrentMode::rnn_relu));
  BOOST_TEST(relu.weight_hh(0).shape() == (Shape{2, 2}));
  BOOST_TEST(std::string(relu.name()) == "RNN");
}

BOOST_AUTO_TEST_CASE(initialization_is_pytorchs_uniform_in_named_order) {
  // U(±1/sqrt(H)) for every parameter, drawn one after another from the generator.
  RecurrentOptions o = small(2, true);
  o.hidden_size = 9;
  Generator rng(7), replay(7);
  GRU<double> gru(o, rng);
  for (auto& [name, p] : gru.named_parameters()) {
    Tensor<double> want(p->shape());
    init::rnn_default(want, 9, replay);
    for (std::int64_t i = 0; i < want.numel(); ++i) {
      BOOST_TEST(p->value()[i] == want[i]);
      BOOST_TEST(std::abs(p->value()[i]) <= 1.0 / 3.0);
    }
  }
  BOOST_TEST(rng.next_u64() == replay.next_u64());  // and nothing else was drawn
}

BOOST_AUTO_TEST_CASE(gradcheck_whole_layers) {
  struct Config {
    int layers;
    bool bidirectional, bias, with_lengths, batch_first;
  };
  const Config configs[] = {
      {1, false, true, false, false}, {2, true, true, true, false}, {1, true, false, true, true}};
  for (RecurrentMode mode : all_modes) {
    for (const Config& c : configs) {
      for (std::int64_t steps : {1, 2, 5}) {
        RecurrentOptions o = small(c.layers, c.bidirectional, c.bias);
        Generator rng(3);
        RecurrentLayer<double> layer(mode, o, rng);
        std::vector<Tensor<double>> in = layer_inputs(layer, steps, 2, 40);
        std::vector<std::int64_t> lengths;
        if (c.with_lengths) lengths = {steps, steps / 2};
        if (c.batch_first) {
          o.batch_first = true;
          Generator rng2(3);
          layer = RecurrentLayer<double>(mode, o, rng2);
          in[0] = random_tensor({2, steps, o.input_size}, 40);
        }
        BOOST_TEST_CONTEXT(layer.name()
                           << " mode " << static_cast<int>(mode) << " layers " << c.layers
                           << " bidirectional " << c.bidirectional << " bias " << c.bias
                           << " lengths " << c.with_lengths << " T " << steps) {
          TAPELOOP_CHECK_GRADCHECK(
              [&layer, lengths](Tape<double>&, const std::vector<Var<double>>& v) {
                return run_layer(layer, v, lengths);
              },
              in);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(float_layers_match_double) {
  const std::int64_t lengths[] = {4, 2, 3};
  for (RecurrentMode mode : all_modes) {
    Generator rng(9);
    RecurrentLayer<double> layer(mode, small(2, true), rng);
    BOOST_TEST_CONTEXT(layer.name() << " mode " << static_cast<int>(mode)) {
      tapeloop::testing::check_float_matches_double(
          [&](auto& tape, const auto& v) {
            using T = typename std::decay_t<decltype(tape)>::value_type;
            Generator unused(0);  // the weights come from v
            RecurrentLayer<T> same(mode, small(2, true), unused);
            return run_layer(same, v, lengths);
          },
          layer_inputs(layer, 4, 3, 50));
    }
  }
}

BOOST_AUTO_TEST_CASE(fused_and_generic_steps_agree) {
  const std::int64_t lengths[] = {5, 1, 3};
  for (RecurrentMode mode : all_modes) {
    for (bool bias : {true, false}) {
      RecurrentOptions o = small(2, true, bias);
      o.batch_first = bias;  // both layouts, on the way
      Generator a(11), b(11);
      RecurrentLayer<double> fused(mode, o, a);
      o.fused = false;
      RecurrentLayer<double> generic(mode, o, b);
      const Tensor<double> x = random_tensor(bias ? Shape{3, 5, 3} : Shape{5, 3, 3}, 12);
      const Tensor<double> h0 = random_tensor({4, 3, 2}, 13), c0 = random_tensor({4, 3, 2}, 14);
      const std::vector<double> f = values_and_gradients(fused, x, h0, c0, lengths);
      const std::vector<double> g = values_and_gradients(generic, x, h0, c0, lengths);
      BOOST_REQUIRE_EQUAL(f.size(), g.size());
      double worst = 0;
      for (std::size_t i = 0; i < f.size(); ++i) worst = std::max(worst, std::abs(f[i] - g[i]));
      BOOST_TEST(worst < 1e-12, fused.name() << " mode " << static_cast<int>(mode) << " bias "
                                             << bias << ": max difference " << worst);
    }
  }
}

BOOST_AUTO_TEST_CASE(batch_first_is_the_transposed_time_major_layer) {
  Generator a(21), b(21);
  RecurrentOptions o = small(2, true);
  LSTM<double> time_major(o, a);
  o.batch_first = true;
  LSTM<double> batch_major(o, b);
  const Tensor<double> x = random_tensor({4, 3, 3}, 22);  // [T,B,I]
  Tape<double> tape;
  const Var<double> xt = tape.input(x.ref());
  const RecurrentResult<double> r1 = time_major.forward(tape, xt);
  const RecurrentResult<double> r2 = batch_major.forward(tape, transpose(xt, 0, 1));
  const Tensor<double> o1 = transpose(r1.output, 0, 1).to_tensor(), o2 = r2.output.to_tensor();
  BOOST_TEST(std::memcmp(o1.data(), o2.data(), sizeof(double) * o1.numel()) == 0);
  BOOST_TEST(std::memcmp(r1.c_n.value().data, r2.c_n.value().data, sizeof(double) * 24) == 0);
}

BOOST_AUTO_TEST_CASE(the_example_of_docs_recurrent_md) {
  Generator rng(0);
  Tape<float> tape;
  LSTM<float> lstm(
      {.input_size = 32, .hidden_size = 64, .num_layers = 2, .dropout = 0.2, .bidirectional = true},
      rng);
  const Var<float> x = tape.zeros({5, 3, 32}), h0 = tape.zeros({4, 3, 64});
  const std::int64_t lengths[] = {5, 2, 4};
  const RecurrentResult<float> r = lstm.forward(tape, x, {h0, h0}, lengths);
  BOOST_TEST(r.output.shape() == (Shape{5, 3, 128}));
  BOOST_TEST(r.h_n.shape() == (Shape{4, 3, 64}));
  BOOST_TEST(r.c_n.shape() == (Shape{4, 3, 64}));
}

BOOST_AUTO_TEST_SUITE_END()
