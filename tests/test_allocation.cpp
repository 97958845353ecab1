// A steady-state training step performs no heap allocation: every operator new and (outside
// sanitizer builds) every malloc in this binary is counted.
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
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

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

struct Model {
  Parameter<float> w{Tensor<float>::full({8}, 0.5f)};
  Parameter<float> b{Tensor<float>::zeros({8})};
};

// One training step: record, backward, SGD update. Returns the loss.
float train_step(Tape<float>& tape, Model& m, const Tensor<float>& x, const Tensor<float>& y,
                 const Tensor<float>& seed) {
  tape.clear();
  m.w.zero_grad();
  m.b.zero_grad();
  Var<float> w = m.w.var(tape);
  Var<float> h = tape.constant(x.ref());
  for (int layer = 0; layer < 4; ++layer) h = h * w + m.b.var(tape) / (h * h + 1.0f);
  Var<float> r = h - tape.constant(y.ref());
  Var<float> loss = r * r;
  tape.backward(loss, seed.ref());
  for (std::int64_t i = 0; i < 8; ++i) {
    m.w.value()[i] -= 0.01f * m.w.grad()[i];
    m.b.value()[i] -= 0.01f * m.b.grad()[i];
  }
  return r.value()[0];
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
  Tape<float> tape;
  Generator rng(3);
  const Tensor<float> x = Tensor<float>::uniform({8}, -1.0f, 1.0f, rng);
  const Tensor<float> y = Tensor<float>::uniform({8}, -1.0f, 1.0f, rng);
  const Tensor<float> seed = Tensor<float>::ones({8});
  for (int i = 0; i < 3; ++i) train_step(tape, m, x, y, seed);  // warm-up: the arena reaches its size
  allocations = 0;
  counting = true;
  for (int i = 0; i < 20; ++i) train_step(tape, m, x, y, seed);
  counting = false;
  BOOST_TEST(allocations.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
