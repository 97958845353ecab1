// What a harness checks on a reader's result beyond "no crash": a property that fails is a
// finding like a crash, reported by aborting with the property's text.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace tapeloop::fuzz {

inline void require(bool holds, const char* property) {
  if (!holds) {
    std::fprintf(stderr, "fuzz: property violated: %s\n", property);
    std::abort();
  }
}

}  // namespace tapeloop::fuzz
