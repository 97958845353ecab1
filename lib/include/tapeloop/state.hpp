// State: the carry of a recurrent loop — one Var (h) or a few (h, c) — held without heap memory.
#pragma once

#include <initializer_list>

#include "tapeloop/errors.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

/// Up to `State::max_parts` Vars carried from one time step to the next: {h} for an RNN or GRU,
/// {h, c} for an LSTM. Trivially copyable, so it can live in a backward closure.
template <class T = float>
class State {
 public:
  static constexpr int max_parts = 4;

  State() = default;
  State(std::initializer_list<Var<T>> parts) {
    for (const Var<T>& v : parts) push_back(v);
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

}  // namespace tapeloop
