// safetensors checkpoints (format in io/safetensors.h). The loader parses the JSON header
// itself, guided by what the format allows at each place, rather than building a generic
// JSON tree: a hostile 100 MB header of "[0,0,0,..." then costs no more memory than the
// tensors it describes, and each error can say exactly which tensor and byte is wrong.
#include "io/safetensors.h"

#include <atomic>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>
#include <vector>

namespace hone::io {

// The data buffer is copied byte for byte into tensors, which hone keeps in host order.
static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps here");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the reference implementation's limit
constexpr int kMaxJsonDepth = 64;                    // nesting allowed inside unknown fields
constexpr size_t kMaxRank = 1024;                    // far past any real tensor

// ---------------------------------------------------------------- dtypes

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypes[] = {
    {DType::Float64, "F64"}, {DType::Float32, "F32"}, {DType::Float16, "F16"}, {DType::BFloat16, "BF16"},
    {DType::Int64, "I64"},   {DType::Int32, "I32"},   {DType::UInt8, "U8"},    {DType::Bool, "BOOL"},
};
// In the format, but with no hone dtype to load them into.
constexpr const char* kUnsupportedDTypes[] = {"I8", "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2",
                                              "E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};

const char* safetensors_name(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  fail("safetensors: dtype ", dtype_name(dtype), " has no safetensors name");
}

// ---------------------------------------------------------------- UTF-8 and JSON text

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points
// past U+10FFFF included), or npos when `s` is valid.
size_t utf8_error_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) { ++i; continue; }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) len = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (s.size() - i < len) return i;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return i + k;
    }
    i += len;
  }
  return std::string_view::npos;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

}  // namespace

// `s` as a JSON string literal (quotes included). Bytes >= 0x80 pass through: the callers
// have checked they form valid UTF-8.
std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static const char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

namespace {

// A name as error messages show it: quoted, escaped, cut short if long.
std::string shown(std::string_view name) {
  constexpr size_t kMax = 120;
  if (name.size() <= kMax) return json_quote(name);
  std::string cut(name.substr(0, kMax));
  while (!cut.empty() && utf8_error_at(cut) != std::string_view::npos) cut.pop_back();
  std::string quoted = json_quote(cut);
  return quoted.insert(quoted.size() - 1, "...");
}

// ---------------------------------------------------------------- low-level file I/O

std::string errno_text() { return std::strerror(errno); }

// Owns a file descriptor; closes it on scope exit unless close() already did.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int close() {
    int r = ::close(fd);
    fd = -1;
    return r;
  }
};

// ---------------------------------------------------------------- header parsing

// One tensor as the header describes it. Offsets are relative to the data buffer.
struct Entry {
  std::string name;
  DType dtype = DType::Float32;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

// A JSON number as written: sign, magnitude (saturated, with a flag) and whether it had a
// fraction or an exponent. Shapes and offsets need integers; anything else is refused.
struct Number {
  bool negative = false, integral = true, too_large = false;
  uint64_t magnitude = 0;
  size_t pos = 0, len = 0;  // where it is in the header, to quote it in errors
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string where, uint64_t buffer_size)
      : text_(text), where_(std::move(where)), buffer_size_(buffer_size) {}

  void parse(std::vector<Entry>& entries, std::map<std::string, std::string>& metadata) {
    if (size_t bad = utf8_error_at(text_); bad != std::string_view::npos)
      fail_at(bad, "the header is not valid UTF-8");
    if (text_.empty() || text_[0] != '{') fail_at(0, "invalid header JSON: the header must start with '{'");
    std::set<std::string> names;
    bool has_metadata = false;
    for_each_member("the header", [&](const std::string& key, size_t key_pos) {
      if (key == "__metadata__") {
        if (has_metadata) fail_at(key_pos, "duplicate key \"__metadata__\" in the header");
        has_metadata = true;
        parse_metadata(metadata);
        return;
      }
      if (!names.insert(key).second) fail_at(key_pos, "duplicate tensor name ", shown(key));
      entries.push_back(parse_entry(key, key_pos));
    });
    skip_ws();  // the padding
    if (pos_ != text_.size()) fail_at(pos_, "invalid header JSON: unexpected bytes after the closing '}'");
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail_at(size_t pos, const Args&... args) const {
    fail(where_, detail::concat(args...), " (header byte ", pos, ", file offset ", pos + 8, ")");
  }

  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }
  void skip_ws() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c, const char* context) {
    skip_ws();
    if (peek() != c) fail_at(pos_, "invalid header JSON: expected '", c, "' ", context);
    ++pos_;
  }

  // Calls fn(key, key_pos) for each member of the object at pos_, with pos_ on its value;
  // fn must consume the value. Rejects duplicate keys only where the caller does.
  template <typename Fn>
  void for_each_member(const std::string& what, Fn&& fn) {
    expect('{', ("to open " + what).c_str());
    skip_ws();
    if (peek() == '}') { ++pos_; return; }
    for (;;) {
      skip_ws();
      const size_t key_pos = pos_;
      if (peek() != '"') fail_at(pos_, "invalid header JSON: expected a string key in ", what);
      std::string key = parse_string();
      expect(':', ("after a key in " + what).c_str());
      skip_ws();
      fn(key, key_pos);
      skip_ws();
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == '}') { ++pos_; return; }
      fail_at(pos_, "invalid header JSON: expected ',' or '}' in ", what);
    }
  }

  // Parses the string at pos_ (which is on its opening quote), decoding escapes.
  std::string parse_string() {
    const size_t start = pos_++;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail_at(start, "invalid header JSON: unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') { ++pos_; return out; }
      if (c < 0x20) fail_at(pos_, "invalid header JSON: unescaped control character in a string");
      if (c != '\\') { out += char(c); ++pos_; continue; }
      const size_t esc = pos_++;
      if (pos_ >= text_.size()) fail_at(start, "invalid header JSON: unterminated string");
      switch (text_[pos_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4(esc);
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail_at(esc, "invalid header JSON: \\u escape of a lone low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate needs its low half next
            if (text_.substr(pos_, 2) != "\\u") fail_at(esc, "invalid header JSON: \\u escape of a lone high surrogate");
            const size_t esc2 = pos_;
            pos_ += 2;
            uint32_t lo = parse_hex4(esc2);
            if (lo < 0xDC00 || lo > 0xDFFF) fail_at(esc, "invalid header JSON: \\u escape of a lone high surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: fail_at(esc, "invalid header JSON: unknown escape in a string");
      }
    }
  }

  uint32_t parse_hex4(size_t esc) {
    if (text_.size() - pos_ < 4) fail_at(esc, "invalid header JSON: \\u escape needs 4 hex digits");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) fail_at(esc, "invalid header JSON: \\u escape needs 4 hex digits");
      v = v * 16 + uint32_t(d);
    }
    return v;
  }

  // The JSON number grammar, keeping the integer value when there is one.
  Number parse_number() {
    Number n;
    n.pos = pos_;
    if (peek() == '-') { n.negative = true; ++pos_; }
    auto digit = [&] { return peek() >= '0' && peek() <= '9'; };
    if (!digit()) fail_at(n.pos, "invalid header JSON: malformed number");
    if (peek() == '0') {
      ++pos_;
      if (digit()) fail_at(n.pos, "invalid header JSON: number with a leading zero");
    } else {
      while (digit()) {
        const uint64_t d = uint64_t(peek() - '0');
        if (n.magnitude > (UINT64_MAX - d) / 10) n.too_large = true;
        else n.magnitude = n.magnitude * 10 + d;
        ++pos_;
      }
    }
    if (peek() == '.') {
      n.integral = false;
      ++pos_;
      if (!digit()) fail_at(n.pos, "invalid header JSON: malformed number");
      while (digit()) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      n.integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!digit()) fail_at(n.pos, "invalid header JSON: malformed number");
      while (digit()) ++pos_;
    }
    n.len = pos_ - n.pos;
    return n;
  }
  std::string_view text_of(const Number& n) const { return text_.substr(n.pos, n.len); }

  // Skips any JSON value (for fields the format does not define), checking its syntax.
  void skip_value(int depth) {
    skip_ws();
    if (depth > kMaxJsonDepth) fail_at(pos_, "invalid header JSON: nested deeper than ", kMaxJsonDepth, " levels");
    const int c = peek();
    if (c == '"') { parse_string(); return; }
    if (c == '-' || (c >= '0' && c <= '9')) { parse_number(); return; }
    if (c == '{') {
      for_each_member("an object", [&](const std::string&, size_t) { skip_value(depth + 1); });
      return;
    }
    if (c == '[') {
      ++pos_;
      skip_ws();
      if (peek() == ']') { ++pos_; return; }
      for (;;) {
        skip_value(depth + 1);
        skip_ws();
        if (peek() == ',') { ++pos_; continue; }
        if (peek() == ']') { ++pos_; return; }
        fail_at(pos_, "invalid header JSON: expected ',' or ']' in an array");
      }
    }
    for (const char* word : {"true", "false", "null"}) {
      if (text_.substr(pos_, std::strlen(word)) == word) { pos_ += std::strlen(word); return; }
    }
    fail_at(pos_, c < 0 ? "invalid header JSON: the header ends where a value should be"
                        : "invalid header JSON: unexpected character where a value should be");
  }

  // An array of numbers, each passed to fn(number) as it is read.
  template <typename Fn>
  void parse_number_array(const std::string& what, Fn&& fn) {
    skip_ws();
    if (peek() != '[') fail_at(pos_, what, " must be an array of integers");
    ++pos_;
    skip_ws();
    if (peek() == ']') { ++pos_; return; }
    for (;;) {
      skip_ws();
      if (peek() != '-' && !(peek() >= '0' && peek() <= '9')) fail_at(pos_, what, " must be an array of integers");
      fn(parse_number());
      skip_ws();
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == ']') { ++pos_; return; }
      fail_at(pos_, "invalid header JSON: expected ',' or ']' in ", what);
    }
  }

  // A non-negative integer no larger than `max`, or an Error naming `what`.
  uint64_t checked_integer(const Number& n, const std::string& what, uint64_t max) {
    if (!n.integral) fail_at(n.pos, what, " ", text_of(n), " is not an integer");
    if (n.negative && (n.magnitude != 0 || n.too_large)) fail_at(n.pos, what, " ", text_of(n), " is negative");
    if (n.too_large || n.magnitude > max) fail_at(n.pos, what, " ", text_of(n), " is too large");
    return n.magnitude;
  }

  void parse_metadata(std::map<std::string, std::string>& metadata) {
    skip_ws();
    if (text_.substr(pos_, 4) == "null") { pos_ += 4; return; }  // what Option<...> writers emit
    if (peek() != '{') fail_at(pos_, "\"__metadata__\" must be an object of strings");
    for_each_member("\"__metadata__\"", [&](const std::string& key, size_t key_pos) {
      if (peek() != '"') fail_at(pos_, "\"__metadata__\" value for key ", shown(key), " is not a string");
      if (!metadata.emplace(key, parse_string()).second)
        fail_at(key_pos, "duplicate key ", shown(key), " in \"__metadata__\"");
    });
  }

  Entry parse_entry(const std::string& name, size_t name_pos) {
    const std::string who = "tensor " + shown(name);
    Entry e;
    e.name = name;
    skip_ws();
    if (peek() != '{') fail_at(pos_, who, ": expected an object with dtype, shape and data_offsets");
    std::string dtype;
    size_t dtype_pos = 0, shape_pos = 0, offsets_pos = 0;
    std::vector<uint64_t> offsets;
    std::set<std::string> keys;
    for_each_member(who, [&](const std::string& key, size_t key_pos) {
      if (!keys.insert(key).second) fail_at(key_pos, who, ": duplicate key ", shown(key));
      if (key == "dtype") {
        dtype_pos = pos_;
        if (peek() != '"') fail_at(pos_, who, ": dtype must be a string");
        dtype = parse_string();
      } else if (key == "shape") {
        shape_pos = pos_;
        parse_number_array(who + ": shape", [&](const Number& n) {
          if (e.shape.size() == kMaxRank) fail_at(n.pos, who, ": shape has more than ", kMaxRank, " dims");
          e.shape.push_back(int64_t(checked_integer(n, who + ": dim", uint64_t(INT64_MAX))));
        });
      } else if (key == "data_offsets") {
        offsets_pos = pos_;
        parse_number_array(who + ": data_offsets", [&](const Number& n) {
          if (offsets.size() == 2) fail_at(n.pos, who, ": data_offsets must be [begin, end]");
          offsets.push_back(checked_integer(n, who + ": data offset", UINT64_MAX));
        });
      } else {
        skip_value(1);  // fields a later version of the format may add
      }
    });
    for (const char* required : {"dtype", "shape", "data_offsets"})
      if (!keys.count(required)) fail_at(name_pos, who, " has no \"", required, "\"");

    bool known = false;
    for (const auto& d : kDTypes)
      if (dtype == d.name) { e.dtype = d.dtype; known = true; }
    if (!known) {
      for (const char* u : kUnsupportedDTypes)
        if (dtype == u) fail_at(dtype_pos, who, ": dtype ", shown(dtype), " is not supported by hone (it has F64 F32 F16 BF16 I64 I32 U8 BOOL)");
      fail_at(dtype_pos, who, ": unknown dtype ", shown(dtype));
    }

    // Every partial product must fit, zero dims counted as 1, because strides are the
    // products of the trailing dims even when the tensor has no elements.
    int64_t elements = 1, span = 1;
    for (int64_t d : e.shape) {
      if (__builtin_mul_overflow(span, std::max<int64_t>(d, 1), &span))
        fail_at(shape_pos, who, ": shape ", e.shape, " has more elements than int64 can count (overflow)");
      elements *= d;
    }
    if (offsets.size() != 2) fail_at(offsets_pos, who, ": data_offsets must be [begin, end]");
    e.begin = offsets[0];
    e.end = offsets[1];
    if (e.begin > e.end) fail_at(offsets_pos, who, ": data_offsets [", e.begin, ", ", e.end, "] has begin > end");
    if (e.end > buffer_size_)
      fail_at(offsets_pos, who, ": data_offsets [", e.begin, ", ", e.end, "] run past the end of the ",
              buffer_size_, "-byte data buffer");
    uint64_t need = 0;
    if (__builtin_mul_overflow(uint64_t(elements), uint64_t(dtype_size(e.dtype)), &need))
      fail_at(shape_pos, who, ": shape ", e.shape, " of ", dtype, " needs more bytes than uint64 can count (overflow)");
    if (e.end - e.begin != need)
      fail_at(offsets_pos, who, ": data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin,
              " bytes but shape ", e.shape, " of ", dtype, " needs ", need);
    return e;
  }

  std::string_view text_;
  std::string where_;
  uint64_t buffer_size_;
  size_t pos_ = 0;
};

// The format requires the tensors to tile the data buffer exactly: no byte unowned (a
// place to hide data) and none shared (a way to alias two tensors).
void check_coverage(std::vector<Entry>& entries, uint64_t buffer_size, const std::string& where) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t covered = 0;
  const Entry* last = nullptr;
  for (const Entry& e : entries) {
    if (e.begin > covered)
      fail(where, "bytes [", covered, ", ", e.begin, ") of the data buffer belong to no tensor (a gap before tensor ",
           shown(e.name), ")");
    if (e.begin < covered)
      fail(where, "tensor ", shown(e.name), " at data_offsets [", e.begin, ", ", e.end, "] overlaps tensor ",
           shown(last->name), " at [", last->begin, ", ", last->end, "]");
    covered = e.end;
    last = &e;
  }
  if (covered != buffer_size)
    fail(where, "bytes [", covered, ", ", buffer_size, ") at the end of the data buffer belong to no tensor");
}

// Reads exactly n bytes at `offset`, or throws.
void read_exactly(int fd, void* dst, uint64_t n, uint64_t offset, const std::string& where) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const size_t chunk = size_t(std::min<uint64_t>(n, 1u << 30));
    const ssize_t got = ::pread(fd, p, chunk, off_t(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(where, "read failed at file offset ", offset, ": ", errno_text());
    if (got == 0) fail(where, "the file ended at offset ", offset, " while reading (was it changed while being read?)");
    p += got;
    n -= uint64_t(got);
    offset += uint64_t(got);
  }
}

// ---------------------------------------------------------------- writing

void write_all(int fd, const void* src, size_t n, const std::string& where) {
  const auto* p = static_cast<const char*>(src);
  while (n > 0) {
    const ssize_t put = ::write(fd, p, std::min<size_t>(n, 1u << 30));
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) fail(where, "write failed: ", errno_text());
    p += put;
    n -= size_t(put);
  }
}

void check_utf8(const std::string& s, const std::string& what, const std::string& where) {
  if (size_t bad = utf8_error_at(s); bad != std::string_view::npos)
    fail(where, what, " ", shown(s.substr(0, bad)), "... is not valid UTF-8 (byte ", bad, ")");
}

// The order of the tensors' bytes in the data buffer: largest element first, then by name.
// The buffer starts 8-byte aligned, so every tensor then starts at a multiple of its own
// element size, and readers that map the file can use the bytes in place (the reference
// writer orders them the same way).
std::vector<std::map<std::string, Tensor>::const_iterator> data_order(const std::map<std::string, Tensor>& tensors) {
  std::vector<std::map<std::string, Tensor>::const_iterator> order;
  for (auto it = tensors.begin(); it != tensors.end(); ++it) order.push_back(it);
  std::stable_sort(order.begin(), order.end(),
                   [](auto a, auto b) { return a->second.element_size() > b->second.element_size(); });
  return order;
}

// The header JSON (tensors in name order), padded with spaces to a multiple of 8 bytes.
// Checks every argument, so that nothing invalid reaches the file system.
std::string build_header(const std::map<std::string, Tensor>& tensors,
                         const std::map<std::string, std::string>& metadata, const std::string& where) {
  std::string json = "{";
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      check_utf8(key, "metadata key", where);
      check_utf8(value, "metadata value", where);
      if (!first) json += ',';
      json += json_quote(key);
      json += ':';
      json += json_quote(value);
      first = false;
    }
    json += "}";
  }
  for (const auto& [name, t] : tensors) {
    check_utf8(name, "tensor name", where);
    HONE_CHECK(name != "__metadata__", where, "\"__metadata__\" is reserved and cannot name a tensor");
    HONE_CHECK(t.defined(), where, "tensor ", shown(name), " is undefined");
  }
  std::map<std::string, std::pair<uint64_t, uint64_t>> spans;
  uint64_t offset = 0;
  for (auto it : data_order(tensors)) {
    const uint64_t nbytes = uint64_t(it->second.numel()) * it->second.element_size();
    spans[it->first] = {offset, offset + nbytes};
    offset += nbytes;
  }
  for (const auto& [name, t] : tensors) {
    if (json.size() > 1) json += ",";
    json += json_quote(name) + ":{\"dtype\":\"" + safetensors_name(t.dtype()) + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape().size(); ++i) {
      if (i) json += ',';
      json += std::to_string(t.shape()[i]);
    }
    const auto [begin, end] = spans.at(name);
    json += "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  return json;
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string where = "save_safetensors: " + path + ": ";
  // Everything that can be checked is checked before the file system is touched.
  const std::string header = build_header(tensors, metadata, where);

  // pid + a per-process counter: concurrent saves from several threads never share a tmp file.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  Fd file;
  file.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file.fd < 0) fail(where, "cannot create ", tmp, ": ", errno_text());
  try {
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(uint64_t(header.size()) >> (8 * i));
    write_all(file.fd, length, 8, where);
    write_all(file.fd, header.data(), header.size(), where);
    for (auto it : data_order(tensors)) {
      // One host copy at a time: a GPU model never needs a second full copy in memory.
      Tensor host;
      try {
        host = raw::contiguous(raw::to_device(it->second, Device::cpu()));
      } catch (const Error& e) {
        fail(where, "tensor ", shown(it->first), ": ", e.what());
      }
      if (host.numel() > 0) write_all(file.fd, host.data_ptr(), size_t(host.numel()) * host.element_size(), where);
    }
    if (::fsync(file.fd) != 0) fail(where, "fsync failed: ", errno_text());
    if (file.close() != 0) fail(where, "close failed: ", errno_text());
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail(where, "cannot rename ", tmp, " over it: ", errno_text());
  } catch (...) {
    if (file.fd >= 0) file.close();
    ::unlink(tmp.c_str());
    throw;
  }
  // Make the rename itself durable. The new file is complete whatever happens here, so a
  // failure is not reported: the worst case is the old file after a power loss.
  Fd dir;
  dir.fd = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir.fd >= 0) ::fsync(dir.fd);
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string where = "load_safetensors: " + path + ": ";
  Fd file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) fail(where, "cannot open the file: ", errno_text());
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) fail(where, "cannot stat the file: ", errno_text());
  if (!S_ISREG(st.st_mode)) fail(where, "not a regular file");
  const uint64_t file_size = uint64_t(st.st_size);
  if (file_size < 8) fail(where, "the file is ", file_size, " bytes, shorter than the 8-byte header length");

  unsigned char length[8];
  read_exactly(file.fd, length, 8, 0, where);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t(length[i]) << (8 * i);
  if (header_size > kMaxHeaderBytes)
    fail(where, "header length ", header_size, " is over the ", kMaxHeaderBytes >> 20, " MB limit");
  if (header_size > file_size - 8)
    fail(where, "header length ", header_size, " runs past the end of the file (", file_size,
         " bytes leave room for ", file_size - 8, ")");

  std::string header(size_t(header_size), '\0');
  read_exactly(file.fd, header.data(), header_size, 8, where);
  const uint64_t buffer_start = 8 + header_size, buffer_size = file_size - buffer_start;

  SafetensorsFile out;
  std::vector<Entry> entries;
  HeaderParser(header, where, buffer_size).parse(entries, out.metadata);
  check_coverage(entries, buffer_size, where);

  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, {.dtype = e.dtype, .device = Device::cpu()});
    const uint64_t nbytes = e.end - e.begin;
    if (nbytes > 0) read_exactly(file.fd, t.data_ptr(), nbytes, buffer_start + e.begin, where);
    if (e.dtype == DType::Bool) {
      // Any byte but 0 or 1 read as a C++ bool is undefined behaviour.
      const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
      for (uint64_t i = 0; i < nbytes; ++i)
        if (bytes[i] > 1)
          fail(where, "tensor ", shown(e.name), " (BOOL) has byte ", int(bytes[i]), " at file offset ",
               buffer_start + e.begin + i, "; BOOL bytes must be 0 or 1");
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace hone::io
