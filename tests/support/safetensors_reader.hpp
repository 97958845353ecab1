// A minimal safetensors reader for the golden test files (F32 and F64 tensors only).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tapeloop/tensor.hpp"

namespace tapeloop::testing {

/// A safetensors file in memory: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw little-endian data.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path) : path_(path) {
    std::ifstream in(path, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) fail("cannot read the file");
    if (bytes_.size() < 8) fail("shorter than its 8-byte header length");
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes_[i]);
    if (length > bytes_.size() - 8) fail("header length past the end of the file");
    header_ = nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + 8 + length);
    data_start_ = 8 + length;
  }

  bool contains(const std::string& name) const { return header_.contains(name); }

  /// The names of the tensors (in the header's order).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [key, value] : header_.items()) {
      if (key != "__metadata__") out.push_back(key);
    }
    return out;
  }

  /// A string from the "__metadata__" map.
  std::string metadata(const std::string& key) const {
    return header_.at("__metadata__").at(key).get<std::string>();
  }

  /// The tensor `name`, whose dtype must be T's (F32 for float, F64 for double).
  template <class T>
  Tensor<T> get(const std::string& name) const {
    if (!contains(name)) fail("no tensor " + name);
    const nlohmann::json& entry = header_.at(name);
    const std::string want = sizeof(T) == 4 ? "F32" : "F64";
    if (entry.at("dtype").get<std::string>() != want) fail(name + " is not " + want);
    Shape shape;
    for (const auto& d : entry.at("shape")) shape.push_back(d.get<std::int64_t>());
    const auto offsets = entry.at("data_offsets").get<std::vector<std::uint64_t>>();
    const std::uint64_t bytes = sizeof(T) * static_cast<std::uint64_t>(shape.numel());
    if (offsets.size() != 2 || offsets[1] - offsets[0] != bytes ||
        data_start_ + offsets[1] > bytes_.size()) {
      fail(name + ": data offsets do not fit its shape " + shape.str());
    }
    Tensor<T> out(shape);
    // The data is little-endian, as is every machine this runs on.
    std::memcpy(out.data(), bytes_.data() + data_start_ + offsets[0], bytes);
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("safetensors " + path_ + ": " + what);
  }

  std::string path_;
  std::vector<char> bytes_;
  nlohmann::json header_;
  std::uint64_t data_start_ = 0;
};

}  // namespace tapeloop::testing
