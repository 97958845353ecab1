// The tape's contract: accumulation into parameters, no_grad, detach, seeds, pruning of
// backward, stale and foreign Vars, repeated backward, clear() keeping memory.
#include "support/check.hpp"
#include "tapeloop/rule.hpp"

using namespace tapeloop;

namespace {

// y = x * k with a backward rule that counts its runs: a probe for which rules the sweep runs.
template <class T>
struct CountingScale {
  static constexpr const char* name = "counting_scale";
  static constexpr bool no_tangent = true;
  T k;
  int* runs;

  Shape check(InputShapes s) const { return s[0]; }
  void forward(ForwardContext<T>& c) const {
    for (std::int64_t i = 0; i < c.out_shape().numel(); ++i) c.out()[i] = c.in(0)[i] * k;
  }
  void backward(BackwardContext<T>& c) const {
    ++*runs;
    if (T* gx = c.grad(0)) {
      for (std::int64_t i = 0; i < c.out_shape().numel(); ++i) gx[i] += c.grad_out()[i] * k;
    }
  }
};

template <class T>
Var<T> counting_scale(const Var<T>& x, T k, int* runs) {
  return record(CountingScale<T>{.k = k, .runs = runs}, x);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_tape)

BOOST_AUTO_TEST_CASE(parameter_gradient_accumulates_over_uses_and_backward_passes) {
  Parameter<double> w(Tensor<double>::from({2}, {3.0, -1.0}));
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({2}, {2.0, 5.0}).ref());
  // Two separate leaves of the same parameter, as scan makes at every step.
  Var<double> y = w.var(tape) * x + w.var(tape) * w.var(tape);  // dy/dw = x + 2w
  tape.backward(y, Tensor<double>::ones({2}).ref());
  BOOST_TEST(w.grad()[0] == 2.0 + 6.0);
  BOOST_TEST(w.grad()[1] == 5.0 - 2.0);
  // A second recording adds to the same gradient until zero_grad().
  tape.clear();
  Var<double> z = w.var(tape) * 10.0;
  tape.backward(z, Tensor<double>::ones({2}).ref());
  BOOST_TEST(w.grad()[0] == 18.0);
  BOOST_TEST(w.grad()[1] == 13.0);
  w.zero_grad();
  BOOST_TEST(w.grad()[0] == 0.0);
}

BOOST_AUTO_TEST_CASE(frozen_parameter_gets_no_gradient) {
  Parameter<float> w(Tensor<float>::from({1}, {2.0f}));
  Parameter<float> b(Tensor<float>::from({1}, {1.0f}));
  w.set_requires_grad(false);
  Tape<float> tape;
  Var<float> y = w.var(tape) * b.var(tape);
  BOOST_TEST(!w.var(tape).requires_grad());
  tape.backward(y);
  BOOST_TEST(w.grad()[0] == 0.0f);
  BOOST_TEST(b.grad()[0] == 2.0f);
}

BOOST_AUTO_TEST_CASE(no_grad_records_no_backward) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::ones({3}).ref(), true);
  {
    auto guard = tape.no_grad();
    BOOST_TEST(!tape.grad_enabled());
    Var<double> y = x * 2.0;
    BOOST_TEST(!y.requires_grad());
    TAPELOOP_CHECK_THROW_MESSAGE(tape.backward(y, Tensor<double>::ones({3}).ref()), TapeError,
                                 "does not depend on anything that requires a gradient");
  }
  BOOST_TEST(tape.grad_enabled());
  BOOST_TEST((x * 2.0).requires_grad());
}

BOOST_AUTO_TEST_CASE(detach_stops_the_gradient_without_copying) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({2}, {1.0, 2.0}).ref(), true);
  Var<double> d = detach(x * 3.0);
  BOOST_TEST(!d.requires_grad());
  Var<double> y = x * d;  // dy/dx = d = 3x, not 6x
  tape.backward(y, Tensor<double>::ones({2}).ref());
  BOOST_TEST(x.grad()[0] == 3.0);
  BOOST_TEST(x.grad()[1] == 6.0);
}

BOOST_AUTO_TEST_CASE(backward_with_seed_is_a_vector_jacobian_product) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({3}, {1.0, 2.0, 3.0}).ref(), true);
  Var<double> y = x * x;
  tape.backward(y, Tensor<double>::from({3}, {1.0, 0.5, -1.0}).ref());
  BOOST_TEST(x.grad()[0] == 2.0);
  BOOST_TEST(x.grad()[1] == 2.0);
  BOOST_TEST(x.grad()[2] == -6.0);
  tape.zero_grads();
  TAPELOOP_CHECK_THROW_MESSAGE(tape.backward(y), ShapeError,
                               "output of shape [3] is not a single value");
  TAPELOOP_CHECK_THROW_MESSAGE(tape.backward(y, Tensor<double>::ones({2}).ref()), ShapeError,
                               "seed of shape [2] for an output of shape [3]");
}

BOOST_AUTO_TEST_CASE(backward_runs_only_rules_that_lead_to_a_gradient) {
  Tape<double> tape;
  int on_path = 0, constant_branch = 0, dead_end = 0;
  Var<double> x = tape.input(Tensor<double>::ones({2}).ref(), true);
  Var<double> c = tape.constant(Tensor<double>::ones({2}).ref());
  Var<double> a = counting_scale(x, 2.0, &on_path);
  Var<double> k = counting_scale(c, 3.0, &constant_branch);  // needs no gradient: no rule
  Var<double> unused = counting_scale(x, 4.0, &dead_end);    // not used by the output
  (void)unused;
  Var<double> y = a * k;
  tape.backward(y, Tensor<double>::ones({2}).ref());
  BOOST_TEST(on_path == 1);
  BOOST_TEST(constant_branch == 0);
  BOOST_TEST(dead_end == 0);
  BOOST_TEST(!k.requires_grad());
  BOOST_TEST(x.grad()[0] == 6.0);
}

BOOST_AUTO_TEST_CASE(backward_twice_needs_zero_grads) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({1}, {3.0}).ref(), true);
  Var<double> y = x * x;
  tape.backward(y);
  BOOST_TEST(x.grad()[0] == 6.0);
  TAPELOOP_CHECK_THROW_MESSAGE(tape.backward(y), TapeError, "already ran on this recording");
  tape.zero_grads();
  tape.backward(y);
  BOOST_TEST(x.grad()[0] == 6.0);
}

BOOST_AUTO_TEST_CASE(stale_and_foreign_vars_are_errors) {
  Tape<float> tape, other;
  Var<float> x = tape.input(Tensor<float>::ones({2}).ref(), true);
  Var<float> o = other.input(Tensor<float>::ones({2}).ref(), true);
  TAPELOOP_CHECK_THROW_MESSAGE(x + o, TapeError, "add: the Var belongs to another tape");
  tape.clear();
  TAPELOOP_CHECK_THROW_MESSAGE(x.value(), TapeError, "belongs to a recording that was cleared");
  TAPELOOP_CHECK_THROW_MESSAGE(x * 2.0f, TapeError, "was cleared");
  Var<float> fresh = tape.input(Tensor<float>::ones({2}).ref());
  BOOST_TEST(fresh.index() == x.index());  // same slot, different generation: still caught
  TAPELOOP_CHECK_THROW_MESSAGE(x.grad(), TapeError, "was cleared");
  Var<float> empty;
  TAPELOOP_CHECK_THROW_MESSAGE(empty.shape(), TapeError, "empty Var");
  // A running total begun from a default Var: the operator is named, and the way out given.
  TAPELOOP_CHECK_THROW_MESSAGE(empty + fresh, TapeError,
                               "add: empty Var (default-constructed; a running total starts from "
                               "tape.scalar(0))");
}

BOOST_AUTO_TEST_CASE(clear_keeps_the_arena) {
  Tape<float> tape(4096);
  for (int i = 0; i < 50; ++i) tape.input(Tensor<float>::zeros({1000}).ref());
  const std::size_t grown = tape.arena().capacity();
  BOOST_TEST(grown >= 50u * 1000u * sizeof(float));
  tape.clear();
  BOOST_TEST(tape.size() == 0u);
  BOOST_TEST(tape.arena().bytes_in_use() == 0u);
  BOOST_TEST(tape.arena().capacity() == grown);  // one coalesced block of the same size
  for (int i = 0; i < 50; ++i) tape.input(Tensor<float>::zeros({1000}).ref());
  BOOST_TEST(tape.arena().capacity() == grown);  // the same recording fits without growing
}

BOOST_AUTO_TEST_CASE(item_of_a_single_value) {
  Tape<double> tape;
  BOOST_TEST(tape.scalar(2.5).item() == 2.5);
  TAPELOOP_CHECK_THROW_MESSAGE(tape.input(Tensor<double>::ones({2}).ref()).item(), ShapeError,
                               "item: Var of shape [2] has 2 elements");
}

BOOST_AUTO_TEST_SUITE_END()
