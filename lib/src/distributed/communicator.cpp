// Communicator: deterministic all-reduce (a reduce-scatter summing in rank order, then an
// all-gather), broadcast and agreement, every wait bounded by a deadline.
#include "tapeloop/distributed/communicator.hpp"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>
#include <thread>

namespace tapeloop::distributed {

struct Communicator::Impl {
  MPI_Comm comm = MPI_COMM_NULL;    // blocking collectives and the all-reduces' first phase
  MPI_Comm gather = MPI_COMM_NULL;  // the all-reduces' second phase
  int rank = 0;
  int size = 1;
  double timeout_seconds = 300.0;
  // All-reduces in flight, in the order they were started (the same on every rank).
  std::vector<AllReduce::State*> pending;
  // all_reduce_sum's, reused: a blocking call is over before the next starts.
  AllReduce blocking;

  ~Impl() {
    if (!Environment::active()) return;
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
    if (gather != MPI_COMM_NULL) MPI_Comm_free(&gather);
  }
  std::string who() const { return "rank " + std::to_string(rank) + " of " + std::to_string(size); }
  /// Moves every all-reduce in flight on, without blocking.
  void progress();
};

namespace {

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}
template <>
MPI_Datatype mpi_type<std::int64_t>() {
  return MPI_INT64_T;
}
template <>
MPI_Datatype mpi_type<char>() {
  return MPI_CHAR;
}

[[noreturn]] void timed_out(const Communicator::Impl& c, const std::string& what) {
  std::ostringstream s;
  s << what << " did not complete within " << c.timeout_seconds
    << " s: another rank failed, stopped, or is not making the same calls; aborting the job";
  Environment::abort(s.str(), 3);
}

// Tests `request` until it completes; past the deadline, says which call did not and aborts the
// job. MPI moves a non-blocking collective on only inside MPI calls, so this polls; it yields
// the CPU between polls, for ranks that share cores.
void wait_for(const Communicator::Impl& c, MPI_Request& request, const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(c.timeout_seconds));
  for (unsigned polls = 0;; ++polls) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    if (polls % 64 == 63) {
      if (std::chrono::steady_clock::now() > deadline) timed_out(c, what);
      std::this_thread::yield();
    }
  }
}

int to_int(std::int64_t n, const char* what) {
  if (n > INT_MAX) {
    throw DistributedError(std::string(what) + ": " + std::to_string(n) +
                           " elements in one message, more than MPI's int counts hold");
  }
  return static_cast<int>(n);
}

}  // namespace

// ---- AllReduce -------------------------------------------------------------------------------

// Phase 1, a reduce-scatter: rank j receives slice j of every rank's data (MPI_Ialltoallv) and
// adds the slices in rank order. Phase 2: every rank receives every summed slice
// (MPI_Iallgatherv, in place). Each rank sends and receives 2 (R - 1) / R of the data, as in a
// ring all-reduce, and the order of the additions is fixed by this code, not by MPI.
//
// MPI needs every rank to start its collectives on a communicator in the same order. The first
// phases start in the caller's order; a second phase could start whenever its first completes,
// which differs between ranks. So the second phases run on a communicator of their own and
// start strictly in the order of the first: one waits for those before it (Impl::progress).
struct AllReduce::State {
  enum Phase { scattering, summed, gathering, done };
  Communicator::Impl* comm = nullptr;
  char* data = nullptr;
  std::size_t element = 0;
  MPI_Datatype type = MPI_DATATYPE_NULL;
  void (*sum_slices)(const char* slices, int ranks, std::int64_t n, char* out) = nullptr;
  std::vector<int> counts, displs;            // slice j: counts[j] elements at displs[j]
  std::vector<int> recv_counts, recv_displs;  // my slice from each rank, in rank order
  std::vector<char> slices;
  MPI_Request request = MPI_REQUEST_NULL;
  Phase phase = scattering;
  std::int64_t n = 0;

  std::string what() const {
    return "all_reduce_sum of " + std::to_string(n) + " elements (" + comm->who() + ")";
  }
  void sum_mine() {
    const auto r = static_cast<std::size_t>(comm->rank);
    sum_slices(slices.data(), comm->size, counts[r],
               data + static_cast<std::size_t>(displs[r]) * element);
    phase = summed;
  }
  void start_gather() {
    MPI_Iallgatherv(MPI_IN_PLACE, 0, type, data, counts.data(), displs.data(), type, comm->gather,
                    &request);
    phase = gathering;
  }
};

void Communicator::Impl::progress() {
  bool earlier_gathering = true;  // every all-reduce before this one has started its gather
  for (AllReduce::State* s : pending) {
    int complete = 0;
    if (s->phase == AllReduce::State::scattering) {
      MPI_Test(&s->request, &complete, MPI_STATUS_IGNORE);
      if (complete) s->sum_mine();
    }
    if (s->phase == AllReduce::State::summed && earlier_gathering) s->start_gather();
    if (s->phase == AllReduce::State::gathering) {
      MPI_Test(&s->request, &complete, MPI_STATUS_IGNORE);
      if (complete) s->phase = AllReduce::State::done;
    }
    earlier_gathering = earlier_gathering && s->phase >= AllReduce::State::gathering;
  }
  std::erase_if(pending,
                [](const AllReduce::State* s) { return s->phase == AllReduce::State::done; });
}

template <class T>
void sum_in_rank_order(const char* slices, int ranks, std::int64_t n, char* out) {
  const T* s = reinterpret_cast<const T*>(slices);
  T* o = reinterpret_cast<T*>(out);
  std::copy(s, s + n, o);
  for (int k = 1; k < ranks; ++k) {
    const T* x = s + static_cast<std::size_t>(k) * static_cast<std::size_t>(n);
    for (std::int64_t i = 0; i < n; ++i) o[i] = o[i] + x[i];
  }
}

AllReduce::AllReduce() = default;
AllReduce::AllReduce(AllReduce&&) noexcept = default;
AllReduce& AllReduce::operator=(AllReduce&& other) noexcept {
  if (this != &other) {
    if (!done()) wait();  // its buffers are in use until then
    state_ = std::move(other.state_);
  }
  return *this;
}
AllReduce::~AllReduce() {
  if (!state_ || state_->phase == State::done) return;
  // Not while an exception unwinds: the rank is failing, and waiting on the other ranks would
  // only delay the abort that follows.
  if (Environment::active() && std::uncaught_exceptions() == 0) {
    wait();
  } else {
    std::erase(state_->comm->pending, state_.get());
  }
}

bool AllReduce::done() const {
  return !state_ || state_->phase == State::done;
}

bool AllReduce::progress() {
  if (done()) return true;
  state_->comm->progress();
  return done();
}

void AllReduce::wait() {
  if (done()) return;
  State& s = *state_;
  // From the wait, not the start: a reduction started early in backward() may wait long after
  // for this rank's own work, which is no sign of a failed rank.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(s.comm->timeout_seconds));
  for (unsigned polls = 0; s.phase != State::done; ++polls) {
    s.comm->progress();
    if (polls % 64 == 63) {
      if (std::chrono::steady_clock::now() > deadline) timed_out(*s.comm, s.what());
      std::this_thread::yield();
    }
  }
}

// ---- Communicator ----------------------------------------------------------------------------

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;
Communicator::~Communicator() = default;

Communicator Communicator::world() {
  if (!Environment::active()) {
    throw DistributedError(
        "Communicator::world: MPI is not running; make a tapeloop::distributed::Environment at "
        "the top of main() first");
  }
  auto impl = std::make_unique<Impl>();
  MPI_Comm_dup(MPI_COMM_WORLD, &impl->comm);
  MPI_Comm_dup(MPI_COMM_WORLD, &impl->gather);
  // How many reductions are in flight at once depends on timing (a slow rank leaves more
  // pending): room for this many up front keeps a warm training step from allocating.
  impl->pending.reserve(256);
  MPI_Comm_rank(impl->comm, &impl->rank);
  MPI_Comm_size(impl->comm, &impl->size);
  if (const char* env = std::getenv("TAPELOOP_COLLECTIVE_TIMEOUT")) {
    char* end = nullptr;
    const double seconds = std::strtod(env, &end);
    if (end == env || *end != '\0' || !(seconds > 0)) {
      throw DistributedError(std::string("TAPELOOP_COLLECTIVE_TIMEOUT='") + env +
                             "': expected a number of seconds above 0");
    }
    impl->timeout_seconds = seconds;
  }
  return Communicator(std::move(impl));
}

int Communicator::rank() const {
  return impl_->rank;
}
int Communicator::size() const {
  return impl_->size;
}
std::string Communicator::who() const {
  return impl_->who();
}

std::chrono::duration<double> Communicator::timeout() const {
  return std::chrono::duration<double>(impl_->timeout_seconds);
}

void Communicator::set_timeout(std::chrono::duration<double> timeout) {
  if (!(timeout.count() > 0)) {
    throw ValueError("Communicator::set_timeout: " + std::to_string(timeout.count()) +
                     " s; the timeout must be above 0");
  }
  impl_->timeout_seconds = timeout.count();
}

template <class T>
AllReduce Communicator::start_all_reduce_sum(std::span<T> data) {
  AllReduce result;
  start_all_reduce_sum(data, result);
  return result;
}

template <class T>
void Communicator::start_all_reduce_sum(std::span<T> data, AllReduce& reduction) {
  if (!reduction.done()) {
    throw DistributedError("start_all_reduce_sum: the AllReduce given is still in flight (" +
                           who() + ")");
  }
  if (impl_->size == 1) return;  // nothing to add
  const int ranks = impl_->size;
  const auto n = static_cast<std::int64_t>(data.size());
  if (!reduction.state_) reduction.state_ = std::make_unique<AllReduce::State>();
  AllReduce::State* s = reduction.state_.get();
  s->comm = impl_.get();
  s->data = reinterpret_cast<char*>(data.data());
  s->element = sizeof(T);
  s->type = mpi_type<T>();
  s->sum_slices = &sum_in_rank_order<T>;
  s->n = n;
  s->phase = AllReduce::State::scattering;
  s->counts.resize(static_cast<std::size_t>(ranks));
  s->displs.resize(static_cast<std::size_t>(ranks));
  for (int j = 0; j < ranks; ++j) {
    // Slices differ by at most one element, the larger first.
    const std::int64_t begin = n / ranks * j + std::min<std::int64_t>(j, n % ranks);
    const std::int64_t size = n / ranks + (j < n % ranks ? 1 : 0);
    s->displs[static_cast<std::size_t>(j)] = to_int(begin, "all_reduce_sum");
    s->counts[static_cast<std::size_t>(j)] = to_int(size, "all_reduce_sum");
  }
  const int mine = s->counts[static_cast<std::size_t>(impl_->rank)];
  s->recv_counts.assign(static_cast<std::size_t>(ranks), mine);
  s->recv_displs.resize(static_cast<std::size_t>(ranks));
  for (int j = 0; j < ranks; ++j) s->recv_displs[static_cast<std::size_t>(j)] = j * mine;
  s->slices.resize(static_cast<std::size_t>(ranks) * static_cast<std::size_t>(mine) * sizeof(T));
  MPI_Ialltoallv(s->data, s->counts.data(), s->displs.data(), s->type, s->slices.data(),
                 s->recv_counts.data(), s->recv_displs.data(), s->type, impl_->comm, &s->request);
  impl_->pending.push_back(s);
}

template <class T>
void Communicator::all_reduce_sum(std::span<T> data) {
  start_all_reduce_sum(data, impl_->blocking);
  impl_->blocking.wait();
}

template <class T>
void Communicator::broadcast(std::span<T> data, int root) {
  if (impl_->size == 1) return;
  MPI_Request request;
  MPI_Ibcast(data.data(), to_int(static_cast<std::int64_t>(data.size()), "broadcast"),
             mpi_type<T>(), root, impl_->comm, &request);
  wait_for(*impl_, request,
           "broadcast of " + std::to_string(data.size()) + " elements (" + who() + ")");
}

std::vector<std::int64_t> Communicator::all_gather(std::int64_t value) {
  std::vector<std::int64_t> all(static_cast<std::size_t>(impl_->size), value);
  if (impl_->size == 1) return all;
  MPI_Request request;
  MPI_Iallgather(&value, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, impl_->comm, &request);
  wait_for(*impl_, request, "all_gather (" + who() + ")");
  return all;
}

std::string Communicator::broadcast_text(const std::string& text, int root) {
  std::int64_t length = static_cast<std::int64_t>(text.size());
  broadcast(std::span<std::int64_t>(&length, 1), root);
  std::string out = impl_->rank == root ? text : std::string(static_cast<std::size_t>(length), ' ');
  broadcast(std::span<char>(out.data(), out.size()), root);
  return out;
}

void Communicator::barrier() {
  if (impl_->size == 1) return;
  MPI_Request request;
  MPI_Ibarrier(impl_->comm, &request);
  wait_for(*impl_, request, "barrier (" + who() + ")");
}

void Communicator::agree(bool ok, const std::string& error, const std::string& what) {
  const std::vector<std::int64_t> failed = all_gather(ok ? 0 : 1);
  std::vector<int> ranks;
  for (int r = 0; r < impl_->size; ++r) {
    if (failed[static_cast<std::size_t>(r)]) ranks.push_back(r);
  }
  if (ranks.empty()) return;
  const std::string first = broadcast_text(error, ranks.front());
  std::ostringstream s;
  s << what << ": rank" << (ranks.size() > 1 ? "s " : " ");
  for (std::size_t k = 0; k < ranks.size(); ++k) s << (k ? ", " : "") << ranks[k];
  s << " of " << impl_->size << " failed";
  s << (ranks.size() > 1 ? " (rank " + std::to_string(ranks.front()) + ": " : " (") << first << ")";
  throw DistributedError(s.str());
}

template AllReduce Communicator::start_all_reduce_sum<float>(std::span<float>);
template AllReduce Communicator::start_all_reduce_sum<double>(std::span<double>);
template void Communicator::start_all_reduce_sum<float>(std::span<float>, AllReduce&);
template void Communicator::start_all_reduce_sum<double>(std::span<double>, AllReduce&);
template void Communicator::all_reduce_sum<float>(std::span<float>);
template void Communicator::all_reduce_sum<double>(std::span<double>);
template void Communicator::broadcast<float>(std::span<float>, int);
template void Communicator::broadcast<double>(std::span<double>, int);
template void Communicator::broadcast<std::int64_t>(std::span<std::int64_t>, int);
template void Communicator::broadcast<char>(std::span<char>, int);

}  // namespace tapeloop::distributed
