// The binary-addition RNN: data, model and training loop.
#include "tapeloop/models/binary_addition.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "tapeloop/ops.hpp"

namespace tapeloop::models {

namespace {

// The bits of a number uniform in [0, 2^bits), least significant first, drawn 62 bits at a time
// (one draw for the numbers of up to 62 bits).
std::vector<std::uint8_t> random_bits(int bits, Generator& rng) {
  std::vector<std::uint8_t> out;
  for (int done = 0; done < bits; done += 62) {
    const int chunk = std::min(62, bits - done);
    const std::uint64_t v = rng.below(std::uint64_t{1} << chunk);
    for (int i = 0; i < chunk; ++i) out.push_back(static_cast<std::uint8_t>((v >> i) & 1));
  }
  return out;
}

}  // namespace

AdditionBatch make_addition_batch(int bits, int batch, Generator& rng) {
  if (bits < 1 || batch < 1) {
    throw ValueError("make_addition_batch: " + std::to_string(bits) + " bits, batch " +
                     std::to_string(batch) + ": both must be positive");
  }
  const int steps = bits + 1;
  AdditionBatch out{Tensor<float>::zeros({steps, batch, 2}),
                    Tensor<float>::zeros({steps, batch, 1})};
  for (int n = 0; n < batch; ++n) {
    const std::vector<std::uint8_t> a = random_bits(bits, rng);
    const std::vector<std::uint8_t> b = random_bits(bits, rng);
    int carry = 0;  // added bit by bit: any length, no overflow
    for (int t = 0; t < steps; ++t) {
      const int at = t < bits ? a[static_cast<std::size_t>(t)] : 0;
      const int bt = t < bits ? b[static_cast<std::size_t>(t)] : 0;
      out.inputs.at({t, n, 0}) = static_cast<float>(at);
      out.inputs.at({t, n, 1}) = static_cast<float>(bt);
      out.targets.at({t, n, 0}) = static_cast<float>((at + bt + carry) & 1);
      carry = (at + bt + carry) >> 1;
    }
  }
  return out;
}

namespace {

Tensor<float> init_uniform(const Shape& shape, float bound, Generator& rng) {
  return Tensor<float>::uniform(shape, -bound, bound, rng);
}

}  // namespace

BinaryAdditionRnn::BinaryAdditionRnn(int hidden, Generator& rng)
    : w_xh_(init_uniform({2, hidden}, 1.0f, rng), "w_xh"),
      w_hh_(init_uniform({hidden, hidden}, 1.0f, rng), "w_hh"),
      b_h_(Tensor<float>::zeros({hidden}), "b_h"),
      w_hy_(init_uniform({hidden, 1}, 1.0f, rng), "w_hy"),
      b_y_(Tensor<float>::zeros({1}), "b_y") {}

namespace {

// One step of the lecture's net: h_t = sigmoid(x_t W_xh + h_{t-1} W_hh + b_h).
struct LogisticCell {
  StepResult<float> operator()(std::span<const Var<float>> w, const State<float>& s,
                               const Var<float>& x) const {
    const Var<float> h = sigmoid(matmul(x, w[0]) + matmul(s[0], w[1]) + w[2]);
    return {State<float>{h}, h};  // the state, and the step's output to read the sum bit from
  }
};

}  // namespace

Var<float> BinaryAdditionRnn::hidden(Tape<float>& tape, const Var<float>& inputs) {
  // The same weights at every step: backward leaves the sum of the per-step gradients.
  Var<float> h0 = tape.zeros({inputs.dim(1), w_hh_.shape()[0]});
  ScanResult<float> r = scan(tape, LogisticCell{}, inputs, State<float>{h0},
                             {w_xh_.var(tape), w_hh_.var(tape), b_h_.var(tape)});
  return r.outputs;
}

Var<float> BinaryAdditionRnn::forward(Tape<float>& tape, const Var<float>& inputs) {
  return matmul(hidden(tape, inputs), w_hy_.var(tape)) + b_y_.var(tape);  // [T,B,1]
}

AdditionAccuracy evaluate_addition(BinaryAdditionRnn& model, const AdditionBatch& batch) {
  Tape<float> tape;
  auto no_grad = tape.no_grad();
  const Var<float> out = model.forward(tape, tape.constant(batch.inputs.ref()));
  const std::int64_t steps = out.dim(0), n = out.dim(1);
  const float* logits = out.value().data;
  std::int64_t right_bits = 0, right_sums = 0;
  for (std::int64_t b = 0; b < n; ++b) {
    bool all = true;
    for (std::int64_t t = 0; t < steps; ++t) {
      const bool right = (logits[t * n + b] > 0.0f) == (batch.targets[t * n + b] > 0.5f);
      right_bits += right;
      all = all && right;
    }
    right_sums += all;
  }
  return {static_cast<float>(right_bits) / static_cast<float>(steps * n),
          static_cast<float>(right_sums) / static_cast<float>(n)};
}

std::vector<Parameter<float>*> BinaryAdditionRnn::parameters() {
  return {&w_xh_, &w_hh_, &b_h_, &w_hy_, &b_y_};
}

BinaryAdditionProgress train_binary_addition(
    const BinaryAdditionConfig& config, int report_every,
    const std::function<void(const BinaryAdditionProgress&)>& report) {
  Generator rng(config.seed);
  BinaryAdditionRnn model(config.hidden, rng);
  return train_binary_addition(model, rng, config, report_every, report);
}

BinaryAdditionProgress train_binary_addition(
    BinaryAdditionRnn& model, Generator& rng, const BinaryAdditionConfig& config, int report_every,
    const std::function<void(const BinaryAdditionProgress&)>& report) {
  const AdditionBatch held_out = make_addition_batch(config.bits, 256, rng);
  std::vector<Parameter<float>*> params = model.parameters();
  std::vector<Tensor<float>> velocity;
  for (Parameter<float>* p : params) velocity.push_back(Tensor<float>::zeros(p->shape()));

  Tape<float> tape;
  BinaryAdditionProgress progress{};
  for (int step = 1; step <= config.steps; ++step) {
    const AdditionBatch batch = make_addition_batch(config.bits, config.batch, rng);
    tape.clear();
    for (Parameter<float>* p : params) p->zero_grad();
    Var<float> logits = model.forward(tape, tape.constant(batch.inputs.ref()));
    Var<float> loss = binary_cross_entropy_with_logits(logits, tape.constant(batch.targets.ref()));
    tape.backward(loss);
    for (std::size_t i = 0; i < params.size(); ++i) {
      Tensor<float>& v = velocity[i];
      Tensor<float>& w = params[i]->value();
      const Tensor<float>& g = params[i]->grad();
      for (std::int64_t k = 0; k < w.numel(); ++k) {
        v[k] = config.momentum * v[k] - config.learning_rate * g[k];
        w[k] += v[k];
      }
    }
    progress.step = step;
    progress.loss = loss.item();
    if (step % report_every == 0 || step == config.steps) {
      const AdditionAccuracy accuracy = evaluate_addition(model, held_out);
      progress.bit_accuracy = accuracy.bits;
      progress.sum_accuracy = accuracy.sums;
      report(progress);
    }
  }
  return progress;
}

std::vector<int> adder_states(const AdditionBatch& batch) {
  const std::int64_t T = batch.inputs.shape()[0], B = batch.inputs.shape()[1];
  std::vector<int> states(static_cast<std::size_t>(T * B));
  for (std::int64_t b = 0; b < B; ++b) {
    int carry = 0;
    for (std::int64_t t = 0; t < T; ++t) {
      const int sum = static_cast<int>(batch.inputs[(t * B + b) * 2]) +
                      static_cast<int>(batch.inputs[(t * B + b) * 2 + 1]) + carry;
      carry = sum >> 1;
      states[static_cast<std::size_t>(t * B + b)] = (sum & 1) + 2 * carry;
    }
  }
  return states;
}

AdderStates cluster_hidden_states(BinaryAdditionRnn& model, const AdditionBatch& batch,
                                  std::uint64_t seed) {
  Tape<float> tape;
  auto no_grad = tape.no_grad();
  const Var<float> h = model.hidden(tape, tape.constant(batch.inputs.ref()));
  const std::int64_t T = h.dim(0), B = h.dim(1), H = h.dim(2), n = T * B;
  const float* points = h.value().data;
  const std::vector<int> truth = adder_states(batch);
  // k-means with k = 4, the best of several seeded starts (k-means++ seeding).
  constexpr int k = 4;
  Generator rng(seed);
  std::vector<int> best_assign;
  double best_cost = 1e300;
  std::vector<double> best_centres;
  for (int restart = 0; restart < 8; ++restart) {
    std::vector<double> centres(static_cast<std::size_t>(k * H));
    auto dist = [&](std::int64_t p, int c) {
      double d = 0;
      for (std::int64_t j = 0; j < H; ++j) {
        const double e = points[p * H + j] - centres[static_cast<std::size_t>(c * H + j)];
        d += e * e;
      }
      return d;
    };
    for (int c = 0; c < k; ++c) {
      std::int64_t pick = 0;
      if (c == 0) {
        pick = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n)));
      } else {  // far from the centres so far, in proportion to squared distance
        std::vector<double> w(static_cast<std::size_t>(n));
        double total = 0;
        for (std::int64_t p = 0; p < n; ++p) {
          double d = 1e300;
          for (int q = 0; q < c; ++q) d = std::min(d, dist(p, q));
          total += w[static_cast<std::size_t>(p)] = d;
        }
        double r = rng.uniform() * total;
        for (pick = 0; pick + 1 < n && (r -= w[static_cast<std::size_t>(pick)]) > 0; ++pick) {
        }
      }
      for (std::int64_t j = 0; j < H; ++j) {
        centres[static_cast<std::size_t>(c * H + j)] = points[pick * H + j];
      }
    }
    std::vector<int> assign(static_cast<std::size_t>(n), 0);
    double cost = 0;
    for (int iteration = 0; iteration < 100; ++iteration) {
      cost = 0;
      for (std::int64_t p = 0; p < n; ++p) {
        int nearest = 0;
        for (int c = 1; c < k; ++c) nearest = dist(p, c) < dist(p, nearest) ? c : nearest;
        assign[static_cast<std::size_t>(p)] = nearest;
        cost += dist(p, nearest);
      }
      std::vector<double> sums(static_cast<std::size_t>(k * H), 0.0);
      std::vector<std::int64_t> counts(k, 0);
      for (std::int64_t p = 0; p < n; ++p) {
        const int c = assign[static_cast<std::size_t>(p)];
        ++counts[static_cast<std::size_t>(c)];
        for (std::int64_t j = 0; j < H; ++j)
          sums[static_cast<std::size_t>(c * H + j)] += points[p * H + j];
      }
      for (int c = 0; c < k; ++c) {
        if (counts[static_cast<std::size_t>(c)] == 0) continue;
        for (std::int64_t j = 0; j < H; ++j) {
          centres[static_cast<std::size_t>(c * H + j)] =
              sums[static_cast<std::size_t>(c * H + j)] /
              static_cast<double>(counts[static_cast<std::size_t>(c)]);
        }
      }
    }
    if (cost < best_cost) {
      best_cost = cost;
      best_assign = assign;
      best_centres = centres;
    }
  }
  AdderStates out;
  out.centres = best_centres;
  out.hidden = H;
  for (std::int64_t p = 0; p < n; ++p) {
    ++out.counts[static_cast<std::size_t>(best_assign[static_cast<std::size_t>(p)])]
                [static_cast<std::size_t>(truth[static_cast<std::size_t>(p)])];
  }
  std::int64_t majority = 0;
  for (const auto& row : out.counts) majority += *std::max_element(row.begin(), row.end());
  out.purity = static_cast<double>(majority) / static_cast<double>(n);
  // Each cluster stands for its majority automaton state; follow the clusters from one step to
  // the next under each input pair, and compare with the automaton's own transitions.
  std::array<int, 4> stands_for{};
  for (int c = 0; c < 4; ++c) {
    const auto& row = out.counts[static_cast<std::size_t>(c)];
    stands_for[static_cast<std::size_t>(c)] =
        static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin());
  }
  std::array<std::array<std::array<std::int64_t, 4>, 4>, 4> moves{};  // [state][input][state]
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t t = 1; t < T; ++t) {
      const int from = stands_for[static_cast<std::size_t>(
          best_assign[static_cast<std::size_t>((t - 1) * B + b)])];
      const int to =
          stands_for[static_cast<std::size_t>(best_assign[static_cast<std::size_t>(t * B + b)])];
      const int input = static_cast<int>(batch.inputs[(t * B + b) * 2]) +
                        2 * static_cast<int>(batch.inputs[(t * B + b) * 2 + 1]);
      ++moves[static_cast<std::size_t>(from)][static_cast<std::size_t>(input)]
             [static_cast<std::size_t>(to)];
    }
  }
  out.transitions_match = true;
  for (int s = 0; s < 4; ++s) {
    for (int input = 0; input < 4; ++input) {
      const auto& seen = moves[static_cast<std::size_t>(s)][static_cast<std::size_t>(input)];
      const int next = static_cast<int>(std::max_element(seen.begin(), seen.end()) - seen.begin());
      const bool observed = *std::max_element(seen.begin(), seen.end()) > 0;
      out.transitions[static_cast<std::size_t>(s)][static_cast<std::size_t>(input)] =
          observed ? next : -1;
      // The automaton: from (sum bit, carry) with input bits a, b, the sum is a + b + carry.
      const int sum = (input & 1) + (input >> 1) + (s >> 1);
      if (observed && next != (sum & 1) + 2 * (sum >> 1)) out.transitions_match = false;
    }
  }
  // The mean activity of each automaton state, and how many states lie nearest their own.
  out.state_means.assign(static_cast<std::size_t>(4 * H), 0.0);
  std::array<std::int64_t, 4> seen{};
  for (std::int64_t p = 0; p < n; ++p) {
    const int s = truth[static_cast<std::size_t>(p)];
    ++seen[static_cast<std::size_t>(s)];
    for (std::int64_t j = 0; j < H; ++j)
      out.state_means[static_cast<std::size_t>(s * H + j)] += points[p * H + j];
  }
  for (int s = 0; s < 4; ++s) {
    for (std::int64_t j = 0; j < H; ++j) {
      if (seen[static_cast<std::size_t>(s)] > 0) {
        out.state_means[static_cast<std::size_t>(s * H + j)] /=
            static_cast<double>(seen[static_cast<std::size_t>(s)]);
      }
    }
  }
  std::int64_t nearest_own = 0;
  for (std::int64_t p = 0; p < n; ++p) {
    int nearest = 0;
    double best = 1e300;
    for (int s = 0; s < 4; ++s) {
      double d = 0;
      for (std::int64_t j = 0; j < H; ++j) {
        const double e = points[p * H + j] - out.state_means[static_cast<std::size_t>(s * H + j)];
        d += e * e;
      }
      if (d < best) {
        best = d;
        nearest = s;
      }
    }
    nearest_own += nearest == truth[static_cast<std::size_t>(p)];
  }
  out.separation = static_cast<double>(nearest_own) / static_cast<double>(n);
  return out;
}

}  // namespace tapeloop::models
