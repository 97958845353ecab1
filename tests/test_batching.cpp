// Shuffled and length-bucketed mini-batches, and padding, against hand-computed batches and an
// independent implementation of the documented algorithms.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "support/check.hpp"
#include "support/doc_blocks.hpp"
#include "tapeloop/models.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

using Batches = std::vector<std::vector<std::int64_t>>;

// Every index of [0, n) exactly once across the batches.
bool covers_once(const Batches& batches, std::int64_t n) {
  std::vector<std::int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  std::vector<std::int64_t> expected(static_cast<std::size_t>(n));
  std::iota(expected.begin(), expected.end(), std::int64_t{0});
  return all == expected;
}

// Fisher–Yates as documented, written out again.
void reference_shuffle(std::vector<std::int64_t>& v, Generator& gen) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[gen.below(i)]);
}

// The bucketing steps as documented, written out again.
Batches reference_buckets(const std::vector<std::int64_t>& lengths, std::int64_t batch_size,
                          std::int64_t pool, Generator& gen) {
  std::vector<std::int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), std::int64_t{0});
  reference_shuffle(order, gen);
  Batches batches;
  const auto chunk = static_cast<std::size_t>(pool * batch_size);
  for (std::size_t begin = 0; begin < order.size(); begin += chunk) {
    const std::size_t end = std::min(order.size(), begin + chunk);
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(begin),
                     order.begin() + static_cast<std::ptrdiff_t>(end),
                     [&](std::int64_t a, std::int64_t b) { return lengths[a] < lengths[b]; });
    for (std::size_t s = begin; s < end; s += static_cast<std::size_t>(batch_size)) {
      const std::size_t e = std::min(end, s + static_cast<std::size_t>(batch_size));
      batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(s),
                           order.begin() + static_cast<std::ptrdiff_t>(e));
    }
  }
  for (std::size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[gen.below(i)]);
  return batches;
}

std::int64_t spread(const std::vector<std::int64_t>& batch,
                    const std::vector<std::int64_t>& lengths) {
  std::int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (std::int64_t i : batch) {
    lo = std::min(lo, lengths[static_cast<std::size_t>(i)]);
    hi = std::max(hi, lengths[static_cast<std::size_t>(i)]);
  }
  return hi - lo;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_batching)

BOOST_AUTO_TEST_CASE(shuffle_is_fisher_yates_with_below) {
  std::vector<std::int64_t> a(50), b(50);
  std::iota(a.begin(), a.end(), std::int64_t{0});
  std::iota(b.begin(), b.end(), std::int64_t{0});
  Generator g1(42), g2(42);
  shuffle(a, g1);
  reference_shuffle(b, g2);
  BOOST_TEST(a == b);
  BOOST_TEST(g1.next_u64() == g2.next_u64());  // the same number of draws
  std::vector<std::int64_t> one{7};
  shuffle(one, g1);  // nothing to draw
  BOOST_TEST(one == std::vector<std::int64_t>{7});
}

BOOST_AUTO_TEST_CASE(sampler_covers_every_index_once) {
  BatchSampler sampler(10, 3);
  BOOST_TEST(sampler.num_batches() == 4);
  // In index order until the first epoch is drawn.
  BOOST_TEST(sampler.batches() == (Batches{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9}}));
  Generator gen(3);
  Batches previous;
  for (int epoch = 0; epoch < 5; ++epoch) {
    sampler.next_epoch(gen);
    const Batches batches = sampler.batches();
    BOOST_TEST(batches.size() == 4u);
    BOOST_TEST(batches[0].size() == 3u);
    BOOST_TEST(batches[3].size() == 1u);
    BOOST_TEST(covers_once(batches, 10));
    BOOST_TEST(batches != previous);
    previous = batches;
  }
  // An epoch depends on the generator's state alone, not on the epochs before.
  Generator g1(77), g2(77);
  sampler.next_epoch(g1);
  BOOST_TEST(sampler.batches() == shuffled_batches(10, 3, g2));
  // A batch is a view of the epoch's permutation.
  BOOST_TEST(sampler.batch(1).data() == sampler.batch(0).data() + 3);
  TAPELOOP_CHECK_THROW_MESSAGE(sampler.batch(4), ValueError,
                               "BatchSampler::batch: batch 4 is outside [0, 4)");
  TAPELOOP_CHECK_THROW_MESSAGE(sampler.batch(-1), ValueError, "batch -1 is outside");
}

BOOST_AUTO_TEST_CASE(same_seed_same_batches) {
  Generator a(11), b(11), c(12);
  const Batches x = shuffled_batches(100, 8, a);
  BOOST_TEST(x == shuffled_batches(100, 8, b));
  BOOST_TEST(x != shuffled_batches(100, 8, c));
  BOOST_TEST(covers_once(x, 100));
  // The permutation is Fisher–Yates over 0..n-1 from this seed, cut in order.
  std::vector<std::int64_t> order(100);
  std::iota(order.begin(), order.end(), std::int64_t{0});
  Generator d(11);
  reference_shuffle(order, d);
  BOOST_TEST(x[0] == std::vector<std::int64_t>(order.begin(), order.begin() + 8));
  BOOST_TEST(x[12] == std::vector<std::int64_t>(order.begin() + 96, order.end()));
}

BOOST_AUTO_TEST_CASE(drop_last) {
  Generator gen(5);
  const Batches kept = shuffled_batches(10, 3, gen, true);
  BOOST_TEST(kept.size() == 3u);
  std::vector<std::int64_t> all;
  for (const auto& b : kept) {
    BOOST_TEST(b.size() == 3u);
    all.insert(all.end(), b.begin(), b.end());
  }
  std::sort(all.begin(), all.end());
  BOOST_TEST((std::adjacent_find(all.begin(), all.end()) == all.end()));  // no repeats
  BOOST_TEST(BatchSampler(9, 3, true).num_batches() == 3);
  BOOST_TEST(BatchSampler(2, 3, true).num_batches() == 0);
  BOOST_TEST(BatchSampler(0, 3).num_batches() == 0);
}

BOOST_AUTO_TEST_CASE(bad_sizes) {
  TAPELOOP_CHECK_THROW_MESSAGE(BatchSampler(10, 0), ValueError,
                               "BatchSampler: batch_size must be at least 1, not 0");
  TAPELOOP_CHECK_THROW_MESSAGE(BatchSampler(-1, 2), ValueError,
                               "BatchSampler: size must not be negative, not -1");
  Generator gen(0);
  TAPELOOP_CHECK_THROW_MESSAGE(shuffled_batches(5, -2, gen), ValueError, "not -2");
  TAPELOOP_CHECK_THROW_MESSAGE(BucketSampler(std::vector<std::int64_t>{1, 2}, 0), ValueError,
                               "BucketSampler: batch_size must be at least 1, not 0");
  TAPELOOP_CHECK_THROW_MESSAGE(BucketSampler(std::vector<std::int64_t>{1, 2}, 2, 0), ValueError,
                               "BucketSampler: pool must be at least 1, not 0");
  TAPELOOP_CHECK_THROW_MESSAGE(BucketSampler(std::vector<std::int64_t>{1, -3}, 2), ValueError,
                               "BucketSampler: length -3 of sequence 1 is negative");
}

BOOST_AUTO_TEST_CASE(padding_time_major_and_batch_first) {
  const std::vector<std::vector<std::int64_t>> seqs{{1, 2, 3}, {4}, {}, {5, 6}};
  const std::vector<std::int64_t> indices{3, 0, 2};
  const PaddedBatch p = pad_batch(seqs, indices, {.pad = -1});
  BOOST_TEST(p.steps == 3);
  BOOST_TEST(p.batch == 3);
  BOOST_TEST(!p.batch_first);
  BOOST_TEST(p.ids == (std::vector<std::int64_t>{5, 1, -1, 6, 2, -1, -1, 3, -1}));
  BOOST_TEST(p.lengths == (std::vector<std::int64_t>{2, 3, 0}));
  BOOST_TEST(p.shape() == (Shape{3, 3}));
  BOOST_TEST(p.at(1, 1) == 2);
  BOOST_TEST(p.at(2, 0) == -1);

  const PaddedBatch q = pad_batch(seqs, indices, {.pad = 9, .batch_first = true});
  BOOST_TEST(q.ids == (std::vector<std::int64_t>{5, 6, 9, 1, 2, 3, 9, 9, 9}));
  BOOST_TEST(q.lengths == p.lengths);
  BOOST_TEST(q.at(1, 1) == 2);
  BOOST_TEST(q.at(2, 0) == 9);

  // Two sequences of four: [steps 2, batch 2]; the buffers are reused.
  PaddedBatch r = p;
  const std::int64_t* before = r.ids.data();
  const std::vector<std::int64_t> pair{1, 3};
  pad_batch(seqs, pair, r);
  BOOST_TEST(r.ids == (std::vector<std::int64_t>{4, 5, 0, 6}));
  BOOST_TEST(r.lengths == (std::vector<std::int64_t>{1, 2}));
  BOOST_TEST(r.ids.data() == before);
}

BOOST_AUTO_TEST_CASE(padding_errors) {
  const std::vector<std::vector<std::int64_t>> seqs{{1}, {2, 3}};
  TAPELOOP_CHECK_THROW_MESSAGE(pad_batch(seqs, std::vector<std::int64_t>{}), ValueError,
                               "pad_batch: the batch has no indices");
  TAPELOOP_CHECK_THROW_MESSAGE(pad_batch(seqs, std::vector<std::int64_t>{0, 2}), ValueError,
                               "pad_batch: index 2 (entry 1 of the batch) is outside [0, 2)");
  TAPELOOP_CHECK_THROW_MESSAGE(pad_batch(seqs, std::vector<std::int64_t>{-1}), ValueError,
                               "index -1 (entry 0 of the batch)");
}

BOOST_AUTO_TEST_CASE(padded_lengths_drive_the_lstm) {
  // The lengths go to the layer as they are, in batch order, unsorted.
  const std::vector<std::vector<std::int64_t>> seqs{{1, 2}, {3, 4, 5, 6}, {0}};
  const std::vector<std::int64_t> indices{0, 1, 2};
  const PaddedBatch p = pad_batch(seqs, indices);
  Generator rng(1);
  Embedding<double> embed(7, 3, rng);
  LSTM<double> lstm({.input_size = 3, .hidden_size = 4}, rng);
  Tape<double> tape;
  const Var<double> out =
      lstm.forward(tape, embed.forward(tape, p.ids, p.shape()), {}, p.lengths).output;  // [4,3,4]
  BOOST_REQUIRE(out.shape() == (Shape{4, 3, 4}));
  for (std::int64_t t = 0; t < 4; ++t) {
    for (std::int64_t b = 0; b < 3; ++b) {
      double norm = 0;
      for (std::int64_t h = 0; h < 4; ++h) norm += std::abs(out.value()[(t * 3 + b) * 4 + h]);
      BOOST_TEST((norm > 0) == (t < p.lengths[static_cast<std::size_t>(b)]),
                 "t " << t << " b " << b);
    }
  }
}

BOOST_AUTO_TEST_CASE(buckets_before_the_first_epoch) {
  const std::vector<std::int64_t> lengths{5, 1, 4, 2, 3, 0};
  BOOST_TEST(BucketSampler(lengths, 2, 1).batches() == (Batches{{1, 0}, {3, 2}, {5, 4}}));
  BOOST_TEST(BucketSampler(lengths, 2, 3).batches() == (Batches{{5, 1}, {3, 4}, {2, 0}}));
  BOOST_TEST(BucketSampler(lengths, 4, 1).batches() == (Batches{{1, 3, 2, 0}, {5, 4}}));
  BOOST_TEST(BucketSampler(lengths, 4, 1, true).batches() == (Batches{{1, 3, 2, 0}}));
  // From the sequences themselves.
  const std::vector<std::vector<std::int64_t>> seqs{{1, 1, 1}, {2}, {}, {3, 3}};
  BOOST_TEST(BucketSampler(seqs, 2).batches() == (Batches{{2, 1}, {3, 0}}));
}

BOOST_AUTO_TEST_CASE(buckets_follow_the_documented_steps) {
  std::vector<std::int64_t> lengths(203);
  Generator draw(8);
  for (auto& l : lengths) l = 1 + static_cast<std::int64_t>(draw.below(60));
  for (std::int64_t pool : {1, 3, 100}) {
    Generator a(21), b(21);
    BucketSampler sampler(lengths, 8, pool);
    sampler.next_epoch(a);
    const Batches batches = sampler.batches();
    BOOST_TEST(batches == reference_buckets(lengths, 8, pool, b), "pool " << pool);
    BOOST_TEST(covers_once(batches, 203));
    BOOST_TEST(sampler.num_batches() == 26);
    Generator c(21), d(22);
    BOOST_TEST(bucket_batches(lengths, 8, c, pool) == batches);
    BOOST_TEST(bucket_batches(lengths, 8, d, pool) != batches);
  }
}

BOOST_AUTO_TEST_CASE(buckets_keep_lengths_close) {
  // Twelve lengths, eight sequences of each: one pool over everything makes every batch a
  // single length; smaller pools keep the spread far below that of unsorted batches.
  std::vector<std::int64_t> lengths;
  for (int copy = 0; copy < 8; ++copy) {
    for (std::int64_t l = 1; l <= 12; ++l) lengths.push_back(l * 10);
  }
  Generator gen(4);
  for (const auto& b : bucket_batches(lengths, 8, gen, 12)) BOOST_TEST(spread(b, lengths) == 0);
  double bucketed = 0, unsorted = 0;
  for (int epoch = 0; epoch < 20; ++epoch) {
    const Batches pooled = bucket_batches(lengths, 8, gen, 4);
    BOOST_TEST(covers_once(pooled, 96));
    for (const auto& b : pooled) bucketed += static_cast<double>(spread(b, lengths));
    for (const auto& b : shuffled_batches(96, 8, gen)) {
      unsorted += static_cast<double>(spread(b, lengths));
    }
  }
  BOOST_TEST_MESSAGE("mean spread: bucketed " << bucketed / 240 << ", unsorted " << unsorted / 240);
  BOOST_TEST(bucketed < 0.4 * unsorted);
}

BOOST_AUTO_TEST_CASE(bucket_drop_last) {
  std::vector<std::int64_t> lengths(30);
  std::iota(lengths.begin(), lengths.end(), std::int64_t{0});
  Generator a(2), b(2);
  // Chunks of 16 and 14: batches of 8, 8, 8 and 6.
  const Batches all = bucket_batches(lengths, 8, a, 2);
  const Batches kept = bucket_batches(lengths, 8, b, 2, true);
  BOOST_TEST(all.size() == 4u);
  BOOST_TEST(covers_once(all, 30));
  BOOST_TEST(kept.size() == 3u);
  for (const auto& batch : kept) BOOST_TEST(batch.size() == 8u);
  BucketSampler sampler(lengths, 8, 2);
  TAPELOOP_CHECK_THROW_MESSAGE(sampler.batch(4), ValueError,
                               "BucketSampler::batch: batch 4 is outside [0, 4)");
}

BOOST_AUTO_TEST_CASE(documented_example) {
  const std::vector<std::vector<std::int64_t>> sequences{{3, 1, 4}, {1, 5}, {9, 2, 6, 5}, {3}};
  Generator gen(0);
  std::vector<std::int64_t> seen;
  // ---- training block: batching ----
  BucketSampler sampler(sequences, /*batch_size=*/2, /*pool=*/50);
  PaddedBatch padded;  // reused: no allocation once it has grown
  for (int epoch = 0; epoch < 2; ++epoch) {
    sampler.next_epoch(gen);
    for (std::int64_t i = 0; i < sampler.num_batches(); ++i) {
      pad_batch(sequences, sampler.batch(i), padded, {.pad = 0});
      // padded.ids [steps, batch] and padded.lengths go to embedding.forward(tape,
      // padded.ids, padded.shape()) and lstm.forward(tape, x, {}, padded.lengths).
      seen.insert(seen.end(), padded.lengths.begin(), padded.lengths.end());
    }
  }
  // ---- end of training block ----
  std::sort(seen.begin(), seen.end());
  BOOST_TEST(seen == (std::vector<std::int64_t>{1, 1, 2, 2, 3, 3, 4, 4}));
  BOOST_TEST(tapeloop::testing::check_doc_blocks(__FILE__, "training.md", "training") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
