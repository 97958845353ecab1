// Helpers shared by the learning-rate schedulers (internal to lib/src): option checks, numbers as
// metadata text, and the all-or-nothing reader of a saved state.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "optim_checks.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/optim/optimizer_ref.hpp"
#include "tapeloop/safetensors.hpp"

// A namespace of its own rather than detail: the short names below (positive, require, ...) are
// meant to be used unqualified by the scheduler sources, through one using-directive each.
namespace tapeloop::scheduler_state {

// A requirement on an option, with the words that describe it in an error message.
struct RealRule {
  const char* requirement;
  bool (*holds)(double);
};
struct CountRule {
  const char* requirement;
  bool (*holds)(std::int64_t);
};

inline constexpr RealRule positive{"must be finite and > 0",
                                   [](double v) { return std::isfinite(v) && v > 0.0; }};
inline constexpr RealRule non_negative{"must be finite and >= 0",
                                       [](double v) { return std::isfinite(v) && v >= 0.0; }};
inline constexpr RealRule unit_closed{"must be in [0, 1]",
                                      [](double v) { return v >= 0.0 && v <= 1.0; }};
inline constexpr RealRule unit_half_open{"must be in [0, 1)",
                                         [](double v) { return v >= 0.0 && v < 1.0; }};
// The best metric so far starts at an infinity; NaN can never be compared.
inline constexpr RealRule not_nan{"must not be NaN", [](double v) { return !std::isnan(v); }};
inline constexpr CountRule count_positive{"must be > 0", [](std::int64_t v) { return v > 0; }};
inline constexpr CountRule count_non_negative{"must be >= 0",
                                              [](std::int64_t v) { return v >= 0; }};

// Constructor arguments: ValueError naming the scheduler, the argument and the value.
inline void require(const char* who, const char* what, double value, const RealRule& rule) {
  if (!rule.holds(value)) {
    throw ValueError(std::string(who) + ": " + what + " " + rule.requirement + ", got " +
                     detail::number_str(value));
  }
}
inline void require(const char* who, const char* what, std::int64_t value, const CountRule& rule) {
  if (!rule.holds(value)) {
    throw ValueError(std::string(who) + ": " + what + " " + rule.requirement + ", got " +
                     std::to_string(value));
  }
}

// The shortest text that reads back as the same double (std::to_chars's guarantee), independent
// of the C locale, which could make printf write "0,1".
inline std::string real_text(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}
inline std::string count_text(std::int64_t value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}
inline std::string key_of(std::string_view field) {
  return std::string(scheduler_key_prefix) + std::string(field);
}

// Reads a scheduler's entries from metadata without changing anything, so that a scheduler can
// take all of them only once every one has been read and checked. Every problem is a
// FormatError naming the scheduler and the key.
class StateReader {
 public:
  StateReader(const Metadata& state, const char* who) : state_(state), who_(who) {
    const std::string& kind = text("kind");
    if (kind != who) fail("kind", kind, "the state is not a " + std::string(who) + "'s");
  }

  double real(const char* field, const RealRule& rule) {
    const std::string& value = text(field);
    double x = 0.0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), x);
    if (error == std::errc::result_out_of_range) fail(field, value, "out of range of a double");
    if (error != std::errc() || end != value.data() + value.size()) {
      fail(field, value, "not a number");
    }
    if (!rule.holds(x)) fail(field, value, std::string(field) + " " + rule.requirement);
    return x;
  }

  std::int64_t count(const char* field, const CountRule& rule) {
    const std::string& value = text(field);
    std::int64_t n = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (error != std::errc() || end != value.data() + value.size()) {
      fail(field, value, "not an integer in the range of int64");
    }
    if (!rule.holds(n)) fail(field, value, std::string(field) + " " + rule.requirement);
    return n;
  }

  // One of two words: returns whether it is the first.
  bool choice(const char* field, const char* first, const char* second) {
    const std::string& value = text(field);
    if (value == first) return true;
    if (value != second) {
      fail(field, value, "expected '" + std::string(first) + "' or '" + second + "'");
    }
    return false;
  }

  // An unknown "scheduler." key means the state is not what this scheduler wrote; the other
  // keys of a checkpoint's metadata are none of its business.
  void reject_unknown_keys() const {
    for (auto it = state_.lower_bound(scheduler_key_prefix);
         it != state_.end() && it->first.starts_with(scheduler_key_prefix); ++it) {
      const std::string_view field = std::string_view(it->first).substr(prefix_size());
      bool known = false;
      for (const char* f : read_) known = known || field == f;
      if (!known) {
        throw FormatError(std::string(who_) + ": cannot load the state: unexpected key '" +
                          it->first + "'");
      }
    }
  }

  // The learning rate the loaded state gives must be one the optimizer can take.
  void check_learning_rate(double lr) const {
    if (!(std::isfinite(lr) && lr >= 0.0)) {
      throw FormatError(std::string(who_) + ": cannot load the state: its learning rate at " +
                        "'scheduler.last_epoch' would be " + detail::number_str(lr));
    }
  }

  [[noreturn]] void fail(const char* field, const std::string& value,
                         const std::string& why) const {
    throw FormatError(std::string(who_) + ": cannot load the state: '" + key_of(field) + "' = '" +
                      value + "': " + why);
  }

 private:
  static std::size_t prefix_size() { return std::string_view(scheduler_key_prefix).size(); }

  const std::string& text(const char* field) {
    const auto it = state_.find(key_of(field));
    if (it == state_.end()) {
      throw FormatError(std::string(who_) + ": cannot load the state: the metadata has no '" +
                        key_of(field) + "'");
    }
    read_.push_back(field);
    return it->second;
  }

  const Metadata& state_;
  const char* who_;
  std::vector<const char*> read_;
};

}  // namespace tapeloop::scheduler_state
