// Forward mode: Tape::jvp against closed forms and against backward (<u, J v> = <J^T u, v>
// through whole recurrent layers), and its errors. Every operator's own tangent is checked by
// gradcheck in its suite.
#include <cmath>
#include <utility>

#include "support/check.hpp"
#include "tapeloop/models/recurrent.hpp"

using namespace tapeloop;
using tapeloop::testing::random_tensor;

namespace {

double dot(TensorRef<const double> a, TensorRef<const double> b) {
  double s = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += a.data[i] * b.data[i];
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_jvp)

BOOST_AUTO_TEST_CASE(tangent_of_a_small_net_is_the_closed_form) {
  // y = tanh(x * w + b): dy = (1 - y^2) (dx w + x dw + db).
  Tape<double> tape;
  const Tensor<double> x = random_tensor({4}, 1), w = random_tensor({4}, 2),
                       b = random_tensor({4}, 3);
  const Tensor<double> dx = random_tensor({4}, 4), dw = random_tensor({4}, 5),
                       db = random_tensor({4}, 6);
  Var<double> vx = tape.input(x.ref(), true), vw = tape.input(w.ref(), true);
  Var<double> vb = tape.input(b.ref(), true);
  Var<double> y = tanh(vx * vw + vb);
  Var<double> unrelated = exp(vb);
  Var<double> constant = tape.constant(x.ref());
  const Var<double> inputs[] = {vx, vw, vb};
  const TensorRef<const double> directions[] = {dx.ref(), dw.ref(), db.ref()};
  tape.jvp(inputs, directions);
  const TensorRef<const double> ty = tape.tangent(y);
  for (std::int64_t i = 0; i < 4; ++i) {
    const double yi = std::tanh(x[i] * w[i] + b[i]);
    BOOST_TEST(ty.data[i] == (1 - yi * yi) * (dx[i] * w[i] + x[i] * dw[i] + db[i]),
               boost::test_tools::tolerance(1e-14));
    BOOST_TEST(tape.tangent(unrelated).data[i] == std::exp(b[i]) * db[i]);
    BOOST_TEST(tape.tangent(constant).data[i] == 0.0);
  }
  // Again along x only: the tangents start over.
  const Var<double> only_x[] = {vx};
  const TensorRef<const double> along_x[] = {dx.ref()};
  tape.jvp(only_x, along_x);
  for (std::int64_t i = 0; i < 4; ++i) {
    const double yi = std::tanh(x[i] * w[i] + b[i]);
    BOOST_TEST(tape.tangent(y).data[i] == (1 - yi * yi) * dx[i] * w[i],
               boost::test_tools::tolerance(1e-14));
    BOOST_TEST(tape.tangent(unrelated).data[i] == 0.0);
  }
}

BOOST_AUTO_TEST_CASE(an_input_given_twice_has_its_directions_summed) {
  Tape<double> tape;
  Var<double> x = tape.input(Tensor<double>::from({2}, {1.0, 2.0}).ref(), true);
  Var<double> y = x * 3.0;
  const Tensor<double> a = Tensor<double>::from({2}, {1.0, 0.0});
  const Tensor<double> b = Tensor<double>::from({2}, {0.5, 1.0});
  const Var<double> inputs[] = {x, x};
  const TensorRef<const double> directions[] = {a.ref(), b.ref()};
  tape.jvp(inputs, directions);
  BOOST_TEST(tape.tangent(y).data[0] == 4.5);
  BOOST_TEST(tape.tangent(y).data[1] == 3.0);
}

// <u, J v> = <J^T u, v>: forward mode and reverse mode agree through every rule of a layer
// (matmul, the fused cells, RecurrentLinear, views, stack, concat, lengths masks, packed
// sequences, checkpointed segments).
BOOST_AUTO_TEST_CASE(forward_and_reverse_mode_agree_through_recurrent_layers) {
  for (auto mode :
       {models::RecurrentMode::rnn_tanh, models::RecurrentMode::lstm, models::RecurrentMode::gru}) {
    for (auto [fused, checkpoint] : {std::pair{false, 0}, {true, 0}, {false, 2}, {true, 2}}) {
      BOOST_TEST_CONTEXT("mode " << static_cast<int>(mode) << " fused " << fused << " checkpoint "
                                 << checkpoint) {
        Generator rng(5);
        models::RecurrentOptions o;
        o.input_size = 3;
        o.hidden_size = 4;
        o.num_layers = 2;
        o.bidirectional = true;
        o.fused = fused;
        o.checkpoint = checkpoint;
        models::RecurrentLayer<double> layer(mode, o, rng);
        Tape<double> tape;
        std::vector<Var<double>> inputs{tape.input(random_tensor({5, 2, 3}, 7).ref(), true)};
        for (auto& p : layer.parameters()) inputs.push_back(p->var(tape));
        const std::int64_t lengths[] = {5, 3};
        const Var<double> out = layer
                                    .forward_with(std::span<const Var<double>>(inputs).subspan(1),
                                                  tape, inputs[0], {}, lengths)
                                    .output;
        std::vector<Tensor<double>> v;
        std::vector<TensorRef<const double>> refs;
        for (std::size_t i = 0; i < inputs.size(); ++i) {
          v.push_back(random_tensor(inputs[i].shape(), 20 + static_cast<std::uint64_t>(i)));
        }
        for (const Tensor<double>& t : v) refs.push_back(t.ref());
        tape.jvp(inputs, refs);
        const Tensor<double> u = random_tensor(out.shape(), 40);
        const double forward = dot(u.ref(), tape.tangent(out));
        for (auto& p : layer.parameters()) p->zero_grad();
        tape.backward(out, u.ref());
        double reverse = 0;
        for (std::size_t i = 0; i < inputs.size(); ++i) {
          reverse += dot(TensorRef<const double>(inputs[i].grad()), v[i].ref());
        }
        BOOST_TEST(forward == reverse, boost::test_tools::tolerance(1e-12));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(errors_name_jvp) {
  Tape<float> tape;
  Var<float> x = tape.input(Tensor<float>::zeros({2, 3}).ref(), true);
  Var<float> c = tape.constant(Tensor<float>::zeros({2, 3}).ref());
  Var<float> y = tanh(x) + c;
  const Tensor<float> d = Tensor<float>::zeros({2, 3});
  const Tensor<float> wrong = Tensor<float>::zeros({3, 2});
  const Var<float> xs[] = {x};
  const TensorRef<const float> none[] = {d.ref(), d.ref()};
  TAPELOOP_CHECK_THROW_MESSAGE(tape.jvp(xs, none), ValueError, "jvp: 1 inputs but 2 directions");
  const TensorRef<const float> bad[] = {wrong.ref()};
  TAPELOOP_CHECK_THROW_MESSAGE(tape.jvp(xs, bad), ShapeError,
                               "jvp: direction of shape [3,2] for an input of shape [2,3]");
  const Var<float> constants[] = {c};
  const TensorRef<const float> good[] = {d.ref()};
  TAPELOOP_CHECK_THROW_MESSAGE(tape.jvp(constants, good), TapeError,
                               "jvp: input 0 (input, shape [2,3]) does not require a gradient");
  (void)y;
  tape.clear();
  TAPELOOP_CHECK_THROW_MESSAGE(tape.tangent(x), TapeError,
                               "tangent: the Var belongs to a recording that was cleared");
}

// A checkpointed scan records each segment again for its tangent, as for its gradient: the
// tangents of every output and of the final state equal the full scan's, for segments that
// divide the sequence or not, in either direction, with lengths, with the state's tangent only.
BOOST_AUTO_TEST_CASE(checkpointed_scan_tangents_equal_full_scan) {
  // h' = tanh(x_t W + h U + b), c' = c * sigmoid(h') (two state parts), y = h'.
  auto cell = [](std::span<const Var<double>> w, const State<double>& s,
                 const Var<double>& x_t) -> StepResult<double> {
    const Var<double> h = tanh(matmul(x_t, w[0]) + matmul(s[0], w[1]) + w[2]);
    const Var<double> c = s[1] * sigmoid(h);
    return {State<double>{h, c}, h};
  };
  const std::int64_t T = 7, B = 3, I = 2, H = 4;
  const std::vector<Tensor<double>> values = {
      random_tensor({T, B, I}, 1), random_tensor({I, H}, 2), random_tensor({H, H}, 3),
      random_tensor({H}, 4),       random_tensor({B, H}, 5), random_tensor({B, H}, 6)};
  const std::int64_t lengths[] = {7, 4, 0};
  for (std::int64_t k : {0, 2, 3, 7}) {
    for (bool reverse : {false, true}) {
      for (bool with_lengths : {false, true}) {
        for (bool state_only : {false, true}) {
          BOOST_TEST_CONTEXT("k " << k << " reverse " << reverse << " lengths " << with_lengths
                                  << " state only " << state_only) {
            auto run = [&](std::int64_t segment) {
              Tape<double> tape;
              std::vector<Var<double>> v;
              for (const Tensor<double>& t : values) v.push_back(tape.input(t.ref(), true));
              ScanOptions o;
              o.reverse = reverse;
              if (with_lengths) o.lengths = lengths;
              const std::vector<Var<double>> w = {v[1], v[2], v[3]};
              const State<double> s0{v[4], v[5]};
              const ScanResult<double> r =
                  segment == 0 ? scan(tape, cell, v[0], s0, w, o)
                               : checkpointed_scan(tape, cell, v[0], s0, w, segment, o);
              std::vector<Var<double>> in = v;
              if (state_only) in = {v[4], v[5]};
              std::vector<Tensor<double>> dirs;
              std::vector<TensorRef<const double>> refs;
              for (std::size_t i = 0; i < in.size(); ++i) {
                dirs.push_back(random_tensor(in[i].shape(), 20 + static_cast<std::uint64_t>(i)));
              }
              for (const Tensor<double>& d : dirs) refs.push_back(d.ref());
              tape.jvp(in, refs);
              std::vector<double> out;
              for (const Var<double>& x : {r.outputs, r.state[0], r.state[1]}) {
                const TensorRef<const double> t = tape.tangent(x);
                out.insert(out.end(), t.data, t.data + t.numel());
              }
              return out;
            };
            const std::vector<double> full = run(0), checkpointed = run(k == 0 ? 1 : k);
            BOOST_TEST_REQUIRE(full.size() == checkpointed.size());
            double worst = 0, scale = 0;
            for (std::size_t i = 0; i < full.size(); ++i) {
              worst = std::max(worst, std::abs(full[i] - checkpointed[i]));
              scale = std::max(scale, std::abs(full[i]));
            }
            BOOST_TEST(scale > 0.0);
            BOOST_TEST(worst <= 1e-14 * scale, worst << " of " << scale);
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
