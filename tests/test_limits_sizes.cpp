// Sizes past what can exist: shapes whose element counts overflow, tensors and tape buffers larger
// than any address space, and operators whose results would be such shapes.
#include <cstdint>
#include <limits>
#include <new>
#include <vector>

#include "support/check.hpp"

using namespace tapeloop;

namespace {

constexpr std::int64_t p(int bits) {
  return std::int64_t{1} << bits;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_limits_sizes)

BOOST_AUTO_TEST_CASE(a_shape_holds_at_most_2_to_the_62_elements) {
  BOOST_TEST((Shape{p(62)}.numel() == p(62)));
  BOOST_TEST((Shape{p(31), p(31)}.numel() == p(62)));
  TAPELOOP_CHECK_THROW_MESSAGE((Shape{p(62) + 1}), ShapeError,
                               "shape []: appending dimension 4611686018427387905 overflows");
  TAPELOOP_CHECK_THROW_MESSAGE((Shape{p(31), p(31), 2}), ShapeError,
                               "shape [2147483648,2147483648]: appending dimension 2 overflows");
  TAPELOOP_CHECK_THROW_MESSAGE((Shape{-1}), ShapeError, "negative dimension -1");
  // Zero dimensions are left out of the product: an empty shape cannot hide dimensions whose
  // product overflows (its strides would), so [0, 2^40, 2^40] is refused. PyTorch accepts such
  // shapes; nothing can be done with them but overflow.
  TAPELOOP_CHECK_THROW_MESSAGE((Shape{0, p(40), p(40)}), ShapeError,
                               "shape [0,1099511627776]: appending dimension 1099511627776");
  BOOST_CHECK_THROW((Shape{0, std::numeric_limits<std::int64_t>::max()}), ShapeError);
  BOOST_TEST((Shape{0, p(31), p(31), 0}.numel() == 0));
  // A refused push_back leaves the shape as it was.
  Shape s{p(40)};
  BOOST_TEST(!s.can_append(p(23)));
  BOOST_CHECK_THROW(s.push_back(p(23)), ShapeError);
  BOOST_TEST(s == (Shape{p(40)}));
  BOOST_TEST(s.can_append(p(22)));
}

BOOST_AUTO_TEST_CASE(buffers_past_the_address_space_are_shape_errors) {
  // 2^61 floats or 2^60 doubles are 2^63 bytes, past PTRDIFF_MAX: a ShapeError before any
  // allocation (the byte count of 2^61 doubles used to wrap to 0 and the buffer was 64 bytes).
  TAPELOOP_CHECK_THROW_MESSAGE(
      Tensor<float>(Shape{p(61)}), ShapeError,
      "Tensor: shape [2305843009213693952] has 2305843009213693952 elements of 4 bytes, more "
      "than one buffer can hold");
  TAPELOOP_CHECK_THROW_MESSAGE(Tensor<double>::zeros(Shape{p(61)}), ShapeError,
                               "elements of 8 bytes");
  TAPELOOP_CHECK_THROW_MESSAGE(Tensor<double>::zeros(Shape{p(31), p(29)}), ShapeError,
                               "Tensor: shape [2147483648,536870912]");
  TAPELOOP_CHECK_THROW_MESSAGE(Tensor<float>::arange(0.0f, 3e38f, 1e-30f), ValueError, "arange: ");
  TAPELOOP_CHECK_THROW_MESSAGE(allocate_aligned<float>(-1), ValueError, "allocate_aligned: -1");
  TAPELOOP_CHECK_THROW_MESSAGE(allocate_aligned<double>(p(61)), ValueError, "allocate_aligned");

  Tape<float> tape;
  TAPELOOP_CHECK_THROW_MESSAGE(tape.full(Shape{p(62)}, 0.0f), ShapeError,
                               "full: shape [4611686018427387904]");
  TAPELOOP_CHECK_THROW_MESSAGE(tape.zeros(Shape{p(40), p(22)}), ShapeError, "full: shape");
  // A view whose shape claims more than its memory: refused before the copy.
  TAPELOOP_CHECK_THROW_MESSAGE(tape.input(TensorRef<const float>{nullptr, Shape{p(62)}}),
                               ShapeError, "input: shape [4611686018427387904]");
  BOOST_TEST(tape.size() == 0u);

  // The arena refuses what no allocation can hold instead of wrapping its offset.
  Arena arena(4096);
  BOOST_CHECK_THROW(arena.allocate_array<double>(std::size_t{1} << 61), ValueError);
  BOOST_CHECK_THROW(arena.allocate(std::numeric_limits<std::size_t>::max() - 8), ValueError);
  BOOST_TEST(arena.bytes_in_use() == 0u);
  BOOST_TEST(arena.allocate_array<float>(4) != nullptr);  // still usable
  BOOST_TEST(arena.bytes_in_use() == 16u);

  // A view at an offset near the int64 limit is refused (offset + size used to overflow).
  const Var<float> x = tape.input(Tensor<float>::zeros({4}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(
      record_view("window", x, std::numeric_limits<std::int64_t>::max(), Shape{2}, true),
      ShapeError, "window: view of 2 elements at offset 9223372036854775807 does not fit in [4]");
}

#if !defined(__SANITIZE_ADDRESS__)
// AddressSanitizer aborts on an allocation this large instead of returning null.
BOOST_AUTO_TEST_CASE(a_buffer_the_system_cannot_provide_is_bad_alloc) {
  // 2^60 bytes fits PTRDIFF_MAX but no x86-64 address space: the allocation is attempted and
  // refused, which is std::bad_alloc as for any C++ container.
  BOOST_CHECK_THROW(Tensor<float>(Shape{p(58)}), std::bad_alloc);
  Tape<float> tape(4096);
  BOOST_CHECK_THROW(tape.full(Shape{p(58)}, 1.0f), std::bad_alloc);
  // The tape and its arena are as they were.
  BOOST_TEST(tape.size() == 0u);
  BOOST_TEST(tape.arena().bytes_in_use() == 0u);
  BOOST_TEST(tape.full(Shape{4}, 1.0f).value()[3] == 1.0f);
}
#endif

BOOST_AUTO_TEST_CASE(operators_whose_result_would_overflow_name_themselves) {
  // Empty inputs make these results cost nothing to ask for; their shapes still cannot exist.
  Tape<float> tape;
  auto v = [&](const Shape& s) { return tape.input(Tensor<float>::zeros(s).ref()); };
  const Var<float> tall = v({p(31), 1, 0}), wide = v({1, p(32), 0});
  const std::size_t nodes = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(tall + wide, ShapeError,
                               "add: [2147483648,1,0] and [1,4294967296,0]: shape "
                               "[2147483648]: appending dimension 4294967296 overflows");
  TAPELOOP_CHECK_THROW_MESSAGE(where(tall, tall, wide), ShapeError, "where: ");
  BOOST_TEST(tape.size() == nodes);  // the failed calls recorded nothing
  // Broadcasting empty against empty within the limit is fine.
  BOOST_TEST((tall + v({1, p(31), 0})).shape() == (Shape{p(31), p(31), 0}));

  const Var<float> half = v({0, p(61)}), whole = v({0, p(62)});
  BOOST_TEST(concat({half, half}, 1).shape() == (Shape{0, p(62)}));
  TAPELOOP_CHECK_THROW_MESSAGE(concat({whole, whole}, 1), ShapeError,
                               "concat: shapes [0,4611686018427387904], [0,4611686018427387904]: "
                               "the sizes along axis 1 add up past the int64 range");
  TAPELOOP_CHECK_THROW_MESSAGE(concat({half, half, half}, 1), ShapeError,
                               "concat: [0,2305843009213693952] and [0,2305843009213693952] and "
                               "[0,2305843009213693952]: shape [0]: appending dimension");
  TAPELOOP_CHECK_THROW_MESSAGE(stack({half, half, half, half}, 0), ShapeError,
                               "stack: [0,2305843009213693952] and");
  TAPELOOP_CHECK_THROW_MESSAGE(matmul(v({p(20), p(31) - 1, 0}), v({p(20), 0, p(31) - 1})),
                               ShapeError,
                               "matmul: [1048576,2147483647,0] and [1048576,0,2147483647]");
  TAPELOOP_CHECK_THROW_MESSAGE(matmul(v({p(40), 0}), v({0, p(40)})), ShapeError,
                               "a matrix dimension exceeds the BLAS limit");
  const std::int64_t zeros[] = {0, 0, 0, 0};
  TAPELOOP_CHECK_THROW_MESSAGE(index_select(v({1, p(61), 0}), 0, zeros), ShapeError,
                               "index_select: [1,2305843009213693952,0]: shape");
}

BOOST_AUTO_TEST_SUITE_END()
