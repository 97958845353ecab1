// safetensors: writing with an atomic rename, reading with full validation of the header.
#include "tapeloop/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "tapeloop/errors.hpp"

namespace tapeloop {

// The format is little-endian and data is copied byte for byte; a big-endian host would need a
// byte swap on every element, and none is targeted.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

namespace {

using json = nlohmann::json;

// The reference implementation's cap: a header this large is a damaged or hostile file, and
// parsing it would cost memory out of proportion to any real checkpoint's index.
constexpr std::uint64_t max_header_bytes = 100'000'000;
// Deepest nesting a valid header needs is 3 (object > entry > shape); the limit only stops a
// header of nested brackets from building a deep tree before validation rejects it.
constexpr int max_json_depth = 8;

std::string in_quotes(std::string_view name) {
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "'" + std::string(...).
  std::string s = "'";
  s += name;
  s += '\'';
  return s;
}

std::string system_error(const std::string& what, const std::filesystem::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

// ---- writing ------------------------------------------------------------------------------------

// Writes all of `size` bytes, retrying partial writes and interrupted calls.
void write_all(int fd, const void* data, std::size_t size, const std::filesystem::path& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError("save_safetensors: " + system_error("cannot write", path));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Creates a new file next to `target` that no one else is using: same directory, so the final
// rename cannot cross file systems.
std::pair<int, std::filesystem::path> create_temporary(const std::filesystem::path& target) {
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    // Hidden and marked, so a temporary left by a crash is easy to recognize and delete.
    std::string name = ".";
    name += target.filename().string();
    name += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::filesystem::path tmp = target;
    tmp.replace_filename(name);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return {fd, tmp};
    if (errno != EEXIST) {
      throw IoError("save_safetensors: " + system_error("cannot create", tmp));
    }
  }
  throw IoError("save_safetensors: cannot find an unused temporary name next to " +
                target.string());
}

// Makes the rename itself durable: without this a crash can bring back the old directory entry.
void sync_directory(const std::filesystem::path& target) {
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw IoError("save_safetensors: " + target.string() +
                  " was written, but syncing its directory failed: " + reason);
  }
  ::close(fd);
}

// ---- reading
// -------------------------------------------------------------------------------------

std::vector<std::byte> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("load_safetensors: " + system_error("cannot open", path));
  struct stat st {};
  std::vector<std::byte> bytes;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) bytes.reserve(static_cast<std::size_t>(st.st_size));
  std::byte buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string message = system_error("cannot read", path);
      ::close(fd);
      throw IoError("load_safetensors: " + message);
    }
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  ::close(fd);
  return bytes;
}

// The dtypes of the format that tapeloop does not hold, so that such a file gets "unsupported"
// rather than "unknown".
bool is_known_unsupported(const std::string& dtype) {
  static const std::set<std::string, std::less<>> names = {
      "BOOL",    "U8",      "I8",   "F8_E5M2",     "F8_E4M3",    "F8_E8M0", "I16",
      "U16",     "F16",     "BF16", "I32",         "U32",        "U64",     "F4",
      "F6_E2M3", "F6_E3M2", "C64",  "F8_E4M3FNUZ", "F8_E5M2FNUZ"};
  return names.count(dtype) != 0;
}

// A JSON value as an unsigned integer, or false if it is not a non-negative integer (a float
// such as 2.0 is not a valid dimension or offset).
bool as_unsigned(const json& value, std::uint64_t& out) {
  if (value.is_number_unsigned()) {
    out = value.get<std::uint64_t>();
    return true;
  }
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    out = static_cast<std::uint64_t>(value.get<std::int64_t>());
    return true;
  }
  return false;
}

}  // namespace

const char* dtype_name(Dtype dtype) {
  switch (dtype) {
    case Dtype::F32:
      return "F32";
    case Dtype::F64:
      return "F64";
    case Dtype::I64:
      return "I64";
  }
  return "?";
}

std::size_t dtype_size(Dtype dtype) {
  return dtype == Dtype::F32 ? 4 : 8;
}

void save_safetensors(const std::filesystem::path& path, std::span<const NamedTensor> tensors,
                      const Metadata& metadata) {
  const std::string who = "save_safetensors: " + path.string() + ": ";
  if (path.filename().empty()) throw ValueError(who + "the path names no file");
  std::set<std::string_view> names;
  for (const NamedTensor& t : tensors) {
    if (t.name().empty()) throw ValueError(who + "a tensor has an empty name");
    if (t.name() == "__metadata__") {
      throw ValueError(who +
                       "'__metadata__' is reserved for the metadata and cannot name a tensor");
    }
    if (!names.insert(t.name()).second)
      throw ValueError(who + "two tensors are named " + in_quotes(t.name()));
    if (t.data() == nullptr && t.byte_size() > 0) {
      throw ValueError(who + "tensor " + in_quotes(t.name()) + " has no data");
    }
  }

  // The reference layout: larger elements first, then by name, so that with an 8-byte aligned
  // data section every tensor is aligned for its type (the format allows no padding between).
  std::vector<const NamedTensor*> order;
  for (const NamedTensor& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const NamedTensor* a, const NamedTensor* b) {
    const std::size_t sa = dtype_size(a->dtype()), sb = dtype_size(b->dtype());
    return sa != sb ? sa > sb : a->name() < b->name();
  });

  json header = json::object();  // keys sorted by name
  std::uint64_t offset = 0;
  for (const NamedTensor* t : order) {
    json shape = json::array();
    for (std::int64_t d : t->shape()) shape.push_back(d);
    header[t->name()] = {{"dtype", dtype_name(t->dtype())},
                         {"shape", std::move(shape)},
                         {"data_offsets", {offset, offset + t->byte_size()}}};
    offset += t->byte_size();
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;

  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception&) {
    throw ValueError(who + "a name or metadata string is not valid UTF-8");
  }
  // Pad with spaces (valid trailing JSON whitespace) so the data section starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  auto [fd, tmp] = create_temporary(path);
  try {
    write_all(fd, length, sizeof length, tmp);
    write_all(fd, text.data(), text.size(), tmp);
    for (const NamedTensor* t : order) write_all(fd, t->data(), t->byte_size(), tmp);
    // The data must be on disk before the rename makes it the checkpoint, or a crash could
    // leave a complete-looking file of zeros.
    if (::fsync(fd) != 0) throw IoError("save_safetensors: " + system_error("cannot fsync", tmp));
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) throw IoError("save_safetensors: " + system_error("cannot close", tmp));
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      throw IoError("save_safetensors: cannot rename " + tmp.string() + " to " + path.string() +
                    ": " + std::strerror(errno));
    }
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  sync_directory(path);
}

// Reads a file's header into a SafetensorsFile, one step per member, every failure a
// FormatError naming the file (SafetensorsFile::fail).
class SafetensorsReader {
 public:
  explicit SafetensorsReader(SafetensorsFile& file) : file_(file) {}

  // The 8-byte little-endian header length, checked against the limit and the file's size.
  std::uint64_t header_length() const {
    const std::vector<std::byte>& bytes = file_.bytes_;
    if (bytes.size() < 8) {
      file_.fail("the file is " + std::to_string(bytes.size()) +
                 " bytes, too short for the 8-byte header length");
    }
    std::uint64_t size = 0;
    for (int i = 7; i >= 0; --i) {
      size = size << 8 | static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
    }
    if (size > max_header_bytes) {
      file_.fail("header length " + std::to_string(size) + " exceeds the limit of " +
                 std::to_string(max_header_bytes) + " bytes");
    }
    if (size > bytes.size() - 8) {
      file_.fail("header length " + std::to_string(size) + " runs past the end of the file (" +
                 std::to_string(bytes.size()) + " bytes)");
    }
    return size;
  }

  // The header as a JSON object, rejecting repeated keys (the parser would keep the last
  // silently, hiding an entry) and absurd nesting.
  json parse(std::uint64_t header_size) const {
    const char* begin = reinterpret_cast<const char*>(file_.bytes_.data()) + 8;
    std::vector<std::set<std::string>> open_objects;
    auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
      switch (event) {
        case json::parse_event_t::object_start:
        case json::parse_event_t::array_start:
          if (depth >= max_json_depth) file_.fail("the header nests too deeply");
          if (event == json::parse_event_t::object_start) open_objects.emplace_back();
          break;
        case json::parse_event_t::object_end:
          open_objects.pop_back();
          break;
        case json::parse_event_t::key:
          if (!open_objects.back().insert(parsed.get<std::string>()).second) {
            file_.fail("the header repeats the key " + in_quotes(parsed.get<std::string>()));
          }
          break;
        default:
          break;
      }
      return true;
    };
    json root;
    try {
      root = json::parse(begin, begin + header_size, callback);
    } catch (const json::exception& e) {
      file_.fail(std::string("the header is not valid JSON: ") + e.what());
    }
    if (!root.is_object()) file_.fail("the header is not a JSON object");
    return root;
  }

  // __metadata__: an object of strings.
  void read_metadata(const json& value) {
    if (!value.is_object()) file_.fail("__metadata__ is not an object");
    for (auto& [key, text] : value.items()) {
      if (!text.is_string()) file_.fail("metadata value " + in_quotes(key) + " is not a string");
      file_.metadata_[key] = text.get<std::string>();
    }
  }

  // One tensor entry: dtype, shape and data offsets, consistent with each other and within the
  // data section of `data_size` bytes.
  SafetensorsFile::Entry read_entry(const std::string& name, const json& value,
                                    std::uint64_t data_size) const {
    const std::string what = "entry " + in_quotes(name) + ": ";
    if (!value.is_object()) file_.fail(what + "is not an object");
    const auto dtype_it = value.find("dtype");
    const auto shape_it = value.find("shape");
    const auto offsets_it = value.find("data_offsets");
    if (dtype_it == value.end() || shape_it == value.end() || offsets_it == value.end()) {
      file_.fail(what + "needs dtype, shape and data_offsets");
    }
    if (!dtype_it->is_string()) file_.fail(what + "dtype is not a string");
    const std::string dtype_text = dtype_it->get<std::string>();
    const Dtype dtype = read_dtype(what, dtype_text);
    const Shape shape = read_shape(what, *shape_it);
    std::uint64_t byte_count = 0;
    if (__builtin_mul_overflow(static_cast<std::uint64_t>(shape.numel()),
                               std::uint64_t{dtype_size(dtype)}, &byte_count)) {
      file_.fail(what + "shape " + shape_it->dump() + " has more bytes than can be counted");
    }
    std::uint64_t begin = 0, end = 0;
    if (!offsets_it->is_array() || offsets_it->size() != 2 ||
        !as_unsigned((*offsets_it)[0], begin) || !as_unsigned((*offsets_it)[1], end)) {
      file_.fail(what + "data_offsets is not a pair of non-negative integers");
    }
    const std::string offsets =
        "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end) file_.fail(what + offsets + " begins after it ends");
    if (end - begin != byte_count) {
      file_.fail(what + offsets + " hold " + std::to_string(end - begin) + " bytes, but " +
                 dtype_text + " of shape " + shape.str() + " takes " + std::to_string(byte_count));
    }
    if (end > data_size) {
      file_.fail(what + offsets + " run past the data section (" + std::to_string(data_size) +
                 " bytes)");
    }
    return {dtype, shape, static_cast<std::size_t>(begin), static_cast<std::size_t>(end)};
  }

  // The entries must tile the data section: each starts where the previous one ended.
  void check_tiling(std::uint64_t data_size) const {
    struct Range {
      std::size_t begin, end;
      const std::string* name;
    };
    std::vector<Range> ranges;
    for (const auto& [name, entry] : file_.entries_)
      ranges.push_back({entry.begin, entry.end, &name});
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t covered = 0;
    const std::string* previous = nullptr;
    for (const Range& r : ranges) {
      if (r.begin < covered) {
        file_.fail("entry " + in_quotes(*r.name) + " overlaps entry " + in_quotes(*previous));
      }
      if (r.begin > covered) {
        file_.fail("the data section has a hole of " + std::to_string(r.begin - covered) +
                   " bytes before entry " + in_quotes(*r.name));
      }
      covered = r.end;
      previous = r.name;
    }
    if (covered != data_size) {
      file_.fail("the data section is " + std::to_string(data_size) +
                 " bytes, but the entries cover " + std::to_string(covered));
    }
  }

 private:
  Dtype read_dtype(const std::string& what, const std::string& text) const {
    if (text == "F32") return Dtype::F32;
    if (text == "F64") return Dtype::F64;
    if (text == "I64") return Dtype::I64;
    if (is_known_unsupported(text)) {
      file_.fail(what + "unsupported dtype " + text + " (tapeloop reads F32, F64 and I64)");
    }
    file_.fail(what + "unknown dtype " + in_quotes(text));
  }

  Shape read_shape(const std::string& what, const json& dims) const {
    if (!dims.is_array()) file_.fail(what + "shape is not a list");
    if (dims.size() > static_cast<std::size_t>(Shape::max_rank)) {
      file_.fail(what + "rank " + std::to_string(dims.size()) + " exceeds the maximum of " +
                 std::to_string(Shape::max_rank));
    }
    // Shape's own limit (Shape::can_append, checked dimension by dimension as Shape::push_back
    // does) is applied here first, so that a huge dimension, even inside a zero-element shape,
    // is the file's FormatError rather than Shape's ShapeError.
    constexpr auto max_dim = static_cast<std::uint64_t>(Shape::max_numel);
    Shape shape;
    for (const json& dim : dims) {
      std::uint64_t d = 0;
      if (!as_unsigned(dim, d)) {
        file_.fail(what + "shape " + dims.dump() + " is not a list of non-negative integers");
      }
      if (d > max_dim || !shape.can_append(static_cast<std::int64_t>(d))) {
        file_.fail(what + "shape " + dims.dump() + " has more elements than can be counted");
      }
      shape.push_back(static_cast<std::int64_t>(d));
    }
    return shape;
  }

  SafetensorsFile& file_;
};

SafetensorsFile load_safetensors(const std::filesystem::path& path) {
  SafetensorsFile file;
  file.path_ = path;
  file.bytes_ = read_file(path);
  SafetensorsReader reader(file);
  const std::uint64_t header_size = reader.header_length();
  file.data_start_ = 8 + static_cast<std::size_t>(header_size);
  const std::uint64_t data_size = file.bytes_.size() - file.data_start_;
  const json root = reader.parse(header_size);
  for (auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      reader.read_metadata(value);
    } else {
      file.entries_.emplace(name, reader.read_entry(name, value, data_size));
    }
  }
  reader.check_tiling(data_size);
  return file;
}

// ---- SafetensorsFile
// ------------------------------------------------------------------------------

void SafetensorsFile::fail(const std::string& what) const {
  throw FormatError("safetensors: " + path_.string() + ": " + what);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

const SafetensorsFile::Entry& SafetensorsFile::entry(std::string_view name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) fail("no entry " + in_quotes(name));
  return it->second;
}

Dtype SafetensorsFile::dtype(std::string_view name) const {
  return entry(name).dtype;
}

const Shape& SafetensorsFile::shape(std::string_view name) const {
  return entry(name).shape;
}

template <class T>
void SafetensorsFile::read(std::string_view name, TensorRef<T> out) const {
  const Entry& e = entry(name);
  if (e.dtype != dtype_of<T>()) {
    fail("entry " + in_quotes(name) + " is " + dtype_name(e.dtype) + ", not " +
         dtype_name(dtype_of<T>()) +
         (e.dtype == Dtype::I64 ? "" : "; use read_converted to convert"));
  }
  if (e.shape != out.shape) {
    fail("entry " + in_quotes(name) + " has shape " + e.shape.str() + ", expected " +
         out.shape.str());
  }
  if (e.end > e.begin)
    std::memcpy(out.data, bytes_.data() + data_start_ + e.begin, e.end - e.begin);
}

template <class T>
Tensor<T> SafetensorsFile::tensor(std::string_view name) const {
  Tensor<T> t(entry(name).shape);
  read(name, t.ref());
  return t;
}

template <class T>
void SafetensorsFile::read_converted(std::string_view name, TensorRef<T> out) const {
  const Entry& e = entry(name);
  if (e.dtype == dtype_of<T>()) return read(name, out);
  if (e.dtype != Dtype::F32 && e.dtype != Dtype::F64) {
    fail("entry " + in_quotes(name) + " is " + dtype_name(e.dtype) + "; only F32 and F64 convert");
  }
  if (e.shape != out.shape) {
    fail("entry " + in_quotes(name) + " has shape " + e.shape.str() + ", expected " +
         out.shape.str());
  }
  // memcpy per element: the stored data need not be aligned for its type.
  const std::byte* p = bytes_.data() + data_start_ + e.begin;
  const std::int64_t n = out.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    if (e.dtype == Dtype::F32) {
      float v;
      std::memcpy(&v, p + i * 4, 4);
      out[i] = static_cast<T>(v);
    } else {
      double v;
      std::memcpy(&v, p + i * 8, 8);
      out[i] = static_cast<T>(v);
    }
  }
}

template void SafetensorsFile::read<float>(std::string_view, TensorRef<float>) const;
template void SafetensorsFile::read<double>(std::string_view, TensorRef<double>) const;
template void SafetensorsFile::read<std::int64_t>(std::string_view, TensorRef<std::int64_t>) const;
template Tensor<float> SafetensorsFile::tensor<float>(std::string_view) const;
template Tensor<double> SafetensorsFile::tensor<double>(std::string_view) const;
template void SafetensorsFile::read_converted<float>(std::string_view, TensorRef<float>) const;
template void SafetensorsFile::read_converted<double>(std::string_view, TensorRef<double>) const;

}  // namespace tapeloop
