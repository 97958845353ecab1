// Module, Linear, Embedding and Dropout: dotted parameter names, zero_grad, modes, init, forward.
#include <cmath>

#include "support/check.hpp"

#include "tapeloop/models.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

// A user model: a submodule holding a submodule, a parameter of its own, and a Dropout.
struct Encoder : Module<float> {
  Embedding<float> embed;
  Linear<float> proj;
  explicit Encoder(Generator& rng) : embed(10, 4, rng), proj(4, 3, rng, false) {}
  void visit(ModuleVisitor<float>& v) override {
    v.module("embed", embed);
    v.module("proj", proj);
  }
};

struct Model : Module<float> {
  Encoder encoder;
  Parameter<float> scale{Tensor<float>::ones({1})};
  Linear<float> out;
  Dropout drop{0.5, 3};
  explicit Model(Generator& rng) : encoder(rng), out(3, 2, rng) {}
  void visit(ModuleVisitor<float>& v) override {
    v.module("encoder", encoder);
    v.parameter("scale", scale);
    v.module("out", out);
    v.module("drop", drop);
  }
};

// What a visitor accepts as a part: modules of its own scalar type and parameter-free parts;
// a module of the other scalar type is a compile error, not a silently skipped part.
template <class V, class M>
concept registrable = requires(V& v, M& m) {
  v.module("part", m);
};
static_assert(registrable<ModuleVisitor<float>, Linear<float>>);
static_assert(registrable<ModuleVisitor<float>, Dropout>);
static_assert(!registrable<ModuleVisitor<float>, Linear<double>>);

}  // namespace

BOOST_AUTO_TEST_SUITE(test_module)

BOOST_AUTO_TEST_CASE(named_parameters_are_dotted_and_in_visit_order) {
  Generator rng(1);
  Model m(rng);
  const auto named = m.named_parameters();
  const std::vector<std::string> want = {"encoder.embed.weight", "encoder.proj.weight", "scale",
                                         "out.weight", "out.bias"};
  BOOST_REQUIRE_EQUAL(named.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) BOOST_TEST(named[i].first == want[i]);
  BOOST_TEST(named[0].second == &m.encoder.embed.weight);
  BOOST_TEST(named[3].second == &m.out.weight);
  const auto params = m.parameters();
  BOOST_TEST(params.size() == want.size());
  BOOST_TEST(params[4] == &*m.out.bias);
}

BOOST_AUTO_TEST_CASE(zero_grad_reaches_every_parameter) {
  Generator rng(2);
  Model m(rng);
  for (Parameter<float>* p : m.parameters()) p->grad().fill(3.0f);
  m.zero_grad();
  for (Parameter<float>* p : m.parameters())
    for (float g : p->grad()) BOOST_REQUIRE(g == 0.0f);
}

BOOST_AUTO_TEST_CASE(train_and_eval_reach_every_part) {
  Generator rng(3);
  Model m(rng);
  BOOST_TEST(m.training());
  m.eval();
  BOOST_TEST(!m.training());
  BOOST_TEST(!m.encoder.training());
  BOOST_TEST(!m.encoder.proj.training());
  BOOST_TEST(!m.drop.training());
  m.train();
  BOOST_TEST(m.drop.training());
  BOOST_TEST(m.encoder.embed.training());
}

BOOST_AUTO_TEST_CASE(a_module_copy_names_its_own_parameters) {
  // Nothing is stored but the mode, so a copy lists its own parameters, not the original's.
  Generator rng(4);
  Model a(rng);
  Model b = a;
  BOOST_TEST(b.named_parameters()[3].second == &b.out.weight);
  BOOST_TEST(b.out.weight.value()[0] == a.out.weight.value()[0]);
}

BOOST_AUTO_TEST_CASE(linear_initialization_and_forward) {
  Generator rng(5);
  Linear<double> layer(16, 100, rng);
  BOOST_TEST(layer.weight.shape() == (Shape{100, 16}));
  BOOST_TEST(layer.bias->shape() == (Shape{100}));
  // U(±1/sqrt(16)) = U(±0.25): inside the bound, and filling it (max |w| near 0.25).
  double largest = 0;
  for (double w : layer.weight.value()) largest = std::max(largest, std::abs(w));
  for (double b : layer.bias->value()) BOOST_REQUIRE(std::abs(b) <= 0.25);
  BOOST_TEST(largest <= 0.25);
  BOOST_TEST(largest > 0.24);
  BOOST_TEST(layer.in_features() == 16);
  BOOST_TEST(layer.out_features() == 100);

  Tape<double> tape;
  Var<double> x = tape.input(tapeloop::testing::random_tensor({3, 16}, 6).ref());
  Var<double> y = layer.forward(x);
  Var<double> ref = linear(x, layer.weight.var(tape), layer.bias->var(tape));
  for (std::int64_t i = 0; i < y.numel(); ++i) BOOST_TEST(y.value()[i] == ref.value()[i]);
  tape.backward(sum(y));
  BOOST_TEST(layer.bias->grad()[0] == 3.0);  // one per row

  Linear<float> no_bias(4, 2, rng, false);
  BOOST_TEST(!no_bias.bias.has_value());
  BOOST_TEST(no_bias.named_parameters().size() == 1u);
}

BOOST_AUTO_TEST_CASE(embedding_looks_up_rows_and_scatters_gradients) {
  Generator rng(7);
  Embedding<double> emb(5, 3, rng);
  Tape<double> tape;
  const std::vector<std::int64_t> ids = {4, 0, 4, 2, 1, 4};
  Var<double> y = emb.forward(tape, ids, Shape{2, 3});
  BOOST_TEST(y.shape() == (Shape{2, 3, 3}));
  for (std::size_t k = 0; k < ids.size(); ++k)
    for (std::int64_t d = 0; d < 3; ++d)
      BOOST_TEST(y.value()[static_cast<std::int64_t>(k) * 3 + d] ==
                 emb.weight.value()[ids[k] * 3 + d]);
  tape.backward(sum(y));
  BOOST_TEST(emb.weight.grad()[4 * 3] == 3.0);  // id 4 used three times
  BOOST_TEST(emb.weight.grad()[3 * 3] == 0.0);  // id 3 never
  // N(0, 1) initialization: a rough look at the spread of a larger table.
  Embedding<double> big(100, 100, rng);
  double s2 = 0;
  for (double w : big.weight.value()) s2 += w * w;
  BOOST_TEST(std::abs(s2 / 10000 - 1.0) < 0.05);
}

BOOST_AUTO_TEST_CASE(embedding_errors) {
  Generator rng(8);
  Embedding<float> emb(5, 3, rng);
  Tape<float> tape;
  const std::vector<std::int64_t> ids = {1, 5, 2};
  TAPELOOP_CHECK_THROW_MESSAGE(emb.forward(tape, ids, Shape{3}), ValueError,
                               "Embedding: id 5 at position 1 is out of range for 5 embeddings");
  TAPELOOP_CHECK_THROW_MESSAGE(emb.forward(tape, ids, Shape{2, 2}), ShapeError,
                               "Embedding: 3 ids for ids of shape [2,2] (4 elements)");
}

BOOST_AUTO_TEST_CASE(dropout_module_drops_in_training_only) {
  Dropout drop(0.5, 9);
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::ones({1000}).ref(), true);
  Var<float> y = drop.forward(x);
  std::int64_t zeros = 0;
  for (float v : y.value()) zeros += v == 0.0f;
  BOOST_TEST(zeros > 400);
  BOOST_TEST(zeros < 600);
  drop.eval();
  BOOST_TEST(drop.forward(x).index() == x.index());  // the identity, no node
  TAPELOOP_CHECK_THROW_MESSAGE(Dropout(1.0), ValueError, "Dropout: p = 1 is outside [0, 1)");
}

BOOST_AUTO_TEST_SUITE_END()
