// A Generator's state as one line of checkpoint metadata: "xoshiro256** w0 w1 w2 w3 spare", the
// words as 16 hex digits and the kept normal as a hex float (exact) or "none".
#include <charconv>
#include <cstdio>
#include <string>

#include "tapeloop/checkpoint.hpp"
#include "tapeloop/errors.hpp"

namespace tapeloop {
namespace {

constexpr const char* tag = "xoshiro256**";

}  // namespace

void save_generator_state(Metadata& metadata, const std::string& key, const Generator& rng) {
  const Generator::State s = rng.state();
  std::string text = tag;
  char buffer[64];
  for (std::uint64_t w : s.words) {
    std::snprintf(buffer, sizeof buffer, " %016llx", static_cast<unsigned long long>(w));
    text += buffer;
  }
  if (s.has_spare) {
    const auto end =
        std::to_chars(buffer, buffer + sizeof buffer, s.spare_normal, std::chars_format::hex).ptr;
    text += ' ';
    text.append(buffer, end);
  } else {
    text += " none";
  }
  metadata[key] = text;
}

void load_generator_state(const Metadata& metadata, const std::string& key, Generator& rng) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) {
    throw FormatError("load_generator_state: no entry '" + key + "' in the metadata");
  }
  const std::string& text = it->second;
  auto fail = [&]() {
    throw FormatError("load_generator_state: '" + key + "' = '" + text +
                      "' is not a generator state (" + tag + " and four 16-digit hex words)");
  };
  const std::string head = std::string(tag) + " ";
  if (text.compare(0, head.size(), head) != 0) fail();
  const char* p = text.data() + head.size();
  const char* end = text.data() + text.size();
  Generator::State s{};
  for (std::uint64_t& w : s.words) {
    if (end - p < 17) fail();
    const auto r = std::from_chars(p, p + 16, w, 16);
    if (r.ec != std::errc() || r.ptr != p + 16 || p[16] != ' ') fail();
    p += 17;
  }
  const std::string spare(p, end);
  if (spare == "none") {
    s.has_spare = false;
    s.spare_normal = 0.0;
  } else {
    const auto r = std::from_chars(spare.data(), spare.data() + spare.size(), s.spare_normal,
                                   std::chars_format::hex);
    if (spare.empty() || r.ec != std::errc() || r.ptr != spare.data() + spare.size()) fail();
    s.has_spare = true;
  }
  if ((s.words[0] | s.words[1] | s.words[2] | s.words[3]) == 0) fail();
  rng.set_state(s);
}

}  // namespace tapeloop
