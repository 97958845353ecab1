// The version of tapeloop: of these headers (the macros) and of the library linked in (version()).
// CMakeLists.txt reads the project's version from the three numbers below.
#pragma once

#include <string_view>

#define TAPELOOP_VERSION_MAJOR 0
#define TAPELOOP_VERSION_MINOR 1
#define TAPELOOP_VERSION_PATCH 0
#define TAPELOOP_VERSION_STRING "0.1.0"
/// One number for preprocessor comparisons: 10000 * major + 100 * minor + patch.
#define TAPELOOP_VERSION \
  (TAPELOOP_VERSION_MAJOR * 10000 + TAPELOOP_VERSION_MINOR * 100 + TAPELOOP_VERSION_PATCH)

namespace tapeloop {

/// The version of the tapeloop library this program runs with, "major.minor.patch". It differs
/// from TAPELOOP_VERSION_STRING when a program compiled against one version's headers loads
/// another version's shared library.
std::string_view version() noexcept;

}  // namespace tapeloop
