// safetensors files: round trips, the layout we write, a file written by an independent writer
// (tests/golden/reference.safetensors), strict dtypes, atomic writes that fail cleanly, and every
// validation rule of the reader, each with the error it gives.
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <limits>

#include "support/check.hpp"
#include "support/files.hpp"
#include "support/golden.hpp"

using namespace tapeloop;
using nlohmann::json;
using testing::read_bytes;
using testing::safetensors_bytes;
using testing::TempDir;
using testing::write_bytes;

namespace {

template <class T>
bool same_bits(const T* a, const T* b, std::int64_t n) {
  return std::memcmp(a, b, static_cast<std::size_t>(n) * sizeof(T)) == 0;
}

// Loads a hand-made file; the test then checks the FormatError's message.
void load_bytes(const TempDir& dir, const std::vector<std::uint8_t>& bytes) {
  write_bytes(dir / "crafted.safetensors", bytes);
  load_safetensors(dir / "crafted.safetensors");
}

// One valid F32 entry "a" of shape [2] (8 bytes of data), in a header we can vary.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape +
         ", \"data_offsets\": " + offsets + "}";
}

const std::vector<std::uint8_t> eight_bytes(8, 0);

}  // namespace

BOOST_AUTO_TEST_SUITE(test_safetensors)

BOOST_AUTO_TEST_CASE(round_trip_of_float_double_and_int64) {
  TempDir dir("safetensors");
  Generator rng(1);
  Tensor<float> f = Tensor<float>::normal({3, 5}, 0.0f, 1.0f, rng);
  f[0] = -0.0f;
  f[1] = std::numeric_limits<float>::quiet_NaN();
  f[2] = std::numeric_limits<float>::denorm_min();
  Tensor<double> d = Tensor<double>::normal({2, 1, 3}, 0.0, 1.0, rng);
  Tensor<double> scalar = Tensor<double>::full(Shape(), 2.5);
  Tensor<float> empty(Shape{0, 4});
  std::int64_t tokens[4] = {-5, 0, std::numeric_limits<std::int64_t>::max(), 42};
  const std::vector<NamedTensor> tensors{
      {"layer.f", f.ref()},
      {"d", d.ref()},
      {"scalar", scalar.ref()},
      {"empty", empty.ref()},
      {"tokens", TensorRef<const std::int64_t>{tokens, Shape{2, 2}}}};
  save_safetensors(dir / "x.safetensors", tensors, {{"epoch", "3"}, {"note", "héllo"}});

  const SafetensorsFile file = load_safetensors(dir / "x.safetensors");
  BOOST_TEST(
      file.names() == (std::vector<std::string>{"d", "empty", "layer.f", "scalar", "tokens"}),
      boost::test_tools::per_element());
  BOOST_TEST(file.metadata() == (Metadata{{"epoch", "3"}, {"note", "héllo"}}));
  BOOST_TEST((file.dtype("layer.f") == Dtype::F32));
  BOOST_TEST((file.dtype("d") == Dtype::F64));
  BOOST_TEST((file.dtype("tokens") == Dtype::I64));
  BOOST_TEST(file.shape("d") == (Shape{2, 1, 3}));
  BOOST_TEST(file.shape("scalar").rank() == 0);
  BOOST_TEST(file.shape("empty") == (Shape{0, 4}));
  const Tensor<float> f2 = file.tensor<float>("layer.f");
  BOOST_TEST(same_bits(f2.data(), f.data(), f.numel()));  // NaN, -0 and subnormal included
  const Tensor<double> d2 = file.tensor<double>("d");
  BOOST_TEST(same_bits(d2.data(), d.data(), d.numel()));
  BOOST_TEST(file.tensor<double>("scalar")[0] == 2.5);
  BOOST_TEST(file.tensor<float>("empty").numel() == 0);
  std::int64_t back[4] = {};
  file.read("tokens", TensorRef<std::int64_t>{back, Shape{2, 2}});
  BOOST_TEST(same_bits(back, tokens, 4));
}

BOOST_AUTO_TEST_CASE(layout_is_the_reference_one) {
  // Sorted names in the header; 8-byte entries first in the data, then by name; the header
  // padded with spaces so that every tensor is aligned for its type.
  TempDir dir("safetensors");
  Tensor<float> odd = Tensor<float>::ones({3});  // 12 bytes: would misalign what follows
  Tensor<double> d = Tensor<double>::ones({2});
  Tensor<float> a = Tensor<float>::ones({1});
  const std::vector<NamedTensor> tensors{{"odd", odd.ref()}, {"z", d.ref()}, {"a", a.ref()}};
  save_safetensors(dir / "x.safetensors", tensors);
  const std::vector<std::uint8_t> bytes = read_bytes(dir / "x.safetensors");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[static_cast<std::size_t>(i)];
  BOOST_TEST((8 + n) % 8 == 0u);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  BOOST_TEST(header.front() == '{');
  const json h = json::parse(header);
  BOOST_TEST(h.dump() == header.substr(0, header.find_last_not_of(' ') + 1));  // compact, sorted
  BOOST_TEST(h.at("z").at("data_offsets") == json({0, 16}));
  BOOST_TEST(h.at("a").at("data_offsets") == json({16, 20}));
  BOOST_TEST(h.at("odd").at("data_offsets") == json({20, 32}));
  BOOST_TEST(!h.contains("__metadata__"));  // none given, none written
  BOOST_TEST(bytes.size() == 8 + n + 32);
}

BOOST_AUTO_TEST_CASE(reads_a_file_written_by_an_independent_writer) {
  const SafetensorsFile file = load_safetensors(testing::golden_path("reference.safetensors"));
  BOOST_TEST(file.names() == (std::vector<std::string>{"bias", "embedding.weight", "empty", "nan",
                                                       "scale", "tokens"}),
             boost::test_tools::per_element());
  BOOST_TEST(file.metadata() ==
             (Metadata{{"format", "pt"}, {"written_by", "make_safetensors_golden.py"}}));
  const Tensor<float> w = file.tensor<float>("embedding.weight");
  BOOST_TEST(w.shape() == (Shape{3, 4}));
  for (std::int64_t i = 0; i < 12; ++i) BOOST_TEST(w[i] == static_cast<float>(i - 6) / 4.0f);
  const Tensor<double> bias = file.tensor<double>("bias");
  BOOST_TEST(bias[0] == 0.0);
  BOOST_TEST(std::signbit(bias[0]));
  BOOST_TEST(bias[1] == 1e300);
  BOOST_TEST(bias[2] == std::numeric_limits<double>::denorm_min());
  BOOST_TEST(bias[3] == -2.5);
  BOOST_TEST(bias[4] == std::numeric_limits<double>::infinity());
  BOOST_TEST(file.shape("scale").rank() == 0);
  BOOST_TEST(file.tensor<double>("scale")[0] == 3.141592653589793);
  std::int64_t tokens[6];
  file.read("tokens", TensorRef<std::int64_t>{tokens, Shape{2, 3}});
  const std::int64_t want[6] = {-1,
                                0,
                                1,
                                std::int64_t{1} << 40,
                                -(std::int64_t{1} << 62),
                                std::numeric_limits<std::int64_t>::max()};
  BOOST_TEST(same_bits(tokens, want, 6));
  BOOST_TEST(std::isnan(file.tensor<float>("nan")[0]));
  BOOST_TEST(file.shape("empty") == (Shape{0, 3}));
}

BOOST_AUTO_TEST_CASE(types_are_never_converted_silently) {
  TempDir dir("safetensors");
  Tensor<float> f = Tensor<float>::from({2}, {1.5f, -0.25f});
  Tensor<double> d = Tensor<double>::from({2}, {0.1, 3.0});
  std::int64_t i[1] = {7};
  save_safetensors(dir / "x.safetensors",
                   {{"f", f}, {"d", d}, {"i", TensorRef<const std::int64_t>{i, Shape{1}}}});
  const SafetensorsFile file = load_safetensors(dir / "x.safetensors");
  TAPELOOP_CHECK_THROW_MESSAGE(file.tensor<double>("f"), FormatError,
                               "x.safetensors: entry 'f' is F32, not F64; use read_converted");
  TAPELOOP_CHECK_THROW_MESSAGE(file.tensor<float>("d"), FormatError, "entry 'd' is F64, not F32");
  TAPELOOP_CHECK_THROW_MESSAGE(file.tensor<float>("i"), FormatError, "entry 'i' is I64, not F32");
  Tensor<double> as_double(Shape{2});
  file.read_converted("f", as_double.ref());
  BOOST_TEST(as_double[0] == 1.5);
  BOOST_TEST(as_double[1] == -0.25);
  Tensor<float> as_float(Shape{2});
  file.read_converted("d", as_float.ref());
  BOOST_TEST(as_float[0] == 0.1f);  // rounded to nearest
  TAPELOOP_CHECK_THROW_MESSAGE(file.read_converted("i", as_float.ref()), FormatError,
                               "entry 'i' is I64; only F32 and F64 convert");
  Tensor<float> wrong(Shape{3});
  TAPELOOP_CHECK_THROW_MESSAGE(file.read("f", wrong.ref()), FormatError,
                               "entry 'f' has shape [2], expected [3]");
  TAPELOOP_CHECK_THROW_MESSAGE(file.tensor<float>("nope"), FormatError, "no entry 'nope'");
  TAPELOOP_CHECK_THROW_MESSAGE(file.dtype("nope"), FormatError, "no entry 'nope'");
}

BOOST_AUTO_TEST_CASE(bad_names_are_refused_before_writing) {
  TempDir dir("safetensors");
  Tensor<float> t = Tensor<float>::ones({1});
  auto save = [&](std::vector<NamedTensor> tensors) {
    save_safetensors(dir / "x.safetensors", tensors);
  };
  TAPELOOP_CHECK_THROW_MESSAGE(save({{"a", t.ref()}, {"a", t.ref()}}), ValueError,
                               "two tensors are named 'a'");
  TAPELOOP_CHECK_THROW_MESSAGE(save({{"", t.ref()}}), ValueError, "a tensor has an empty name");
  TAPELOOP_CHECK_THROW_MESSAGE(save({{"__metadata__", t.ref()}}), ValueError, "reserved");
  TAPELOOP_CHECK_THROW_MESSAGE(save({{"bad\xff", t.ref()}}), ValueError, "not valid UTF-8");
  BOOST_TEST(dir.listing().empty());
}

BOOST_AUTO_TEST_CASE(a_failed_save_keeps_the_old_file_and_removes_the_temporary) {
  TempDir dir("safetensors");
  Tensor<float> old_values = Tensor<float>::full({4}, 1.0f);
  const std::vector<NamedTensor> old_tensors{{"w", old_values.ref()}};
  save_safetensors(dir / "ckpt.safetensors", old_tensors);
  const std::vector<std::uint8_t> old_bytes = read_bytes(dir / "ckpt.safetensors");

  // The write fails halfway: the process may not write files larger than 64 KiB.
  Tensor<float> big = Tensor<float>::full({100000}, 2.0f);
  const std::vector<NamedTensor> big_tensors{{"w", big.ref()}};
  {
    std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG from write() instead of being killed
    rlimit saved{};
    BOOST_REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    rlimit small = saved;
    small.rlim_cur = 64 * 1024;
    BOOST_REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    TAPELOOP_CHECK_THROW_MESSAGE(save_safetensors(dir / "ckpt.safetensors", big_tensors), IoError,
                                 "cannot write");
    BOOST_REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0);
  }
  BOOST_TEST(read_bytes(dir / "ckpt.safetensors") == old_bytes);
  BOOST_TEST(dir.listing() == std::vector<std::string>{"ckpt.safetensors"},
             boost::test_tools::per_element());

  // The rename fails: the target is a directory.
  std::filesystem::create_directory(dir / "taken");
  TAPELOOP_CHECK_THROW_MESSAGE(save_safetensors(dir / "taken", old_tensors), IoError,
                               "cannot rename");
  BOOST_TEST(std::filesystem::is_directory(dir / "taken"));
  BOOST_TEST(dir.listing().size() == 2u);

  // The directory does not exist.
  TAPELOOP_CHECK_THROW_MESSAGE(save_safetensors(dir / "missing" / "x.safetensors", old_tensors),
                               IoError, "cannot create");

  // A good save replaces the old file.
  save_safetensors(dir / "ckpt.safetensors", big_tensors);
  BOOST_TEST(load_safetensors(dir / "ckpt.safetensors").tensor<float>("w")[99999] == 2.0f);
  BOOST_TEST(dir.listing().size() == 2u);
}

BOOST_AUTO_TEST_CASE(missing_file_is_an_io_error) {
  TAPELOOP_CHECK_THROW_MESSAGE(load_safetensors("/nonexistent/x.safetensors"), IoError,
                               "cannot open /nonexistent/x.safetensors");
}

BOOST_AUTO_TEST_CASE(an_empty_file_of_no_tensors_is_valid) {
  TempDir dir("safetensors");
  save_safetensors(dir / "x.safetensors", std::vector<NamedTensor>{});
  BOOST_TEST(load_safetensors(dir / "x.safetensors").names().empty());
  write_bytes(dir / "y.safetensors", safetensors_bytes("{}", {}));
  BOOST_TEST(load_safetensors(dir / "y.safetensors").names().empty());
}

BOOST_AUTO_TEST_CASE(every_validation_rule_has_its_error) {
  TempDir dir("safetensors");
  const std::string a = entry("a", "F32", "[2]", "[0, 8]");
  auto check = [&](const std::vector<std::uint8_t>& bytes, const std::string& message) {
    BOOST_TEST_CONTEXT("expecting: " << message) {
      TAPELOOP_CHECK_THROW_MESSAGE(load_bytes(dir, bytes), FormatError, message);
    }
  };
  auto with_header = [&](const std::string& header, std::size_t data = 8) {
    return safetensors_bytes(header, std::vector<std::uint8_t>(data, 0));
  };
  // The control: the same file unbroken loads.
  load_bytes(dir, with_header("{" + a + "}"));

  // Sizes.
  check({1, 2, 3, 4, 5}, "crafted.safetensors: the file is 5 bytes, too short");
  check(safetensors_bytes("{" + a + "}", eight_bytes, 1000),
        "header length 1000 runs past the end");
  check(safetensors_bytes("{" + a + "}", eight_bytes, std::uint64_t{1} << 40),
        "header length 1099511627776 exceeds the limit of 100000000 bytes");
  check(safetensors_bytes("{" + a + "}", eight_bytes, UINT64_MAX - 1), "exceeds the limit");

  // JSON.
  check(with_header("{" + a), "the header is not valid JSON");
  check(with_header("{" + a + "} x"), "the header is not valid JSON");
  check(with_header("[1, 2]"), "the header is not a JSON object");
  check(with_header("{\"a\": 3}"), "entry 'a': is not an object");
  check(with_header("{" + a + ", " + a + "}"), "the header repeats the key 'a'");
  check(with_header("{\"a\": {\"dtype\": \"F32\", \"dtype\": \"F32\", \"shape\": [2], "
                    "\"data_offsets\": [0, 8]}}"),
        "the header repeats the key 'dtype'");
  check(with_header("{\"a\": " + std::string(100, '[') + std::string(100, ']') + "}"),
        "the header nests too deeply");
  check(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}"),
        "entry 'a': needs dtype, shape and data_offsets");
  check(with_header("{\"__metadata__\": {\"k\": 1}, " + a + "}"),
        "metadata value 'k' is not a string");
  check(with_header("{\"__metadata__\": [], " + a + "}"), "__metadata__ is not an object");

  // Dtypes.
  check(with_header("{" + entry("a", "F16", "[4]", "[0, 8]") + "}"),
        "entry 'a': unsupported dtype F16");
  check(with_header("{" + entry("a", "BF16", "[4]", "[0, 8]") + "}"), "unsupported dtype BF16");
  check(with_header("{" + entry("a", "I32", "[2]", "[0, 8]") + "}"), "unsupported dtype I32");
  check(with_header("{" + entry("a", "X9", "[2]", "[0, 8]") + "}"),
        "entry 'a': unknown dtype 'X9'");
  check(with_header("{\"a\": {\"dtype\": 4, \"shape\": [2], \"data_offsets\": [0, 8]}}"),
        "dtype is not a string");

  // Shapes.
  check(with_header("{" + entry("a", "F32", "[-2]", "[0, 8]") + "}"),
        "shape [-2] is not a list of non-negative integers");
  check(with_header("{" + entry("a", "F32", "[2.0]", "[0, 8]") + "}"),
        "is not a list of non-negative");
  check(with_header("{" + entry("a", "F32", "2", "[0, 8]") + "}"), "shape is not a list");
  check(with_header("{" + entry("a", "F32", "[1,1,1,1,1,1,2]", "[0, 8]") + "}"),
        "rank 7 exceeds the maximum of 6");
  check(with_header("{" + entry("a", "F32", "[4294967296, 4294967296]", "[0, 8]") + "}"),
        "has more elements than can be counted");
  // Between 2^62 and 2^63, and 2^63 or more inside a zero-element shape: still the file's error.
  check(with_header("{" + entry("a", "F32", "[4611686018427387905]", "[0, 8]") + "}"),
        "shape [4611686018427387905] has more elements than can be counted");
  check(with_header("{" + entry("a", "F32", "[0, 9223372036854775808]", "[0, 0]") + "}"),
        "shape [0,9223372036854775808] has more elements than can be counted");
  check(with_header("{" + entry("a", "F32", "[3, 1537228672809129302]", "[0, 8]") + "}"),
        "has more elements than can be counted");
  check(with_header("{" + entry("a", "F64", "[4611686018427387904]", "[0, 8]") + "}"),
        "has more bytes than can be counted");

  // Offsets.
  check(with_header("{" + entry("a", "F32", "[2]", "[0]") + "}"),
        "data_offsets is not a pair of non-negative integers");
  check(with_header("{" + entry("a", "F32", "[2]", "[-8, 0]") + "}"), "not a pair of non-negative");
  check(with_header("{" + entry("a", "F32", "[2]", "[8, 0]") + "}"), "[8, 0] begins after it ends");
  check(with_header("{" + entry("a", "F32", "[3]", "[0, 8]") + "}"),
        "data_offsets [0, 8] hold 8 bytes, but F32 of shape [3] takes 12");
  check(with_header("{" + entry("a", "F32", "[2]", "[8, 16]") + "}"),
        "data_offsets [8, 16] run past the data section (8 bytes)");
  check(with_header("{" + a + ", " + entry("b", "F32", "[1]", "[4, 8]") + "}"),
        "entry 'b' overlaps entry 'a'");
  check(with_header("{" + entry("a", "F32", "[1]", "[4, 8]") + "}"),
        "the data section has a hole of 4 bytes before entry 'a'");
  check(with_header("{" + a + "}", 12), "the data section is 12 bytes, but the entries cover 8");
  check(with_header("{}", 1), "the data section is 1 bytes, but the entries cover 0");
}

BOOST_AUTO_TEST_CASE(random_damage_gives_format_errors_only) {
  // Every truncation and many single-byte changes of a small file: loading and reading every
  // entry either works or throws FormatError — nothing else, and no crash (run under ASan too).
  TempDir dir("safetensors");
  Tensor<float> f = Tensor<float>::from({2, 2}, {1, 2, 3, 4});
  Tensor<double> d = Tensor<double>::from({3}, {5, 6, 7});
  save_safetensors(dir / "x.safetensors", std::vector<NamedTensor>{{"f", f.ref()}, {"d", d.ref()}},
                   {{"k", "v"}});
  const std::vector<std::uint8_t> good = read_bytes(dir / "x.safetensors");
  int format_errors = 0, loaded = 0;
  auto attempt = [&](const std::vector<std::uint8_t>& bytes) {
    write_bytes(dir / "damaged.safetensors", bytes);
    try {
      const SafetensorsFile file = load_safetensors(dir / "damaged.safetensors");
      for (const std::string& name : file.names()) {
        if (file.dtype(name) == Dtype::I64) continue;
        Tensor<double> out(file.shape(name));
        file.read_converted(name, out.ref());
      }
      ++loaded;
    } catch (const FormatError&) {
      ++format_errors;
    } catch (const std::exception& e) {
      BOOST_ERROR("not a FormatError: " << e.what());
    }
  };
  for (std::size_t length = 0; length < good.size(); ++length) {
    attempt(std::vector<std::uint8_t>(good.begin(),
                                      good.begin() + static_cast<std::ptrdiff_t>(length)));
  }
  BOOST_TEST(loaded == 0);  // no truncation is a valid file
  Generator rng(9);
  for (std::size_t pos = 0; pos < good.size(); ++pos) {
    for (std::uint8_t mask :
         {std::uint8_t{0x01}, std::uint8_t{0x80}, static_cast<std::uint8_t>(1 + rng.below(255))}) {
      std::vector<std::uint8_t> bytes = good;
      bytes[pos] ^= mask;
      attempt(bytes);
    }
  }
  BOOST_TEST_MESSAGE(format_errors << " damaged files refused, " << loaded << " still valid");
  BOOST_TEST(loaded > 0);  // flips inside the data section leave a valid file
  BOOST_TEST(format_errors > 0);
}

BOOST_AUTO_TEST_SUITE_END()
