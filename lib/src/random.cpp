// Generator: xoshiro256** (Blackman & Vigna) with splitmix64 seeding, and the draws built on it.
#include "tapeloop/random.hpp"

#include <cmath>

#include "tapeloop/errors.hpp"

namespace tapeloop {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

Generator::Generator(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

Generator::State Generator::state() const {
  return {{s_[0], s_[1], s_[2], s_[3]}, spare_normal_, has_spare_};
}

void Generator::set_state(const State& state) {
  if ((state.words[0] | state.words[1] | state.words[2] | state.words[3]) == 0) {
    throw ValueError(
        "Generator::set_state: all four words are zero, a state xoshiro256** never "
        "reaches");
  }
  for (int i = 0; i < 4; ++i) s_[i] = state.words[i];
  spare_normal_ = state.spare_normal;
  has_spare_ = state.has_spare;
}

std::uint64_t Generator::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  // 1 - uniform() lies in (0, 1], so the log is finite.
  const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform()));
  const double angle = 2.0 * M_PI * uniform();
  spare_normal_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

std::uint64_t Generator::below(std::uint64_t n) {
  if (n == 0) throw ValueError("Generator::below: n must be at least 1, not 0");
  // Lemire's rejection keeps the result unbiased.
  const std::uint64_t limit = (0 - n) % n;
  std::uint64_t r;
  do {
    r = next_u64();
  } while (r < limit);
  return r % n;
}

}  // namespace tapeloop
