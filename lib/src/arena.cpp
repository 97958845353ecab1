// Arena: block management for the bump allocator.
#include "tapeloop/arena.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>  // no-op macros unless AddressSanitizer is on
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

#include "tapeloop/errors.hpp"

namespace tapeloop {
namespace {

constexpr std::size_t block_alignment = 64;

// TAPELOOP_CHECKED_DEFAULT is set by the build (Debug and sanitizer builds); the environment
// variable overrides it either way.
bool checked_by_default() {
  static const bool on = [] {
    const char* text = std::getenv("TAPELOOP_CHECKED");
    if (text != nullptr && std::strcmp(text, "1") == 0) return true;
    if (text != nullptr && std::strcmp(text, "0") == 0) return false;
#ifdef TAPELOOP_CHECKED_DEFAULT
    return true;
#else
    return false;
#endif
  }();
  return on;
}

std::byte* allocate_block(std::size_t bytes) {
  bytes = (bytes + block_alignment - 1) / block_alignment * block_alignment;
  void* p = std::aligned_alloc(block_alignment, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}

}  // namespace

Arena::Arena(std::size_t initial_bytes) : checked_(checked_by_default()) {
  blocks_.reserve(8);
  quarantine_.reserve(8);  // reset() swaps the two: neither then grows in steady state
  add_block(std::max<std::size_t>(initial_bytes, 4096));
  use_block(0);
}

Arena::~Arena() {
  for (Block& b : blocks_) std::free(b.data);
  release_quarantine();
}

void Arena::release_quarantine() {
  for (Block& b : quarantine_) {
    ASAN_UNPOISON_MEMORY_REGION(b.data, b.size);
    std::free(b.data);
  }
  quarantine_.clear();
}

void Arena::add_block(std::size_t min_bytes) {
  std::size_t size = blocks_.empty() ? min_bytes : std::max(min_bytes, 2 * blocks_.back().size);
  size = (size + block_alignment - 1) / block_alignment * block_alignment;
  blocks_.push_back({allocate_block(size), size});
}

void Arena::use_block(std::size_t index) {
  current_ = index;
  data_ = blocks_[index].data;
  size_ = blocks_[index].size;
  offset_ = 0;
}

void Arena::throw_too_large(std::size_t count, std::size_t size) {
  const std::string what =
      size == 1 ? std::to_string(count) + " bytes"
                : std::to_string(count) + " elements of " + std::to_string(size) + " bytes";
  throw ValueError("Arena: " + what + ": more than one allocation can hold (PTRDIFF_MAX bytes)");
}

void* Arena::allocate_in_next_block(std::size_t bytes, std::size_t alignment) {
  if (bytes > max_bytes) throw_too_large(bytes, 1);
  // The rest of this block is wasted (and counted as in use); move on to the next one, making
  // it if needed. A fresh block is 64-byte aligned, so the allocation starts at its beginning.
  // The block is made before anything is counted, so that one the system refuses
  // (std::bad_alloc) leaves the arena as it was.
  if (current_ + 1 == blocks_.size()) add_block(bytes + alignment);
  used_before_ += size_;
  use_block(current_ + 1);
  return allocate(bytes, alignment);
}

void Arena::reset() {
  peak_ = peak_bytes();
  if (!quarantine_.empty()) [[unlikely]]
    release_quarantine();
  if (checked_) [[unlikely]] {
    reset_checked();
    return;
  }
  if (blocks_.size() > 1) {
    const std::size_t total = capacity();
    for (Block& b : blocks_) std::free(b.data);
    blocks_.clear();
    add_block(total);
  }
  use_block(0);
  used_before_ = 0;
}

void Arena::reset_checked() {
  const std::size_t total = capacity();
  // What was handed out becomes NaN (0xff bytes are a NaN in float and double) and, under
  // AddressSanitizer, unreadable; freed only at the next reset, after which ASan's own
  // quarantine reports a read as heap-use-after-free.
  for (std::size_t i = 0; i <= current_ && i < blocks_.size(); ++i) {
    const std::size_t used = i < current_ ? blocks_[i].size : offset_;
    std::memset(blocks_[i].data, 0xff, used);
    ASAN_POISON_MEMORY_REGION(blocks_[i].data, blocks_[i].size);
  }
  std::swap(blocks_, quarantine_);  // swapping keeps both vectors' capacity: no operator new
  add_block(total);
  use_block(0);
  used_before_ = 0;
}

std::size_t Arena::capacity() const {
  std::size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return total;
}

}  // namespace tapeloop
