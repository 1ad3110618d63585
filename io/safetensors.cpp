// safetensors checkpoints (format in io/safetensors.h). nlohmann/json reads and writes the
// header; the loader takes its SAX events and checks each against what the format allows
// at that place (HeaderReader says why), so each error can say exactly which tensor and
// byte is wrong.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/file_read.h"

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

// ---------------------------------------------------------------- header parsing

// One tensor as the header describes it. Offsets are relative to the data buffer.
struct Entry {
  std::string name;
  DType dtype = DType::Float32;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

// A JSON number as written: sign, magnitude and whether it had a fraction or an exponent.
// Shapes and offsets need integers; anything else is refused.
struct Number {
  bool negative = false, integral = true, too_large = false;  // too_large: past 64 bits
  uint64_t magnitude = 0;
  size_t pos = 0, len = 0;  // where it is in the header, to quote it in errors
};

// nlohmann's lexer reads the header through this iterator, which records how far it got:
// SAX events carry no position, and every error must name its header byte.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  CountingIterator(const char* p, const char** read_up_to) : p_(p), read_up_to_(read_up_to) {}
  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    *read_up_to_ = ++p_;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const CountingIterator& o) const { return p_ == o.p_; }

 private:
  const char* p_;
  const char** read_up_to_;
};

// What a value stands for, from the keys and arrays around it.
enum class Role { Header, Tensor, Metadata, MetadataValue, DType, Shape, Offsets, Dim, Offset, Unknown };
enum class Kind { Object, Array, String, Number, Null, Bool };

// Reads the header with nlohmann/json's SAX parser (iterative, so deep nesting cannot
// exhaust the stack) and checks each value against what the format allows at its place
// as it arrives, rather than building a generic JSON tree: a hostile 100 MB header of
// "[0,0,0,..." then costs no more memory than the tensors it describes. Syntax errors
// are reported in the same words and at the same byte as the format's own checks.
class HeaderReader {
 public:
  HeaderReader(std::string_view text, std::string where, uint64_t buffer_size)
      : text_(text), where_(std::move(where)), buffer_size_(buffer_size) {}

  void read(std::vector<Entry>& entries, std::map<std::string, std::string>& metadata) {
    entries_ = &entries;
    metadata_ = &metadata;
    if (size_t bad = utf8_error_at(text_); bad != std::string_view::npos)
      fail_at(bad, "the header is not valid UTF-8");
    // Also keeps out a byte-order mark, which nlohmann would skip.
    if (text_.empty() || text_[0] != '{') fail_at(0, "invalid header JSON: the header must start with '{'");
    read_up_to_ = text_.data();
    // Not strict: nlohmann stops after the closing '}' (a strict parse would take a NUL
    // byte for the end of the input), and only padding may follow it.
    nlohmann::json::sax_parse(CountingIterator(text_.data(), &read_up_to_),
                              CountingIterator(text_.data() + text_.size(), &read_up_to_), this,
                              nlohmann::json::input_format_t::json, /*strict=*/false);
    const size_t after = skip_ws(end_);
    if (after != text_.size()) fail_at(after, "invalid header JSON: unexpected bytes after the closing '}'");
  }

  // ---- nlohmann's SAX interface. An event's token starts at the first byte after the
  // last one's that is not whitespace, ':' or ',', and ends where the lexer has read to
  // (a number where its grammar ends: the lexer reads one byte past it).
  bool null() { return scalar(Kind::Null); }
  bool boolean(bool) { return scalar(Kind::Bool); }
  bool number_unsigned(uint64_t v) { return number({.magnitude = v}); }
  bool number_integer(int64_t v) {  // only for a leading '-'; "-0" arrives as 0
    return number({.negative = true, .magnitude = v < 0 ? uint64_t(0) - uint64_t(v) : 0});
  }
  bool number_float(double, const std::string&) {  // a fraction, an exponent, or past 64 bits
    const size_t pos = token_start();
    return number({.negative = text_[pos] == '-', .integral = number_text(pos).find_first_of(".eE") == std::string_view::npos,
                   .too_large = true});
  }
  bool string(std::string& s) {
    const Role role = next_role();
    const size_t pos = begin_token(read_position());
    value(Kind::String, pos);
    if (role == Role::DType) dtype_ = std::move(s);
    if (role == Role::MetadataValue && !metadata_->emplace(key_, std::move(s)).second)
      fail_at(key_pos_, "duplicate key ", shown(key_), " in \"__metadata__\"");
    return true;
  }
  bool binary(nlohmann::json::binary_t&) { return true; }  // never in JSON text
  bool start_object(std::size_t) {
    value(Kind::Object, begin_token(read_position()));
    return true;
  }
  bool start_array(std::size_t) {
    value(Kind::Array, begin_token(read_position()));
    return true;
  }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {  // checked once the ':' after it is read: see take_key()
    key_pos_ = begin_token(read_position());
    key_ = std::move(k);
    last_ = Last::Key;
    return true;
  }
  bool parse_error(std::size_t byte, const std::string&, const nlohmann::json::exception& e) { explain(byte, e); }

 private:
  enum class Last { Open, Key, Value };  // the last event: '{' or '[', a key, a whole value
  struct Frame {
    Role role;
    bool is_array;
    int depth;  // nesting inside an unknown field; its own value is at depth 1
  };

  template <typename... Args>
  [[noreturn]] void fail_at(size_t pos, const Args&... args) const {
    fail(where_, detail::concat(args...), " (header byte ", pos, ", file offset ", pos + 8, ")");
  }

  int at(size_t pos) const { return pos < text_.size() ? static_cast<unsigned char>(text_[pos]) : -1; }
  static bool is_digit(int c) { return c >= '0' && c <= '9'; }
  bool is_ws(size_t pos) const { return at(pos) == ' ' || at(pos) == '\t' || at(pos) == '\n' || at(pos) == '\r'; }
  size_t skip_ws(size_t pos) const {
    while (is_ws(pos)) ++pos;
    return pos;
  }
  size_t read_position() const { return size_t(read_up_to_ - text_.data()); }
  size_t token_start() const {
    size_t pos = end_;
    while (is_ws(pos) || at(pos) == ':' || at(pos) == ',') ++pos;
    return pos;
  }
  size_t begin_token(size_t end) {
    last_token_ = token_start();
    end_ = end;
    return last_token_;
  }
  // The number at `pos`, which nlohmann has checked against the JSON grammar.
  std::string_view number_text(size_t pos) const {
    size_t end = pos + (at(pos) == '-');
    if (at(end) == '0') ++end;  // no digit may follow it
    else while (is_digit(at(end))) ++end;
    if (at(end) == '.') do ++end; while (is_digit(at(end)));
    if (at(end) == 'e' || at(end) == 'E') {
      end += (at(end + 1) == '+' || at(end + 1) == '-') ? 2 : 1;
      while (is_digit(at(end))) ++end;
    }
    return text_.substr(pos, end - pos);
  }

  std::string what(const Frame& f) const {
    switch (f.role) {
      case Role::Header: return "the header";
      case Role::Metadata: return "\"__metadata__\"";
      case Role::Tensor: return who_;
      case Role::Shape: return who_ + ": shape";
      case Role::Offsets: return who_ + ": data_offsets";
      default: return f.is_array ? "an array" : "an object";
    }
  }
  Role next_role() const {
    if (stack_.empty()) return Role::Header;
    switch (stack_.back().role) {
      case Role::Header: return key_ == "__metadata__" ? Role::Metadata : Role::Tensor;
      case Role::Metadata: return Role::MetadataValue;
      case Role::Tensor:
        return key_ == "dtype" ? Role::DType : key_ == "shape" ? Role::Shape : key_ == "data_offsets" ? Role::Offsets : Role::Unknown;
      case Role::Shape: return Role::Dim;
      case Role::Offsets: return Role::Offset;
      default: return Role::Unknown;
    }
  }
  int next_depth() const { return !stack_.empty() && stack_.back().role == Role::Unknown ? stack_.back().depth + 1 : 1; }

  bool scalar(Kind kind) {
    value(kind, begin_token(read_position()));
    return true;
  }
  bool number(Number n) {
    const Role role = next_role();
    n.pos = last_token_ = token_start();
    n.len = number_text(n.pos).size();
    end_ = n.pos + n.len;
    value(Kind::Number, n.pos);
    if (role == Role::Dim) {
      if (entry_.shape.size() == kMaxRank) fail_at(n.pos, who_, ": shape has more than ", kMaxRank, " dims");
      entry_.shape.push_back(int64_t(checked_integer(n, who_ + ": dim", uint64_t(INT64_MAX))));
    } else if (role == Role::Offset) {
      if (offsets_.size() == 2) fail_at(n.pos, who_, ": data_offsets must be [begin, end]");
      offsets_.push_back(checked_integer(n, who_ + ": data offset", UINT64_MAX));
    }
    return true;
  }
  bool close() {
    end_ = read_position();
    last_ = Last::Value;
    const Frame f = stack_.back();
    stack_.pop_back();
    if (f.role == Role::Tensor) entries_->push_back(finish_entry());
    return true;
  }

  // Refuses a key seen before in the header or in a tensor's object. Called at the value
  // after it, when the ':' between them has been read, so a missing ':' is reported first.
  void take_key() {
    const Role in = stack_.back().role;
    if (in == Role::Header && key_ == "__metadata__") {
      if (has_metadata_) fail_at(key_pos_, "duplicate key \"__metadata__\" in the header");
      has_metadata_ = true;
    } else if (in == Role::Header && !names_.insert(key_).second) {
      fail_at(key_pos_, "duplicate tensor name ", shown(key_));
    } else if (in == Role::Tensor && !fields_.insert(key_).second) {
      fail_at(key_pos_, who_, ": duplicate key ", shown(key_));
    }
  }

  // Checks that a value of `kind` at `pos` is what its place allows; opens its frame.
  void value(Kind kind, size_t pos) {
    if (last_ == Last::Key) take_key();
    const Role role = next_role();
    const int depth = next_depth();
    const bool container = kind == Kind::Object || kind == Kind::Array;
    switch (role) {
      case Role::Header: break;  // its '{' was checked before parsing
      case Role::Tensor:
        if (kind != Kind::Object) fail_at(pos, "tensor ", shown(key_), ": expected an object with dtype, shape and data_offsets");
        start_entry();
        break;
      case Role::Metadata:  // null is what Option<...> writers emit
        if (kind != Kind::Object && kind != Kind::Null) fail_at(pos, "\"__metadata__\" must be an object of strings");
        break;
      case Role::MetadataValue:
        if (kind != Kind::String) fail_at(pos, "\"__metadata__\" value for key ", shown(key_), " is not a string");
        break;
      case Role::DType:
        if (kind != Kind::String) fail_at(pos, who_, ": dtype must be a string");
        dtype_pos_ = pos;
        break;
      case Role::Shape:
      case Role::Dim:
        if (kind != (role == Role::Shape ? Kind::Array : Kind::Number)) fail_at(pos, who_, ": shape must be an array of integers");
        if (role == Role::Shape) shape_pos_ = pos;
        break;
      case Role::Offsets:
      case Role::Offset:
        if (kind != (role == Role::Offsets ? Kind::Array : Kind::Number))
          fail_at(pos, who_, ": data_offsets must be an array of integers");
        if (role == Role::Offsets) offsets_pos_ = pos;
        break;
      case Role::Unknown:  // fields a later version of the format may add
        if (depth > kMaxJsonDepth) fail_at(pos, "invalid header JSON: nested deeper than ", kMaxJsonDepth, " levels");
        break;
    }
    if (container) stack_.push_back({role, kind == Kind::Array, depth});
    last_ = container ? Last::Open : Last::Value;
  }

  // A non-negative integer no larger than `max`, or an Error naming `what`.
  uint64_t checked_integer(const Number& n, const std::string& what, uint64_t max) const {
    const std::string_view text = text_.substr(n.pos, n.len);
    if (!n.integral) fail_at(n.pos, what, " ", text, " is not an integer");
    if (n.negative && (n.magnitude != 0 || n.too_large)) fail_at(n.pos, what, " ", text, " is negative");
    if (n.too_large || n.magnitude > max) fail_at(n.pos, what, " ", text, " is too large");
    return n.magnitude;
  }

  // nlohmann stopped at byte `byte` (counted from 1; the length + 1 at the end of the
  // header). Says what is wrong in the words of the format's checks, at the byte where the
  // offending token starts (an escape: its backslash).
  [[noreturn]] void explain(size_t byte, const nlohmann::json::exception& e) {
    const size_t bad = std::min(byte == 0 ? 0 : byte - 1, text_.size());
    if (stack_.empty()) fail_at(bad, "invalid header JSON: ", nlohmann_says(e));  // not reached: see read()
    const Frame& f = stack_.back();
    size_t pos = skip_ws(end_);
    bool want_key = !f.is_array && last_ != Last::Key;
    if (last_ == Last::Key) {
      if (at(pos) != ':') fail_at(pos, "invalid header JSON: expected ':' after a key in ", what(f));
      take_key();
      pos = skip_ws(pos + 1);
    } else if (last_ == Last::Value) {
      if (at(pos) != ',') {
        const std::string_view last = text_.substr(last_token_, end_ - last_token_);
        if ((last == "0" || last == "-0") && pos == end_ && is_digit(at(pos)))
          fail_at(last_token_, "invalid header JSON: number with a leading zero");
        fail_at(pos, "invalid header JSON: expected ',' or '", f.is_array ? ']' : '}', "' in ", what(f));
      }
      pos = skip_ws(pos + 1);
    }
    const int c = at(pos);
    if (want_key) {
      if (c != '"') fail_at(pos, "invalid header JSON: expected a string key in ", what(f));
      explain_string(pos, bad, e);
    }
    // A value: first the format's checks on its first byte, then the JSON syntax.
    const Role role = next_role();
    if (role == Role::Unknown && next_depth() > kMaxJsonDepth)
      fail_at(pos, "invalid header JSON: nested deeper than ", kMaxJsonDepth, " levels");
    if (role == Role::Tensor && c != '{')
      fail_at(pos, "tensor ", shown(key_), ": expected an object with dtype, shape and data_offsets");
    if (role == Role::Metadata && c != '{' && text_.substr(pos, 4) != "null")
      fail_at(pos, "\"__metadata__\" must be an object of strings");
    if (role == Role::MetadataValue && c != '"')
      fail_at(pos, "\"__metadata__\" value for key ", shown(key_), " is not a string");
    if (role == Role::DType && c != '"') fail_at(pos, who_, ": dtype must be a string");
    if ((role == Role::Shape && c != '[') || (role == Role::Dim && c != '-' && !is_digit(c)))
      fail_at(pos, who_, ": shape must be an array of integers");
    if ((role == Role::Offsets && c != '[') || (role == Role::Offset && c != '-' && !is_digit(c)))
      fail_at(pos, who_, ": data_offsets must be an array of integers");
    if (c == '"') explain_string(pos, bad, e);
    if (c == '-' || is_digit(c)) {
      // Valid JSON, but nlohmann cannot hold it in a double (1e999, 400 digits).
      if (e.id == 406) {
        const std::string_view text = number_text(pos);
        const Number n{.negative = c == '-', .integral = text.find_first_of(".eE") == std::string_view::npos,
                       .too_large = true, .pos = pos, .len = text.size()};
        if (role == Role::Dim) checked_integer(n, who_ + ": dim", uint64_t(INT64_MAX));
        if (role == Role::Offset) checked_integer(n, who_ + ": data offset", UINT64_MAX);
        // It stops there wherever the number is, so one in an unknown field is refused too.
        fail_at(pos, "invalid header JSON: number ", text, " is out of range");
      }
      fail_at(pos, "invalid header JSON: malformed number");
    }
    if (c < 0) fail_at(pos, "invalid header JSON: the header ends where a value should be");
    if (c != '{' && c != '[') fail_at(pos, "invalid header JSON: unexpected character where a value should be");
    fail_at(bad, "invalid header JSON: ", nlohmann_says(e));  // not reached: '{' and '[' always lex
  }

  // A string opening at `open` that nlohmann's lexer refused at byte `bad`.
  [[noreturn]] void explain_string(size_t open, size_t bad, const nlohmann::json::exception& e) const {
    size_t esc = bad, previous_esc = bad;  // the escape holding `bad` and the one before it
    for (size_t i = open + 1; i < bad; ++i)
      if (text_[i] == '\\') previous_esc = std::exchange(esc, i++);
    // The lexer's words, without the "; last read: '...'" that quotes the header.
    std::string_view says = e.what();
    says = says.substr(0, says.find("; last read:"));
    auto has = [&](const char* words) { return says.find(words) != std::string_view::npos; };
    if (has("control character")) fail_at(bad, "invalid header JSON: unescaped control character in a string");
    if (has("4 hex digits")) fail_at(esc, "invalid header JSON: \\u escape needs 4 hex digits");
    if (has("must follow U+D800"))  // a low surrogate first
      fail_at(esc, "invalid header JSON: \\u escape of a lone low surrogate");
    if (has("must be followed by U+DC00"))  // stopped just after the high half, or in the next escape
      fail_at(bad >= esc + 6 ? esc : previous_esc, "invalid header JSON: \\u escape of a lone high surrogate");
    if (has("after backslash") && bad < text_.size()) fail_at(esc, "invalid header JSON: unknown escape in a string");
    if (has("missing closing quote") || has("after backslash")) fail_at(open, "invalid header JSON: unterminated string");
    fail_at(bad, "invalid header JSON: ", nlohmann_says(e));
  }

  // nlohmann's message without its "[json.exception...] parse error at ...: " prefix.
  static std::string_view nlohmann_says(const nlohmann::json::exception& e) {
    std::string_view says = e.what();
    if (size_t colon = says.find(": "); colon != std::string_view::npos) return says.substr(colon + 2);
    return says.substr(std::min(says.find("] ") + 2, says.size()));
  }

  void start_entry() {
    entry_ = Entry();
    entry_.name = key_;
    name_pos_ = key_pos_;
    who_ = "tensor " + shown(key_);
    dtype_.clear();
    offsets_.clear();
    fields_.clear();
  }

  Entry finish_entry() {
    Entry e = std::move(entry_);
    const std::string& who = who_;
    for (const char* required : {"dtype", "shape", "data_offsets"})
      if (!fields_.count(required)) fail_at(name_pos_, who, " has no \"", required, "\"");

    bool known = false;
    for (const auto& d : kDTypes)
      if (dtype_ == d.name) { e.dtype = d.dtype; known = true; }
    if (!known) {
      for (const char* u : kUnsupportedDTypes)
        if (dtype_ == u) fail_at(dtype_pos_, who, ": dtype ", shown(dtype_), " is not supported by hone (it has F64 F32 F16 BF16 I64 I32 U8 BOOL)");
      fail_at(dtype_pos_, who, ": unknown dtype ", shown(dtype_));
    }

    // Every partial product must fit, zero dims counted as 1, because strides are the
    // products of the trailing dims even when the tensor has no elements.
    int64_t elements = 1, span = 1;
    for (int64_t d : e.shape) {
      if (__builtin_mul_overflow(span, std::max<int64_t>(d, 1), &span))
        fail_at(shape_pos_, who, ": shape ", e.shape, " has more elements than int64 can count (overflow)");
      elements *= d;
    }
    if (offsets_.size() != 2) fail_at(offsets_pos_, who, ": data_offsets must be [begin, end]");
    e.begin = offsets_[0];
    e.end = offsets_[1];
    if (e.begin > e.end) fail_at(offsets_pos_, who, ": data_offsets [", e.begin, ", ", e.end, "] has begin > end");
    if (e.end > buffer_size_)
      fail_at(offsets_pos_, who, ": data_offsets [", e.begin, ", ", e.end, "] run past the end of the ",
              buffer_size_, "-byte data buffer");
    uint64_t need = 0;
    if (__builtin_mul_overflow(uint64_t(elements), uint64_t(dtype_size(e.dtype)), &need))
      fail_at(shape_pos_, who, ": shape ", e.shape, " of ", dtype_, " needs more bytes than uint64 can count (overflow)");
    if (e.end - e.begin != need)
      fail_at(offsets_pos_, who, ": data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin,
              " bytes but shape ", e.shape, " of ", dtype_, " needs ", need);
    return e;
  }

  std::string_view text_;
  std::string where_;
  uint64_t buffer_size_;
  std::vector<Entry>* entries_ = nullptr;
  std::map<std::string, std::string>* metadata_ = nullptr;

  const char* read_up_to_ = nullptr;  // where nlohmann's lexer has read to
  size_t end_ = 0, last_token_ = 0;   // the last event's token: [last_token_, end_)
  Last last_ = Last::Open;
  std::vector<Frame> stack_;          // the open objects and arrays
  std::string key_;                   // the last key and where it starts
  size_t key_pos_ = 0;

  std::set<std::string> names_;  // the header's keys
  bool has_metadata_ = false;

  Entry entry_;  // the tensor being read
  std::string who_, dtype_;
  std::vector<uint64_t> offsets_;
  std::set<std::string> fields_;
  size_t name_pos_ = 0, dtype_pos_ = 0, shape_pos_ = 0, offsets_pos_ = 0;
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

// ---------------------------------------------------------------- writing

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
  for (const auto& [key, value] : metadata) {
    check_utf8(key, "metadata key", where);
    check_utf8(value, "metadata value", where);
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
  // ordered_json keeps insertion order: "__metadata__" first, then the tensors in name
  // order. Its object is a vector searched linearly on insert (30k tensors took 2.3 s), so
  // members are appended to it directly: the names are unique already.
  nlohmann::ordered_json::object_t header;
  header.reserve(tensors.size() + 1);
  if (!metadata.empty()) header.emplace_back("__metadata__", metadata);
  for (const auto& [name, t] : tensors) {
    const auto [begin, end] = spans.at(name);
    header.emplace_back(name, nlohmann::ordered_json{{"dtype", safetensors_name(t.dtype())},
                                                     {"shape", t.shape()},
                                                     {"data_offsets", {begin, end}}});
  }
  std::string json = nlohmann::ordered_json(std::move(header)).dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  return json;
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string where = "save_safetensors: " + path + ": ";
  // Everything that can be checked is checked before the file system is touched.
  const std::string header = build_header(tensors, metadata, where);

  AtomicFile file(path, where);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(uint64_t(header.size()) >> (8 * i));
  file.write(length, 8);
  file.write(header.data(), header.size());
  for (auto it : data_order(tensors)) {
    // One host copy at a time: a GPU model never needs a second full copy in memory.
    Tensor host;
    try {
      host = raw::contiguous(raw::to_device(it->second, Device::cpu()));
    } catch (const Error& e) {
      fail(where, "tensor ", shown(it->first), ": ", e.what());
    }
    if (host.numel() > 0) file.write(host.data_ptr(), size_t(host.numel()) * host.element_size());
  }
  file.commit();
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string where = "load_safetensors: " + path + ": ";
  // A regular file only: a FIFO named as a checkpoint must not block the program.
  const std::string at = "load_safetensors: " + path;  // where, for the file_read.h calls
  const OpenFile file = open_regular_file(path, at);
  const uint64_t file_size = file.size();
  if (file_size < 8) fail(where, "the file is ", file_size, " bytes, shorter than the 8-byte header length");

  unsigned char length[8];
  read_exactly(file.fd.get(), length, 8, 0, at);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t(length[i]) << (8 * i);
  if (header_size > kMaxHeaderBytes)
    fail(where, "header length ", header_size, " is over the ", kMaxHeaderBytes >> 20, " MB limit");
  if (header_size > file_size - 8)
    fail(where, "header length ", header_size, " runs past the end of the file (", file_size,
         " bytes leave room for ", file_size - 8, ")");

  std::string header(size_t(header_size), '\0');
  read_exactly(file.fd.get(), header.data(), header_size, 8, at);
  const uint64_t buffer_start = 8 + header_size, buffer_size = file_size - buffer_start;

  SafetensorsFile out;
  std::vector<Entry> entries;
  HeaderReader(header, where, buffer_size).read(entries, out.metadata);
  check_coverage(entries, buffer_size, where);

  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, {.dtype = e.dtype, .device = Device::cpu()});
    const uint64_t nbytes = e.end - e.begin;
    if (nbytes > 0) read_exactly(file.fd.get(), t.data_ptr(), nbytes, buffer_start + e.begin, at);
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
