// CTC decoding: best path and prefix beam search in log space; the edit distance.
#include "tapeloop/models/ctc_decode.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "tapeloop/errors.hpp"
#include "tapeloop/ops/sequence_checks.hpp"

namespace tapeloop::models {
namespace {

constexpr double minus_inf = -std::numeric_limits<double>::infinity();

double log_add(double a, double b) {
  if (a == minus_inf) return b;
  if (b == minus_inf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

// Checks log_probs [T, B, C], the lengths and the blank, naming `who`.
template <class T>
void check_decode(const char* who, TensorRef<const T> log_probs,
                  std::span<const std::int64_t> input_lengths, std::int64_t blank) {
  const Shape& s = log_probs.shape;
  if (s.rank() != 3)
    throw ShapeError(std::string(who) + ": log_probs " + s.str() + ": expected [T, B, C]");
  if (static_cast<std::int64_t>(input_lengths.size()) != s[1]) {
    throw ShapeError(std::string(who) + ": " + std::to_string(input_lengths.size()) +
                     " lengths for a batch of " + std::to_string(s[1]) + " (log_probs " + s.str() +
                     ")");
  }
  check_sequence_lengths(who, input_lengths, s[1], s[0], "log_probs", s);
  if (blank < 0 || blank >= s[2]) {
    throw ValueError(std::string(who) + ": blank " + std::to_string(blank) + " is not a class of " +
                     s.str());
  }
}

}  // namespace

template <class T>
std::vector<CtcHypothesis> ctc_greedy_decode(TensorRef<const T> log_probs,
                                             std::span<const std::int64_t> input_lengths,
                                             std::int64_t blank) {
  check_decode("ctc_greedy_decode", log_probs, input_lengths, blank);
  const std::int64_t B = log_probs.shape[1], C = log_probs.shape[2];
  std::vector<CtcHypothesis> out(static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) {
    CtcHypothesis& h = out[static_cast<std::size_t>(b)];
    std::int64_t previous = blank;
    for (std::int64_t t = 0; t < input_lengths[static_cast<std::size_t>(b)]; ++t) {
      const T* row = log_probs.data + (t * B + b) * C;
      const std::int64_t k = std::max_element(row, row + C) - row;
      h.log_prob += static_cast<double>(row[k]);
      if (k != blank && k != previous) h.labels.push_back(k);
      previous = k;
    }
  }
  return out;
}

template <class T>
std::vector<CtcHypothesis> ctc_beam_search(TensorRef<const T> log_probs,
                                           std::span<const std::int64_t> input_lengths,
                                           int beam_width, std::int64_t blank) {
  check_decode("ctc_beam_search", log_probs, input_lengths, blank);
  if (beam_width < 1) {
    throw ValueError("ctc_beam_search: beam width " + std::to_string(beam_width) +
                     " is not positive");
  }
  const std::int64_t B = log_probs.shape[1], C = log_probs.shape[2];
  // A prefix's log-probabilities of the frames so far ending in a blank, and in its last label.
  struct Ends {
    double blank = minus_inf, label = minus_inf;
    double total() const { return log_add(blank, label); }
  };
  using Beam = std::map<std::vector<std::int64_t>, Ends>;
  std::vector<CtcHypothesis> out(static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) {
    Beam beam;
    beam[{}].blank = 0.0;
    for (std::int64_t t = 0; t < input_lengths[static_cast<std::size_t>(b)]; ++t) {
      const T* row = log_probs.data + (t * B + b) * C;
      Beam next;
      for (const auto& [prefix, ends] : beam) {
        // A blank keeps the prefix; so does its last label repeated.
        Ends& same = next[prefix];
        same.blank = log_add(same.blank, ends.total() + static_cast<double>(row[blank]));
        for (std::int64_t k = 0; k < C; ++k) {
          if (k == blank) continue;
          const double p = static_cast<double>(row[k]);
          std::vector<std::int64_t> longer = prefix;
          longer.push_back(k);
          Ends& grown = next[longer];
          if (!prefix.empty() && prefix.back() == k) {
            // The same label again extends the prefix only after a blank.
            grown.label = log_add(grown.label, ends.blank + p);
            Ends& kept = next[prefix];
            kept.label = log_add(kept.label, ends.label + p);
          } else {
            grown.label = log_add(grown.label, ends.total() + p);
          }
        }
      }
      // Keep the beam_width most probable prefixes (ties: the shorter, then the smaller).
      std::vector<std::pair<double, const std::vector<std::int64_t>*>> ranked;
      for (const auto& [prefix, ends] : next) ranked.push_back({ends.total(), &prefix});
      const auto keep = std::min<std::size_t>(static_cast<std::size_t>(beam_width), ranked.size());
      std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep),
                        ranked.end(), [](const auto& x, const auto& y) {
                          if (x.first != y.first) return x.first > y.first;
                          return *x.second < *y.second;
                        });
      Beam kept;
      for (std::size_t i = 0; i < keep; ++i)
        kept.emplace(*ranked[i].second, next[*ranked[i].second]);
      beam = std::move(kept);
    }
    auto best = beam.begin();
    for (auto it = beam.begin(); it != beam.end(); ++it) {
      if (it->second.total() > best->second.total()) best = it;
    }
    out[static_cast<std::size_t>(b)] = {best->first, best->second.total()};
  }
  return out;
}

std::int64_t edit_distance(std::span<const std::int64_t> hypothesis,
                           std::span<const std::int64_t> reference) {
  // One row of the dynamic programme at a time.
  std::vector<std::int64_t> row(reference.size() + 1);
  for (std::size_t j = 0; j < row.size(); ++j) row[j] = static_cast<std::int64_t>(j);
  for (std::size_t i = 1; i <= hypothesis.size(); ++i) {
    std::int64_t diagonal = row[0];
    row[0] = static_cast<std::int64_t>(i);
    for (std::size_t j = 1; j <= reference.size(); ++j) {
      const std::int64_t substitute = diagonal + (hypothesis[i - 1] == reference[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row.back();
}

template std::vector<CtcHypothesis> ctc_greedy_decode(TensorRef<const float>,
                                                      std::span<const std::int64_t>, std::int64_t);
template std::vector<CtcHypothesis> ctc_greedy_decode(TensorRef<const double>,
                                                      std::span<const std::int64_t>, std::int64_t);
template std::vector<CtcHypothesis> ctc_beam_search(TensorRef<const float>,
                                                    std::span<const std::int64_t>, int,
                                                    std::int64_t);
template std::vector<CtcHypothesis> ctc_beam_search(TensorRef<const double>,
                                                    std::span<const std::int64_t>, int,
                                                    std::int64_t);

}  // namespace tapeloop::models
