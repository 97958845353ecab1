// Parameter lifetimes: an optimizer whose parameters moved (a growing std::vector<Parameter>) or
// were destroyed, and a recording whose parameter was destroyed before backward() or jvp(), are
// reported as such; a parameter moved while a recording or an optimizer can follow it still
// works, and copies are parameters of their own.
#include <deque>
#include <memory>
#include <vector>

#include "support/check.hpp"

using namespace tapeloop;

namespace {

Parameter<float> make_parameter(const char* name, float value, const Shape& shape = {2, 3}) {
  Parameter<float> p(Tensor<float>::full(shape, value), name);
  p.grad().fill(0.5f);
  return p;
}

// A vector of parameters that will reallocate on its next push_back.
std::vector<Parameter<float>> full_vector(int count) {
  static const char* const names[] = {"w0", "w1", "w2"};
  BOOST_REQUIRE(count <= 3);
  std::vector<Parameter<float>> v;
  v.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    v.push_back(make_parameter(names[i], static_cast<float>(i + 1)));
  }
  BOOST_REQUIRE_EQUAL(v.size(), v.capacity());
  return v;
}

std::vector<Parameter<float>*> pointers(std::vector<Parameter<float>>& v) {
  std::vector<Parameter<float>*> out;
  for (Parameter<float>& p : v) out.push_back(&p);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_parameter_lifetime)

BOOST_AUTO_TEST_CASE(optimizer_over_a_vector_that_reallocated_says_so) {
  std::vector<Parameter<float>> params = full_vector(2);
  Adam<float> adam(pointers(params));
  adam.step();
  params.push_back(make_parameter("w2", 3.0f));  // moves w0 and w1 to new storage
  // Formerly a read of freed memory (a ShapeError about a nonsense shape, or a crash).
  const char* moved = "Adam: parameter 0 ('w0') was moved from ";
  const char* fix = "keep parameters at fixed addresses (reserve the std::vector";
  TAPELOOP_CHECK_THROW_MESSAGE(adam.step(), LifetimeError, moved);
  TAPELOOP_CHECK_THROW_MESSAGE(adam.step(), LifetimeError, fix);
  TAPELOOP_CHECK_THROW_MESSAGE(adam.zero_grad(), LifetimeError, moved);
  TAPELOOP_CHECK_THROW_MESSAGE(adam.named_state(), LifetimeError, moved);
  TAPELOOP_CHECK_THROW_MESSAGE(adam.named_steps(), LifetimeError, moved);
  const std::vector<std::string> names{"x", "y"};
  TAPELOOP_CHECK_THROW_MESSAGE(adam.named_state(names), LifetimeError, moved);
  TAPELOOP_CHECK_THROW_MESSAGE(adam.check_parameters(), LifetimeError, moved);
  // The parameters themselves are fine where they are now.
  BOOST_TEST(params[0].value()[0] != 1.0f);
  BOOST_TEST(params[1].name() == "w1");
}

BOOST_AUTO_TEST_CASE(every_optimizer_checks) {
  for (int kind = 0; kind < 4; ++kind) {
    BOOST_TEST_CONTEXT("optimizer " << kind) {
      std::vector<Parameter<float>> params = full_vector(1);
      const std::vector<Parameter<float>*> list = pointers(params);
      std::unique_ptr<Optimizer<float>> optimizer;
      if (kind == 0) optimizer = std::make_unique<SGD<float>>(list);
      if (kind == 1) optimizer = std::make_unique<RMSProp<float>>(list);
      if (kind == 2) optimizer = std::make_unique<Adam<float>>(list);
      if (kind == 3) optimizer = std::make_unique<AdamW<float>>(list);
      params.reserve(8);
      TAPELOOP_CHECK_THROW_MESSAGE(
          optimizer->step(), LifetimeError,
          std::string(optimizer->name()) + ": parameter 0 ('w0') was moved");
    }
  }
}

BOOST_AUTO_TEST_CASE(optimizer_over_a_destroyed_parameter_says_so) {
  auto kept = std::make_unique<Parameter<float>>(make_parameter("kept", 1.0f));
  auto gone = std::make_unique<Parameter<float>>(make_parameter("gone", 1.0f));
  SGD<float> sgd({kept.get(), gone.get()}, {.lr = 0.1});
  gone.reset();
  TAPELOOP_CHECK_THROW_MESSAGE(sgd.step(), LifetimeError,
                               "SGD: parameter 1 ('gone') was destroyed, or assigned over, after "
                               "the optimizer was made");
  BOOST_TEST(kept->value()[0] == 1.0f);  // checked before anything was updated
}

BOOST_AUTO_TEST_CASE(moved_before_the_optimizer_was_made_is_fine) {
  std::vector<Parameter<float>> params = full_vector(2);
  params.push_back(make_parameter("w2", 3.0f));  // reallocates: every parameter moves
  SGD<float> sgd(pointers(params), {.lr = 0.1});
  sgd.step();
  BOOST_TEST(params[0].value()[0] == 1.0f - 0.1f * 0.5f);
  BOOST_TEST(params[2].value()[5] == 3.0f - 0.1f * 0.5f);
  // A deque never moves its elements when it grows: the usual fix.
  std::deque<Parameter<float>> stable;
  stable.push_back(make_parameter("a", 1.0f));
  SGD<float> sgd2({&stable.front()}, {.lr = 0.1});
  for (int i = 0; i < 100; ++i) stable.push_back(make_parameter("b", 2.0f));
  sgd2.step();
  BOOST_TEST(stable.front().value()[0] == 1.0f - 0.1f * 0.5f);
}

BOOST_AUTO_TEST_CASE(destroyed_before_backward_is_a_tape_error) {
  Tape<float> tape;
  auto w = std::make_unique<Parameter<float>>(make_parameter("w", 2.0f));
  Parameter<float> b = make_parameter("b", 1.0f, {3});
  Var<float> x = tape.input(Tensor<float>::ones({4, 2}).ref());
  Var<float> wv = w->var(tape);  // node #1
  Var<float> loss = sum(matmul(x, wv) + b.var(tape));
  w.reset();
  // Formerly backward added into the freed gradient (a heap-use-after-free).
  TAPELOOP_CHECK_THROW_MESSAGE(tape.backward(loss), TapeError,
                               "backward: the Parameter 'w' of node #1 (shape [2,3]) was destroyed "
                               "after it was recorded; a Parameter must outlive every recording "
                               "that uses it");
  BOOST_TEST(b.grad()[0] == 0.5f);  // nothing ran
  // Once the recording is cleared, the tape no longer refers to it.
  tape.clear();
  Var<float> again = sum(b.var(tape));
  tape.backward(again);
  BOOST_TEST(b.grad()[0] == 1.5f);
}

BOOST_AUTO_TEST_CASE(destroyed_before_jvp_is_a_tape_error) {
  Tape<double> tape;
  Parameter<double> x(Tensor<double>::ones({3}), "x");
  auto frozen = std::make_unique<Parameter<double>>(Tensor<double>::ones({3}));  // unnamed
  frozen->set_requires_grad(false);  // a constant leaf: its value is still read
  Var<double> xv = x.var(tape);
  Var<double> y = xv * frozen->var(tape);
  frozen.reset();
  const Tensor<double> direction = Tensor<double>::ones({3});
  const TensorRef<const double> directions[] = {direction.ref()};
  TAPELOOP_CHECK_THROW_MESSAGE(tape.jvp(std::span<const Var<double>>(&xv, 1), directions),
                               TapeError, "jvp: the unnamed Parameter of node #1 (shape [3])");
  TAPELOOP_CHECK_THROW_MESSAGE(tape.backward(y, direction.ref()), TapeError,
                               "was destroyed after it was recorded");
}

BOOST_AUTO_TEST_CASE(moved_after_recording_still_works_on_the_tape) {
  // A growing vector moves its parameters; their storage, which the tape points at, moves with
  // them.
  std::vector<Parameter<float>> params = full_vector(2);
  Tape<float> tape;
  Var<float> loss = sum(params[0].var(tape) * params[1].var(tape));
  params.push_back(make_parameter("w2", 3.0f));
  tape.backward(loss);
  BOOST_TEST(params[0].grad()[0] == 0.5f + 2.0f);  // d/dw0 = w1
  BOOST_TEST(params[1].grad()[0] == 0.5f + 1.0f);
  // A single move, and an optimizer made after it.
  Parameter<float> moved = std::move(params[0]);
  tape.zero_grads();
  tape.backward(loss);
  BOOST_TEST(moved.grad()[0] == 0.5f + 2.0f + 2.0f);
  SGD<float> sgd({&moved}, {.lr = 1.0});
  sgd.step();
  BOOST_TEST(moved.value()[0] == 1.0f - 4.5f);
}

BOOST_AUTO_TEST_CASE(copies_are_parameters_of_their_own) {
  Parameter<float> original = make_parameter("w", 1.0f);
  Tape<float> tape;
  Var<float> loss;
  {
    Parameter<float> copy = original;
    loss = sum(original.var(tape));
    SGD<float> sgd({&copy}, {.lr = 1.0});
    sgd.step();
    BOOST_TEST(copy.value()[0] == 0.5f);
    BOOST_TEST(original.value()[0] == 1.0f);
  }  // the copy is destroyed; the original and its recording are not affected
  tape.backward(loss);
  BOOST_TEST(original.grad()[0] == 1.5f);
  SGD<float> sgd({&original}, {.lr = 1.0});
  {
    Parameter<float> copy(original);
    copy.set_name("copy");
  }
  sgd.step();
  BOOST_TEST(original.value()[0] == 1.0f - 1.5f);
}

BOOST_AUTO_TEST_CASE(assignment_keeps_or_replaces_the_storage) {
  // Copy-assigning a parameter of the same shape copies into its storage: the optimizer and
  // the recording that use it carry on.
  Parameter<float> w = make_parameter("w", 1.0f);
  SGD<float> sgd({&w}, {.lr = 1.0});
  Tape<float> tape;
  Var<float> loss = sum(w.var(tape));
  w = make_parameter("w", 4.0f);  // a move-assignment: the old storage is freed
  TAPELOOP_CHECK_THROW_MESSAGE(tape.backward(loss), TapeError, "the Parameter 'w' of node #0");
  TAPELOOP_CHECK_THROW_MESSAGE(sgd.step(), LifetimeError, "was destroyed, or assigned over");

  Parameter<float> v = make_parameter("v", 1.0f);
  const Parameter<float> same_shape = make_parameter("v", 2.0f);
  SGD<float> sgd2({&v}, {.lr = 1.0});
  tape.clear();
  Var<float> loss2 = sum(v.var(tape));
  v = same_shape;  // copied in place
  tape.backward(loss2);
  sgd2.step();
  BOOST_TEST(v.value()[0] == 2.0f - 1.5f);

  const Parameter<float> other_shape = make_parameter("v", 2.0f, {7});
  v = other_shape;  // new storage
  TAPELOOP_CHECK_THROW_MESSAGE(sgd2.step(), LifetimeError, "parameter 0 ('v') was destroyed");
}

BOOST_AUTO_TEST_CASE(moved_from_and_default_parameters_can_be_used_again) {
  const Parameter<float> source = make_parameter("s", 2.0f);
  Parameter<float> a = make_parameter("a", 1.0f);
  Parameter<float> b = std::move(a);
  a = source;  // a moved-from parameter has a shape but no storage: it gets new storage
  BOOST_TEST(a.value()[0] == 2.0f);
  BOOST_TEST(b.value()[0] == 1.0f);
  Parameter<float> c;  // empty
  c = source;
  Parameter<float> d = std::move(c);
  c.value() = Tensor<float>::full({2, 3}, 3.0f);  // filled in by hand: its anchor is made anew
  c.grad() = Tensor<float>::zeros({2, 3});
  Tape<float> tape;
  Var<float> loss = sum(a.var(tape) * b.var(tape) * c.var(tape) * d.var(tape));
  tape.backward(loss);
  BOOST_TEST(a.grad()[0] == 0.5f + 1.0f * 3.0f * 2.0f);
  BOOST_TEST(c.grad()[0] == 2.0f * 1.0f * 2.0f);
  SGD<float> sgd({&a, &b, &c, &d}, {.lr = 1.0});
  sgd.step();
  BOOST_TEST(c.value()[0] == 3.0f - 4.0f);
}

BOOST_AUTO_TEST_CASE(a_parameter_the_optimizer_holds_may_be_moved_into) {
  // Swapping two parameters swaps their storage and anchors: each optimizer sees its parameter
  // moved to the other's address.
  Parameter<float> a = make_parameter("a", 1.0f);
  Parameter<float> b = make_parameter("b", 2.0f);
  SGD<float> sgd({&a});
  std::swap(a, b);
  TAPELOOP_CHECK_THROW_MESSAGE(sgd.step(), LifetimeError, "parameter 0 ('a') was moved from");
}

BOOST_AUTO_TEST_SUITE_END()
