// CTC loss: the forward-backward algorithm in log space, one sequence of the batch per task.
#include "tapeloop/ops/ctc.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "tapeloop/ops/arithmetic.hpp"
#include "tapeloop/ops/reduce.hpp"
#include "tapeloop/ops/sequence_checks.hpp"
#include "tapeloop/rule.hpp"
#include "tapeloop/threading.hpp"

namespace tapeloop {
namespace {

template <class T>
constexpr T minus_inf = -std::numeric_limits<T>::infinity();

// log(e^a + e^b), exact for -inf operands (no -inf - -inf).
template <class T>
T log_add(T a, T b) {
  if (a == minus_inf<T>) return b;
  if (b == minus_inf<T>) return a;
  const T m = a > b ? a : b;
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

// One sequence's view of the batch: its frames, its labels and its extended labelling
// l' = (blank, l1, blank, l2, ..., blank) of length 2S + 1, read through label(s).
template <class T>
struct Sequence {
  const T* log_probs;  // frame t, class k at log_probs[t * stride + k]
  std::int64_t stride;
  std::int64_t frames;
  const std::int64_t* labels;
  std::int64_t length;  // S
  std::int64_t blank;

  std::int64_t states() const { return 2 * length + 1; }
  std::int64_t label(std::int64_t s) const { return s % 2 == 0 ? blank : labels[s / 2]; }
  T lp(std::int64_t t, std::int64_t k) const { return log_probs[t * stride + k]; }
  // Whether a path may skip from state s - 2 to s (a label that differs from the one before).
  bool may_skip(std::int64_t s) const { return s >= 2 && s % 2 == 1 && label(s) != label(s - 2); }
};

// log p(labels | frames) from the forward variables: the paths ending in the last label or
// the blank after it.
template <class T>
T log_likelihood(const Sequence<T>& q, const T* alpha) {
  if (q.frames == 0) return q.length == 0 ? T(0) : minus_inf<T>;
  const std::int64_t L = q.states();
  const T* last = alpha + (q.frames - 1) * L;
  return L > 1 ? log_add(last[L - 1], last[L - 2]) : last[L - 1];
}

// alpha[t * L + s] for every frame; returns log p(labels | frames).
template <class T>
T forward_variables(const Sequence<T>& q, T* alpha) {
  const std::int64_t L = q.states();
  if (q.frames == 0) return log_likelihood(q, alpha);
  for (std::int64_t s = 0; s < L; ++s) alpha[s] = minus_inf<T>;
  alpha[0] = q.lp(0, q.blank);
  if (L > 1) alpha[1] = q.lp(0, q.label(1));
  for (std::int64_t t = 1; t < q.frames; ++t) {
    const T* prev = alpha + (t - 1) * L;
    T* cur = alpha + t * L;
    for (std::int64_t s = 0; s < L; ++s) {
      T a = prev[s];
      if (s >= 1) a = log_add(a, prev[s - 1]);
      if (q.may_skip(s)) a = log_add(a, prev[s - 2]);
      cur[s] = a == minus_inf<T> ? a : a + q.lp(t, q.label(s));
    }
  }
  return log_likelihood(q, alpha);
}

// Calls visit(t, k, d) for every frame t and class k with d = d(-log p)/d log_probs[t, k] != 0,
// running the backward variables in two rows `beta` (2L); `row` holds C numbers.
template <class T, class Visit>
void for_each_gradient(const Sequence<T>& q, const T* alpha, T log_p, T* beta, T* row,
                       std::int64_t classes, Visit visit) {
  const std::int64_t L = q.states();
  if (q.frames == 0) return;
  T* next = beta;
  T* cur = beta + L;
  for (std::int64_t t = q.frames - 1; t >= 0; --t) {
    for (std::int64_t s = 0; s < L; ++s) {
      T b;
      if (t == q.frames - 1) {
        b = s >= L - 2 ? T(0) : minus_inf<T>;
      } else {
        b = next[s];
        if (s + 1 < L) b = log_add(b, next[s + 1]);
        if (s + 2 < L && q.may_skip(s + 2)) b = log_add(b, next[s + 2]);
      }
      cur[s] = b == minus_inf<T> ? b : b + q.lp(t, q.label(s));
    }
    // d p / d y_t(k) = sum over s with l'_s = k of alpha_t(s) beta_t(s) / y_t(k)^2 ... in log
    // space, with both variables including frame t: -exp(lse(alpha + beta) - lp - log p).
    std::fill(row, row + classes, minus_inf<T>);
    const T* a = alpha + t * L;
    for (std::int64_t s = 0; s < L; ++s) {
      if (a[s] != minus_inf<T> && cur[s] != minus_inf<T>) {
        row[q.label(s)] = log_add(row[q.label(s)], a[s] + cur[s]);
      }
    }
    for (std::int64_t k = 0; k < classes; ++k) {
      if (row[k] != minus_inf<T>) visit(t, k, -std::exp(row[k] - q.lp(t, k) - log_p));
    }
    std::swap(next, cur);
  }
}

template <class T>
struct CtcRule {
  static constexpr const char* name = "ctc_loss";
  // The caller's arrays during check() and forward(); the tape's copies after.
  const std::int64_t* targets;
  std::int64_t target_count;
  const std::int64_t* input_lengths;
  const std::int64_t* target_lengths;
  std::int64_t count;  // of the two length arrays
  std::int64_t blank;
  bool zero_infinity;
  std::int64_t frames = 0, batch = 0, classes = 0, max_states = 1;
  std::int64_t* first_label = nullptr;  // where each sequence's labels start in targets
  std::int64_t* first_alpha = nullptr;  // where each sequence's alpha starts in alpha
  T* alpha = nullptr;

  Shape check(InputShapes s) {
    const Shape& shape = s[0];
    if (shape.rank() != 3) {
      throw ShapeError("ctc_loss: log_probs " + shape.str() + ": expected [T, B, C]");
    }
    frames = shape[0];
    batch = shape[1];
    classes = shape[2];
    if (blank < 0 || blank >= classes) {
      throw ValueError("ctc_loss: blank " + std::to_string(blank) + " is not a class of " +
                       shape.str());
    }
    if (count != batch) {
      throw ShapeError("ctc_loss: " + std::to_string(count) + " lengths for a batch of " +
                       std::to_string(batch) + " (log_probs " + shape.str() + ")");
    }
    const std::span<const std::int64_t> lengths(input_lengths, static_cast<std::size_t>(count));
    check_sequence_lengths(name, lengths, batch, frames, "log_probs", shape);
    std::int64_t total = 0;
    for (std::int64_t b = 0; b < batch; ++b) {
      if (target_lengths[b] < 0) {
        throw ValueError("ctc_loss: target length " + std::to_string(target_lengths[b]) +
                         " of sequence " + std::to_string(b) + " is negative");
      }
      total += target_lengths[b];
      max_states = std::max(max_states, 2 * target_lengths[b] + 1);
    }
    if (total != target_count) {
      throw ValueError("ctc_loss: the target lengths add up to " + std::to_string(total) +
                       ", but there are " + std::to_string(target_count) + " targets");
    }
    for (std::int64_t i = 0; i < target_count; ++i) {
      if (targets[i] < 0 || targets[i] >= classes || targets[i] == blank) {
        throw ValueError("ctc_loss: target " + std::to_string(targets[i]) + " at position " +
                         std::to_string(i) + " is not a label of " + shape.str() + " (classes [0," +
                         std::to_string(classes) + "), blank " + std::to_string(blank) + ")");
      }
    }
    return Shape{batch};
  }

  Sequence<T> sequence(const T* log_probs, std::int64_t b) const {
    return {log_probs + b * classes,  batch * classes,   input_lengths[b],
            targets + first_label[b], target_lengths[b], blank};
  }

  void forward(ForwardContext<T>& c) {
    const std::size_t n = static_cast<std::size_t>(batch);
    targets = c.keep(targets, static_cast<std::size_t>(target_count));
    input_lengths = c.keep(input_lengths, n);
    target_lengths = c.keep(target_lengths, n);
    first_label = c.template scratch_as<std::int64_t>(n);
    first_alpha = c.template scratch_as<std::int64_t>(n);
    std::int64_t labels = 0, cells = 0;
    for (std::int64_t b = 0; b < batch; ++b) {
      first_label[b] = labels;
      first_alpha[b] = cells;
      labels += target_lengths[b];
      cells += input_lengths[b] * (2 * target_lengths[b] + 1);
    }
    alpha = c.scratch(cells);  // kept for backward; forward needs it too
    const T* lp = c.in(0);
    T* loss = c.out();
    // Each sequence on its own (disjoint memory): the same bits for any thread count.
    detail::parallel_run(batch, [&](std::int64_t b) {
      const T log_p = forward_variables(sequence(lp, b), alpha + first_alpha[b]);
      const T l = -log_p;
      loss[b] = zero_infinity && std::isinf(l) ? T(0) : l;
    });
  }

  // visit(b, t, k, d) over every sequence, in parallel over the batch.
  template <class Visit>
  void for_each_sequence_gradient(const OpContext<T>& c, Visit visit) const {
    T* beta = c.scratch(batch * 2 * max_states);
    T* rows = c.scratch(batch * classes);
    const T* lp = c.in(0);
    detail::parallel_run(batch, [&](std::int64_t b) {
      const Sequence<T> q = sequence(lp, b);
      const T* a = alpha + first_alpha[b];
      // From the stored alphas: the output holds 0 for an impossible sequence with zero_infinity.
      const T log_p = log_likelihood(q, a);
      if (std::isinf(log_p)) return;  // no alignment: no gradient (the loss is inf, or 0)
      for_each_gradient(q, a, log_p, beta + b * 2 * max_states, rows + b * classes, classes,
                        [&](std::int64_t t, std::int64_t k, T d) { visit(b, t, k, d); });
    });
  }

  void backward(BackwardContext<T>& c) const {
    T* g = c.grad(0);
    if (!g) return;
    const T* go = c.grad_out();
    for_each_sequence_gradient(c, [&](std::int64_t b, std::int64_t t, std::int64_t k, T d) {
      g[(t * batch + b) * classes + k] += go[b] * d;
    });
  }
  // d loss_b = sum over t, k of d(-log p_b)/d log_probs[t, b, k] * tangent[t, b, k].
  void tangent(TangentContext<T>& c) const {
    const T* tl = c.tangent(0);
    T* ty = c.tangent_out();
    for_each_sequence_gradient(c, [&](std::int64_t b, std::int64_t t, std::int64_t k, T d) {
      ty[b] += d * tl[(t * batch + b) * classes + k];
    });
  }
};

}  // namespace

template <class T>
Var<T> ctc_loss_per_sequence(const Var<T>& log_probs, std::span<const std::int64_t> targets,
                             std::span<const std::int64_t> input_lengths,
                             std::span<const std::int64_t> target_lengths,
                             const CtcOptions& options) {
  if (input_lengths.size() != target_lengths.size()) {
    throw ShapeError("ctc_loss: " + std::to_string(input_lengths.size()) + " input lengths and " +
                     std::to_string(target_lengths.size()) + " target lengths");
  }
  CtcRule<T> rule{
      targets.data(),        static_cast<std::int64_t>(targets.size()),       input_lengths.data(),
      target_lengths.data(), static_cast<std::int64_t>(input_lengths.size()), options.blank,
      options.zero_infinity};
  return record(rule, log_probs);
}

template <class T>
Var<T> ctc_loss(const Var<T>& log_probs, std::span<const std::int64_t> targets,
                std::span<const std::int64_t> input_lengths,
                std::span<const std::int64_t> target_lengths, const CtcOptions& options) {
  const Var<T> losses =
      ctc_loss_per_sequence(log_probs, targets, input_lengths, target_lengths, options);
  if (options.reduction == Reduction::sum) return sum(losses);
  // PyTorch's mean: each loss over its target length (at least 1), then the batch mean.
  const std::int64_t batch = static_cast<std::int64_t>(target_lengths.size());
  Tape<T>& tape = log_probs.tape();
  T* weights = record_scratch<T>(tape, batch);
  for (std::int64_t b = 0; b < batch; ++b) {
    weights[b] = T(1) / static_cast<T>(std::max<std::int64_t>(target_lengths[b], 1));
  }
  return mean(losses * tape.constant(TensorRef<const T>{weights, Shape{batch}}));
}

#define TAPELOOP_INSTANTIATE(T)                                                            \
  template Var<T> ctc_loss_per_sequence(const Var<T>&, std::span<const std::int64_t>,      \
                                        std::span<const std::int64_t>,                     \
                                        std::span<const std::int64_t>, const CtcOptions&); \
  template Var<T> ctc_loss(const Var<T>&, std::span<const std::int64_t>,                   \
                           std::span<const std::int64_t>, std::span<const std::int64_t>,   \
                           const CtcOptions&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
