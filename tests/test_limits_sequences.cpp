// Sequences at their edges: scan and checkpointed_scan over zero steps, sequences of length 0 in
// a batch, and the recurrent layers with one step or one sequence.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "support/check.hpp"
#include "tapeloop/scan.hpp"

#include "tapeloop/models/cells.hpp"
#include "tapeloop/models/recurrent.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::testing::random_tensor;

namespace {

constexpr std::int64_t B = 3, I = 4, H = 5;

// h' = tanh(x W + h U + b); emits h. Trivially copyable, so checkpointed_scan takes it too.
struct RnnCell {
  template <class V>
  StepResult<V> operator()(std::span<const Var<V>> w, const State<V>& s, const Var<V>& x) const {
    const Var<V> h = tanh(matmul(x, w[0]) + matmul(s[0], w[1]) + w[2]);
    return {State<V>{h}, h};
  }
};

// Emits -(h^2) - 1, always negative: a padded step's output must still be +0.0, not -0.0.
struct NegativeOutputCell {
  template <class V>
  StepResult<V> operator()(std::span<const Var<V>> w, const State<V>& s, const Var<V>& x) const {
    const Var<V> h = tanh(matmul(x, w[0]) + matmul(s[0], w[1]) + w[2]);
    return {State<V>{h}, -(h * h) - V(1)};
  }
};

struct Leaves {
  Tape<double> tape;
  Var<double> xs, h0, w, u, b;
  Leaves(std::int64_t steps, std::int64_t batch) {
    xs = tape.input(random_tensor({steps, batch, I}, 1).ref(), true);
    h0 = tape.input(random_tensor({batch, H}, 2).ref(), true);
    w = tape.input(random_tensor({I, H}, 3).ref(), true);
    u = tape.input(random_tensor({H, H}, 4).ref(), true);
    b = tape.input(random_tensor({H}, 5).ref(), true);
  }
  std::vector<Var<double>> weights() const { return {w, u, b}; }
};

Tensor<double> grad_of(const Var<double>& v) {
  return Tensor<double>::from(TensorRef<const double>(v.grad()));
}

void check_all(const Tensor<double>& t, double value) {
  for (std::int64_t i = 0; i < t.numel(); ++i) BOOST_TEST(t[i] == value);
}

bool identical(const Tensor<double>& a, const Tensor<double>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.numel())) == 0;
}

// |a - b| <= tol max(1, |b|): relative for large values, absolute near zero.
void check_close(const Tensor<double>& a, const Tensor<double>& b, double tol) {
  BOOST_REQUIRE(a.shape() == b.shape());
  int bad = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    if (!(std::abs(a[i] - b[i]) <= tol * std::max(1.0, std::abs(b[i]))) && bad++ < 5) {
      BOOST_ERROR("element " << i << ": " << a[i] << " vs " << b[i]);
    }
  }
  BOOST_TEST(bad == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_limits_sequences)

BOOST_AUTO_TEST_CASE(zero_steps_return_the_initial_state) {
  // T = 0: the cell never runs. The final state is the initial state itself (the same Vars, so
  // a gradient of it reaches state0 unchanged) and outputs is an empty Var: with no step there
  // is no y_t to take a shape from. The same for checkpointed_scan, forwards and in reverse.
  for (int mode = 0; mode < 4; ++mode) {
    BOOST_TEST_CONTEXT("mode " << mode) {
      Leaves l(0, B);
      ScanOptions options;
      options.reverse = mode % 2 == 1;
      const ScanResult<double> r =
          mode < 2 ? scan(l.tape, RnnCell{}, l.xs, State<double>{l.h0}, l.weights(), options)
                   : checkpointed_scan(l.tape, RnnCell{}, l.xs, State<double>{l.h0}, l.weights(), 4,
                                       options);
      BOOST_TEST(r.outputs.empty());
      BOOST_REQUIRE(r.state.size() == 1);
      BOOST_TEST(r.state[0].index() == l.h0.index());
      l.tape.backward(sum(r.state[0] * r.state[0]));
      const Tensor<double> g = grad_of(l.h0);
      for (std::int64_t i = 0; i < g.numel(); ++i) BOOST_TEST(g[i] == 2.0 * l.h0.value()[i]);
      check_all(grad_of(l.w), 0.0);
      BOOST_TEST(grad_of(l.xs).shape() == (Shape{0, B, I}));
    }
  }
  // Lengths of a zero-step batch can only be 0.
  Leaves l(0, 2);
  const std::int64_t zeros[] = {0, 0};
  ScanOptions with_lengths;
  with_lengths.lengths = zeros;
  BOOST_TEST(scan(l.tape, RnnCell{}, l.xs, State<double>{l.h0}, l.weights(), with_lengths)
                 .state[0]
                 .index() == l.h0.index());
  const std::int64_t one[] = {1, 0};
  with_lengths.lengths = one;
  TAPELOOP_CHECK_THROW_MESSAGE(
      scan(l.tape, RnnCell{}, l.xs, State<double>{l.h0}, l.weights(), with_lengths), ValueError,
      "scan: length 1 of sequence 0 is outside [0, 0]");
}

BOOST_AUTO_TEST_CASE(a_segment_longer_than_the_sequence_is_one_segment) {
  // segment > T: one segment of T steps, bit for bit the plain scan.
  const std::int64_t steps = 5;
  std::vector<Tensor<double>> plain, checkpointed;
  for (int segment : {0, 5, 6, 1000}) {
    Leaves l(steps, B);
    const ScanResult<double> r =
        segment == 0
            ? scan(l.tape, RnnCell{}, l.xs, State<double>{l.h0}, l.weights())
            : checkpointed_scan(l.tape, RnnCell{}, l.xs, State<double>{l.h0}, l.weights(), segment);
    l.tape.backward(sum(r.outputs * r.outputs) + sum(r.state[0]));
    std::vector<Tensor<double>>& out = segment == 0 ? plain : checkpointed;
    out = {r.outputs.to_tensor(), r.state[0].to_tensor(), grad_of(l.xs), grad_of(l.h0),
           grad_of(l.w),          grad_of(l.u),           grad_of(l.b)};
    if (segment > 0) {
      for (std::size_t i = 0; i < out.size(); ++i) BOOST_TEST(identical(out[i], plain[i]));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_sequence_of_length_zero_keeps_its_initial_state) {
  // Sequence 1 has length 0: its state stays the initial one, its outputs are +0.0 at every
  // step (the cell's own outputs are all negative), its input gets no gradient, and its
  // initial state gets exactly the gradient of its final state. The other sequences give the
  // same numbers as a batch without it.
  const std::int64_t steps = 4;
  const std::int64_t lengths[] = {4, 0, 2};
  for (int checkpoint : {0, 3}) {
    for (bool reverse : {false, true}) {
      BOOST_TEST_CONTEXT("checkpoint " << checkpoint << " reverse " << reverse) {
        Leaves l(steps, B);
        ScanOptions o;
        o.lengths = lengths;
        o.reverse = reverse;
        const ScanResult<double> r =
            checkpoint == 0
                ? scan(l.tape, NegativeOutputCell{}, l.xs, State<double>{l.h0}, l.weights(), o)
                : checkpointed_scan(l.tape, NegativeOutputCell{}, l.xs, State<double>{l.h0},
                                    l.weights(), checkpoint, o);
        const Tensor<double> seed = random_tensor({steps, B, H}, 7);
        const Tensor<double> final_seed = random_tensor({B, H}, 8);
        l.tape.backward(sum(r.outputs * l.tape.constant(seed.ref())) +
                        sum(r.state[0] * l.tape.constant(final_seed.ref())));
        const Tensor<double> out = r.outputs.to_tensor();
        const Tensor<double> h = r.state[0].to_tensor();
        const Tensor<double> gx = grad_of(l.xs);
        const Tensor<double> gh0 = grad_of(l.h0);
        for (std::int64_t t = 0; t < steps; ++t) {
          for (std::int64_t k = 0; k < H; ++k) {
            const double y = out[(t * B + 1) * H + k];
            BOOST_TEST((y == 0.0 && !std::signbit(y)));
            if (t >= 2) BOOST_TEST(!std::signbit(out[(t * B + 2) * H + k]));  // padded too
          }
          for (std::int64_t i = 0; i < I; ++i) BOOST_TEST(gx[(t * B + 1) * I + i] == 0.0);
        }
        for (std::int64_t k = 0; k < H; ++k) {
          BOOST_TEST(h[H + k] == l.h0.value()[H + k]);
          BOOST_TEST(gh0[H + k] == final_seed[H + k]);
        }

        // The batch without sequence 1, on a tape of its own.
        Tensor<double> xs_kept({steps, 2, I}), h0_kept({2, H});
        for (std::int64_t t = 0; t < steps; ++t) {
          for (std::int64_t i = 0; i < I; ++i) {
            xs_kept[(t * 2) * I + i] = l.xs.value()[(t * B) * I + i];
            xs_kept[(t * 2 + 1) * I + i] = l.xs.value()[(t * B + 2) * I + i];
          }
        }
        for (std::int64_t k = 0; k < H; ++k) {
          h0_kept[k] = l.h0.value()[k];
          h0_kept[H + k] = l.h0.value()[2 * H + k];
        }
        Tape<double> tape;
        const Var<double> xs2 = tape.input(xs_kept.ref(), true);
        const Var<double> h02 = tape.input(h0_kept.ref(), true);
        const Var<double> w2 = tape.input(l.w.value(), true), u2 = tape.input(l.u.value(), true),
                          b2 = tape.input(l.b.value(), true);
        const std::int64_t kept[] = {4, 2};
        ScanOptions o2 = o;
        o2.lengths = kept;
        const ScanResult<double> r2 =
            scan(tape, NegativeOutputCell{}, xs2, State<double>{h02}, {w2, u2, b2}, o2);
        Tensor<double> seed2({steps, 2, H}), final_seed2({2, H});
        for (std::int64_t t = 0; t < steps; ++t) {
          for (std::int64_t k = 0; k < H; ++k) {
            seed2[(t * 2) * H + k] = seed[(t * B) * H + k];
            seed2[(t * 2 + 1) * H + k] = seed[(t * B + 2) * H + k];
          }
        }
        for (std::int64_t k = 0; k < H; ++k) {
          final_seed2[k] = final_seed[k];
          final_seed2[H + k] = final_seed[2 * H + k];
        }
        tape.backward(sum(r2.outputs * tape.constant(seed2.ref())) +
                      sum(r2.state[0] * tape.constant(final_seed2.ref())));
        const Tensor<double> out2 = r2.outputs.to_tensor();
        Tensor<double> out_kept({steps, 2, H});
        for (std::int64_t t = 0; t < steps; ++t) {
          for (std::int64_t k = 0; k < H; ++k) {
            out_kept[(t * 2) * H + k] = out[(t * B) * H + k];
            out_kept[(t * 2 + 1) * H + k] = out[(t * B + 2) * H + k];
          }
        }
        check_close(out_kept, out2, 1e-14);
        // The weights' gradients add sequence 1's exact zeros; the order of the other terms
        // may differ in the products' blocking, so to rounding.
        check_close(grad_of(l.w), grad_of(w2), 1e-12);
        check_close(grad_of(l.u), grad_of(u2), 1e-12);
        check_close(grad_of(l.b), grad_of(b2), 1e-12);
      }
    }
  }
}

namespace {

RecurrentOptions layer_options(bool fused, bool bidirectional, int checkpoint) {
  RecurrentOptions o;
  o.input_size = I;
  o.hidden_size = H;
  o.num_layers = 2;
  o.bidirectional = bidirectional;
  o.fused = fused;
  o.checkpoint = checkpoint;
  return o;
}

struct LayerRun {
  Tensor<double> output, h_n, c_n, input_grad, h0_grad, c0_grad;
  std::vector<Tensor<double>> param_grads;
};

LayerRun run_layer(RecurrentMode mode, const RecurrentOptions& o, const Tensor<double>& x,
                   std::span<const std::int64_t> lengths, std::uint64_t init_seed = 11) {
  Generator rng(init_seed);
  RecurrentLayer<double> layer(mode, o, rng);
  Tape<double> tape;
  const Var<double> input = tape.input(x.ref(), true);
  const std::int64_t batch = x.shape()[1];
  const Shape state{2 * (o.bidirectional ? 2 : 1), batch, H};
  const Var<double> h0 = tape.input(random_tensor(state, 12).ref(), true);
  const Var<double> c0 = tape.input(random_tensor(state, 13).ref(), true);
  const bool lstm = mode == RecurrentMode::lstm;
  const RecurrentResult<double> r = layer.forward(
      tape, input, lstm ? RecurrentState<double>{h0, c0} : RecurrentState<double>{h0}, lengths);
  const Tensor<double> seed = random_tensor(r.output.shape(), 14);
  Var<double> loss = sum(r.output * tape.constant(seed.ref())) + sum(r.h_n * r.h_n);
  if (lstm) loss = loss + sum(r.c_n);
  tape.backward(loss);
  LayerRun out{r.output.to_tensor(),
               r.h_n.to_tensor(),
               lstm ? r.c_n.to_tensor() : Tensor<double>{},
               grad_of(input),
               grad_of(h0),
               lstm ? grad_of(c0) : Tensor<double>{},
               {}};
  for (auto& [name, p] : layer.named_parameters()) out.param_grads.push_back(p->grad());
  return out;
}

const RecurrentMode modes[] = {RecurrentMode::rnn_tanh, RecurrentMode::rnn_relu,
                               RecurrentMode::lstm, RecurrentMode::gru};

}  // namespace

BOOST_AUTO_TEST_CASE(layers_refuse_zero_steps_as_pytorch) {
  // torch: "Expected sequence length to be larger than 0 in RNN"; here a ShapeError naming the
  // layer, before anything is recorded.
  Generator rng(1);
  for (RecurrentMode mode : modes) {
    RecurrentLayer<float> layer(mode, layer_options(true, false, 0), rng);
    Tape<float> tape;
    const Var<float> x = tape.input(Tensor<float>::zeros({0, 2, I}).ref());
    const std::size_t nodes = tape.size();
    TAPELOOP_CHECK_THROW_MESSAGE(layer.forward(tape, x), ShapeError,
                                 std::string(layer.name()) + ": input [0,2,4]: expected [T,B,4]");
    BOOST_TEST(tape.size() == nodes);
  }
}

BOOST_AUTO_TEST_CASE(a_layer_member_of_length_zero) {
  // A batch member of length 0 (PyTorch's packed sequences refuse it; here it is defined): its
  // outputs are +0.0, its h_n and c_n are its h0 and c0 in every layer and direction, its input
  // gets no gradient and its h0 / c0 exactly the gradient of its h_n / c_n. The others match a
  // batch without it.
  const std::int64_t steps = 4;
  const Tensor<double> x = random_tensor({steps, B, I}, 10);
  const std::int64_t lengths[] = {3, 0, 4};
  for (RecurrentMode mode : modes) {
    for (bool fused : {true, false}) {
      for (bool bidirectional : {false, true}) {
        for (int checkpoint : {0, 2}) {
          BOOST_TEST_CONTEXT("mode " << static_cast<int>(mode) << " fused " << fused
                                     << " bidirectional " << bidirectional << " checkpoint "
                                     << checkpoint) {
            const RecurrentOptions o = layer_options(fused, bidirectional, checkpoint);
            const LayerRun r = run_layer(mode, o, x, lengths);
            const std::int64_t D = bidirectional ? 2 : 1, out_width = D * H;
            for (std::int64_t t = 0; t < steps; ++t) {
              for (std::int64_t k = 0; k < out_width; ++k) {
                const double y = r.output[(t * B + 1) * out_width + k];
                BOOST_TEST((y == 0.0 && !std::signbit(y)));
              }
              for (std::int64_t i = 0; i < I; ++i)
                BOOST_TEST(r.input_grad[(t * B + 1) * I + i] == 0.0);
            }
            const Tensor<double> h0 = random_tensor({2 * D, B, H}, 12);
            const Tensor<double> c0 = random_tensor({2 * D, B, H}, 13);
            for (std::int64_t layer = 0; layer < 2 * D; ++layer) {
              for (std::int64_t k = 0; k < H; ++k) {
                const std::int64_t at = (layer * B + 1) * H + k;
                BOOST_TEST(r.h_n[at] == h0[at]);
                BOOST_TEST(r.h0_grad[at] == 2.0 * h0[at]);  // d sum(h_n^2) / d h_n
                if (mode == RecurrentMode::lstm) {
                  BOOST_TEST(r.c_n[at] == c0[at]);
                  BOOST_TEST(r.c0_grad[at] == 1.0);
                }
              }
            }
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(one_step_and_one_sequence) {
  // B = 1 and T = 1: the fused and generic cells, with and without checkpointing, agree, and
  // one step of a one-layer layer is the cell applied once.
  for (RecurrentMode mode : modes) {
    for (const Shape& shape : {Shape{1, 1, I}, Shape{1, B, I}, Shape{6, 1, I}}) {
      BOOST_TEST_CONTEXT("mode " << static_cast<int>(mode) << " input " << shape.str()) {
        const Tensor<double> x = random_tensor(shape, 20);
        for (bool bidirectional : {false, true}) {
          const LayerRun generic = run_layer(mode, layer_options(false, bidirectional, 0), x, {});
          for (int checkpoint : {0, 1}) {
            for (bool fused : {true, false}) {
              const LayerRun r =
                  run_layer(mode, layer_options(fused, bidirectional, checkpoint), x, {});
              // The fused steps add the two biases in another order: equal to rounding.
              check_close(r.output, generic.output, 1e-13);
              check_close(r.h_n, generic.h_n, 1e-13);
              check_close(r.input_grad, generic.input_grad, 1e-12);
              check_close(r.h0_grad, generic.h0_grad, 1e-12);
              for (std::size_t p = 0; p < r.param_grads.size(); ++p) {
                check_close(r.param_grads[p], generic.param_grads[p], 1e-12);
              }
            }
          }
        }
      }
    }
  }
  // One step, one sequence, one layer: the cell by hand.
  for (RecurrentMode mode : modes) {
    for (bool fused : {true, false}) {
      RecurrentOptions o = layer_options(fused, false, 0);
      o.num_layers = 1;
      Generator rng(30);
      RecurrentLayer<double> layer(mode, o, rng);
      Tape<double> tape;
      const Tensor<double> xt = random_tensor({1, 1, I}, 31);
      const Tensor<double> h0t = random_tensor({1, 1, H}, 32);
      const Tensor<double> c0t = random_tensor({1, 1, H}, 33);
      const Var<double> x = tape.constant(xt.ref()), h0 = tape.constant(h0t.ref()),
                        c0 = tape.constant(c0t.ref());
      const bool lstm = mode == RecurrentMode::lstm;
      const RecurrentResult<double> r = layer.forward(
          tape, x, lstm ? RecurrentState<double>{h0, c0} : RecurrentState<double>{h0});
      const Var<double> x1 = reshape(x, {1, I}), h1 = reshape(h0, {1, H}), c1 = reshape(c0, {1, H});
      const Var<double> w_ih = layer.weight_ih(0).var(tape), w_hh = layer.weight_hh(0).var(tape),
                        b_ih = layer.bias_ih(0).var(tape), b_hh = layer.bias_hh(0).var(tape);
      Var<double> h, c;
      switch (mode) {
        case RecurrentMode::rnn_tanh:
          h = rnn_cell_tanh(x1, h1, w_ih, w_hh, b_ih, b_hh);
          break;
        case RecurrentMode::rnn_relu:
          h = rnn_cell_relu(x1, h1, w_ih, w_hh, b_ih, b_hh);
          break;
        case RecurrentMode::lstm: {
          const LstmState<double> s = lstm_cell(x1, {h1, c1}, w_ih, w_hh, b_ih, b_hh);
          h = s.h;
          c = s.c;
          break;
        }
        case RecurrentMode::gru:
          h = gru_cell(x1, h1, w_ih, w_hh, b_ih, b_hh);
          break;
      }
      BOOST_TEST_CONTEXT("mode " << static_cast<int>(mode) << " fused " << fused) {
        check_close(r.output.to_tensor(), reshape(h, {1, 1, H}).to_tensor(), 1e-14);
        check_close(r.h_n.to_tensor(), reshape(h, {1, 1, H}).to_tensor(), 1e-14);
        if (lstm) check_close(r.c_n.to_tensor(), reshape(c, {1, 1, H}).to_tensor(), 1e-14);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
