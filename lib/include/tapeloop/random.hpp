// Generator: a seeded random number generator whose streams are the same on every machine.
#pragma once

#include <cstdint>

namespace tapeloop {

/// xoshiro256** seeded through splitmix64. Unlike std::normal_distribution, whose algorithm
/// differs between standard libraries, every draw here is specified by this file, so the same
/// seed gives the same numbers everywhere.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0);

  /// 64 random bits.
  std::uint64_t next_u64();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform in [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  /// Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal();
  /// Uniform integer in [0, n); ValueError for n = 0.
  std::uint64_t below(std::uint64_t n);

  /// Everything that decides the next draws: xoshiro's four words and the normal kept from the
  /// last Box-Muller pair. A generator given another's state draws what that one would next:
  /// saved in a checkpoint (save_generator_state), it makes a resumed run draw the same
  /// dropout masks and the same data order as an uninterrupted one.
  struct State {
    std::uint64_t words[4];
    double spare_normal;
    bool has_spare;
  };
  State state() const;
  /// Throws ValueError for four zero words, the one state xoshiro never leaves.
  void set_state(const State& state);

 private:
  std::uint64_t s_[4];
  double spare_normal_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace tapeloop
