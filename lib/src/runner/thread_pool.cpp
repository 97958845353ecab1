// The parallel runner on a small std::thread pool (TAPELOOP_THREADS=std), whose synchronization
// ThreadSanitizer sees in full: the ThreadSanitizer build's runner, and one without oneTBB.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "runner.hpp"

namespace tapeloop::detail::runner {
namespace {

// One run: lives on its caller's stack, and stays in the pool's queue until all its chunks are
// claimed. The caller and any workers that join take chunks in turn from `next`.
struct Job {
  Job(void (*c)(void*, std::int64_t), void* x, std::int64_t n) : call(c), context(x), chunks(n) {}

  void (*call)(void*, std::int64_t);
  void* context;
  std::int64_t chunks;
  // Claimed with relaxed increments: no chunk synchronizes with another, so ThreadSanitizer
  // treats every two chunks on different threads as concurrent, as they may be (the call and
  // context reach the workers, and their results the caller, through the pool's mutex).
  std::atomic<std::int64_t> next{0};
  int helpers = 0;                   // workers inside this job (guarded by the pool's mutex)
  Job* later = nullptr;              // the next job in the queue
  std::condition_variable released;  // helpers went to 0
};

void run_chunks(Job& job) {
  for (std::int64_t c = job.next.fetch_add(1, std::memory_order_relaxed); c < job.chunks;
       c = job.next.fetch_add(1, std::memory_order_relaxed)) {
    job.call(job.context, c);
  }
}

// True on a pool worker, and on a caller while it runs chunks: a run started there (a kernel
// called from inside a chunk) runs inline. Its chunks are the same, in order, and no thread
// ever waits for a chunk queued behind the one it is running.
thread_local bool inside_chunk = false;

class Pool {
 public:
  ~Pool() { resize(0); }

  // Keeps `workers` threads besides the callers'. Only one resize at a time (the policy's
  // lock), but runs may be going on: a worker told to stop finishes its chunk first.
  void resize(int workers) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      wanted_ = workers;
    }
    wake_.notify_all();
    while (static_cast<int>(threads_.size()) > workers) {
      threads_.back().join();
      threads_.pop_back();
    }
    while (static_cast<int>(threads_.size()) < workers) {
      const int index = static_cast<int>(threads_.size());
      threads_.emplace_back([this, index] { work(index); });
    }
  }

  void run(Job& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Job** end = &queue_;
      while (*end != nullptr) end = &(*end)->later;
      *end = &job;
    }
    wake_.notify_all();
    inside_chunk = true;
    run_chunks(job);
    inside_chunk = false;
    // Every chunk is claimed; the ones a worker claimed may still be running.
    std::unique_lock<std::mutex> lock(mutex_);
    unlink(job);
    job.released.wait(lock, [&] { return job.helpers == 0; });
  }

 private:
  void work(int index) {
    inside_chunk = true;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return index >= wanted_ || queue_ != nullptr; });
      if (index >= wanted_) return;
      Job& job = *queue_;
      ++job.helpers;
      lock.unlock();
      run_chunks(job);
      lock.lock();
      unlink(job);  // nothing left to claim, if its caller has not unlinked it yet
      if (--job.helpers == 0) job.released.notify_one();
    }
  }

  // Caller holds the mutex.
  void unlink(Job& job) {
    for (Job** at = &queue_; *at != nullptr; at = &(*at)->later) {
      if (*at == &job) {
        *at = job.later;
        return;
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;  // a job was queued, or wanted_ changed
  Job* queue_ = nullptr;          // jobs with chunks left to claim, oldest first
  int wanted_ = 0;                // workers with an index at or above this one exit
  std::vector<std::thread> threads_;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int cores() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) return std::max(1, CPU_COUNT(&cpus));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void configure(int threads) {
  // At most one thread per core, as with TBB, but two whenever two are asked for: on a single
  // core, chunks still run on two threads, which is what a ThreadSanitizer build must see.
  const int running = threads == 1 ? 1 : std::max(2, std::min(threads, cores()));
  pool().resize(running - 1);
}

void run(std::int64_t chunks, void (*call)(void*, std::int64_t), void* context) {
  if (inside_chunk) {
    for (std::int64_t c = 0; c < chunks; ++c) call(context, c);
    return;
  }
  Job job(call, context, chunks);
  pool().run(job);
}

}  // namespace tapeloop::detail::runner
