// Data-parallel training throughput over MPI ranks (docs/benchmarks/distributed.md): an LSTM
// layer of configuration M or L trained with Adam, the global batch split over the ranks, and
// the all-reduce alone at the sizes of its gradients. Run by run_distributed.py under mpirun.
//
//   distributed_bench train CONFIG [--layers L] [--threads N] [--repeats R] [--no-overlap]
//                     [--bucket-kb K]
//       one training step per repeat (forward, backward with the all-reduce, Adam); rank 0
//       prints a JSON line with the step times (ms)
//   distributed_bench local CONFIG [--layers L] --threads N [--repeats R]
//       the same step in one process without a DataParallel: the compute of one shard
//   distributed_bench allreduce FLOATS [--repeats R]
//       tapeloop's deterministic all_reduce_sum next to MPI_Allreduce on the same buffer
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "recurrent_common.hpp"
#include "tapeloop/distributed.hpp"
#include "tapeloop/tapeloop.hpp"

namespace {

using namespace tapeloop;
namespace dist = tapeloop::distributed;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void print_times(const std::vector<double>& times) {
  std::printf("\"median_ms\": %.4f, \"times_ms\": [", median(times));
  for (std::size_t i = 0; i < times.size(); ++i) std::printf("%s%.4f", i ? ", " : "", times[i]);
  std::printf("]");
}

// A training step of an LSTM (`layers` deep) on `batch` sequences of configuration `c`; with a
// DataParallel its backward all-reduces.
struct Trainer {
  Trainer(const bench::Config& c, std::int64_t batch, int layers)
      : problem(bench::make_problem(models::RecurrentMode::lstm,
                                    {c.name, batch, c.steps, c.input, c.hidden}, true, 0, layers)),
        params(problem.layer.parameters()),
        adam(params, {.lr = 1e-3}) {}
  void step(dist::DataParallel<float>* dp) {
    tape.clear();
    adam.zero_grad();
    Var<float> x = tape.constant(problem.x.ref());
    Var<float> loss = mse_loss(problem.layer.forward(tape, x).output,
                               tape.constant(problem.target.ref()), Reduction::sum);
    if (dp) {
      dp->backward(tape, loss, problem.target.numel());
    } else {
      tape.backward(loss);
    }
    adam.step();
  }
  std::int64_t gradient_floats() const {
    std::int64_t n = 0;
    for (const Parameter<float>* p : params) n += p->numel();
    return n;
  }
  bench::Problem problem;
  std::vector<Parameter<float>*> params;
  Adam<float> adam;
  Tape<float> tape;
};

int run(int argc, char** argv, dist::Communicator& comm) {
  if (argc < 3) throw bench::UsageError("a task and a configuration or size are needed");
  const std::string task = argv[1], what = argv[2];
  int threads = 1, repeats = 20, layers = 1;
  std::size_t bucket_kb = 1024;
  bool overlap = true;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-overlap") {
      overlap = false;
    } else if (i + 1 < argc && a == "--threads") {
      threads = std::atoi(argv[++i]);
    } else if (i + 1 < argc && a == "--layers") {
      layers = std::atoi(argv[++i]);
    } else if (i + 1 < argc && a == "--repeats") {
      repeats = std::atoi(argv[++i]);
    } else if (i + 1 < argc && a == "--bucket-kb") {
      bucket_kb = static_cast<std::size_t>(std::atoll(argv[++i]));
    } else {
      throw bench::UsageError("unknown argument " + a);
    }
  }
  set_num_threads(threads);
  const bool root = comm.rank() == 0;
  if (task == "allreduce") {
    const std::int64_t n = std::atoll(what.c_str());
    std::vector<float> buffer(static_cast<std::size_t>(n), 1.0f);
    std::vector<double> ours, mpi;
    for (int i = 0; i < repeats + 3; ++i) {
      comm.barrier();
      auto start = std::chrono::steady_clock::now();
      comm.all_reduce_sum(std::span<float>(buffer));
      const double a =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      comm.barrier();
      start = std::chrono::steady_clock::now();
      MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                    MPI_COMM_WORLD);
      const double b =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      if (i >= 3) {
        ours.push_back(a);
        mpi.push_back(b);
      }
    }
    if (root) {
      std::printf("{\"task\": \"allreduce\", \"ranks\": %d, \"floats\": %lld, \"tapeloop\": {",
                  comm.size(), static_cast<long long>(n));
      print_times(ours);
      std::printf("}, \"mpi_allreduce\": {");
      print_times(mpi);
      std::printf("}}\n");
    }
    return 0;
  }
  const bench::Config* c = bench::find_config(what);
  if (!c) throw bench::UsageError("unknown configuration " + what);
  if (task == "local") {
    Trainer trainer(*c, c->batch, layers);
    const bench::Timing t = bench::time_steps(repeats, [&] { trainer.step(nullptr); });
    if (root) {
      std::printf("{\"task\": \"local\", \"config\": \"%s\", \"batch\": %lld, \"threads\": %d, ",
                  c->name, static_cast<long long>(c->batch), threads);
      print_times(t.times);
      std::printf("}\n");
    }
    return 0;
  }
  if (task != "train") throw bench::UsageError("unknown task " + task);
  const dist::Shard shard = dist::shard_of(c->batch, comm.rank(), comm.size());
  Trainer trainer(*c, shard.size(), layers);
  dist::DataParallel<float> dp(comm, trainer.params,
                               {.bucket_bytes = bucket_kb * 1024, .overlap = overlap});
  const bench::Timing t = bench::time_steps(repeats, [&] { trainer.step(&dp); });
  if (root) {
    std::printf(
        "{\"task\": \"train\", \"config\": \"%s\", \"layers\": %d, \"ranks\": %d, "
        "\"threads\": %d, \"batch\": %lld, \"overlap\": %s, \"bucket_kb\": %zu, "
        "\"buckets\": %zu, \"gradient_floats\": %lld, ",
        c->name, layers, comm.size(), threads, static_cast<long long>(c->batch),
        overlap ? "true" : "false", bucket_kb, dp.bucket_count(),
        static_cast<long long>(trainer.gradient_floats()));
    print_times(t.times);
    std::printf("}\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  dist::Environment mpi(argc, argv);
  dist::Communicator comm = dist::Communicator::world();
  try {
    return run(argc, argv, comm);
  } catch (const bench::UsageError& e) {
    std::fprintf(stderr,
                 "distributed_bench: %s\nusage: distributed_bench train|local CONFIG [--layers L] "
                 "[--threads N] "
                 "[--repeats R] [--no-overlap] [--bucket-kb K]\n       distributed_bench allreduce "
                 "FLOATS [--repeats R]\n",
                 e.what());
    return 2;
  }
}
