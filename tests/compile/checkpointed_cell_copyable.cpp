// Must not compile: checkpointed_scan re-runs its cell in backward, so a cell holding a
// std::string (not trivially copyable) is rejected at compile time.
#include <string>

#include <tapeloop/tapeloop.hpp>

int main() {
  using namespace tapeloop;
  Tape<float> tape;
  Var<float> xs = tape.constant(Tensor<float>::zeros({4, 2, 3}).ref());
  Var<float> h0 = tape.constant(Tensor<float>::zeros({2, 3}).ref());
  std::string label = "cell";
  auto cell = [label](std::span<const Var<float>>, const State<float>& s, const Var<float>& x) {
    return StepResult<float>{State<float>{s[0] + x}, s[0]};
  };
  checkpointed_scan(tape, cell, xs, State<float>{h0}, {}, 2);
  return 0;
}
