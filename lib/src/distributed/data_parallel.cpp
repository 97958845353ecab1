// DataParallel: bucketed, deterministic all-reduce of the gradients, started during backward()
// as the sweep finishes each bucket's parameters.
#include "tapeloop/distributed/data_parallel.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <sstream>

#include "tapeloop/optim/gradient_accumulator.hpp"

namespace tapeloop::distributed {

namespace {

// FNV-1a: a fingerprint to compare the ranks' models and values with one small message.
struct Fingerprint {
  std::uint64_t h = 1469598103934665603ull;
  void add(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  void add(std::int64_t v) { add(&v, sizeof v); }
  std::int64_t value() const { return static_cast<std::int64_t>(h); }
};

// The ranks (other than 0) whose value differs from rank 0's, as "1, 3".
std::string differing(const std::vector<std::int64_t>& values) {
  std::string out;
  for (std::size_t r = 1; r < values.size(); ++r) {
    if (values[r] != values[0]) out += (out.empty() ? "" : ", ") + std::to_string(r);
  }
  return out;
}

// Between buckets the sweep polls the reductions in flight every this many nodes.
constexpr std::int64_t poll_stride = 16;
constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

}  // namespace

template <class T>
struct DataParallel<T>::Bucket {
  std::vector<std::size_t> params;  // indices into params_
  std::vector<std::int64_t> offsets;
  std::vector<T> buffer;
  AllReduce reduce;
  std::int64_t ready_below = never;  // this backward(): complete once the sweep is below this
  bool started = false;
};

// Starts each bucket's all-reduce, in bucket order (every rank must start them in the same
// order), once the sweep has passed the lowest leaf of its parameters.
template <class T>
class DataParallel<T>::Observer : public BackwardObserver {
 public:
  Observer(DataParallel& dp, std::size_t& next) : dp_(dp), next_(next) {}
  std::int64_t first() override { return due(); }
  std::int64_t reached(std::int64_t index) override {
    while (next_ < dp_.buckets_.size() && dp_.buckets_[next_].ready_below > index) {
      dp_.start(dp_.buckets_[next_++]);
    }
    bool in_flight = false;
    for (std::size_t k = 0; k < next_ && !in_flight; ++k) {
      in_flight = !dp_.buckets_[k].reduce.progress();  // moves every reduction in flight on
    }
    const std::int64_t bucket = due();
    return in_flight ? std::max(bucket, index - poll_stride) : bucket;
  }

 private:
  std::int64_t due() const {
    return next_ < dp_.buckets_.size() ? dp_.buckets_[next_].ready_below : -1;
  }
  DataParallel& dp_;
  std::size_t& next_;
};

template <class T>
DataParallel<T>::DataParallel(Communicator& comm, std::vector<Parameter<T>*> params,
                              DataParallelOptions options)
    : comm_(comm), params_(std::move(params)), options_(options) {
  Fingerprint structure;
  std::int64_t elements = 0;
  structure.add(static_cast<std::int64_t>(params_.size()));
  for (const Parameter<T>* p : params_) {
    if (p == nullptr) throw ValueError("DataParallel: a parameter is null");
    structure.add(static_cast<std::int64_t>(p->requires_grad()));
    structure.add(static_cast<std::int64_t>(p->shape().rank()));
    for (std::int64_t d : p->shape()) structure.add(d);
    elements += p->numel();
  }
  const std::vector<std::int64_t> all = comm_.all_gather(structure.value());
  if (const std::string ranks = differing(all); !ranks.empty()) {
    const std::string mine =
        std::to_string(params_.size()) + " parameters of " + std::to_string(elements) + " elements";
    const std::string first_other = ranks.substr(0, ranks.find(','));
    const std::string root = comm_.broadcast_text(mine, 0);
    const std::string other = comm_.broadcast_text(mine, std::stoi(first_other));
    throw DistributedError(
        "DataParallel: the ranks' models differ (ranks differing from rank "
        "0: " +
        ranks + "): rank 0 has " + root + ", rank " + first_other + " has " + other +
        (root == other ? " (their shapes or frozen parameters differ)" : ""));
  }
  // Buckets in reverse order of the parameters: a model's last parameters are used last, so
  // backward() finishes their gradients first.
  Bucket* open = nullptr;
  for (std::size_t k = params_.size(); k-- > 0;) {
    const Parameter<T>& p = *params_[k];
    if (!p.requires_grad()) continue;
    const std::size_t bytes = static_cast<std::size_t>(p.numel()) * sizeof(T);
    if (!open || (open->buffer.size() * sizeof(T) + bytes > options_.bucket_bytes &&
                  !open->buffer.empty())) {
      buckets_.emplace_back();
      open = &buckets_.back();
    }
    open->params.push_back(k);
    open->offsets.push_back(static_cast<std::int64_t>(open->buffer.size()));
    open->buffer.resize(open->buffer.size() + static_cast<std::size_t>(p.numel()));
  }
  broadcast_parameters();
}

template <class T>
DataParallel<T>::~DataParallel() = default;

template <class T>
std::size_t DataParallel<T>::bucket_count() const {
  return buckets_.size();
}

template <class T>
void DataParallel<T>::start(Bucket& b) {
  for (std::size_t j = 0; j < b.params.size(); ++j) {
    const Tensor<T>& g = params_[b.params[j]]->grad();
    std::copy(g.data(), g.data() + g.numel(), b.buffer.data() + b.offsets[j]);
  }
  comm_.start_all_reduce_sum(std::span<T>(b.buffer), b.reduce);
  b.started = true;
}

template <class T>
GlobalLoss DataParallel<T>::backward(Tape<T>& tape, const Var<T>& loss_sum, std::int64_t count) {
  if (loss_sum.shape().numel() != 1) {
    throw ShapeError("DataParallel::backward: the loss has shape " + loss_sum.shape().str() +
                     ": expected one value, this rank's sum over its terms");
  }
  if (count < 0) {
    throw ValueError("DataParallel::backward: count " + std::to_string(count) + " is below 0");
  }
  const double loss = static_cast<double>(loss_sum.item());
  for (Bucket& b : buckets_) {
    b.started = false;
    b.ready_below = never;
    for (std::size_t k : b.params) {
      const std::int64_t leaf = tape.first_parameter_leaf(params_[k]->anchor().get());
      // A parameter this recording does not show as a leaf is sent after backward: whatever
      // adds into its gradient, it is done then.
      b.ready_below = std::min<std::int64_t>(b.ready_below, leaf < 0 ? 0 : leaf);
    }
  }
  std::size_t next = 0;
  if (options_.overlap && comm_.size() > 1) {
    Observer observer(*this, next);
    tape.set_backward_observer(&observer);
    try {
      tape.backward(loss_sum);
    } catch (const std::exception& e) {
      tape.set_backward_observer(nullptr);
      // Reductions may be in flight that the other ranks are waiting to complete: this rank
      // cannot go on alone, and the others cannot go on without it.
      if (next > 0) Environment::abort(std::string("DataParallel::backward failed: ") + e.what());
      throw;
    }
    tape.set_backward_observer(nullptr);
  } else {
    tape.backward(loss_sum);
  }
  return finish(loss, count);
}

template <class T>
GlobalLoss DataParallel<T>::reduce_gradients(double loss_sum, std::int64_t count) {
  if (count < 0) {
    throw ValueError("DataParallel::reduce_gradients: count " + std::to_string(count) +
                     " is below 0");
  }
  for (Bucket& b : buckets_) b.started = false;
  return finish(loss_sum, count);
}

template <class T>
GlobalLoss DataParallel<T>::finish(double loss_sum, std::int64_t count) {
  // Every rank must start its collectives in the same order. Where backward() was when a bucket
  // completed differs between ranks, so the rest start in bucket order, and the loss and the
  // count only after the last bucket.
  for (Bucket& b : buckets_) {
    if (!b.started) start(b);
  }
  double totals[2] = {loss_sum, static_cast<double>(count)};
  comm_.all_reduce_sum(std::span<double>(totals, 2));
  const auto global = static_cast<std::int64_t>(totals[1]);
  if (global < 1) {
    for (Bucket& b : buckets_) b.reduce.wait();
    throw DistributedError("DataParallel: the global batch has no terms (count 0 on every rank)");
  }
  for (Bucket& b : buckets_) {
    b.reduce.wait();
    for (std::size_t j = 0; j < b.params.size(); ++j) {
      Tensor<T>& g = params_[b.params[j]]->grad();
      divide_gradient(b.buffer.data() + b.offsets[j], g.numel(), global, g.data());
    }
  }
  return {totals[0] / static_cast<double>(global), global};
}

template <class T>
void DataParallel<T>::broadcast_parameters(int root) {
  for (Parameter<T>* p : params_)
    comm_.broadcast(std::span<T>(p->value().data(), p->numel()), root);
}

template <class T>
void DataParallel<T>::check_replicas(const Optimizer<T>* optimizer) {
  Fingerprint values;
  for (const Parameter<T>* p : params_) {
    values.add(p->value().data(), static_cast<std::size_t>(p->numel()) * sizeof(T));
  }
  if (optimizer) {
    // Positional names: the parameters' own need not be unique (every Linear has a "weight").
    std::vector<std::string> names;
    for (std::size_t k = 0; k < optimizer->parameters().size(); ++k) {
      names.push_back(std::to_string(k));
    }
    for (const auto& [name, tensor] : optimizer->named_state(names)) {
      values.add(tensor->data(), static_cast<std::size_t>(tensor->numel()) * sizeof(T));
    }
    for (std::size_t k = 0; k < names.size(); ++k) {
      values.add(optimizer->step_count(k));
    }
  }
  const std::vector<std::int64_t> all = comm_.all_gather(values.value());
  if (const std::string ranks = differing(all); !ranks.empty()) {
    throw DistributedError(std::string("DataParallel::check_replicas: the parameter values") +
                           (optimizer ? " or optimizer state" : "") + " of rank" +
                           (ranks.find(',') == std::string::npos ? " " : "s ") + ranks +
                           " differ from rank 0's");
  }
}

template class DataParallel<float>;
template class DataParallel<double>;

}  // namespace tapeloop::distributed
