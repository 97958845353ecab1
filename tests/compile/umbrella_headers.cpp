// Compiles: the two umbrella headers, which must stay light (no xtensor, xsimd, TBB, BLAS or
// JSON header behind them) so that a program including them compiles in a second or two.
#include <tapeloop/models.hpp>
#include <tapeloop/tapeloop.hpp>

int main() {
  return tapeloop::version().empty() ? 1 : 0;
}
