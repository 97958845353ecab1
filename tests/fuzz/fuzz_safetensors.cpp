// Fuzzes load_safetensors and the reads of every entry it accepts: FormatError or a file whose
// every entry reads back whole.
#include <cstdint>
#include <cstring>
#include <vector>

#include "input_file.hpp"
#include "property.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/safetensors.hpp"

using namespace tapeloop;
using tapeloop::fuzz::require;

namespace {

// Reads entry `name` as T, which its dtype must be, and checks that the values are the data
// section's bytes at the entry's place: `data` is where the header says it starts.
template <class T>
void read_exact(const SafetensorsFile& file, const std::string& name) {
  const Shape& shape = file.shape(name);
  std::vector<T> values(static_cast<std::size_t>(shape.numel()));
  file.read(name, TensorRef<T>{values.data(), shape});
  if constexpr (!std::is_same_v<T, std::int64_t>) {
    const Tensor<T> tensor = file.tensor<T>(name);
    require(tensor.shape() == shape, "tensor() has the entry's shape");
    require(
        values.empty() || std::memcmp(tensor.data(), values.data(), values.size() * sizeof(T)) == 0,
        "tensor() holds what read() copies");
  }
}

// Reads an F32 or F64 entry converted to U and checks it against the exact read.
template <class Stored, class U>
void read_converted(const SafetensorsFile& file, const std::string& name) {
  const Shape& shape = file.shape(name);
  std::vector<Stored> exact(static_cast<std::size_t>(shape.numel()));
  file.read(name, TensorRef<Stored>{exact.data(), shape});
  std::vector<U> converted(exact.size());
  file.read_converted(name, TensorRef<U>{converted.data(), shape});
  for (std::size_t i = 0; i < exact.size(); ++i) {
    const U expected = static_cast<U>(exact[i]);
    require(std::memcmp(&converted[i], &expected, sizeof(U)) == 0,
            "read_converted converts each value as static_cast does");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tapeloop::fuzz::InputFile input;
  const std::filesystem::path& path = input.write(data, size);
  SafetensorsFile file;
  try {
    file = load_safetensors(path);
  } catch (const FormatError& e) {
    require(std::strstr(e.what(), path.c_str()) != nullptr, "a FormatError names the file");
    return 0;
  }
  // Accepted: every entry is within the file, so every read succeeds and none may throw.
  std::uint64_t covered = 0;
  for (const std::string& name : file.names()) {
    require(file.contains(name), "names() lists entries that contains() finds");
    const std::uint64_t bytes =
        static_cast<std::uint64_t>(file.shape(name).numel()) * dtype_size(file.dtype(name));
    require(bytes <= size, "an entry's bytes are within the file");
    covered += bytes;
    switch (file.dtype(name)) {
      case Dtype::F32:
        read_exact<float>(file, name);
        read_converted<float, double>(file, name);
        break;
      case Dtype::F64:
        read_exact<double>(file, name);
        read_converted<double, float>(file, name);
        break;
      case Dtype::I64:
        read_exact<std::int64_t>(file, name);
        break;
    }
  }
  require(covered <= size, "the entries together are within the file");
  return 0;
}
