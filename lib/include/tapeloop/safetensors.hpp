// safetensors files: named tensors behind a JSON header, written atomically and validated in
// full before anything is read from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapeloop/shape.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

// The format, https://github.com/huggingface/safetensors: an 8-byte little-endian header length
// N, N bytes of JSON {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
// ..., "__metadata__": {"key": "value"}}, then the data section; offsets are relative to its
// first byte, and the entries must cover it exactly (no holes, no overlaps, nothing after).

/// The element types tapeloop reads and writes. The format knows more (F16, BF16, I32, U8, ...);
/// a file holding one of those is rejected with an "unsupported dtype" FormatError.
enum class Dtype { F32, F64, I64 };

/// "F32", "F64", "I64": the names the format uses.
const char* dtype_name(Dtype dtype);
/// Bytes per element.
std::size_t dtype_size(Dtype dtype);
/// The dtype that stores T: F32 for float, F64 for double, I64 for std::int64_t.
template <class T>
constexpr Dtype dtype_of() {
  static_assert(
      std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t>,
      "dtype_of: safetensors entries hold float, double or std::int64_t");
  if constexpr (std::is_same_v<T, float>) return Dtype::F32;
  if constexpr (std::is_same_v<T, double>) return Dtype::F64;
  return Dtype::I64;
}

/// String keys and values stored under "__metadata__".
using Metadata = std::map<std::string, std::string>;

/// A name and a read-only view of a float, double or int64 tensor: one entry to save. The
/// viewed memory must stay valid until save_safetensors returns.
class NamedTensor {
 public:
  NamedTensor(std::string name, TensorRef<const float> data)
      : name_(std::move(name)), dtype_(Dtype::F32), shape_(data.shape), data_(data.data) {}
  NamedTensor(std::string name, TensorRef<const double> data)
      : name_(std::move(name)), dtype_(Dtype::F64), shape_(data.shape), data_(data.data) {}
  NamedTensor(std::string name, TensorRef<const std::int64_t> data)
      : name_(std::move(name)), dtype_(Dtype::I64), shape_(data.shape), data_(data.data) {}

  const std::string& name() const { return name_; }
  Dtype dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const void* data() const { return data_; }
  std::size_t byte_size() const {
    return static_cast<std::size_t>(shape_.numel()) * dtype_size(dtype_);
  }

 private:
  std::string name_;
  Dtype dtype_;
  Shape shape_;
  const void* data_;
};

/// Writes `tensors` and `metadata` to `path` as a safetensors file, atomically: the bytes go to
/// a temporary file in the same directory, which is fsynced and renamed over `path`, and the
/// directory is fsynced. If anything fails, `path` keeps its old contents (or stays absent),
/// the temporary file is removed, and IoError is thrown.
///
/// Entries are listed by name in the header; the data is laid out as the reference
/// implementation does, 8-byte elements first, then by name, and the header is padded with
/// spaces so that the data starts 8-byte aligned: every tensor is aligned for its type.
/// Throws ValueError for an empty, repeated or reserved ("__metadata__") name.
void save_safetensors(const std::filesystem::path& path, std::span<const NamedTensor> tensors,
                      const Metadata& metadata = {});
/// save_safetensors(path, {{"w", w.ref()}, {"b", b.ref()}}, {{"epoch", "3"}}).
inline void save_safetensors(const std::filesystem::path& path,
                             std::initializer_list<NamedTensor> tensors,
                             const Metadata& metadata = {}) {
  save_safetensors(path, std::span<const NamedTensor>(tensors.begin(), tensors.size()), metadata);
}

/// A validated safetensors file held in memory. Made by load_safetensors.
///
/// Types are never converted silently: read<T> and tensor<T> require the stored dtype to be
/// exactly T's (F32 for float, F64 for double, I64 for std::int64_t) and throw FormatError
/// otherwise; read_converted<T> is the explicit way to read F32 data as double or F64 data as
/// float.
class SafetensorsReader;

class SafetensorsFile {
 public:
  const std::filesystem::path& path() const { return path_; }
  /// Entry names, sorted.
  std::vector<std::string> names() const;
  bool contains(std::string_view name) const { return entries_.find(name) != entries_.end(); }
  /// Throws FormatError naming the file when there is no such entry.
  Dtype dtype(std::string_view name) const;
  const Shape& shape(std::string_view name) const;
  const Metadata& metadata() const { return metadata_; }

  /// Copies entry `name` into `out`, whose shape must equal the entry's and whose element type
  /// T (float, double or std::int64_t) must be the entry's dtype; FormatError otherwise.
  template <class T>
  void read(std::string_view name, TensorRef<T> out) const;
  /// Entry `name` as a new tensor; T is float or double and must be the entry's dtype.
  template <class T>
  Tensor<T> tensor(std::string_view name) const;
  /// Like read, but an F32 or F64 entry may be read into either float or double: the explicit
  /// conversion (F64 into float rounds to nearest).
  template <class T>
  void read_converted(std::string_view name, TensorRef<T> out) const;

 private:
  friend SafetensorsFile load_safetensors(const std::filesystem::path& path);
  friend class SafetensorsReader;
  struct Entry {
    Dtype dtype;
    Shape shape;
    std::size_t begin;  // byte offsets in the data section
    std::size_t end;
  };
  const Entry& entry(std::string_view name) const;
  [[noreturn]] void fail(const std::string& what) const;

  std::filesystem::path path_;
  std::map<std::string, Entry, std::less<>> entries_;
  Metadata metadata_;
  std::vector<std::byte> bytes_;  // the whole file
  std::size_t data_start_ = 0;    // where the data section starts in bytes_
};

/// Reads and validates the whole file; throws FormatError naming the file and the problem
/// before returning anything if the file is not a well-formed safetensors file: shorter than
/// 8 bytes; a header length past the end of the file or above 100 MB; a header that is not a
/// JSON object of entries; an entry without a known dtype (or with one tapeloop does not
/// support), with a shape that is not a list of at most 6 non-negative integers, or with
/// data_offsets that are not two integers begin <= end; a byte count that is not the shape's
/// element count times the dtype size; entries outside the data section, overlapping, or leaving
/// a hole; bytes after the last entry; a repeated name; metadata that is not string to string.
/// Throws IoError if the file cannot be opened or read.
SafetensorsFile load_safetensors(const std::filesystem::path& path);

extern template void SafetensorsFile::read<float>(std::string_view, TensorRef<float>) const;
extern template void SafetensorsFile::read<double>(std::string_view, TensorRef<double>) const;
extern template void SafetensorsFile::read<std::int64_t>(std::string_view,
                                                         TensorRef<std::int64_t>) const;
extern template Tensor<float> SafetensorsFile::tensor<float>(std::string_view) const;
extern template Tensor<double> SafetensorsFile::tensor<double>(std::string_view) const;
extern template void SafetensorsFile::read_converted<float>(std::string_view,
                                                            TensorRef<float>) const;
extern template void SafetensorsFile::read_converted<double>(std::string_view,
                                                             TensorRef<double>) const;

}  // namespace tapeloop
