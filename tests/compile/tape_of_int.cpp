// Must not compile: tapeloop's tapes hold float or double, and say so.
#include <tapeloop/tapeloop.hpp>

int main() {
  tapeloop::Tape<int> tape;
  return 0;
}
