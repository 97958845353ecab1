// Reads a TensorRef kept past Tape::clear(): built with AddressSanitizer, checked mode must stop
// the program at the read. Run by CTest (tests/CMakeLists.txt), which matches ASan's report.
//   stale_reference next       checked, the read one recording later: the memory is poisoned
//   stale_reference later      checked, the read two recordings later: the memory is freed
//   stale_reference unchecked  the control: the arena reuses its memory and ASan sees nothing
#include <cstdio>
#include <cstring>

#include "support/stale_view.hpp"

using namespace tapeloop;
using tapeloop::testing::record_doubled;

int main(int argc, char** argv) {
  const bool known =
      argc == 2 && (std::strcmp(argv[1], "next") == 0 || std::strcmp(argv[1], "later") == 0 ||
                    std::strcmp(argv[1], "unchecked") == 0);
  if (!known) {
    std::fprintf(stderr, "usage: stale_reference next|later|unchecked\n");
    return 2;
  }
  Tape<float> tape;
  tape.set_checked(std::strcmp(argv[1], "unchecked") != 0);
  const TensorRef<const float> stale = record_doubled(tape, 1);
  tape.clear();
  record_doubled(tape, 10);
  if (std::strcmp(argv[1], "later") == 0) {
    tape.clear();
    record_doubled(tape, 100);
  }
  const float value = stale[1];  // the misuse
  std::printf("stale reference read %g without a report\n", static_cast<double>(value));
  return 1;
}
