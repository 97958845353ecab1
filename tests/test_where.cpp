// where: selection, three-way broadcasting, gradients, float agreement, errors.
#include "support/check.hpp"
#include "tapeloop/ops/where.hpp"

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

namespace {

// A condition with exact zeros and nonzeros (of either sign): about half of each.
Tensor<double> random_condition(const Shape& shape, std::uint64_t seed) {
  Tensor<double> c = random_tensor(shape, seed);
  for (std::int64_t i = 0; i < c.numel(); ++i) c[i] = c[i] < 0.0 ? 0.0 : (c[i] < 0.5 ? 1.0 : -2.0);
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_where)

BOOST_AUTO_TEST_CASE(selects_a_where_condition_is_nonzero) {
  Tape<float> tape;
  Var<float> c = tape.input(Tensor<float>::from({2, 3}, {1, 0, -3, 0, 0.5f, 0}).ref());
  Var<float> a = tape.input(Tensor<float>::from({2, 3}, {1, 2, 3, 4, 5, 6}).ref());
  Var<float> b = tape.input(Tensor<float>::from({}, {-1}).ref());
  Var<float> y = where(c, a, b);
  BOOST_TEST(y.shape() == (Shape{2, 3}));
  const float expected[] = {1, -1, 3, -1, 5, -1};
  for (int i = 0; i < 6; ++i) BOOST_TEST(y.value()[i] == expected[i]);
}

BOOST_AUTO_TEST_CASE(broadcasts_all_three_operands) {
  // condition [2,1,1], a [3], b [2,1]: result [2,2,3].
  Tape<double> tape;
  Var<double> c = tape.input(Tensor<double>::from({2, 1, 1}, {1, 0}).ref());
  Var<double> a = tape.input(Tensor<double>::from({3}, {10, 20, 30}).ref(), true);
  Var<double> b = tape.input(Tensor<double>::from({2, 1}, {-1, -2}).ref(), true);
  Var<double> y = where(c, a, b);
  BOOST_TEST(y.shape() == (Shape{2, 2, 3}));
  const double expected[] = {10, 20, 30, 10, 20, 30, -1, -1, -1, -2, -2, -2};
  for (int i = 0; i < 12; ++i) BOOST_TEST(y.value()[i] == expected[i]);
  tape.backward(y, Tensor<double>::ones(y.shape()).ref());
  // a was selected in the first block of [2,3]: each of its elements twice.
  for (int i = 0; i < 3; ++i) BOOST_TEST(a.grad()[i] == 2.0);
  // b was selected in the second block: each element three times.
  for (int i = 0; i < 2; ++i) BOOST_TEST(b.grad()[i] == 3.0);
}

BOOST_AUTO_TEST_CASE(condition_gets_no_gradient) {
  Tape<double> tape;
  Var<double> c = tape.input(Tensor<double>::from({3}, {1, 0, 1}).ref(), true);
  Var<double> a = tape.input(Tensor<double>::from({3}, {1, 2, 3}).ref());
  Var<double> b = tape.input(Tensor<double>::from({3}, {4, 5, 6}).ref());
  // Only the condition requires a gradient: the result does not.
  BOOST_TEST(!where(c, a, b).requires_grad());
  Var<double> a2 = tape.input(Tensor<double>::from({3}, {1, 2, 3}).ref(), true);
  Var<double> y = where(c, a2, b);
  BOOST_TEST(y.requires_grad());
  tape.backward(y, Tensor<double>::ones({3}).ref());
  const double ga[] = {1, 0, 1};
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(a2.grad()[i] == ga[i]);
    BOOST_TEST(c.grad()[i] == 0.0);
  }
}

BOOST_AUTO_TEST_CASE(same_var_as_both_branches) {
  std::vector<Tensor<double>> in = {random_condition({2, 3}, 1), random_tensor({2, 3}, 2)};
  TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return where(x[0], x[1], x[1]); }, in);
}

BOOST_AUTO_TEST_CASE(gradcheck_with_broadcasting) {
  struct Case {
    Shape c, a, b;
  };
  const std::vector<Case> cases = {{{2, 3}, {2, 3}, {2, 3}},   {{2, 3}, {3}, {2, 1}},
                                   {{4, 1, 3}, {2, 1}, {}},    {{3}, {2, 3}, {1}},
                                   {{1}, {2, 2}, {2, 2}},      {{}, {3}, {2, 1}},
                                   {{2, 1, 4}, {1, 3, 1}, {4}}};
  std::uint64_t seed = 10;
  for (const Case& k : cases) {
    // The condition is an input too: gradcheck confirms it gets (and needs) no gradient,
    // since perturbing 0 by +-eps or a nonzero value never changes which branch is taken.
    std::vector<Tensor<double>> in = {random_condition(k.c, seed), random_tensor(k.a, seed + 1),
                                      random_tensor(k.b, seed + 2)};
    seed += 3;
    TAPELOOP_CHECK_GRADCHECK([](auto&, const auto& x) { return where(x[0], x[1], x[2]); }, in);
  }
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  std::vector<Tensor<double>> in = {random_condition({4, 1}, 20), random_tensor({4, 3}, 21),
                                    random_tensor({3}, 22)};
  check_float_matches_double([](auto&, const auto& x) { return where(x[0], x[1], x[2]); }, in);
}

BOOST_AUTO_TEST_CASE(errors_name_op_and_shapes) {
  Tape<float> tape;
  Var<float> c = tape.input(Tensor<float>::zeros({2, 3}).ref());
  Var<float> a = tape.input(Tensor<float>::zeros({4}).ref());
  Var<float> b = tape.input(Tensor<float>::zeros({2, 3}).ref());
  const std::size_t before = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(where(c, a, b), ShapeError,
                               "where: condition [2,3], a [4], b [2,3]: cannot broadcast");
  TAPELOOP_CHECK_THROW_MESSAGE(where(c, b, a), ShapeError,
                               "where: condition [2,3], a [2,3], b [4]: cannot broadcast");
  BOOST_TEST(tape.size() == before);

  Tape<float> other;
  Var<float> foreign = other.input(Tensor<float>::zeros({2, 3}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(where(foreign, b, b), TapeError,
                               "where: the Var belongs to another tape");
  TAPELOOP_CHECK_THROW_MESSAGE(where(c, foreign, b), TapeError, "where");
  TAPELOOP_CHECK_THROW_MESSAGE(where(Var<float>(), b, b), TapeError, "where: empty Var");
  tape.clear();
  Var<float> fresh = tape.input(Tensor<float>::zeros({2, 3}).ref());
  TAPELOOP_CHECK_THROW_MESSAGE(where(c, fresh, fresh), TapeError,
                               "where: the Var belongs to a recording that was cleared");
}

BOOST_AUTO_TEST_SUITE_END()
