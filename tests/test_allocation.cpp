// A steady-state training step performs no heap allocation, also when kernels run on two
// threads: every operator new and (outside sanitizer builds) every malloc is counted.
#include <atomic>
#include <cstdlib>
#include <new>

#include "support/check.hpp"
#include "support/counting_operator_new.hpp"
#include "tapeloop/models/cells.hpp"
#include "tapeloop/models/char_model.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/recurrent.hpp"

using tapeloop::testing::allocations;
using tapeloop::testing::counting;
using tapeloop::testing::note_allocation;

#if !defined(__SANITIZE_ADDRESS__)
// glibc's own entry points, so C allocations (aligned_alloc in the arena, BLAS buffers) count too.
extern "C" void* __libc_malloc(std::size_t);
extern "C" void* __libc_calloc(std::size_t, std::size_t);
extern "C" void* __libc_realloc(void*, std::size_t);
extern "C" void* __libc_memalign(std::size_t, std::size_t);
extern "C" void* malloc(std::size_t size) {
  note_allocation();
  return __libc_malloc(size);
}
extern "C" void* calloc(std::size_t n, std::size_t size) {
  note_allocation();
  return __libc_calloc(n, size);
}
extern "C" void* realloc(void* p, std::size_t size) {
  note_allocation();
  return __libc_realloc(p, size);
}
extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) {
  note_allocation();
  return __libc_memalign(alignment, size);
}
extern "C" int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  note_allocation();
  *out = __libc_memalign(alignment, size);
  return *out ? 0 : ENOMEM;
}
#endif

using namespace tapeloop;

namespace {

constexpr std::int64_t vocab = 10, embed = 6, hidden = 8, batch = 4, steps = 5, classes = 3;

// A small recurrent classifier touching most operators: an embedding lookup, a tanh RNN over
// time-step views, gates, reductions, several losses.
struct Model {
  Generator rng{11};
  Parameter<float> embedding{Tensor<float>::normal({vocab, embed}, 0.0f, 0.5f, rng)};
  Parameter<float> w_xh{Tensor<float>::normal({embed, hidden}, 0.0f, 0.3f, rng)};
  Parameter<float> w_hh{Tensor<float>::normal({hidden, hidden}, 0.0f, 0.3f, rng)};
  Parameter<float> b_h{Tensor<float>::zeros({hidden})};
  Parameter<float> w_hy{Tensor<float>::normal({hidden, classes}, 0.0f, 0.3f, rng)};

  Parameter<float>* all[5] = {&embedding, &w_xh, &w_hh, &b_h, &w_hy};
};

struct Batch {
  std::int64_t tokens[steps * batch];
  std::int64_t labels[batch];
  Tensor<float> target = Tensor<float>::zeros({batch, hidden});
};

float train_step(Tape<float>& tape, Model& m, const Batch& data) {
  tape.clear();
  for (Parameter<float>* p : m.all) p->zero_grad();
  Var<float> emb =
      index_select(m.embedding.var(tape), 0, std::span<const std::int64_t>(data.tokens));
  Var<float> xs = reshape(emb, Shape{steps, batch, embed});
  Var<float> w_xh = m.w_xh.var(tape), w_hh = m.w_hh.var(tape), b_h = m.b_h.var(tape);
  Var<float> projected = matmul(xs, w_xh);  // all steps in one GEMM: [T,B,H]
  Var<float> h = tanh(select(projected, 0, 0) + b_h);
  Var<float> gates = sigmoid(h);
  for (std::int64_t t = 1; t < steps; ++t) {
    Var<float> pre = select(projected, 0, t) + matmul(h, w_hh) + b_h;
    Var<float> both = concat({pre, gates}, 1);
    h = tanh(narrow(both, 1, 0, hidden)) * sigmoid(narrow(both, 1, hidden, hidden));
    gates = relu(h) + clamp(h, -0.5f, 0.5f);
  }
  Var<float> logits = matmul(h, m.w_hy.var(tape));
  Var<float> loss = cross_entropy(logits, std::span<const std::int64_t>(data.labels));
  Var<float> target = tape.constant(data.target.ref());
  loss = loss + mse_loss(h, target) + 0.1f * mean(sum(softmax(logits) * log_softmax(logits), 1));
  loss = loss +
         0.01f * sum(where(gates, exp(-abs(h)), select(transpose(stack({h, h}, 0), 0, 1), 1, 0)));
  tape.backward(loss);
  for (Parameter<float>* p : m.all) {
    for (std::int64_t i = 0; i < p->numel(); ++i) p->value()[i] -= 0.1f * p->grad()[i];
  }
  return loss.item();
}

// The recurrent building blocks: Embedding, Linear, Dropout modules, the generic and fused
// LSTM and GRU cells over a projected input, and the generic RNN cell.
struct RecurrentModel : models::Module<float> {
  Generator rng{12};
  models::Embedding<float> embedding{vocab, embed, rng};
  models::Linear<float> input{embed, 4 * hidden, rng};  // x W_ih^T + b_ih for every step at once
  Parameter<float> w_hh{Tensor<float>::normal({4 * hidden, hidden}, 0.0f, 0.3f, rng)};
  Parameter<float> b_hh{Tensor<float>::zeros({4 * hidden})};
  Parameter<float> w_gru{Tensor<float>::normal({3 * hidden, hidden}, 0.0f, 0.3f, rng)};
  Parameter<float> w_rnn{Tensor<float>::normal({hidden, hidden}, 0.0f, 0.3f, rng)};
  models::Linear<float> out{hidden, classes, rng};
  models::Dropout drop{0.2, 13};
  void visit(models::ModuleVisitor<float>& v) override {
    v.module("embedding", embedding);
    v.module("input", input);
    v.parameter("w_hh", w_hh);
    v.parameter("b_hh", b_hh);
    v.parameter("w_gru", w_gru);
    v.parameter("w_rnn", w_rnn);
    v.module("out", out);
    v.module("drop", drop);
  }
};

float recurrent_step(Tape<float>& tape, RecurrentModel& m, const Batch& data) {
  tape.clear();
  m.zero_grad();
  Var<float> xs = m.drop.forward(m.embedding.forward(tape, data.tokens, Shape{steps, batch}));
  Var<float> xw = m.input.forward(xs);  // [T,B,4H]
  Var<float> w_hh = m.w_hh.var(tape), b_hh = m.b_hh.var(tape);
  Var<float> w_gru = m.w_gru.var(tape), w_rnn = m.w_rnn.var(tape);
  Var<float> zero = tape.constant(data.target.ref());
  LstmState<float> generic{zero, zero}, fused{zero, zero};
  Var<float> g = zero, r = zero;
  for (std::int64_t t = 0; t < steps; ++t) {
    Var<float> x_t = select(xw, 0, t);
    generic = models::lstm_cell_projected(x_t, generic, w_hh, b_hh);
    fused = lstm_cell_fused(x_t + linear(fused.h, w_hh, b_hh), fused.c);
    Var<float> gi = narrow(x_t, 1, 0, 3 * hidden);
    g = gru_cell_fused(gi, linear(g, w_gru), g) + models::gru_cell_projected(gi, g, w_gru) * 0.0f;
    r = models::rnn_cell_tanh_projected(narrow(x_t, 1, 0, hidden), r, w_rnn);
  }
  Var<float> h = generic.h + fused.h + g + dropout(r, 0.1f, m.drop.generator());
  Var<float> loss = cross_entropy(m.out.forward(h), std::span<const std::int64_t>(data.labels));
  tape.backward(loss);
  for (Parameter<float>* p : {&m.w_hh, &m.b_hh, &m.w_gru, &m.w_rnn, &m.input.weight}) {
    for (std::int64_t i = 0; i < p->numel(); ++i) p->value()[i] -= 0.1f * p->grad()[i];
  }
  return loss.item();
}

// The LSTM layer as a training loop uses it: two layers, bidirectional, dropout between them,
// padded sequences of different lengths, read out at the top layer's final states.
struct LstmLayerModel {
  Generator rng{14};
  models::LSTM<float> lstm;
  models::Linear<float> out{2 * hidden, classes, rng};
  std::vector<Parameter<float>*> params;  // listed once: named_parameters() allocates

  explicit LstmLayerModel(int checkpoint) : lstm(options(checkpoint), rng) {
    for (Parameter<float>* p : lstm.parameters()) params.push_back(p);
    for (Parameter<float>* p : out.parameters()) params.push_back(p);
  }
  static models::RecurrentOptions options(int checkpoint) {
    models::RecurrentOptions o;
    o.input_size = embed;
    o.hidden_size = hidden;
    o.num_layers = 2;
    o.bidirectional = true;
    o.dropout = 0.2;
    o.dropout_seed = 15;
    o.checkpoint = checkpoint;
    return o;
  }
};

float lstm_layer_step(Tape<float>& tape, LstmLayerModel& m, const Tensor<float>& xs,
                      const Batch& data, std::span<const std::int64_t> lengths) {
  tape.clear();
  m.lstm.zero_grad();
  m.out.zero_grad();
  const models::RecurrentResult<float> r =
      m.lstm.forward(tape, tape.constant(xs.ref()), {}, lengths);
  // h_n [4,B,H]: entries 2 and 3 are the top layer's forward and reverse final states.
  Var<float> top = concat({select(r.h_n, 0, 2), select(r.h_n, 0, 3)}, 1);
  Var<float> loss = cross_entropy(m.out.forward(top), std::span<const std::int64_t>(data.labels));
  loss = loss + 0.01f * mean(r.output * r.output) + 0.01f * mean(r.c_n);
  tape.backward(loss);
  for (Parameter<float>* p : m.params) {
    for (std::int64_t i = 0; i < p->numel(); ++i) p->value()[i] -= 0.1f * p->grad()[i];
  }
  return loss.item();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_allocation)

BOOST_AUTO_TEST_CASE(the_counter_sees_allocations) {
  allocations = 0;
  counting = true;
  auto* p = new int(3);
  void* q = std::malloc(16);
  counting = false;
  delete p;
  std::free(q);
#if defined(__SANITIZE_ADDRESS__)
  BOOST_TEST(allocations.load() >= 1);
#else
  BOOST_TEST(allocations.load() >= 2);
#endif
}

BOOST_AUTO_TEST_CASE(steady_state_training_step_does_not_allocate) {
  Model m;
  Batch data;
  Generator rng(3);
  for (std::int64_t& token : data.tokens) token = static_cast<std::int64_t>(rng.below(vocab));
  for (std::int64_t& label : data.labels) label = static_cast<std::int64_t>(rng.below(classes));
  Tape<float> tape(4096, 16);  // start small so the warm-up has to grow both
  const float first = train_step(tape, m, data);
  for (int i = 0; i < 3; ++i) train_step(tape, m, data);  // the arena reaches its size
  allocations = 0;
  counting = true;
  float last = 0;
  for (int i = 0; i < 20; ++i) last = train_step(tape, m, data);
  counting = false;
  BOOST_TEST(allocations.load() == 0);
  BOOST_TEST(last < first);  // and it is training
}

BOOST_AUTO_TEST_CASE(steady_state_recurrent_step_does_not_allocate) {
  RecurrentModel m;
  Batch data;
  Generator rng(4);
  for (std::int64_t& token : data.tokens) token = static_cast<std::int64_t>(rng.below(vocab));
  for (std::int64_t& label : data.labels) label = static_cast<std::int64_t>(rng.below(classes));
  Tape<float> tape(4096, 16);
  for (int i = 0; i < 4; ++i) recurrent_step(tape, m, data);
  allocations = 0;
  counting = true;
  for (int i = 0; i < 20; ++i) recurrent_step(tape, m, data);
  counting = false;
  BOOST_TEST(allocations.load() == 0);
}

BOOST_AUTO_TEST_CASE(optimizer_steps_and_clipping_do_not_allocate) {
  // State is allocated when an optimizer is made; step() only reads and writes it.
  Model m;
  std::span<Parameter<float>* const> params(m.all);
  for (Parameter<float>* p : params) p->grad().fill(0.01f);
  SGD<float> sgd(params, {.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true});
  RMSProp<float> rmsprop(params, {.weight_decay = 1e-4, .momentum = 0.9, .centered = true});
  Adam<float> adam(params, {.weight_decay = 1e-4, .amsgrad = true});
  AdamW<float> adamw(params);
  allocations = 0;
  counting = true;
  for (int i = 0; i < 5; ++i) {
    clip_grad_norm(params, 1.0);
    clip_grad_value(params, 0.5);
    sgd.step();
    rmsprop.step();
    adam.step();
    adamw.set_learning_rate(1e-3 * (i + 1));
    adamw.step();
  }
  adamw.zero_grad();
  counting = false;
  BOOST_TEST(allocations.load() == 0);
}

BOOST_AUTO_TEST_CASE(steady_state_lstm_layer_step_does_not_allocate) {
  Batch data;
  Generator rng(5);
  for (std::int64_t& label : data.labels) label = static_cast<std::int64_t>(rng.below(classes));
  const Tensor<float> xs = Tensor<float>::normal({steps, batch, embed}, 0.0f, 1.0f, rng);
  const std::int64_t lengths[batch] = {5, 2, 4, 1};
  for (int checkpoint : {0, 2}) {  // full BPTT, and segments recorded again in backward
    BOOST_TEST_CONTEXT("checkpoint " << checkpoint) {
      LstmLayerModel m(checkpoint);
      Tape<float> tape(4096, 16);
      const float first = lstm_layer_step(tape, m, xs, data, lengths);
      for (int i = 0; i < 3; ++i) lstm_layer_step(tape, m, xs, data, lengths);
      allocations = 0;
      counting = true;
      float last = 0;
      for (int i = 0; i < 20; ++i) last = lstm_layer_step(tape, m, xs, data, lengths);
      counting = false;
      BOOST_TEST(allocations.load() == 0);
      BOOST_TEST(last < first);
    }
  }
}

BOOST_AUTO_TEST_CASE(stateful_tbptt_step_does_not_allocate) {
  // The char-model loop over a long stream: each window starts from the Carry's detached
  // state, is trained (clip, Adam, a schedule) and hands its final state on. Nothing touches the
  // heap.
  Generator rng(16);
  models::CharModel model({.vocabulary = vocab, .embedding = embed, .hidden = hidden, .layers = 2},
                          rng);
  std::vector<Parameter<float>*> params = model.parameters();
  Adam<float> adam(params, {.lr = 0.01});
  WarmupCosineLR schedule(adam, 5, 100);
  Carry<float> carry = model.carry(batch);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(20 * (steps + 1) * batch));
  for (std::int64_t& id : ids) id = static_cast<std::int64_t>(rng.below(vocab));
  Tape<float> tape(4096, 16);
  std::int64_t window = 0;
  auto step = [&] {
    const std::span<const std::int64_t> all(ids);
    const std::size_t at = static_cast<std::size_t>(window++ % 20) * (steps + 1) * batch;
    tape.clear();
    adam.zero_grad();
    const models::CharModelResult r =
        model.forward(tape, all.subspan(at, steps * batch), steps, batch, carry.read(tape));
    Var<float> loss = cross_entropy(r.logits, all.subspan(at + batch, steps * batch),
                                    {.ignore_index = 0, .label_smoothing = 0.1});
    tape.backward(loss);
    carry.write(r.state);
    clip_grad_norm(std::span<Parameter<float>* const>(params), 1.0);
    adam.step();
    schedule.step();
  };
  for (int i = 0; i < 4; ++i) step();
  allocations = 0;
  counting = true;
  for (int i = 0; i < 20; ++i) step();
  counting = false;
  BOOST_TEST(allocations.load() == 0);
}

BOOST_AUTO_TEST_CASE(parallel_kernels_do_not_allocate) {
  // Operators large enough to run on two threads (elementwise, broadcast backward, sums):
  // after warm-up, the TBB path allocates nothing either.
  const int before = num_threads();
  set_num_threads(2);
  Generator rng(5);
  Parameter<float> w(Tensor<float>::normal({256, 512}, 0.0f, 1.0f, rng));
  Parameter<float> b(Tensor<float>::normal({512}, 0.0f, 1.0f, rng));
  Tape<float> tape;
  auto step = [&] {
    tape.clear();
    w.zero_grad();
    b.zero_grad();
    Var<float> h = tanh(w.var(tape) + b.var(tape)) * sigmoid(w.var(tape));
    Var<float> loss = mean(exp(-abs(h))) + sum(mean(h, 0));
    tape.backward(loss);
    return loss.item();
  };
  for (int i = 0; i < 3; ++i) step();
  allocations = 0;
  counting = true;
  for (int i = 0; i < 20; ++i) step();
  counting = false;
  BOOST_TEST(allocations.load() == 0);
  set_num_threads(before);
}

BOOST_AUTO_TEST_CASE(matrix_products_on_every_path_do_not_allocate) {
  // Products on tapeloop's own kernel (up to 100^3 multiply-adds, in one piece and split over
  // threads) and on the BLAS (in one call and in blocks), in all three layouts (matmul's
  // forward, the A- and B-gradients; linear's forward reads W transposed): on AVX-512 CPUs
  // OpenBLAS's small-matrix kernels allocate on every call, so none may ever reach them.
  const int before = num_threads();
  Generator rng(6);
  const std::int64_t shapes[][3] = {{1, 128, 32}, {64, 96, 128}, {128, 96, 160}, {256, 256, 128}};
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const auto& s : shapes) {
      BOOST_TEST_CONTEXT(threads << " threads, " << s[0] << "x" << s[1] << "x" << s[2]) {
        Parameter<float> a(Tensor<float>::normal({s[0], s[2]}, 0.0f, 1.0f, rng));
        Parameter<float> b(Tensor<float>::normal({s[2], s[1]}, 0.0f, 1.0f, rng));
        Parameter<float> w(Tensor<float>::normal({s[1], s[2]}, 0.0f, 1.0f, rng));
        Tape<float> tape;
        auto step = [&] {
          tape.clear();
          a.zero_grad();
          b.zero_grad();
          w.zero_grad();
          Var<float> y = matmul(a.var(tape), b.var(tape)) + linear(a.var(tape), w.var(tape));
          tape.backward(sum(y));
        };
        for (int i = 0; i < 3; ++i) step();
        allocations = 0;
        counting = true;
        for (int i = 0; i < 10; ++i) step();
        counting = false;
        BOOST_TEST(allocations.load() == 0);
      }
    }
  }
  set_num_threads(before);
}

BOOST_AUTO_TEST_SUITE_END()
