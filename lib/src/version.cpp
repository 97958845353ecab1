// The version compiled into the library, to compare with the headers' TAPELOOP_VERSION_STRING.
#include "tapeloop/version.hpp"

namespace tapeloop {

std::string_view version() noexcept {
  return TAPELOOP_VERSION_STRING;
}

}  // namespace tapeloop
