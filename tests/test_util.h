#pragma once
// Helpers shared by the tests: shared/ lookup, tolerance comparisons and gradcheck.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "hone.h"

namespace hone::test {

// The shared/ folder beside the repository, or "" when absent (a user's plain clone).
std::string shared_dir();
// Skips the current test with a printed reason when shared/ or a file in it is missing.
#define HONE_REQUIRE_SHARED(relpath)                                                   \
  do {                                                                                  \
    if (::hone::test::shared_dir().empty() ||                                           \
        !std::ifstream(::hone::test::shared_dir() + "/" + (relpath)).good())            \
      GTEST_SKIP() << "shared/" << (relpath) << " not found beside the repository";     \
  } while (0)

// Skips the current test (printing why) when no CUDA device is usable.
#define HONE_REQUIRE_CUDA()                                                            \
  do {                                                                                  \
    if (!::hone::cuda_built()) GTEST_SKIP() << "hone was built without CUDA";           \
    if (::hone::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device present";    \
  } while (0)

// Runs a shell command line (stdout and stderr together when it says 2>&1) and returns its
// exit status (128 + the signal's number when a signal ended it) and output.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

// A fresh folder for one test under the system temp dir (named after the process and the
// test), removed with everything in it when the test ends, also after a failed ASSERT.
struct TempDir {
  std::filesystem::path path;
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Asserts every element of `actual` is within atol + rtol*|expected| of `expected`.
void expect_close(const Tensor& actual, const std::vector<double>& expected, double atol = 1e-6, double rtol = 1e-5);
void expect_close(const Tensor& actual, const Tensor& expected, double atol = 1e-6, double rtol = 1e-5);

// n values uniform in [low, high] from the given seed (integers: whole numbers in it), for
// the kernel-against-reference tests.
template <typename T>
std::vector<T> random_vector(int64_t n, uint64_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937_64 rng(seed);
  std::vector<T> v(static_cast<size_t>(n));
  for (T& e : v) {
    if constexpr (std::is_floating_point_v<T>) e = T(std::uniform_real_distribution<double>(low, high)(rng));
    else e = T(std::uniform_int_distribution<int64_t>(int64_t(low), int64_t(high))(rng));
  }
  return v;
}

// An output buffer a kernel must overwrite: NaN (integers: the lowest value).
template <typename T>
std::vector<T> unwritten(int64_t n) {
  return std::vector<T>(static_cast<size_t>(n), std::numeric_limits<T>::has_quiet_NaN ? std::numeric_limits<T>::quiet_NaN()
                                                                                   : std::numeric_limits<T>::lowest());
}

// Expects |actual - expected| <= atol + rtol * |expected| everywhere (NaN only where expected
// is NaN); reports the first element that is not, by name and index.
template <typename T>
void expect_all_close(const std::vector<T>& actual, const std::vector<T>& expected, double atol, double rtol,
                      const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = double(actual[i]), e = double(expected[i]);
    const bool ok = std::isnan(e) ? std::isnan(a) : std::abs(a - e) <= atol + rtol * std::abs(e);
    if (!ok) {
      ADD_FAILURE() << what << "[" << i << "] = " << a << ", expected " << e << " (atol " << atol << ", rtol " << rtol << ")";
      return;
    }
  }
}

// A float64 leaf with values from the given seed, requiring grad (for gradcheck).
Tensor random_leaf(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0);

// Runs `fn` and expects a hone::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a hone::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}
template <typename F>
void expect_error(F&& fn, const char* part) {  // const char*: a braced list picks the vector
  expect_error(std::forward<F>(fn), std::vector<std::string>{part});
}

// expect_error for a read that could block on the FIFO `fifo`: fails the test when no
// error came within a second, then unblocks the reader (opens the FIFO for writing) so
// the suite goes on.
void expect_error_soon(const std::filesystem::path& fifo, const std::function<void()>& fn,
                       const std::vector<std::string>& parts);

// Runs gradcheck and fails the test with its report when it does not pass.
void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                      const std::vector<Tensor>& inputs, GradcheckOptions opts = {});

}  // namespace hone::test
