// A steady-state training step performs no heap allocation, also when kernels run on two
// threads: every operator new and (outside sanitizer builds) every malloc is counted.
// The replaced operators below pair new with malloc and delete with free on purpose.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <atomic>
#include <cstdlib>
#include <new>

#include "support/check.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
void note_allocation() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

void* operator new(std::size_t size) {
  note_allocation();
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return ::operator new(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

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

BOOST_AUTO_TEST_SUITE_END()
