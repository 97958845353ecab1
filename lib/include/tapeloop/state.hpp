// State: the carry of a recurrent loop — one Var (h) or several (h, c, ...) — held without heap
// memory.
#pragma once

#include <concepts>
#include <string>

#include "tapeloop/errors.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

/// The Vars a recurrent loop carries from one time step to the next: {h} for an RNN or GRU,
/// {h, c} for an LSTM, {h1, c1, h2, c2, ...} for a stack of layers. Holds up to max_parts = 16
/// without heap memory and is trivially copyable, so it can live in a rule in the arena.
/// Building a State from more parts is a compile-time error; push_back past the limit throws
/// ValueError.
template <class T = float>
class State {
 public:
  static constexpr int max_parts = 16;

  State() = default;
  template <std::same_as<Var<T>>... Parts>
  requires(sizeof...(Parts) >= 1) State(const Parts&... parts)
      : parts_{parts...}, size_(sizeof...(Parts)) {  // NOLINT: {h, c}
    static_assert(sizeof...(Parts) <= max_parts, "State: more than max_parts (16) parts");
  }

  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Var<T>& operator[](int i) const { return parts_[i]; }
  Var<T>& operator[](int i) { return parts_[i]; }
  const Var<T>* begin() const { return parts_; }
  const Var<T>* end() const { return parts_ + size_; }

  void push_back(const Var<T>& v) {
    if (size_ == max_parts) {
      throw ValueError("State: more than " + std::to_string(max_parts) + " parts");
    }
    parts_[size_++] = v;
  }

 private:
  Var<T> parts_[max_parts];
  int size_ = 0;
};

template <class T, class... Rest>
State(const Var<T>&, const Rest&...) -> State<T>;

}  // namespace tapeloop
