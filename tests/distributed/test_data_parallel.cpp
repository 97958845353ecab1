// DataParallel: R ranks train an LSTM character model to the same bits as one process
// accumulating the same R shards; against one backward over the whole batch, to rounding.
// Uneven shards, buckets, overlap, and models or values that differ between ranks.
#include <cstring>
#include <optional>
#include <vector>

#include "../support/check.hpp"
#include "mpi_fixture.hpp"
#include "tapeloop/models/char_model.hpp"

using namespace tapeloop;
using namespace tapeloop::distributed;
using namespace tapeloop::models;
using tapeloop::testing::world;

namespace {

constexpr std::int64_t vocabulary = 11, window = 5;

CharModelOptions small_model(double dropout) {
  return {.vocabulary = vocabulary, .embedding = 6, .hidden = 10, .layers = 2, .dropout = dropout};
}

// The global batch of step `step`, time-major [window, batch]: the same on every rank.
void global_batch(std::int64_t step, std::int64_t batch, std::vector<std::int64_t>& inputs,
                  std::vector<std::int64_t>& targets) {
  Generator rng(1000 + static_cast<std::uint64_t>(step));
  inputs.resize(static_cast<std::size_t>(window * batch));
  targets.resize(inputs.size());
  for (auto& v : inputs) v = static_cast<std::int64_t>(rng.below(vocabulary));
  for (auto& v : targets) v = static_cast<std::int64_t>(rng.below(vocabulary));
}

std::vector<std::int64_t> columns(const std::vector<std::int64_t>& all, std::int64_t batch,
                                  Shard s) {
  std::vector<std::int64_t> out;
  for (std::int64_t t = 0; t < window; ++t) {
    for (std::int64_t b = s.begin; b < s.end; ++b)
      out.push_back(all[static_cast<std::size_t>(t * batch + b)]);
  }
  return out;
}

// Records shard `index` of step `step` and returns the sum of its cross-entropy terms.
Var<float> shard_loss(CharModel& model, Tape<float>& tape, std::int64_t step, std::int64_t batch,
                      int index, int shards) {
  std::vector<std::int64_t> inputs, targets;
  global_batch(step, batch, inputs, targets);
  const Shard s = shard_of(batch, index, shards);
  model.lstm.dropout_generator() = Generator(shard_seed(7, step, index));
  tape.clear();
  const std::vector<std::int64_t> in = columns(inputs, batch, s), out = columns(targets, batch, s);
  return cross_entropy(model.forward(tape, in, window, s.size()), out, Reduction::sum);
}

std::vector<float> values_of(CharModel& model) {
  std::vector<float> v;
  for (Parameter<float>* p : model.parameters())
    v.insert(v.end(), p->value().begin(), p->value().end());
  return v;
}

std::vector<float> grads_of(CharModel& model) {
  std::vector<float> v;
  for (Parameter<float>* p : model.parameters())
    v.insert(v.end(), p->grad().begin(), p->grad().end());
  return v;
}

struct Run {
  std::vector<float> values, first_grads;
  std::vector<double> losses;
};

// `steps` Adam steps data-parallel over the world's ranks.
Run data_parallel(std::int64_t batch, int steps, double dropout, DataParallelOptions options) {
  Communicator& c = world();
  Generator init(3);
  CharModel model(small_model(dropout), init);
  Adam<float> adam(model.parameters(), {.lr = 0.05});
  DataParallel<float> dp(c, model.parameters(), options);
  Tape<float> tape;
  Run run;
  for (int step = 0; step < steps; ++step) {
    adam.zero_grad();
    Var<float> loss = shard_loss(model, tape, step, batch, c.rank(), c.size());
    const GlobalLoss g =
        dp.backward(tape, loss, window * shard_of(batch, c.rank(), c.size()).size());
    run.losses.push_back(g.mean);
    if (step == 0) run.first_grads = grads_of(model);
    adam.step();
  }
  run.values = values_of(model);
  return run;
}

// The same in one process: each step goes through the world's shards in turn.
Run accumulated(std::int64_t batch, int steps, double dropout, int shards) {
  Generator init(3);
  CharModel model(small_model(dropout), init);
  Adam<float> adam(model.parameters(), {.lr = 0.05});
  GradientAccumulator<float> accumulator(model.parameters());
  Tape<float> tape;
  Run run;
  for (int step = 0; step < steps; ++step) {
    adam.zero_grad();
    double sum = 0;
    for (int s = 0; s < shards; ++s) {
      Var<float> loss = shard_loss(model, tape, step, batch, s, shards);
      tape.backward(loss);
      accumulator.add();
      sum += static_cast<double>(loss.item());
    }
    accumulator.finish(window * batch);
    run.losses.push_back(sum / static_cast<double>(window * batch));
    if (step == 0) run.first_grads = grads_of(model);
    adam.step();
  }
  run.values = values_of(model);
  return run;
}

double largest(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, std::abs(static_cast<double>(v)));
  return m;
}

double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return m;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_data_parallel)

BOOST_AUTO_TEST_CASE(ranks_equal_one_process_over_the_same_shards_bit_for_bit) {
  // 7 windows: uneven shards on 2 ranks (4 + 3) and on 3 (3 + 2 + 2); dropout between layers.
  const int ranks = world().size();
  for (std::int64_t batch : {7, 12}) {
    const Run dp = data_parallel(batch, 4, 0.3, {});
    const Run one = accumulated(batch, 4, 0.3, ranks);
    BOOST_TEST(same_bits(dp.first_grads, one.first_grads), "batch " << batch << ": gradients");
    BOOST_TEST(same_bits(dp.values, one.values), "batch " << batch << ": parameters");
    BOOST_TEST(dp.losses == one.losses, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(double_precision_too) {
  // A tanh layer on 7 samples in double: the same bits as one process over the same shards.
  Communicator& c = world();
  const auto train = [&](bool distributed) {
    Parameter<double> w(Tensor<double>::from({2, 3}, {0.3, -0.2, 0.5, 0.1, -0.4, 0.25}), "w");
    Parameter<double> b(Tensor<double>::from({2}, {0.05, -0.1}), "b");
    std::vector<Parameter<double>*> params{&w, &b};
    SGD<double> sgd(params, {.lr = 0.1});
    std::optional<DataParallel<double>> dp;
    if (distributed) dp.emplace(c, params, DataParallelOptions{.bucket_bytes = 8});
    GradientAccumulator<double> accumulator(params);
    Tape<double> tape;
    for (int step = 0; step < 3; ++step) {
      sgd.zero_grad();
      const int first = distributed ? c.rank() : 0, last = distributed ? c.rank() + 1 : c.size();
      for (int s = first; s < last; ++s) {
        const Shard sh = shard_of(7, s, c.size());
        Generator rng(40 + static_cast<std::uint64_t>(step));
        std::vector<double> x(21);
        for (double& v : x) v = rng.normal();
        tape.clear();
        Var<double> in = tape.constant(Tensor<double>::from(
            {sh.size(), 3}, std::vector<double>(x.begin() + 3 * sh.begin, x.begin() + 3 * sh.end)));
        Var<double> loss = sum(tanh(linear(in, w.var(tape), b.var(tape))));
        if (distributed) {
          dp->backward(tape, loss, sh.size());
        } else {
          tape.backward(loss);
          accumulator.add();
        }
      }
      if (!distributed) accumulator.finish(7);
      sgd.step();
    }
    std::vector<double> v(w.value().begin(), w.value().end());
    v.insert(v.end(), b.value().begin(), b.value().end());
    return v;
  };
  const std::vector<double> dp = train(true), one = train(false);
  BOOST_TEST(std::memcmp(dp.data(), one.data(), dp.size() * sizeof(double)) == 0);
}

BOOST_AUTO_TEST_CASE(micro_batches_per_rank_then_one_reduction) {
  // Each rank goes through two micro-batches of its shard (PyTorch's no_sync), then reduces
  // once: the gradient of the global mean, as accumulating all 2R micro-batches in one process
  // gives it — to rounding, since the additions are grouped per rank.
  Communicator& c = world();
  const std::int64_t batch = 12;
  const int micro = 2 * c.size();
  Generator init(3);
  CharModel model(small_model(0.0), init);
  DataParallel<float> dp(c, model.parameters());
  GradientAccumulator<float> accumulator(model.parameters());
  Tape<float> tape;
  double loss = 0;
  for (int m = 2 * c.rank(); m < 2 * c.rank() + 2; ++m) {
    Var<float> l = shard_loss(model, tape, 0, batch, m, micro);
    tape.backward(l);
    accumulator.add();
    loss += static_cast<double>(l.item());
  }
  accumulator.finish(1);
  const GlobalLoss global =
      dp.reduce_gradients(loss, window * shard_of(batch, c.rank(), c.size()).size());
  BOOST_TEST(global.count == window * batch);
  const std::vector<float> reduced = grads_of(model);
  const Run one = accumulated(batch, 1, 0.0, micro);
  BOOST_REQUIRE(reduced.size() == one.first_grads.size());
  // Measured against the largest gradient: an element summed from terms that cancel keeps only
  // the absolute rounding of the terms, whatever its own size.
  BOOST_TEST(largest_difference(reduced, one.first_grads) <= 1e-6 * largest(one.first_grads));
}

BOOST_AUTO_TEST_CASE(buckets_and_overlap_do_not_change_a_bit) {
  const Run reference = data_parallel(7, 3, 0.3, {});
  for (const DataParallelOptions options :
       {DataParallelOptions{.bucket_bytes = 1, .overlap = true},
        DataParallelOptions{.bucket_bytes = 1, .overlap = false},
        DataParallelOptions{.bucket_bytes = 1 << 30, .overlap = true},
        DataParallelOptions{.bucket_bytes = 300, .overlap = true}}) {
    const Run run = data_parallel(7, 3, 0.3, options);
    BOOST_TEST(same_bits(run.values, reference.values),
               "bucket_bytes " << options.bucket_bytes << " overlap " << options.overlap);
  }
}

BOOST_AUTO_TEST_CASE(one_backward_over_the_whole_batch_agrees_to_rounding) {
  // Without dropout, the gradient of the global mean is the same quantity as one backward over
  // the whole batch computes; only the order of the additions over the batch differs.
  const std::int64_t batch = 9;
  const Run dp = data_parallel(batch, 1, 0.0, {});
  Generator init(3);
  CharModel model(small_model(0.0), init);
  Tape<float> tape;
  std::vector<std::int64_t> inputs, targets;
  global_batch(0, batch, inputs, targets);
  tape.backward(cross_entropy(model.forward(tape, inputs, window, batch), targets));
  const std::vector<float> whole = grads_of(model);
  BOOST_REQUIRE(whole.size() == dp.first_grads.size());
  const double worst = largest_difference(whole, dp.first_grads), scale = largest(whole);
  BOOST_TEST_MESSAGE("largest difference " << worst << " of a largest gradient " << scale);
  BOOST_TEST(worst <= 1e-6 * scale);
}

BOOST_AUTO_TEST_CASE(replicas_start_equal_and_a_drifted_one_is_named) {
  Communicator& c = world();
  // Different seeds: the broadcast from rank 0 makes them equal.
  Generator init(50 + static_cast<std::uint64_t>(c.rank()));
  CharModel model(small_model(0.0), init);
  DataParallel<float> dp(c, model.parameters());
  dp.check_replicas();
  if (c.size() == 1) return;
  if (c.rank() == c.size() - 1) model.readout.weight.value().data()[3] += 1e-7f;
  TAPELOOP_CHECK_THROW_MESSAGE(
      dp.check_replicas(), DistributedError,
      "the parameter values of rank " + std::to_string(c.size() - 1) + " differ from rank 0's");
}

BOOST_AUTO_TEST_CASE(ranks_with_different_models_are_refused_on_every_rank) {
  Communicator& c = world();
  if (c.size() == 1) return;
  CharModelOptions options = small_model(0.0);
  if (c.rank() == 1) options.hidden = 12;
  Generator init(3);
  CharModel model(options, init);
  TAPELOOP_CHECK_THROW_MESSAGE(DataParallel<float>(c, model.parameters()), DistributedError,
                               "DataParallel: the ranks' models differ (ranks differing from rank "
                               "0: 1): rank 0 has 11 parameters of 1787 elements, rank 1 has 11 "
                               "parameters of 2417 elements");
}

BOOST_AUTO_TEST_CASE(bad_losses_and_counts_are_named) {
  Communicator& c = world();
  Generator init(3);
  CharModel model(small_model(0.0), init);
  DataParallel<float> dp(c, model.parameters());
  Tape<float> tape;
  std::vector<std::int64_t> inputs, targets;
  global_batch(0, 2, inputs, targets);
  Var<float> logits = model.forward(tape, inputs, window, 2);
  TAPELOOP_CHECK_THROW_MESSAGE(dp.backward(tape, logits, 10), ShapeError,
                               "DataParallel::backward: the loss has shape [10,11]");
  Var<float> loss = cross_entropy(logits, targets, Reduction::sum);
  TAPELOOP_CHECK_THROW_MESSAGE(dp.backward(tape, loss, -1), ValueError, "count -1 is below 0");
  // Every rank with no terms: nothing to divide by, said on every rank.
  for (Parameter<float>* p : model.parameters()) p->zero_grad();
  TAPELOOP_CHECK_THROW_MESSAGE(dp.reduce_gradients(0.0, 0), DistributedError,
                               "the global batch has no terms");
}

BOOST_AUTO_TEST_SUITE_END()
