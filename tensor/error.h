#pragma once
// hone::Error is the one exception type the library throws for user mistakes (bad shapes,
// bad files, unsupported ops). Messages name the op, the shapes and what was expected, so
// the user can fix the input without reading our source.
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hone {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append(std::ostringstream& os, const std::vector<int64_t>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  os << ']';
}
template <typename T>
void append(std::ostringstream& os, const T& v) { os << v; }

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (append(os, args), ...);
  return os.str();
}
}  // namespace detail

// Throws hone::Error with the concatenated arguments (shapes print as [2,3]).
template <typename... Args>
[[noreturn]] void fail(const Args&... args) { throw Error(detail::concat(args...)); }

}  // namespace hone

// HONE_CHECK(cond, "matmul: inner dims differ: ", a.shape(), " x ", b.shape());
#define HONE_CHECK(cond, ...)                         \
  do {                                                \
    if (!(cond)) ::hone::fail(__VA_ARGS__);           \
  } while (0)
