// Must not compile: a scan cell that takes the wrong arguments is named as such.
#include <tapeloop/tapeloop.hpp>

int main() {
  using namespace tapeloop;
  Tape<float> tape;
  Var<float> xs = tape.constant(Tensor<float>::zeros({4, 2, 3}).ref());
  Var<float> h0 = tape.constant(Tensor<float>::zeros({2, 3}).ref());
  auto cell = [](const Var<float>& x) { return x; };  // no weights, no state
  scan(tape, cell, xs, State<float>{h0}, {});
  return 0;
}
