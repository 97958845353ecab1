// tapeloop-train-char: the character-level LSTM trained data-parallel over MPI ranks (or one
// process going through the same shards in turn), with checkpoints and bit-exact resume.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tapeloop/distributed.hpp"
#include "tapeloop/models.hpp"
#include "tapeloop/ops/build_info.hpp"
#include "tapeloop/tapeloop.hpp"

namespace {

using namespace tapeloop;
using namespace tapeloop::models;
namespace dist = tapeloop::distributed;

struct Options {
  std::string text = "/usr/share/common-licenses/GPL-3";
  std::int64_t steps = 1000, batch = 32, window = 32;
  std::int64_t hidden = 96, embedding = 24;
  int layers = 2;
  double dropout = 0.1, lr = 0.005, clip = 1.0;
  std::uint64_t seed = 1;
  int shards = 0;   // 0: one per rank
  int threads = 0;  // 0: TAPELOOP_NUM_THREADS or every core this process may use
  std::int64_t log_every = 100, checkpoint_every = 0;
  std::string checkpoint, resume;
  bool overlap = true;
  std::size_t bucket_kb = 1024;
};

const char* usage_text =
    "usage: [mpirun -np R] tapeloop-train-char [options]\n\n"
    "Trains a character-level LSTM on a text, data-parallel over the MPI ranks it runs on: each\n"
    "rank takes one shard of every global batch, the gradients are summed in rank order. Without\n"
    "mpirun, one process; --shards S makes it go through the S shards of an S-rank run in turn\n"
    "and give that run's numbers to the last bit (docs/distributed.md).\n\n"
    "  --text FILE            the text (default /usr/share/common-licenses/GPL-3)\n"
    "  --steps N              training steps (1000)\n"
    "  --batch B              global batch: windows per step, over all ranks (32)\n"
    "  --window T             characters per window (32)\n"
    "  --hidden H, --embedding E, --layers L   the model (96, 24, 2)\n"
    "  --dropout P            between the LSTM's layers (0.1)\n"
    "  --lr X, --clip X       Adam's learning rate (0.005), gradient norm clip (1; 0: none)\n"
    "  --seed S               data order, initial weights and dropout masks (1)\n"
    "  --shards S             one process only: go through S shards per step\n"
    "  --threads N            kernel threads per process\n"
    "  --log-every N          print the loss every N steps (100)\n"
    "  --checkpoint FILE      write the model, Adam's state and the data order here (rank 0,\n"
    "                         atomically) at the end, and every --checkpoint-every N steps\n"
    "  --resume FILE          continue from a checkpoint (every rank reads it)\n"
    "  --bucket-kb K          gradient bucket size (1024); --no-overlap: all-reduce after\n"
    "                         backward instead of during it\n";

std::int64_t integer(const std::string& flag, const char* value, std::int64_t min) {
  char* end = nullptr;
  const long long v = std::strtoll(value, &end, 10);
  if (end == value || *end != '\0' || v < min) {
    throw ValueError(flag + " '" + value + "': expected an integer of at least " +
                     std::to_string(min));
  }
  return v;
}

double real(const std::string& flag, const char* value, double min, double max) {
  char* end = nullptr;
  const double v = std::strtod(value, &end);
  if (end == value || *end != '\0' || !(v >= min && v <= max)) {
    throw ValueError(flag + " '" + value + "': expected a number in [" + std::to_string(min) +
                     ", " + std::to_string(max) + "]");
  }
  return v;
}

// nullopt: --help was asked for.
std::optional<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return std::nullopt;
    if (a == "--no-overlap") {
      o.overlap = false;
      continue;
    }
    if (i + 1 == argc) throw ValueError("option " + a + " needs a value (--help lists them)");
    const char* v = argv[++i];
    if (a == "--text")
      o.text = v;
    else if (a == "--steps")
      o.steps = integer(a, v, 0);
    else if (a == "--batch")
      o.batch = integer(a, v, 1);
    else if (a == "--window")
      o.window = integer(a, v, 1);
    else if (a == "--hidden")
      o.hidden = integer(a, v, 1);
    else if (a == "--embedding")
      o.embedding = integer(a, v, 1);
    else if (a == "--layers")
      o.layers = static_cast<int>(integer(a, v, 1));
    else if (a == "--dropout")
      o.dropout = real(a, v, 0.0, 0.99);
    else if (a == "--lr")
      o.lr = real(a, v, 0.0, 10.0);
    else if (a == "--clip")
      o.clip = real(a, v, 0.0, 1e30);
    else if (a == "--seed")
      o.seed = static_cast<std::uint64_t>(integer(a, v, 0));
    else if (a == "--shards")
      o.shards = static_cast<int>(integer(a, v, 1));
    else if (a == "--threads")
      o.threads = static_cast<int>(integer(a, v, 1));
    else if (a == "--log-every")
      o.log_every = integer(a, v, 1);
    else if (a == "--checkpoint-every")
      o.checkpoint_every = integer(a, v, 0);
    else if (a == "--checkpoint")
      o.checkpoint = v;
    else if (a == "--resume")
      o.resume = v;
    else if (a == "--bucket-kb")
      o.bucket_kb = static_cast<std::size_t>(integer(a, v, 1));
    else
      throw ValueError("unknown option " + a + " (--help lists them)");
  }
  return o;
}

std::int64_t parameter_count(const std::vector<Parameter<float>*>& params) {
  std::int64_t n = 0;
  for (const Parameter<float>* p : params) n += p->numel();
  return n;
}

// Columns [shard.begin, shard.end) of a time-major [window, batch] array of ids.
void take_columns(const std::vector<std::int64_t>& all, std::int64_t window, std::int64_t batch,
                  dist::Shard shard, std::vector<std::int64_t>& out) {
  out.resize(static_cast<std::size_t>(window * shard.size()));
  for (std::int64_t t = 0; t < window; ++t) {
    for (std::int64_t b = shard.begin; b < shard.end; ++b) {
      out[static_cast<std::size_t>(t * shard.size() + b - shard.begin)] =
          all[static_cast<std::size_t>(t * batch + b)];
    }
  }
}

int train(const Options& o, dist::Communicator& comm) {
  const int ranks = comm.size(), rank = comm.rank();
  if (o.shards > 0 && ranks > 1 && o.shards != ranks) {
    throw ValueError("--shards " + std::to_string(o.shards) + " under " + std::to_string(ranks) +
                     " ranks: a data-parallel run has one shard per rank (leave --shards out)");
  }
  const int shards = ranks > 1 ? ranks : std::max(o.shards, 1);
  if (o.batch < shards) {
    throw ValueError("--batch " + std::to_string(o.batch) + " is smaller than the " +
                     std::to_string(shards) + " shards: every shard needs a window");
  }
  if (o.threads > 0) set_num_threads(o.threads);

  // A text a rank cannot read stops every rank with the same message.
  CharCorpus corpus;
  dist::run_on_every_rank(
      comm, [&] { corpus = CharCorpus::from_file(o.text); }, "--text");
  const std::size_t split = corpus.ids.size() * 9 / 10;  // the last 10% held out
  Generator init_rng(o.seed);
  CharModel model({.vocabulary = corpus.vocabulary(),
                   .embedding = o.embedding,
                   .hidden = o.hidden,
                   .layers = o.layers,
                   .dropout = o.dropout},
                  init_rng);
  std::vector<Parameter<float>*> params = model.parameters();
  Adam<float> adam(params, {.lr = o.lr});
  dist::DataParallel<float> dp(comm, params,
                               {.bucket_bytes = o.bucket_kb * 1024, .overlap = o.overlap});
  GradientAccumulator<float> accumulator(params);
  // Every rank draws the whole global batch from the same generator and keeps its columns: the
  // data order does not depend on the number of ranks.
  Generator data_rng(o.seed + 1);
  std::int64_t first_step = 0;
  if (!o.resume.empty()) {
    dist::run_on_every_rank(
        comm,
        [&] {
          const Metadata meta = load_parameters(o.resume, model, &adam);
          load_generator_state(meta, "rng.data", data_rng);
          const auto step = meta.find("step");
          if (step == meta.end()) throw FormatError(o.resume + ": no \"step\" in the metadata");
          first_step = integer("the checkpoint's step", step->second.c_str(), 0);
        },
        "--resume " + o.resume);
    dp.check_replicas(&adam);  // every rank read the same checkpoint
  }
  const auto save = [&](std::int64_t step) {
    Metadata meta;
    meta["step"] = std::to_string(step);
    save_generator_state(meta, "rng.data", data_rng);
    dist::run_on_root(
        comm, [&] { save_parameters(o.checkpoint, model, &adam, meta); },
        "--checkpoint " + o.checkpoint);
  };

  if (rank == 0) {
    std::printf(
        "tapeloop-train-char: %d rank%s x %d thread%s, %d shard%s of a global batch of "
        "%lld windows of %lld characters; %lld parameters; kernels %s\n",
        ranks, ranks > 1 ? "s" : "", num_threads(), num_threads() > 1 ? "s" : "", shards,
        shards > 1 ? "s" : "", static_cast<long long>(o.batch), static_cast<long long>(o.window),
        static_cast<long long>(parameter_count(params)), kernel_isa().c_str());
    std::fflush(stdout);
  }
  std::vector<std::int64_t> inputs(static_cast<std::size_t>(o.window * o.batch)),
      targets(inputs.size()), shard_inputs, shard_targets;
  Tape<float> tape;
  for (std::int64_t step = first_step; step < first_step + o.steps; ++step) {
    corpus.sample(data_rng, 0, split, o.window, o.batch, inputs, targets);
    adam.zero_grad();
    dist::GlobalLoss loss;
    // One process: its shards in turn (all of them, or the one of its rank).
    const int first = ranks > 1 ? rank : 0, last = ranks > 1 ? rank + 1 : shards;
    double loss_sum = 0;
    std::int64_t count = 0;
    for (int s = first; s < last; ++s) {
      const dist::Shard shard = dist::shard_of(o.batch, s, shards);
      take_columns(inputs, o.window, o.batch, shard, shard_inputs);
      take_columns(targets, o.window, o.batch, shard, shard_targets);
      model.lstm.dropout_generator() = Generator(dist::shard_seed(o.seed, step, s));
      tape.clear();
      Var<float> sum = cross_entropy(model.forward(tape, shard_inputs, o.window, shard.size()),
                                     shard_targets, Reduction::sum);
      if (ranks > 1) {
        loss = dp.backward(tape, sum, o.window * shard.size());
      } else {
        tape.backward(sum);
        accumulator.add();
        loss_sum += static_cast<double>(sum.item());
        count += o.window * shard.size();
      }
    }
    if (ranks == 1) {
      accumulator.finish(count);
      loss = {loss_sum / static_cast<double>(count), count};
    }
    if (o.clip > 0) clip_grad_norm(params, o.clip);
    adam.step();
    if (rank == 0 && ((step + 1) % o.log_every == 0 || step + 1 == first_step + o.steps)) {
      std::printf("step %lld loss %.9f\n", static_cast<long long>(step + 1), loss.mean);
      std::fflush(stdout);
    }
    if (!o.checkpoint.empty() && o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0) {
      save(step + 1);
    }
  }
  if (!o.checkpoint.empty()) save(first_step + o.steps);

  // Held-out loss, on rank 0 alone (the replicas are equal).
  if (rank == 0 && o.steps > 0) {
    Generator eval_rng(o.seed + 2);
    double held_out = 0;
    const int batches = 4;
    model.eval();
    for (int i = 0; i < batches; ++i) {
      corpus.sample(eval_rng, split, corpus.ids.size(), o.window, o.batch, inputs, targets);
      tape.clear();
      auto no_grad = tape.no_grad();
      held_out +=
          cross_entropy(model.forward(tape, inputs, o.window, o.batch), targets).item() / batches;
    }
    std::printf("held-out loss %.4f nats/char (character frequencies alone: %.4f)\n", held_out,
                corpus.unigram_entropy(split, corpus.ids.size()));
  }
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  dist::Environment mpi(argc, argv);
  dist::Communicator comm = dist::Communicator::world();
  // Errors every rank meets alike (the options, a DistributedError): rank 0 says it, every rank
  // stops on its own.
  const auto say = [&](const char* what) {
    if (comm.rank() == 0) std::fprintf(stderr, "tapeloop-train-char: %s\n", what);
  };
  std::optional<Options> options;
  try {
    options = parse(argc, argv);
  } catch (const std::exception& e) {
    say(e.what());
    return 2;
  }
  if (!options) {
    if (comm.rank() == 0) std::fputs(usage_text, stdout);
    return EXIT_SUCCESS;
  }
  try {
    return train(*options, comm);
  } catch (const dist::DistributedError& e) {
    say(e.what());
    return EXIT_FAILURE;
  } catch (const ValueError& e) {
    say(e.what());
    return 2;
  } catch (const std::exception& e) {
    // This rank alone may have failed: end the job, so no rank waits for it.
    dist::Environment::abort(std::string("tapeloop-train-char: ") + e.what());
  }
}
