#include "test_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>

namespace hone::test {

std::string shared_dir() {
  std::filesystem::path p(HONE_SHARED_DIR);
  return std::filesystem::is_directory(p) ? p.lexically_normal().string() : std::string();
}

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
  return r;
}

void expect_error_soon(const std::filesystem::path& fifo, const std::function<void()>& fn,
                       const std::vector<std::string>& parts) {
  auto done = std::async(std::launch::async, [&] { expect_error(fn, parts); });
  if (done.wait_for(std::chrono::seconds(1)) == std::future_status::ready) return done.get();
  ADD_FAILURE() << "still blocked on " << fifo << " after a second";
  while (done.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
    const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (w >= 0) ::close(w);
  }
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  path = std::filesystem::temp_directory_path() /
         ("hone_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + (info ? info->name() : "test"));
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
}

TempDir::~TempDir() {
  std::error_code ec;  // a test may have taken the write bit away
  std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path, ec);
}

void expect_close(const Tensor& actual, const std::vector<double>& expected, double atol, double rtol) {
  std::vector<double> a = actual.to_vector<double>();
  ASSERT_EQ(a.size(), expected.size()) << "element count differs; actual shape " << shape_str(actual.shape());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], expected[i], atol + rtol * std::abs(expected[i])) << "at flat index " << i;
}

void expect_close(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  ASSERT_EQ(actual.shape(), expected.shape());
  expect_close(actual, expected.to_vector<double>(), atol, rtol);
}

Tensor random_leaf(const Shape& shape, uint64_t seed, double low, double high) {
  Generator g(seed);
  return uniform(shape, low, high, {.dtype = DType::Float64}, &g).set_requires_grad(true);
}

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
                      GradcheckOptions opts) {
  GradcheckResult r = gradcheck(fn, inputs, opts);
  EXPECT_TRUE(r.passed) << "gradcheck failed:\n" << r.report;
}

}  // namespace hone::test
