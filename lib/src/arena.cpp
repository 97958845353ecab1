// Arena: block management for the bump allocator.
#include "tapeloop/arena.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace tapeloop {
namespace {

constexpr std::size_t block_alignment = 64;

std::byte* allocate_block(std::size_t bytes) {
  bytes = (bytes + block_alignment - 1) / block_alignment * block_alignment;
  void* p = std::aligned_alloc(block_alignment, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}

}  // namespace

Arena::Arena(std::size_t initial_bytes) {
  blocks_.reserve(8);
  add_block(std::max<std::size_t>(initial_bytes, 4096));
  current_ = 0;
}

Arena::~Arena() {
  for (Block& b : blocks_) std::free(b.data);
}

void Arena::add_block(std::size_t min_bytes) {
  std::size_t size = blocks_.empty() ? min_bytes : std::max(min_bytes, 2 * blocks_.back().size);
  size = (size + block_alignment - 1) / block_alignment * block_alignment;
  blocks_.push_back({allocate_block(size), size});
}

void* Arena::allocate(std::size_t bytes, std::size_t alignment) {
  for (;;) {
    Block& b = blocks_[current_];
    const std::size_t start = (offset_ + alignment - 1) & ~(alignment - 1);
    if (start + bytes <= b.size) {
      in_use_ += start + bytes - offset_;
      peak_ = std::max(peak_, in_use_);
      offset_ = start + bytes;
      return b.data + start;
    }
    // The rest of this block is wasted; move on to the next one, making it if needed.
    in_use_ += b.size - offset_;
    if (current_ + 1 == blocks_.size()) add_block(bytes + alignment);
    ++current_;
    offset_ = 0;
  }
}

void Arena::reset() {
  if (blocks_.size() > 1) {
    const std::size_t total = capacity();
    for (Block& b : blocks_) std::free(b.data);
    blocks_.clear();
    add_block(total);
  }
  current_ = 0;
  offset_ = 0;
  in_use_ = 0;
}

std::size_t Arena::capacity() const {
  std::size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return total;
}

}  // namespace tapeloop
