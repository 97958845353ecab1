// Arena: the bump allocator behind a tape; reset() keeps the memory so steady-state steps never
// touch the heap.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tapeloop {

/// Bump allocator over a list of blocks. Allocation is a pointer increment; nothing is freed
/// individually. reset() forgets every allocation but keeps the memory: when one recording
/// needed several blocks, reset() replaces them by one block as large as all of them, so the
/// next recording of the same size fits without asking the heap for anything.
class Arena {
 public:
  /// The largest allocation: PTRDIFF_MAX bytes, the C++ limit on the size of an object.
  static constexpr std::size_t max_bytes = PTRDIFF_MAX;

  explicit Arena(std::size_t initial_bytes = std::size_t{1} << 20);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  /// `bytes` of uninitialized memory aligned to `alignment` (a power of two, at most 64).
  /// Inline: a tape allocates two or three times per operator, and the common case is an
  /// add and a compare; moving to the next block is out of line.
  /// More than max_bytes throws ValueError.
  void* allocate(std::size_t bytes, std::size_t alignment = 64) {
    const std::size_t start = (offset_ + alignment - 1) & ~(alignment - 1);
    // start <= size_ (a block's size is a multiple of 64), so this cannot wrap as
    // start + bytes would for a huge request.
    if (bytes <= size_ - start) [[likely]] {
      offset_ = start + bytes;
      return data_ + start;
    }
    return allocate_in_next_block(bytes, alignment);
  }
  /// Room for `count` elements of T. Buffers of 64 bytes or more start on a cache line (a SIMD
  /// batch then never straddles two lines in a dense loop); smaller ones on 16 bytes only, so a
  /// one-element value or gradient takes 16 bytes of arena rather than 64 and a chain of small
  /// operators touches a quarter of the memory. No kernel relies on more: vector loads and
  /// stores are unaligned, as they must be for views, which start anywhere in a value.
  template <class T>
  T* allocate_array(std::size_t count) {
    if (count > max_bytes / sizeof(T)) [[unlikely]]
      throw_too_large(count, sizeof(T));
    const std::size_t bytes = count * sizeof(T);
    return static_cast<T*>(allocate(bytes, bytes < 64 ? 16 : 64));
  }

  /// Forgets all allocations; keeps (and coalesces) the memory. Checked, it hands out fresh
  /// memory instead (see set_checked).
  void reset();

  /// Checked mode, for finding references kept past a reset(): reset() fills what was handed
  /// out with NaN bytes (0xff), marks it unreadable to AddressSanitizer, and keeps it unused for
  /// one more reset before freeing it, so a stale reference reads NaN — or, under
  /// AddressSanitizer, is reported at the read (use-after-poison, then heap-use-after-free).
  /// It costs a fill and a heap allocation per reset, and twice the memory. On by default in
  /// Debug and sanitizer builds of the library, or when the environment variable
  /// TAPELOOP_CHECKED is 1 (0 turns it off).
  void set_checked(bool on) { checked_ = on; }
  bool checked() const { return checked_; }
  /// Bytes handed out since the last reset(), counting alignment padding.
  std::size_t bytes_in_use() const { return used_before_ + offset_; }
  /// Largest bytes_in_use() seen since construction or the last reset_peak().
  // bytes_in_use() only grows between resets, so the peak is only updated when it drops.
  std::size_t peak_bytes() const { return std::max(peak_, bytes_in_use()); }
  void reset_peak() { peak_ = bytes_in_use(); }
  /// Total bytes owned.
  std::size_t capacity() const;

  /// Throws ValueError: `count` elements of `size` bytes pass max_bytes (for callers that
  /// multiply a count by an object size before allocate()).
  [[noreturn]] static void throw_too_large(std::size_t count, std::size_t size);

 private:
  struct Block {
    std::byte* data;
    std::size_t size;
  };
  std::vector<Block> blocks_;
  std::size_t current_ = 0;  // index of the block being bumped
  // The current block's memory, copied out of blocks_ so the fast path reads no vector.
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t offset_ = 0;       // bytes used in the current block
  std::size_t used_before_ = 0;  // bytes used (or skipped) in the blocks before it
  std::size_t peak_ = 0;
  bool checked_;
  std::vector<Block> quarantine_;  // checked: the blocks of the recording before the last reset

  void* allocate_in_next_block(std::size_t bytes, std::size_t alignment);
  void add_block(std::size_t min_bytes);
  void use_block(std::size_t index);
  void reset_checked();
  void release_quarantine();
};

}  // namespace tapeloop
