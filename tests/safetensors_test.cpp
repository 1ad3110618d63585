// safetensors checkpoints (io/safetensors.h): round trips of every dtype and shape kind,
// the bytes the writer lays out (checked by a reader written here from the spec), a file
// the reference library wrote, atomic replacement of an old file, and corrupt inputs,
// each of which must give a hone::Error naming the file and the problem, never a crash.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>

#include "io/safetensors.h"
#include "test_util.h"

namespace hone {
namespace {

namespace fs = std::filesystem;
using io::load_safetensors;
using io::save_safetensors;

using test::expect_error;

// test::TempDir with the helpers these tests use.
struct TempDir : test::TempDir {
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string le64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char(n >> (8 * i));
  return out;
}

uint64_t read_le64(const std::string& b, size_t at = 0) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return n;
}

// A safetensors file made by hand: the header length, the header text, the data buffer.
std::string st_bytes(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

// The elements of t as raw bytes, row-major.
std::string tensor_bytes(const Tensor& t) {
  Tensor c = raw::contiguous(t);
  if (c.numel() == 0) return "";
  return std::string(static_cast<const char*>(c.data_ptr()), size_t(c.numel()) * c.element_size());
}

// Same names, dtypes, shapes and bytes.
void expect_same_tensors(const std::map<std::string, Tensor>& got, const std::map<std::string, Tensor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << "missing " << name;
    const Tensor& g = it->second;
    EXPECT_EQ(g.dtype(), w.dtype()) << name;
    EXPECT_EQ(g.shape(), w.shape()) << name;
    EXPECT_TRUE(g.is_contiguous()) << name;
    EXPECT_EQ(g.device(), Device::cpu()) << name;
    EXPECT_EQ(tensor_bytes(g), tensor_bytes(w)) << name;
  }
}

// Writes a hand-made file and expects loading it to fail naming the file and `parts`.
void expect_load_error(const std::string& bytes, const std::vector<std::string>& parts) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  write_bytes(path, bytes);
  std::vector<std::string> all = parts;
  all.push_back(path);
  expect_error([&] { load_safetensors(path); }, all);
}

// One well-formed tensor entry, for building headers by hand.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

// ---------------------------------------------------------------- round trips

TEST(SafetensorsRoundTrip, EveryDtypeWithScalarAndEmptyTensors) {
  TempDir dir;
  std::map<std::string, Tensor> in = {
      {"f32", from_vector<float>({0.5f, -1.0f, 2.0f, 3.25f, -0.125f, 1e-30f}, {2, 3})},
      {"f64", from_vector<double>({1.5, -2.25, 1e300, -0.0, 1e-310, 7.0}, {3, 2})},
      {"i64", from_vector<int64_t>({std::numeric_limits<int64_t>::min(), -1, 0, std::numeric_limits<int64_t>::max()}, {4})},
      {"i32", from_vector<int32_t>({std::numeric_limits<int32_t>::min(), 5, std::numeric_limits<int32_t>::max()}, {1, 3})},
      {"u8", from_vector<uint8_t>({0, 1, 200, 255}, {2, 2})},
      {"bool", from_vector<uint8_t>({1, 0, 1}, {3}, {.dtype = DType::Bool})},
      {"f16", from_vector<float>({1.0f, -2.0f, 0.333f, 65504.0f}, {2, 2}, {.dtype = DType::Float16})},
      {"bf16", from_vector<float>({1.0f, -2.0f, 0.333f, 3e38f}, {4, 1}, {.dtype = DType::BFloat16})},
      {"scalar_f64", scalar_tensor(3.5, {.dtype = DType::Float64})},
      {"scalar_u8", scalar_tensor(9, {.dtype = DType::UInt8})},
      {"empty_f32", empty({0, 3})},
      {"empty_i64", empty({0}, {.dtype = DType::Int64})},
      {"empty_bf16", empty({2, 0, 5}, {.dtype = DType::BFloat16})},
  };
  const std::string path = dir.file("all.safetensors");
  save_safetensors(path, in);
  io::SafetensorsFile out = load_safetensors(path);
  expect_same_tensors(out.tensors, in);
  EXPECT_TRUE(out.metadata.empty());
  EXPECT_EQ(out.tensors.at("scalar_f64").dim(), 0);
  EXPECT_EQ(out.tensors.at("scalar_f64").item<double>(), 3.5);
  EXPECT_EQ(out.tensors.at("bool").to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"all.safetensors"});  // no temporary left
}

TEST(SafetensorsRoundTrip, NoTensorsAtAll) {
  TempDir dir;
  const std::string path = dir.file("none.safetensors");
  save_safetensors(path, {});
  EXPECT_EQ(read_bytes(path), st_bytes("{}      "));
  io::SafetensorsFile out = load_safetensors(path);
  EXPECT_TRUE(out.tensors.empty());
  EXPECT_TRUE(out.metadata.empty());
}

TEST(SafetensorsRoundTrip, NonContiguousViewsAreSavedInLogicalOrder) {
  TempDir dir;
  Tensor base = from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  std::map<std::string, Tensor> in = {
      {"transposed", base.t()},                          // [[0,3],[1,4],[2,5]]
      {"column", raw::view(base, {2}, {3}, 1)},          // [1,4], offset into the storage
      {"expanded", raw::view(base, {2, 3}, {0, 1}, 0)},  // a stride-0 broadcast
  };
  ASSERT_FALSE(in.at("transposed").is_contiguous());
  const std::string path = dir.file("views.safetensors");
  save_safetensors(path, in);
  auto out = load_safetensors(path).tensors;
  EXPECT_EQ(out.at("transposed").shape(), (Shape{3, 2}));
  EXPECT_EQ(out.at("transposed").to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(out.at("column").to_vector<float>(), (std::vector<float>{1, 4}));
  EXPECT_EQ(out.at("expanded").to_vector<float>(), (std::vector<float>{0, 1, 2, 0, 1, 2}));
}

TEST(SafetensorsRoundTrip, MetadataAndNamesWithCharactersJsonMustEscape) {
  TempDir dir;
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"quote\"and\\backslash", "line\nbreak\ttab\x01\x1f"},
      {"unicode", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"},
      {"empty", ""},
  };
  std::map<std::string, Tensor> in;
  for (const std::string name : {"", "a\"b\\c", "ctl\x02\n", "layer4.0.conv1.weight", "\xc3\xbcn\xc3\xaf", "/"})
    in[name] = full({2}, double(in.size()));
  const std::string path = dir.file("names.safetensors");
  save_safetensors(path, in, metadata);
  io::SafetensorsFile out = load_safetensors(path);
  EXPECT_EQ(out.metadata, metadata);
  expect_same_tensors(out.tensors, in);
}

TEST(SafetensorsRoundTrip, SavingAgainReplacesTheFile) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, {{"a", ones({1000})}});
  save_safetensors(path, {{"b", zeros({2})}});
  auto out = load_safetensors(path).tensors;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.at("b").to_vector<float>(), (std::vector<float>{0, 0}));
}

// ---------------------------------------------------------------- the bytes on disk

// A reader written here from the spec checks the writer: 8-byte little-endian header
// length, JSON header padded with spaces to keep the data 8-byte aligned, then the data.
TEST(SafetensorsLayout, OneFloatTensorByteForByte) {
  TempDir dir;
  const std::string path = dir.file("x.safetensors");
  save_safetensors(path, {{"x", from_vector<float>({1.0f, -2.5f})}});
  const std::string b = read_bytes(path);
  ASSERT_GE(b.size(), 8u);
  const uint64_t n = read_le64(b);
  EXPECT_EQ(n % 8, 0u) << "the data buffer should start 8-byte aligned";
  ASSERT_EQ(b.size(), 8 + n + 8);
  const std::string header = b.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  const size_t last = header.find_last_not_of(' ');
  EXPECT_EQ(header[last], '}') << "only spaces may follow the JSON: " << header;
  EXPECT_LT(n - (last + 1), 8u) << "no more padding than alignment needs";
  EXPECT_EQ(header.substr(0, last + 1), R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})");
  const unsigned char want[] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0};
  EXPECT_EQ(b.substr(8 + n), std::string(reinterpret_cast<const char*>(want), sizeof want));
}

// [begin, end) of `name`'s data_offsets, found by plain string search in the header.
std::pair<uint64_t, uint64_t> offsets_in(const std::string& header, const std::string& name) {
  const size_t at = header.find("\"" + name + "\":{");
  EXPECT_NE(at, std::string::npos) << name << " not in " << header;
  if (at == std::string::npos) return {0, 0};
  const size_t off = header.find("\"data_offsets\":[", at) + 16;
  const size_t comma = header.find(',', off), close = header.find(']', off);
  return {std::stoull(header.substr(off, comma - off)), std::stoull(header.substr(comma + 1, close - comma - 1))};
}

TEST(SafetensorsLayout, NamesSortedMetadataFirstAndDataAlignedToElementSize) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  save_safetensors(path,
                   {{"b_i32", from_vector<int32_t>({7}, {1})},
                    {"a_u8", from_vector<uint8_t>({1, 2, 3}, {3})},
                    {"c_f64", scalar_tensor(-2.0, {.dtype = DType::Float64})},
                    {"d_f16", from_vector<float>({1.0f}, {1}, {.dtype = DType::Float16})}},
                   {{"k", "v"}});
  const std::string b = read_bytes(path);
  const uint64_t n = read_le64(b);
  ASSERT_EQ(b.size(), 8 + n + 17);
  const std::string header = b.substr(8, n), data = b.substr(8 + n);
  EXPECT_EQ(header.rfind("{\"__metadata__\":{\"k\":\"v\"},", 0), 0u) << header;
  // Header entries in name order...
  EXPECT_LT(header.find("\"a_u8\""), header.find("\"b_i32\""));
  EXPECT_LT(header.find("\"b_i32\""), header.find("\"c_f64\""));
  EXPECT_LT(header.find("\"c_f64\""), header.find("\"d_f16\""));
  EXPECT_NE(header.find("\"c_f64\":{\"dtype\":\"F64\",\"shape\":[],"), std::string::npos) << header;
  // ...data by falling element size, so each tensor starts at a multiple of its own.
  using Span = std::pair<uint64_t, uint64_t>;
  EXPECT_EQ(offsets_in(header, "c_f64"), (Span{0, 8}));
  EXPECT_EQ(offsets_in(header, "b_i32"), (Span{8, 12}));
  EXPECT_EQ(offsets_in(header, "d_f16"), (Span{12, 14}));
  EXPECT_EQ(offsets_in(header, "a_u8"), (Span{14, 17}));
  const unsigned char want[] = {0, 0, 0, 0, 0, 0, 0, 0xc0,  // -2.0 as float64
                                7, 0, 0, 0,                 // 7 as int32
                                0x00, 0x3c,                 // 1.0 as float16
                                1, 2};                      // first two uint8 bytes
  EXPECT_EQ(data.substr(0, 16), std::string(reinterpret_cast<const char*>(want), sizeof want));
  EXPECT_EQ(data.substr(14), std::string("\x01\x02\x03", 3));
}

TEST(SafetensorsLayout, ReadsHandWrittenHeadersWithWhitespaceEscapesAndExtraFields) {
  TempDir dir;
  const std::string path = dir.file("hand.safetensors");
  // Data out of name order, spaces and newlines, \u escapes (a surrogate pair included),
  // an unknown field, "__metadata__" last, padding: all legal.
  const std::string header =
      "{\n  \"z\" : {\"data_offsets\": [0, 4], \"shape\": [ ], \"dtype\": \"I32\", \"future\": [1.5e3, {\"a\": null}, true]},\n"
      "  \"\\u00e9\\ud83d\\ude00\\n\" : {\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},\n"
      "  \"__metadata__\": {\"a\\/b\": \"\\\"x\\\"\"}\n}    ";
  write_bytes(path, st_bytes(header, std::string("\x05\x00\x00\x00\x09\x0a", 6)));
  io::SafetensorsFile out = load_safetensors(path);
  ASSERT_EQ(out.tensors.size(), 2u);
  EXPECT_EQ(out.tensors.at("z").item<int64_t>(), 5);
  EXPECT_EQ(out.tensors.at("\xc3\xa9\xf0\x9f\x98\x80\n").to_vector<int64_t>(), (std::vector<int64_t>{9, 10}));
  EXPECT_EQ(out.metadata, (std::map<std::string, std::string>{{"a/b", "\"x\""}}));
}

// The writer's JSON: "__metadata__" first even where a name sorts before it, control
// characters escaped, UTF-8 and DEL passed through as they are.
TEST(SafetensorsLayout, MetadataFirstAndNamesEscapedAsJsonRequires) {
  TempDir dir;
  const std::string path = dir.file("esc.safetensors");
  save_safetensors(path, {{"A", from_vector<uint8_t>({1}, {1})}, {"c\x01\x1f\x7f\"\\/ \xc3\xa9", from_vector<uint8_t>({2}, {1})}},
                   {{"k", "v\n"}});
  const std::string b = read_bytes(path);
  const std::string header = b.substr(8, read_le64(b));
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            "{\"__metadata__\":{\"k\":\"v\\n\"},"
            "\"A\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
            "\"c\\u0001\\u001f\x7f\\\"\\\\/ \xc3\xa9\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}");
}

// ---------------------------------------------------------------- reference files

// The golden set of tools/golden/safetensors_check.py, which checks hone's files with the
// reference `safetensors` package and wrote the bytes below with it.
std::map<std::string, Tensor> golden_tensors() {
  return {
      {"f64", from_vector<double>({1.5, -2.25, 1e300, -0.0}, {2, 2})},
      {"f32", from_vector<float>({0.5f, -1.0f, 2.0f, 3.25f, -0.125f, 1024.0f}, {2, 3})},
      {"f16", from_vector<float>({1.0f, -2.0f, 0.5f}, {3}, {.dtype = DType::Float16})},
      {"i64", from_vector<int64_t>({-1, 0, int64_t(1) << 40}, {3})},
      {"i32", from_vector<int32_t>({-7, 123456}, {2, 1})},
      {"u8", from_vector<uint8_t>({0, 1, 127, 255}, {4})},
      {"bool", from_vector<uint8_t>({1, 0, 1}, {3}, {.dtype = DType::Bool})},
      {"scalar", scalar_tensor(42.0)},
      {"empty", empty({0, 3})},
  };
}
const std::map<std::string, std::string> kGoldenMetadata = {{"format", "np"}, {"source", "hone golden"}};

// safetensors 0.8.0's safetensors.numpy.save_file(golden set), via
// `python3 tools/golden/safetensors_check.py write f && ... cpp f`.
const unsigned char kReferenceFile[] = {
    0x48, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65, 0x74, 0x61,
    0x64, 0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x66, 0x6f, 0x72, 0x6d, 0x61, 0x74,
    0x22, 0x3a, 0x22, 0x6e, 0x70, 0x22, 0x2c, 0x22, 0x73, 0x6f, 0x75, 0x72, 0x63, 0x65, 0x22, 0x3a,
    0x22, 0x68, 0x6f, 0x6e, 0x65, 0x20, 0x67, 0x6f, 0x6c, 0x64, 0x65, 0x6e, 0x22, 0x7d, 0x2c, 0x22,
    0x69, 0x36, 0x34, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x49,
    0x36, 0x34, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x33, 0x5d, 0x2c,
    0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b,
    0x30, 0x2c, 0x32, 0x34, 0x5d, 0x7d, 0x2c, 0x22, 0x66, 0x36, 0x34, 0x22, 0x3a, 0x7b, 0x22, 0x64,
    0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x36, 0x34, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61,
    0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x2c, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f,
    0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x32, 0x34, 0x2c, 0x35, 0x36, 0x5d,
    0x7d, 0x2c, 0x22, 0x65, 0x6d, 0x70, 0x74, 0x79, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70,
    0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22,
    0x3a, 0x5b, 0x30, 0x2c, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66,
    0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x35, 0x36, 0x2c, 0x35, 0x36, 0x5d, 0x7d, 0x2c, 0x22,
    0x66, 0x33, 0x32, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46,
    0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x2c, 0x33,
    0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22,
    0x3a, 0x5b, 0x35, 0x36, 0x2c, 0x38, 0x30, 0x5d, 0x7d, 0x2c, 0x22, 0x73, 0x63, 0x61, 0x6c, 0x61,
    0x72, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32,
    0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x5d, 0x2c, 0x22, 0x64, 0x61,
    0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x38, 0x30, 0x2c,
    0x38, 0x34, 0x5d, 0x7d, 0x2c, 0x22, 0x69, 0x33, 0x32, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79,
    0x70, 0x65, 0x22, 0x3a, 0x22, 0x49, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65,
    0x22, 0x3a, 0x5b, 0x32, 0x2c, 0x31, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66,
    0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x38, 0x34, 0x2c, 0x39, 0x32, 0x5d, 0x7d, 0x2c,
    0x22, 0x66, 0x31, 0x36, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22,
    0x46, 0x31, 0x36, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x33, 0x5d,
    0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a,
    0x5b, 0x39, 0x32, 0x2c, 0x39, 0x38, 0x5d, 0x7d, 0x2c, 0x22, 0x75, 0x38, 0x22, 0x3a, 0x7b, 0x22,
    0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x55, 0x38, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61,
    0x70, 0x65, 0x22, 0x3a, 0x5b, 0x34, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66,
    0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x39, 0x38, 0x2c, 0x31, 0x30, 0x32, 0x5d, 0x7d,
    0x2c, 0x22, 0x62, 0x6f, 0x6f, 0x6c, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22,
    0x3a, 0x22, 0x42, 0x4f, 0x4f, 0x4c, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a,
    0x5b, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74,
    0x73, 0x22, 0x3a, 0x5b, 0x31, 0x30, 0x32, 0x2c, 0x31, 0x30, 0x35, 0x5d, 0x7d, 0x7d, 0x20, 0x20,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0, 0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0x7e,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0xbf,
    0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x50, 0x40, 0x00, 0x00, 0x00, 0xbe, 0x00, 0x00, 0x80, 0x44,
    0x00, 0x00, 0x28, 0x42, 0xf9, 0xff, 0xff, 0xff, 0x40, 0xe2, 0x01, 0x00, 0x00, 0x3c, 0x00, 0xc0,
    0x00, 0x38, 0x00, 0x01, 0x7f, 0xff, 0x01, 0x00, 0x01,
};

TEST(SafetensorsGolden, ReadsAFileTheReferenceLibraryWrote) {
  TempDir dir;
  const std::string path = dir.file("reference.safetensors");
  write_bytes(path, std::string(reinterpret_cast<const char*>(kReferenceFile), sizeof kReferenceFile));
  io::SafetensorsFile out = load_safetensors(path);
  expect_same_tensors(out.tensors, golden_tensors());
  EXPECT_EQ(out.metadata, kGoldenMetadata);
}

// Writes the golden set; with HONE_SAFETENSORS_GOLDEN_OUT=path it is kept there for
// `python3 tools/golden/safetensors_check.py check path` to read with the reference.
TEST(SafetensorsGolden, WritesTheGoldenSet) {
  TempDir dir;
  const char* keep = std::getenv("HONE_SAFETENSORS_GOLDEN_OUT");
  const std::string path = keep && *keep ? std::string(keep) : dir.file("golden.safetensors");
  save_safetensors(path, golden_tensors(), kGoldenMetadata);
  io::SafetensorsFile out = load_safetensors(path);
  expect_same_tensors(out.tensors, golden_tensors());
  EXPECT_EQ(out.metadata, kGoldenMetadata);
  if (keep && *keep) std::cout << "golden set written to " << path << "\n";
}

// ---------------------------------------------------------------- atomic replacement

TEST(SafetensorsAtomic, RefusedSaveLeavesTheOldFileIntact) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, {{"w", from_vector<float>({1, 2, 3})}});
  const std::string before = read_bytes(path);
  expect_error([&] { save_safetensors(path, {{"fine", ones({4})}, {"bad\xff", ones({4})}}); },
               {"save_safetensors", path, "tensor name", "UTF-8"});
  expect_error([&] { save_safetensors(path, {{"w", ones({4})}}, {{"k", "\xc0\x80"}}); }, {"metadata value", "UTF-8"});
  expect_error([&] { save_safetensors(path, {{"__metadata__", ones({1})}}); }, {"reserved"});
  expect_error([&] { save_safetensors(path, {{"undefined", Tensor()}}); }, {"undefined", "tensor \"undefined\""});
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(load_safetensors(path).tensors.at("w").to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"ckpt.safetensors"});
}

// Lowers the file-size limit for its lifetime, so a write past `bytes` fails with EFBIG
// (SIGXFSZ ignored) instead of killing the process: a deterministic disk-full midway.
struct FileSizeLimit {
  rlimit saved{};
  void (*saved_handler)(int) = nullptr;
  bool active = false;
  explicit FileSizeLimit(rlim_t bytes) {
    if (getrlimit(RLIMIT_FSIZE, &saved) != 0) return;
    if (saved.rlim_cur != RLIM_INFINITY && saved.rlim_cur <= bytes) return;
    saved_handler = signal(SIGXFSZ, SIG_IGN);
    rlimit lower = saved;
    lower.rlim_cur = bytes;
    active = setrlimit(RLIMIT_FSIZE, &lower) == 0;
  }
  ~FileSizeLimit() {
    if (!active) return;
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, saved_handler);
  }
};

TEST(SafetensorsAtomic, WriteFailingMidwayLeavesTheOldFileIntact) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, {{"w", from_vector<float>({1, 2, 3})}});
  const std::string before = read_bytes(path);
  std::string message;
  {
    FileSizeLimit limit(64 * 1024);  // the new file needs 4 MB
    if (!limit.active) GTEST_SKIP() << "cannot lower RLIMIT_FSIZE here";
    try {
      save_safetensors(path, {{"w", zeros({1 << 20})}});
    } catch (const Error& e) {
      message = e.what();
    }
  }
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("write failed"), std::string::npos) << message;
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(load_safetensors(path).tensors.at("w").to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"ckpt.safetensors"}) << "the temporary file was not removed";
}

TEST(SafetensorsAtomic, FailedRenameRemovesTheTemporaryFile) {
  TempDir dir;
  fs::create_directories(dir.file("taken") + "/inside");  // a non-empty folder cannot be replaced
  expect_error([&] { save_safetensors(dir.file("taken"), {{"w", ones({2})}}); }, {"cannot rename", dir.file("taken")});
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"taken"});
}

TEST(SafetensorsAtomic, SavingIntoAMissingFolderThrows) {
  TempDir dir;
  const std::string path = dir.file("no/such/folder/w.safetensors");
  expect_error([&] { save_safetensors(path, {{"w", ones({2})}}); }, {"cannot create", path});
}

// ---------------------------------------------------------------- corrupt files

TEST(SafetensorsCorrupt, MissingEmptyAndShortFiles) {
  TempDir dir;
  expect_error([&] { load_safetensors(dir.file("missing.safetensors")); },
               {"load_safetensors", dir.file("missing.safetensors"), "cannot open"});
  expect_error([&] { load_safetensors(dir.path.string()); }, {"not a regular file"});
  // A FIFO named as a checkpoint is refused at once (opening it used to wait for a writer).
  const std::string fifo = dir.file("pipe.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  test::expect_error_soon(fifo, [&] { load_safetensors(fifo); }, {fifo, "not a regular file", "FIFO"});
  expect_load_error("", {"0 bytes", "shorter than the 8-byte header length"});
  expect_load_error(std::string("\x02\x00\x00", 3), {"3 bytes", "shorter"});
}

TEST(SafetensorsCorrupt, HeaderLengthPastTheFileOrOverTheLimit) {
  expect_load_error(le64(uint64_t(1) << 63) + "{}", {"header length 9223372036854775808", "100 MB limit"});
  expect_load_error(le64(uint64_t(200) << 20) + "{}", {"header length 209715200", "100 MB limit"});
  expect_load_error(le64(11) + "{}", {"header length 11", "past the end of the file"});
  expect_load_error(le64(0), {"header must start with '{'"});
}

// Every proper prefix of a valid file is corrupt; each must fail cleanly.
TEST(SafetensorsCorrupt, EveryTruncationOfAValidFileThrows) {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  save_safetensors(good, {{"a", from_vector<float>({1, 2, 3})}, {"b", scalar_tensor(7, {.dtype = DType::Int64})}},
                   {{"k", "v"}});
  const std::string bytes = read_bytes(good);
  ASSERT_NO_THROW(load_safetensors(good));
  const std::string path = dir.file("cut.safetensors");
  for (size_t len = 0; len < bytes.size(); ++len) {
    write_bytes(path, bytes.substr(0, len));
    try {
      load_safetensors(path);
      ADD_FAILURE() << "a " << len << "-byte prefix loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

// Loading may succeed or throw hone::Error; any other exception fails the test, and a
// crash or an out-of-bounds read fails it under the sanitizers.
bool loads(const std::string& path) {
  try {
    load_safetensors(path);
    return true;
  } catch (const Error&) {
    return false;
  }
}

TEST(SafetensorsCorrupt, EverySingleByteChangeFailsCleanly) {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  save_safetensors(good, {{"a", from_vector<float>({1, 2})}, {"m", from_vector<uint8_t>({1, 0}, {2}, {.dtype = DType::Bool})}},
                   {{"k", "v"}});
  const std::string bytes = read_bytes(good);
  const std::string path = dir.file("changed.safetensors");
  int refused = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char v : {0x00, 0x01, 0x22, 0x2c, 0x5b, 0x7b, 0x7d, 0xff}) {
      if (static_cast<unsigned char>(bytes[i]) == v) continue;
      std::string changed = bytes;
      changed[i] = char(v);
      write_bytes(path, changed);
      refused += !loads(path);
    }
  }
  EXPECT_GT(refused, int(bytes.size()));  // most changes break the header
}

TEST(SafetensorsCorrupt, RandomBytesFailCleanly) {
  TempDir dir;
  const std::string path = dir.file("random.safetensors");
  std::mt19937 rng(1234);
  const std::string json_chars = "{}[]\":,-.0123456789eE\\u \"abdfhnprstyFI_";
  for (int trial = 0; trial < 400; ++trial) {
    const size_t len = rng() % 200;
    std::string body(len, '\0');
    const bool jsonish = trial % 2 == 1;
    for (char& c : body) c = jsonish ? json_chars[rng() % json_chars.size()] : char(rng());
    if (jsonish && !body.empty()) body[0] = '{';
    // Half the files carry a header length that fits, so the parser sees the bytes.
    const std::string file = trial % 4 < 2 ? body : le64(rng() % (len + 1)) + body;
    write_bytes(path, file);
    EXPECT_FALSE(loads(path)) << "random file " << trial << " loaded";
  }
}

TEST(SafetensorsCorrupt, DataSizeMustMatchShapeAndDtype) {
  expect_load_error(st_bytes("{" + entry("w", "F32", "[2]", "[0,4]") + "}", std::string(4, '\0')),
                    {"tensor \"w\"", "span 4 bytes", "shape [2] of F32 needs 8"});
  expect_load_error(st_bytes("{" + entry("w", "F32", "[2]", "[0,12]") + "}", std::string(12, '\0')),
                    {"span 12 bytes", "needs 8"});
}

TEST(SafetensorsCorrupt, OffsetsMustStayInsideTheBuffer) {
  expect_load_error(st_bytes("{" + entry("w", "F32", "[2]", "[0,8]") + "}", std::string(6, '\0')),
                    {"tensor \"w\"", "[0, 8]", "past the end of the 6-byte data buffer"});
  expect_load_error(st_bytes("{" + entry("w", "U8", "[0]", "[5,4]") + "}", std::string(6, '\0')),
                    {"begin > end"});
  expect_load_error(st_bytes("{" + entry("w", "U8", "[2]", "[0]") + "}", std::string(2, '\0')),
                    {"data_offsets must be [begin, end]"});
  expect_load_error(st_bytes("{" + entry("w", "U8", "[2]", "[0,2,4]") + "}", std::string(4, '\0')),
                    {"data_offsets must be [begin, end]"});
  expect_load_error(st_bytes("{" + entry("w", "U8", "[2]", "[-1,1]") + "}", std::string(2, '\0')),
                    {"data offset -1 is negative"});
  expect_load_error(st_bytes("{" + entry("w", "U8", "[2]", "[0,99999999999999999999999]") + "}", std::string(2, '\0')),
                    {"too large"});
}

TEST(SafetensorsCorrupt, TensorsMustTileTheBufferWithoutOverlapsOrGaps) {
  const std::string data(12, '\0');
  expect_load_error(st_bytes("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[4,12]") + "}", data),
                    {"tensor \"b\"", "overlaps tensor \"a\""});
  expect_load_error(st_bytes("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[0,8]") + "}",
                             std::string(8, '\0')),
                    {"overlaps"});
  expect_load_error(st_bytes("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}", data),
                    {"bytes [4, 8)", "belong to no tensor"});
  expect_load_error(st_bytes("{" + entry("a", "F32", "[2]", "[0,8]") + "}", data),
                    {"bytes [8, 12) at the end", "belong to no tensor"});
  expect_load_error(st_bytes("{}", "x"), {"bytes [0, 1)", "belong to no tensor"});
}

TEST(SafetensorsCorrupt, UnknownAndUnsupportedDtypes) {
  expect_load_error(st_bytes("{" + entry("w", "F31", "[1]", "[0,4]") + "}", std::string(4, '\0')),
                    {"tensor \"w\"", "unknown dtype \"F31\"", "header byte"});
  expect_load_error(st_bytes("{" + entry("w", "I8", "[1]", "[0,1]") + "}", std::string(1, '\0')),
                    {"dtype \"I8\" is not supported"});
  expect_load_error(st_bytes(R"({"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')),
                    {"dtype must be a string"});
}

TEST(SafetensorsCorrupt, BadShapes) {
  const std::string d4(4, '\0');
  expect_load_error(st_bytes("{" + entry("w", "F32", "[-1]", "[0,4]") + "}", d4), {"tensor \"w\"", "dim -1 is negative"});
  expect_load_error(st_bytes("{" + entry("w", "F32", "[1.0]", "[0,4]") + "}", d4), {"dim 1.0 is not an integer"});
  expect_load_error(st_bytes("{" + entry("w", "F32", "[1e0]", "[0,4]") + "}", d4), {"dim 1e0 is not an integer"});
  expect_load_error(st_bytes("{" + entry("w", "F32", "[\"1\"]", "[0,4]") + "}", d4), {"shape must be an array of integers"});
  expect_load_error(st_bytes("{" + entry("w", "F32", "4", "[0,4]") + "}", d4), {"shape must be an array of integers"});
  expect_load_error(st_bytes("{" + entry("w", "F32", "[9223372036854775808]", "[0,4]") + "}", d4), {"too large"});
  // Products that overflow int64, including ones multiplied by a zero dim (strides still do).
  expect_load_error(st_bytes("{" + entry("w", "U8", "[4294967296,4294967296]", "[0,4]") + "}", d4),
                    {"shape [4294967296,4294967296]", "overflow"});
  expect_load_error(st_bytes("{" + entry("w", "U8", "[0,4294967296,4294967296]", "[0,0]") + "}"), {"overflow"});
  // Fits in int64 elements, not in uint64 bytes.
  expect_load_error(st_bytes("{" + entry("w", "F64", "[4611686018427387904]", "[0,4]") + "}", d4), {"overflow"});
}

TEST(SafetensorsCorrupt, EntriesMissingFieldsOrDuplicated) {
  const std::string d4(4, '\0');
  expect_load_error(st_bytes(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", d4), {"tensor \"w\" has no \"dtype\""});
  expect_load_error(st_bytes(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", d4), {"has no \"shape\""});
  expect_load_error(st_bytes(R"({"w":{"dtype":"F32","shape":[1]}})", d4), {"has no \"data_offsets\""});
  expect_load_error(st_bytes(R"({"w":[1]})", d4), {"tensor \"w\"", "expected an object"});
  expect_load_error(st_bytes("{" + entry("w", "F32", "[1]", "[0,4]") + "," + entry("w", "F32", "[1]", "[4,8]") + "}",
                             std::string(8, '\0')),
                    {"duplicate tensor name \"w\""});
  expect_load_error(st_bytes(R"({"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d4),
                    {"duplicate key \"dtype\""});
}

TEST(SafetensorsCorrupt, MetadataMustMapStringsToStrings) {
  expect_load_error(st_bytes(R"({"__metadata__":{"epoch":3}})"), {"\"__metadata__\" value for key \"epoch\" is not a string"});
  expect_load_error(st_bytes(R"({"__metadata__":{"a":{"b":"c"}}})"), {"not a string"});
  expect_load_error(st_bytes(R"({"__metadata__":["a"]})"), {"\"__metadata__\" must be an object"});
  expect_load_error(st_bytes(R"({"__metadata__":{"a":"1","a":"2"}})"), {"duplicate key \"a\""});
  expect_load_error(st_bytes(R"({"__metadata__":{},"__metadata__":{}})"), {"duplicate key \"__metadata__\""});
}

TEST(SafetensorsCorrupt, BoolBytesMustBeZeroOrOne) {
  expect_load_error(st_bytes("{" + entry("m", "BOOL", "[2]", "[0,2]") + "}", std::string("\x01\x02", 2)),
                    {"tensor \"m\" (BOOL) has byte 2", "must be 0 or 1"});
}

TEST(SafetensorsCorrupt, InvalidJsonNamesTheByte) {
  const std::string d4(4, '\0');
  struct Case {
    std::string header, expect;
  };
  const std::vector<Case> cases = {
      {R"( {})", "header byte 0"},                                    // must start with '{'
      {R"({"w" {}})", "expected ':'"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},})", "expected a string key"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})", "expected ',' or '}'"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x)", "unexpected bytes after the closing '}'"},
      {R"({"w":{"dtype":"F32)", "unterminated string"},
      {R"({"w\q":{}})", "unknown escape"},
      {R"({"w\u12":{}})", "4 hex digits"},
      {R"({"w\ud800":{}})", "lone high surrogate"},
      {R"({"w\udc00":{}})", "lone low surrogate"},
      {"{\"w\x01\":{}}", "unescaped control character"},
      {R"({"w":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}})", "leading zero"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":tru}})", "unexpected character"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":[1 2]}})", "expected ',' or ']'"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":-}})", "malformed number"},
      {"{\"w\xff\":{}}", "not valid UTF-8"},
      {"{\"w\xc0\x80\":{}}", "not valid UTF-8"},  // an overlong NUL
      {"{\"w\xed\xa0\x80\":{}}", "not valid UTF-8"},  // an encoded surrogate
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header);
    expect_load_error(st_bytes(c.header, d4), {c.expect, "header byte", "file offset"});
  }
  // The offset is exact: where the ':' should be after "w", the '{' is at header byte 5.
  expect_load_error(st_bytes(R"({"w" {}})"), {"(header byte 5, file offset 13)"});
  expect_load_error(st_bytes("{\"ab\xff\":{}}"), {"not valid UTF-8 (header byte 4, file offset 12)"});
}

TEST(SafetensorsCorrupt, DeepNestingInUnknownFieldsIsRefused) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_load_error(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":)" + deep + "}}",
                             std::string(4, '\0')),
                    {"nested deeper than 64 levels"});
}

// Shapes and offsets take integers from 0 to int64 / uint64 max, however they are written.
TEST(SafetensorsCorrupt, NumbersMustBeIntegersInRange) {
  const std::string d4(4, '\0');
  auto with_offsets = [&](const std::string& offsets) { return st_bytes("{" + entry("w", "U8", "[4]", offsets) + "}", d4); };
  expect_load_error(with_offsets("[0,4.0]"), {"tensor \"w\": data offset 4.0 is not an integer"});
  expect_load_error(with_offsets("[0,4e0]"), {"data offset 4e0 is not an integer"});
  expect_load_error(with_offsets("[-0.0,4]"), {"data offset -0.0 is not an integer"});
  expect_load_error(with_offsets("[0,1e999]"), {"data offset 1e999 is not an integer"});  // past a double
  expect_load_error(with_offsets("[-9223372036854775808,4]"), {"data offset -9223372036854775808 is negative"});
  expect_load_error(with_offsets("[-" + std::string(400, '9') + ",4]"), {"is negative"});
  expect_load_error(with_offsets("[0,18446744073709551616]"), {"data offset 18446744073709551616 is too large"});
  expect_load_error(with_offsets("[0," + std::string(400, '9') + "]"), {"is too large"});
  expect_load_error(with_offsets("[0,18446744073709551615]"), {"[0, 18446744073709551615] run past the end"});
  expect_load_error(st_bytes("{" + entry("w", "U8", "[1e999]", "[0,4]") + "}", d4), {"dim 1e999 is not an integer"});
  expect_load_error(st_bytes("{" + entry("w", "U8", "[4,-4]", "[0,4]") + "}", d4), {"dim -4 is negative"});
  // -0 is zero.
  TempDir dir;
  const std::string path = dir.file("zero.safetensors");
  write_bytes(path, st_bytes("{" + entry("w", "U8", "[-0]", "[0,-0]") + "}"));
  EXPECT_EQ(load_safetensors(path).tensors.at("w").shape(), (Shape{0}));
}

// nlohmann/json stops at a number it cannot hold in a double wherever it is, so such a
// number in an unknown field is refused too (the reference skips unknown fields unread);
// numbers that fit are skipped like any other value.
TEST(SafetensorsCorrupt, NumbersPastADoubleAreRefusedEvenInUnknownFields) {
  const std::string start = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)";
  expect_load_error(st_bytes(start + "1e999}}", std::string(1, '\0')),
                    {"number 1e999 is out of range", "(header byte " + std::to_string(start.size())});
  TempDir dir;
  const std::string path = dir.file("fits.safetensors");
  write_bytes(path, st_bytes(start + "[1.5e308, -1e-999, 99999999999999999999999, -0.0, 0e0]}}", std::string(1, '\0')));
  EXPECT_EQ(load_safetensors(path).tensors.size(), 1u);
}

TEST(SafetensorsCorrupt, OnlyPaddingMayFollowTheHeaderObject) {
  // nlohmann/json takes a NUL byte for the end of its input; the header does not.
  expect_load_error(st_bytes(std::string("{}\0", 3)), {"unexpected bytes after the closing '}' (header byte 2"});
  expect_load_error(st_bytes(std::string("{} \0 ", 5)), {"unexpected bytes after the closing '}' (header byte 3"});
  expect_load_error(st_bytes("{}{}"), {"unexpected bytes after the closing '}' (header byte 2"});
  expect_load_error(st_bytes(std::string(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)") + '\0' + "}}",
                             std::string(1, '\0')),
                    {"unexpected character where a value should be"});
  expect_load_error(st_bytes("\xef\xbb\xbf{}"), {"must start with '{' (header byte 0"});  // a byte-order mark
  TempDir dir;
  const std::string path = dir.file("padded.safetensors");
  write_bytes(path, st_bytes("{} \t\r\n "));
  EXPECT_TRUE(load_safetensors(path).tensors.empty());
}

TEST(SafetensorsCorrupt, NestingLimitIsExactAndChecksDoNotWaitForTheEnd) {
  auto with_x = [](const std::string& x) {
    return st_bytes(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)" + x + "}}", std::string(1, '\0'));
  };
  auto nested = [](int levels, const std::string& inside) {
    return std::string(size_t(levels), '[') + inside + std::string(size_t(levels), ']');
  };
  // The field's own value is level 1: a value at level 64 loads, one at level 65 does not.
  TempDir dir;
  const std::string path = dir.file("deep.safetensors");
  for (const std::string& x : {nested(63, "0"), nested(64, ""), nested(63, "{}"), nested(62, "{\"a\":null}")}) {
    write_bytes(path, with_x(x));
    EXPECT_NO_THROW(load_safetensors(path)) << x;
  }
  expect_load_error(with_x(nested(64, "0")), {"nested deeper than 64 levels (header byte 120"});
  expect_load_error(with_x(nested(64, "tru")), {"nested deeper than 64 levels"});  // depth before syntax
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  expect_load_error(with_x(objects + "0" + std::string(100000, '}')), {"nested deeper than 64 levels"});
  // Nesting where the format wants something else is refused at its first level.
  const std::string deep(100000, '[');
  expect_load_error(st_bytes(R"({"w":{"dtype":"U8","shape":)" + deep), {"shape must be an array of integers (header byte 28"});
  expect_load_error(st_bytes(R"({"__metadata__":)" + deep), {"\"__metadata__\" must be an object"});
  expect_load_error(st_bytes(R"({"__metadata__":{"k":)" + deep), {"value for key \"k\" is not a string"});
  expect_load_error(st_bytes(R"({"w":)" + deep), {"tensor \"w\": expected an object"});
}

// Where a syntax error is found inside a token, the offset is the token's start (for a bad
// escape, its backslash), as `marker` locates it in the header.
TEST(SafetensorsCorrupt, SyntaxErrorsNameWhereTheBadTokenStarts) {
  struct Case {
    std::string header, expect, marker;
  };
  const std::string tensor = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)";
  const std::vector<Case> cases = {
      {R"({"w\q":{}})", "unknown escape", R"(\q)"},
      {R"({"w\u12x4":{}})", "4 hex digits", R"(\u12)"},
      {R"({"w\ud800\ud800":{}})", "lone high surrogate", R"(\ud800\ud800)"},  // the first half
      {R"({"w\ud800\n":{}})", "lone high surrogate", R"(\ud800)"},
      {R"({"w\ud800\u12":{}})", "4 hex digits", R"(\u12)"},
      {R"({"ab\udc00":{}})", "lone low surrogate", R"(\udc00)"},
      {"{\"ab\x1f\":{}}", "unescaped control character", "\x1f"},
      {R"({"w\":{}})", "unterminated string", R"("w)"},
      {tensor + R"("abc)", "unterminated string", R"("abc)"},
      {tensor + "[0,-01]}}", "leading zero", "-01"},
      {tensor + "[0,1.]}}", "malformed number", "1.]"},
      {tensor + "[0,1e+]}}", "malformed number", "1e+"},
      {tensor + "[0,1,]}}", "unexpected character where a value should be", "]}}"},
      {tensor + "[0 1]}}", "expected ',' or ']' in an array", "1]}}"},
      {tensor + "{\"a\" 1}}}", "expected ':' after a key in an object", "1}}}"},
      {tensor + "nul}}", "unexpected character where a value should be", "nul"},
      {R"({"w":{"dtype":"U8","shape":[1] "data_offsets":[0,1]}})", "expected ',' or '}' in tensor \"w\"", R"( "data)"},
      {R"({"w":{"dtype":"U8","shape":[1,x],"data_offsets":[0,1]}})", "tensor \"w\": shape must be an array of integers", "x"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header);
    size_t at = c.header.rfind(c.marker);
    if (c.marker[0] == ' ') ++at;  // the marker's leading space only makes it unique
    ASSERT_NE(at, std::string::npos);
    expect_load_error(st_bytes(c.header, std::string(1, '\0')),
                      {c.expect, "(header byte " + std::to_string(at) + ", file offset " + std::to_string(at + 8) + ")"});
  }
}

}  // namespace
}  // namespace hone
