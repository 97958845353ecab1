// Communicator: the ranks of an MPI job and the collective calls data-parallel training makes,
// each with a deadline, the sums in a fixed order.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tapeloop/distributed/environment.hpp"

namespace tapeloop::distributed {

class Communicator;

/// An all-reduce in flight (Communicator::start_all_reduce_sum). progress() lets MPI move it
/// on; wait() finishes it. Destroying an unfinished one waits for it: its buffers are in use.
class AllReduce {
 public:
  AllReduce();
  AllReduce(AllReduce&&) noexcept;
  AllReduce& operator=(AllReduce&&) noexcept;
  ~AllReduce();

  /// Moves the reduction on without blocking; true once it is complete.
  bool progress();
  /// Blocks until it is complete (or the communicator's timeout ends the job).
  void wait();
  bool done() const;

  struct State;

 private:
  friend class Communicator;
  std::unique_ptr<State> state_;
};

/// The processes of an MPI job (a duplicate of MPI_COMM_WORLD, so tapeloop's messages never meet
/// the program's own), with the collectives of data-parallel training.
///
/// Sums are deterministic: all_reduce_sum() adds the ranks' values in rank order,
/// ((x_0 + x_1) + x_2) + ..., on every rank, whatever the network or MPI library — so every
/// rank gets the same bits, run after run, and R ranks give the bits of one process summing the
/// same R parts in order. It moves as many bytes as a ring all-reduce (a reduce-scatter in which
/// each rank sums one slice of every rank's data, then an all-gather of the sums).
///
/// MPI collectives have no timeout: a rank that died or hangs leaves the others waiting
/// forever. Every collective here waits at most timeout(), then prints which call on which rank
/// did not complete and aborts the job (MPI_Abort).
///
/// Every rank must make the same collective calls in the same order with the same sizes.
class Communicator {
 public:
  /// Every process of the job. Throws DistributedError without a running Environment.
  static Communicator world();
  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;
  ~Communicator();

  int rank() const;
  int size() const;

  /// How long a collective may wait for the other ranks before the job is aborted (default
  /// 300 s; the environment variable TAPELOOP_COLLECTIVE_TIMEOUT, in seconds, overrides it).
  std::chrono::duration<double> timeout() const;
  void set_timeout(std::chrono::duration<double> timeout);

  /// data = the element-wise sum of every rank's data, added in rank order (see above).
  template <class T>
  void all_reduce_sum(std::span<T> data);
  /// The same, started: `data` must stay alive and untouched until the result is done.
  template <class T>
  AllReduce start_all_reduce_sum(std::span<T> data);
  /// The same into `reduction`, which must be done: its buffers are reused, so a reduction
  /// started again every step of the same size allocates nothing in tapeloop.
  template <class T>
  void start_all_reduce_sum(std::span<T> data, AllReduce& reduction);
  /// Copies `data` of rank `root` into every rank's `data` (same size everywhere).
  template <class T>
  void broadcast(std::span<T> data, int root = 0);
  /// Every rank's `value`, in rank order.
  std::vector<std::int64_t> all_gather(std::int64_t value);
  /// Root's text on every rank (any length).
  std::string broadcast_text(const std::string& text, int root = 0);
  void barrier();

  /// Agreement after a step some rank may have failed: every rank says whether it succeeded.
  /// When all did, returns; otherwise every rank throws the same DistributedError, naming the
  /// ranks that failed and the first one's `error` ("<what>: rank 1 of 2 failed: ...").
  void agree(bool ok, const std::string& error, const std::string& what);

  /// "rank 1 of 2", for messages.
  std::string who() const;

  struct Impl;

 private:
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapeloop::distributed
