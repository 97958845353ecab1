// HessianFree: Newton's step on least squares (closed form), fast convergence where gradient
// descent crawls, checkpoint and resume bit for bit, and every kind of bad input.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "support/check.hpp"
#include "support/doc_blocks.hpp"
#include "tapeloop/models/adding_problem.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/recurrent.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

// y = X w + b with mean squared error, on fixed data.
struct LeastSquares {
  static constexpr std::int64_t n = 8, d = 2;
  Tensor<double> X = random_tensor({n, d}, 1, -2.0, 2.0);
  Tensor<double> y = random_tensor({n, 1}, 2, -1.0, 1.0);
  Parameter<double> w{Tensor<double>::zeros({d, 1}), "w"};
  Parameter<double> b{Tensor<double>::zeros({1}), "b"};

  // HessianFree keeps its closure (a std::function, a copy): the model is captured by reference.
  HessianFreeClosure<double> closure() {
    return [this](Tape<double>& tape) { return record(tape); };
  }
  HessianFreeRecord<double> record(Tape<double>& tape) {
    const Var<double> z = matmul(tape.constant(X.ref()), w.var(tape)) + b.var(tape);
    return {mse_loss(z, tape.constant(y.ref())), z};
  }
  // The minimum of the loss, from the normal equations [X 1]^T [X 1] theta = [X 1]^T y.
  std::vector<double> solution() const {
    double a[3][4] = {};
    for (std::int64_t i = 0; i < n; ++i) {
      const double row[3] = {X[i * d], X[i * d + 1], 1.0};
      for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 3; ++c) a[r][c] += row[r] * row[c];
        a[r][3] += row[r] * y[i];
      }
    }
    for (int c = 0; c < 3; ++c) {  // Gauss-Jordan
      for (int r = 0; r < 3; ++r) {
        if (r == c) continue;
        const double f = a[r][c] / a[c][c];
        for (int k = 0; k < 4; ++k) a[r][k] -= f * a[c][k];
      }
    }
    return {a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]};
  }
};

// Logistic regression with a badly scaled feature: gradient descent crawls along it.
struct Logistic {
  static constexpr std::int64_t n = 32, d = 3;
  Tensor<double> X;
  Tensor<double> t;
  Parameter<double> w{Tensor<double>::zeros({d}), "w"};
  Logistic() {
    X = random_tensor({n, d}, 3, -1.0, 1.0);
    for (std::int64_t i = 0; i < n; ++i) X[i * d + 2] *= 30.0;
    Tensor<double> truth = Tensor<double>::from({d}, {1.5, -2.0, 0.05});
    t = Tensor<double>::zeros({n});
    Generator rng(4);
    const Tensor<double> noise = Tensor<double>::uniform({n}, 0.0, 1.0, rng);
    for (std::int64_t i = 0; i < n; ++i) {
      double z = 0;
      for (std::int64_t j = 0; j < d; ++j) z += X[i * d + j] * truth[j];
      t[i] = noise[i] < 1 / (1 + std::exp(-z)) ? 1.0 : 0.0;
    }
  }
  // HessianFree keeps its closure (a std::function, a copy): the model is captured by reference.
  HessianFreeClosure<double> closure() {
    return [this](Tape<double>& tape) { return record(tape); };
  }
  HessianFreeRecord<double> record(Tape<double>& tape) {
    const Var<double> z =
        reshape(matmul(tape.constant(X.ref()), reshape(w.var(tape), {d, 1})), {n});
    return {binary_cross_entropy_with_logits(z, tape.constant(t.ref())), z};
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_hessian_free)

// The Gauss-Newton matrix of least squares is its Hessian, so one step with little damping and
// enough CG iterations is Newton's step: it lands on the normal equations' solution.
BOOST_AUTO_TEST_CASE(one_step_solves_least_squares) {
  LeastSquares model;
  HessianFreeOptions o;
  o.initial_damping = 1e-9;
  o.cg_tolerance = 1e-12;
  o.preconditioner = false;
  HessianFree<double> hf({&model.w, &model.b}, o);
  const double before = hf.step(model.closure());
  const std::vector<double> theta = model.solution();
  BOOST_TEST(model.w.value()[0] == theta[0], boost::test_tools::tolerance(1e-7));
  BOOST_TEST(model.w.value()[1] == theta[1], boost::test_tools::tolerance(1e-7));
  BOOST_TEST(model.b.value()[0] == theta[2], boost::test_tools::tolerance(1e-7));
  const HessianFreeStats& s = hf.last_stats();
  BOOST_TEST(s.loss == before);
  BOOST_TEST(s.loss_after < before);
  BOOST_TEST(s.step_rate == 1.0);
  BOOST_TEST(s.rho == 1.0, boost::test_tools::tolerance(1e-6));  // the model is exact
  BOOST_TEST(s.cg_iterations <= 4);  // CG is exact in 3 iterations for 3 unknowns
  BOOST_TEST(hf.damping() < 1e-9);   // rho > 3/4: the damping falls
  BOOST_TEST(hf.step_count(0) == 1);
}

BOOST_AUTO_TEST_CASE(converges_where_gradient_descent_crawls) {
  Logistic hf_model, sgd_model;
  HessianFree<double> hf({&hf_model.w});
  SGD<double> sgd({&sgd_model.w}, {.lr = 1e-3});  // larger rates diverge along the scaled feature
  double hf_loss = 0;
  for (int i = 0; i < 15; ++i) hf_loss = hf.step(hf_model.closure());
  Tape<double> tape;
  double sgd_loss = 0;
  for (int i = 0; i < 200; ++i) {
    tape.clear();
    sgd.zero_grad();
    const Var<double> loss = sgd_model.record(tape).loss;
    sgd_loss = loss.item();
    tape.backward(loss);
    sgd.step();
  }
  tape.clear();
  const double hf_final = hf_model.record(tape).loss.item();
  BOOST_TEST_MESSAGE("HF after 15 steps " << hf_final << ", SGD after 200 " << sgd_loss);
  BOOST_TEST(hf_final < hf_loss + 1e-12);
  BOOST_TEST(hf_final < 0.9 * sgd_loss);
  // Its gradient is near zero: a minimum, not a stall.
  tape.clear();
  hf_model.w.zero_grad();
  tape.backward(hf_model.record(tape).loss);
  for (std::int64_t j = 0; j < Logistic::d; ++j) BOOST_TEST(std::abs(hf_model.w.grad()[j]) < 1e-4);
}

BOOST_AUTO_TEST_CASE(resumes_from_a_checkpoint_bit_for_bit) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / "tapeloop_test_hessian_free.safetensors";
  Logistic straight, resumed;
  HessianFreeOptions o;
  o.max_cg_iterations = 20;
  HessianFree<double> a({&straight.w}, o);
  for (int i = 0; i < 4; ++i) a.step(straight.closure());
  {
    Logistic first;
    HessianFree<double> b({&first.w}, o);
    for (int i = 0; i < 2; ++i) b.step(first.closure());
    Parameter<double>* params[] = {&first.w};
    save_parameters(path, params, &b, b.state_dict());
  }
  HessianFree<double> c({&resumed.w}, o);
  Parameter<double>* params[] = {&resumed.w};
  c.load_state_dict(load_parameters(path, params, &c));
  for (int i = 0; i < 2; ++i) c.step(resumed.closure());
  for (std::int64_t j = 0; j < Logistic::d; ++j) {
    BOOST_TEST(resumed.w.value()[j] == straight.w.value()[j]);
  }
  BOOST_TEST(c.damping() == a.damping());
  std::filesystem::remove(path);
}

// With CG fixed at 2 iterations (the progress test needs more than 10, and the rounding test
// does not fire in 2 here), float and double take the same decisions; the parameters then agree to
// float's precision.
BOOST_AUTO_TEST_CASE(float_training_follows_double) {
  LeastSquares d;
  Parameter<float> w(Tensor<float>::zeros({2, 1}), "w"), b(Tensor<float>::zeros({1}), "b");
  const Tensor<float> X = testing::cast<float>(d.X), y = testing::cast<float>(d.y);
  HessianFreeOptions o;
  o.max_cg_iterations = 2;
  HessianFree<double> hd({&d.w, &d.b}, o);
  HessianFree<float> hf({&w, &b}, o);
  auto record = [&](Tape<float>& tape) -> HessianFreeRecord<float> {
    const Var<float> z = matmul(tape.constant(X.ref()), w.var(tape)) + b.var(tape);
    return {mse_loss(z, tape.constant(y.ref())), z};
  };
  for (int i = 0; i < 3; ++i) {
    hd.step(d.closure());
    hf.step(record);
    BOOST_TEST(hf.last_stats().cg_iterations == hd.last_stats().cg_iterations);
    BOOST_TEST(hf.last_stats().chosen_iteration == hd.last_stats().chosen_iteration);
    BOOST_TEST(hf.last_stats().step_rate == hd.last_stats().step_rate);
  }
  for (std::int64_t j = 0; j < 2; ++j) {
    BOOST_TEST(w.value()[j] == d.w.value()[j], boost::test_tools::tolerance(1e-5));
  }
  BOOST_TEST(b.value()[0] == d.b.value()[0], boost::test_tools::tolerance(1e-4));
  BOOST_TEST(hf.damping() == hd.damping(), boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(bad_input_is_reported_and_changes_nothing) {
  LeastSquares model;
  for (auto [field, value] : {std::pair{"initial_damping", -1.0},
                              {"cg_decay", 2.0},
                              {"damping_decrease", 0.0},
                              {"armijo", 1.0}}) {
    HessianFreeOptions o;
    if (std::string(field) == "initial_damping") o.initial_damping = value;
    if (std::string(field) == "cg_decay") o.cg_decay = value;
    if (std::string(field) == "damping_decrease") o.damping_decrease = value;
    if (std::string(field) == "armijo") o.armijo = value;
    TAPELOOP_CHECK_THROW_MESSAGE(HessianFree<double>({&model.w}, o), ValueError, field);
  }
  HessianFree<double> hf({&model.w, &model.b});
  const Tensor<double> w0 = model.w.value();
  Optimizer<double>& base = hf;
  TAPELOOP_CHECK_THROW_MESSAGE(base.step(), ValueError, "step() needs the model");
  auto vector_loss = [&](Tape<double>& tape) -> HessianFreeRecord<double> {
    const Var<double> z = matmul(tape.constant(model.X.ref()), model.w.var(tape));
    return {z * z, z};
  };
  TAPELOOP_CHECK_THROW_MESSAGE(hf.step(vector_loss), ValueError, "expected one value");
  auto loss_as_output = [&](Tape<double>& tape) {
    HessianFreeRecord<double> r = model.record(tape);
    r.output = r.loss;
    return r;
  };
  TAPELOOP_CHECK_THROW_MESSAGE(hf.step(loss_as_output), ValueError, "the network's output");
  auto copied = [copy = model](Tape<double>& tape) mutable { return copy.record(tape); };
  TAPELOOP_CHECK_THROW_MESSAGE(hf.step(copied), ValueError, "record a copy of the model");
  // A curvature closure that throws midway leaves the parameters where they were.
  int calls = 0;
  auto failing = [&](Tape<double>& tape) -> HessianFreeRecord<double> {
    if (++calls > 0) throw std::runtime_error("data source failed");
    return model.record(tape);
  };
  BOOST_CHECK_THROW(hf.step(model.closure(), failing), std::runtime_error);
  for (std::int64_t j = 0; j < w0.numel(); ++j) BOOST_TEST(model.w.value()[j] == w0[j]);
  BOOST_TEST(hf.step_count(0) == 0);
  TAPELOOP_CHECK_THROW_MESSAGE(hf.load_state_dict({{"hessian_free.damping", "-3"}}), FormatError,
                               "expected a finite number > 0");
  TAPELOOP_CHECK_THROW_MESSAGE(hf.load_state_dict({}), FormatError, "hessian_free.damping");
  BOOST_TEST(hf.damping() == 1.0);
}

// The example of docs/second_order.md, run: a tanh RNN learns the adding problem at T = 50.
BOOST_AUTO_TEST_CASE(the_documented_example_trains_an_rnn) {
  // ---- second-order block: hessian free ----
  Generator rng(1);
  models::RecurrentOptions o;
  o.input_size = 2;
  o.hidden_size = 16;
  models::RNN<float> rnn(o, rng);  // tanh
  models::Linear<float> readout(16, 1, rng);
  std::vector<Parameter<float>*> params = rnn.parameters();
  for (Parameter<float>* p : readout.parameters()) params.push_back(p);

  HessianFreeOptions options;
  options.structural_damping = 1.0 / 30;  // mu, on every hidden state
  HessianFree<float> hf(params, options);

  for (int step = 0; step < 40; ++step) {
    const models::AddingBatch batch = models::make_adding_batch(50, 300, rng);
    // Records the model on the batch's first `count` sequences: the loss, the network's output
    // (where the Gauss-Newton matrix splits off the loss) and the hidden states to damp. It
    // captures the model by reference; HF calls it several times per step.
    auto on = [&](std::int64_t count) {
      return [&, count](Tape<float>& tape) {
        const Var<float> x = narrow(tape.constant(batch.inputs.ref()), 1, 0, count);
        const Var<float> target = narrow(tape.constant(batch.targets.ref()), 0, 0, count);
        const models::RecurrentResult<float> r = rnn.forward(tape, x);
        const Var<float> answer = readout.forward(select(r.h_n, 0, 0));
        return HessianFreeRecord<float>{mse_loss(answer, target), answer, {r.output}};
      };
    };
    hf.step(on(300), on(60));  // the gradient on 300 sequences, the curvature on 60 of them
  }
  // ---- end of second-order block ----
  const models::AddingBatch held_out = models::make_adding_batch(50, 500, rng);
  Tape<float> tape;
  const Var<float> answer =
      readout.forward(select(rnn.forward(tape, tape.constant(held_out.inputs.ref())).h_n, 0, 0));
  const float mse = mse_loss(answer, tape.constant(held_out.targets.ref())).item();
  BOOST_TEST_MESSAGE("held-out MSE " << mse << " (baseline " << models::adding_baseline_mse << ")");
  BOOST_TEST(mse < 0.05 * models::adding_baseline_mse);
  BOOST_TEST(tapeloop::testing::check_doc_blocks(__FILE__, "second_order.md", "second-order") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
