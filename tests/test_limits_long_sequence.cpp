// A sequence of 100,000 steps trained through checkpointed_scan: the same gradients as the plain
// scan, and tape memory within a bound derived from the sizes of what a segment keeps.
#include <malloc.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "support/check.hpp"
#include "tapeloop/scan.hpp"

using namespace tapeloop;

namespace {

constexpr std::int64_t B = 2, I = 4, H = 16;

// h' = tanh(x W + h U + b), many-to-one (no y): five nodes of [B,H] per step.
struct RnnCell {
  StepResult<float> operator()(std::span<const Var<float>> w, const State<float>& s,
                               const Var<float>& x) const {
    return {State<float>{tanh(matmul(x, w[0]) + matmul(s[0], w[1]) + w[2])}, {}};
  }
};

// A line of /proc/self/status in KiB ("VmHWM", "VmRSS"), or -1.
long status_kib(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  }
  return -1;
}

// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0 on), so each run's peak
// can be read on its own; malloc_trim first hands the memory earlier runs freed back to the
// system, so that a run is not credited with pages it reuses.
bool reset_peak_rss() {
  malloc_trim(0);
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.close();
  return !clear.fail();
}

std::size_t round_up(std::size_t bytes, std::size_t to) {
  return (bytes + to - 1) / to * to;
}

struct Model {
  Parameter<float> w, u, b;
  Tensor<float> h0, target;
  explicit Model(Generator& rng)
      : w(Tensor<float>::normal({I, H}, 0.0f, 0.5f, rng)),
        u(Tensor<float>::normal({H, H}, 0.0f, 0.25f, rng)),
        b(Tensor<float>::normal({H}, 0.0f, 0.1f, rng)),
        h0(Tensor<float>::normal({B, H}, 0.0f, 1.0f, rng)),
        target(Tensor<float>::normal({B, H}, 0.0f, 1.0f, rng)) {}
};

struct Step {
  std::size_t arena = 0;  // peak tape bytes: main (less the inputs) + recompute tape
  long rss_kib = -1;      // the process's peak resident memory during the step, less before
  std::vector<Tensor<float>> grads;  // W, U, b, h0
};

// One training step over the first `steps` steps of xs: plain scan (segment 0) or checkpointed.
Step train_step(Model& m, const Tensor<float>& xs_all, std::int64_t steps, int segment) {
  const bool peak_resettable = reset_peak_rss();
  const long rss_before = status_kib("VmRSS");
  Step out;
  {
    Tape<float> tape(std::size_t{1} << 16);
    const Var<float> xs = tape.constant(
        TensorRef<const float>{xs_all.data(), Shape{steps, B, I}});  // the first `steps` steps
    const Var<float> h0 = tape.input(m.h0.ref(), true);
    const Var<float> target = tape.constant(m.target.ref());
    const std::size_t inputs = tape.arena().bytes_in_use();
    for (Parameter<float>* p : {&m.w, &m.u, &m.b}) p->zero_grad();
    const Var<float> weights[] = {m.w.var(tape), m.u.var(tape), m.b.var(tape)};
    ScanOptions o;
    o.collect_outputs = false;
    const ScanResult<float> r =
        segment == 0
            ? scan(tape, RnnCell{}, xs, State<float>{h0}, weights, o)
            : checkpointed_scan(tape, RnnCell{}, xs, State<float>{h0}, weights, segment, o);
    tape.backward(sum(r.state[0] * target));
    out.arena = tape.arena().peak_bytes() - inputs;
    if (const Tape<float>* sub = tape.recompute_tape_if_made())
      out.arena += sub->arena().peak_bytes();
    out.grads = {m.w.grad(), m.u.grad(), m.b.grad(),
                 Tensor<float>::from(TensorRef<const float>(h0.grad()))};
  }
  if (peak_resettable && rss_before > 0) out.rss_kib = status_kib("VmHWM") - rss_before;
  return out;
}

bool identical(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.numel())) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_limits_long_sequence)

BOOST_AUTO_TEST_CASE(checkpointed_scan_over_100000_steps) {
  Generator rng(7);
  Model model(rng);
  const std::int64_t longest = 100000;
  const Tensor<float> xs = Tensor<float>::normal({longest, B, I}, 0.0f, 1.0f, rng);

  // What the main tape keeps per segment, from the sizes: the segment node's value (the final
  // state, [B,H]) and its gradient, each a buffer of at least one cache line; the recorded rule;
  // its list of input indices (4 bytes) and input shape pointers (8 bytes) for the 3 weights,
  // xs and the one state part. The next segment's state is a view (no memory).
  const std::size_t state_bytes = round_up(B * H * sizeof(float), 64);
  const std::size_t inputs = 3 + 1 + 1;
  const std::size_t per_segment = 2 * state_bytes +
                                  round_up(sizeof(detail::SegmentRule<float, RnnCell>) + 16, 64) +
                                  round_up(inputs * 4, 16) + round_up(inputs * 8, 16);

  for (std::int64_t steps : {std::int64_t{1000}, std::int64_t{10000}, longest}) {
    const int segment = static_cast<int>(std::lround(std::sqrt(static_cast<double>(steps))));
    BOOST_TEST_CONTEXT("T = " << steps << ", segment " << segment) {
      const Step plain = train_step(model, xs, steps, 0);
      const Step checkpointed = train_step(model, xs, steps, segment);
      // The same operations in the same order: bit-identical gradients.
      for (std::size_t i = 0; i < plain.grads.size(); ++i) {
        BOOST_TEST(identical(plain.grads[i], checkpointed.grads[i]));
      }
      // The recompute tape holds one segment recorded with gradients: what a plain scan of
      // `segment` steps keeps (measured), plus the segment's list of `segment` Vars made in
      // forward (16 bytes each). 4 KiB covers what is made once: the loss, the cell's copy,
      // the list of a segment's inputs, arena alignment.
      const Step one_segment = train_step(model, xs, segment, 0);
      const std::size_t segments = static_cast<std::size_t>((steps + segment - 1) / segment);
      const std::size_t bound = segments * per_segment + one_segment.arena +
                                16 * static_cast<std::size_t>(segment) + 4096;
      BOOST_TEST_MESSAGE("T " << steps << " segment " << segment << ": arena plain " << plain.arena
                              << " B, checkpointed " << checkpointed.arena << " B (bound " << bound
                              << " B; " << segments << " x " << per_segment << " B + one segment "
                              << one_segment.arena << " B); peak RSS growth plain " << plain.rss_kib
                              << " KiB, checkpointed " << checkpointed.rss_kib << " KiB");
      BOOST_TEST(checkpointed.arena <= bound);
      BOOST_TEST(checkpointed.arena < plain.arena);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
