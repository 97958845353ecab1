// The program's operator new and delete, counting allocations while `counting` is set. They
// replace the global ones, so exactly one file of a test executable includes this header.
// They pair new with malloc and delete with free on purpose.
#pragma once
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <atomic>
#include <cstdlib>
#include <new>

namespace tapeloop::testing {
inline std::atomic<bool> counting{false};
inline std::atomic<long> allocations{0};
inline void note_allocation() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace tapeloop::testing

void* operator new(std::size_t size) {
  tapeloop::testing::note_allocation();
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
