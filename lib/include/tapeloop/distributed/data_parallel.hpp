// DataParallel: every rank trains a replica of the model on its shard of the batch; the
// gradients are summed over the ranks, in rank order, and divided by the global term count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tapeloop/distributed/communicator.hpp"
#include "tapeloop/optim/optimizer.hpp"
#include "tapeloop/parameter.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::distributed {

struct DataParallelOptions {
  /// Gradients travel in buckets of about this many bytes: one message per bucket instead of
  /// one per parameter (a parameter is never split; one larger than this is a bucket alone).
  std::size_t bucket_bytes = std::size_t{1} << 20;
  /// Start a bucket's all-reduce while backward() is still running, as soon as the sweep has
  /// finished its gradients (true); or all of them after backward() (false).
  bool overlap = true;
};

/// The loss over the global batch, the same on every rank: the ranks' sums added in rank order,
/// divided by the global count of terms.
struct GlobalLoss {
  double mean = 0.0;
  std::int64_t count = 0;
};

/// Data-parallel training (PyTorch's DistributedDataParallel, for a tape). Every rank holds a
/// replica of the model and records its own shard of the global batch on its own tape; the
/// replicas start equal (rank 0's values are broadcast when the DataParallel is made) and stay
/// equal, because every rank steps its optimizer on the same gradient.
///
/// Each rank's loss is the *sum* of its shard's terms (Reduction::sum), and the rank says how
/// many terms that is. backward() then gives every parameter the gradient of the mean over the
/// global batch: the ranks' gradients summed in rank order ((g_0 + g_1) + g_2 ..., the same
/// bits on every rank) and divided by the global count. Uneven shards are exact: nothing
/// assumes equal counts.
///
/// Exactness: R ranks give the bits of one process that accumulates the same R shards with a
/// GradientAccumulator (each shard's backward from zero gradients, added in shard order, then
/// divided). Against one backward over the whole batch at once the result agrees to rounding
/// only: a GEMM over the whole batch adds its rows in another order (docs/distributed.md).
///
/// Every rank must make the same calls with the same parameters' shapes; the constructor checks
/// that the replicas have the same structure and throws DistributedError otherwise. Which
/// parameters are frozen (`requires_grad()`) is read then too: unfreezing one later needs a new
/// DataParallel, or its gradient is not reduced (check_replicas() would show the drift).
template <class T = float>
class DataParallel {
 public:
  /// Collective: checks the replicas' structure and broadcasts rank 0's parameter values.
  DataParallel(Communicator& comm, std::vector<Parameter<T>*> params,
               DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  /// Collective: backward of `loss_sum` (one element, this rank's sum of `count` terms) on
  /// `tape`, then every gradient := (sum over ranks) / global count. The gradients must be zero
  /// before (optimizer.zero_grad()). Returns the global mean loss.
  GlobalLoss backward(Tape<T>& tape, const Var<T>& loss_sum, std::int64_t count);
  /// Collective: the same for gradients already computed into the parameters' grad() (a rank
  /// with no terms passes 0 and zero gradients).
  GlobalLoss reduce_gradients(double loss_sum, std::int64_t count);

  /// Collective: every rank's parameter values := rank `root`'s.
  void broadcast_parameters(int root = 0);
  /// Collective: throws DistributedError on every rank if some rank's parameter values (and,
  /// given an optimizer, its state and step counts) differ from rank 0's, naming those ranks.
  /// After resuming from a checkpoint, it proves every rank read the same one.
  void check_replicas(const Optimizer<T>* optimizer = nullptr);

  Communicator& communicator() { return comm_; }
  /// How the gradients are grouped into messages: the number of buckets.
  std::size_t bucket_count() const;

  struct Bucket;
  class Observer;

 private:
  /// Copies the bucket's gradients into its buffer and starts their all-reduce.
  void start(Bucket& bucket);
  /// Starts the buckets not yet started, then the sum of the loss and the count, waits for
  /// every one and writes the gradients divided by the global count.
  GlobalLoss finish(double loss_sum, std::int64_t count);

  Communicator& comm_;
  std::vector<Parameter<T>*> params_;
  DataParallelOptions options_;
  std::vector<Bucket> buckets_;
};

}  // namespace tapeloop::distributed
