// Faults while hone writes a file, for both of its writers (save_checkpoint through
// save_safetensors, and export_onnx): a SIGKILL midway, a full disk, other writers at the
// same path. The path must hold the old file or the complete new one, never a mix; a full
// disk must give a hone::Error naming the path and the reason and leave no temporary file.
// Kills and file-size limits hit a forked child, so the test process keeps its own.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>
#include <thread>

#include "io/checkpoint.h"
#include "io/onnx/export.h"
#include "io/onnx/model.h"
#include "nn/layers.h"
#include "test_util.h"

namespace hone {
namespace {

namespace fs = std::filesystem;

// A network of ~6 MB, so that a write takes long enough to be interrupted midway.
std::shared_ptr<nn::Sequential> big_net() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(3 * 16 * 16, 2048)});
}

// Version k of a file: every weight equal to k, and k recorded beside them.
void set_version(nn::Module& net, int k) {
  NoGradGuard no_grad;
  for (auto& [_, t] : net.named_parameters()) t.fill_(double(k));
}

// Each writer writes version k of its file and reads back which complete version a file
// holds, failing the test when the weights do not all agree with the recorded version.
struct Writer {
  const char* name;
  std::function<void(nn::Module&, const std::string&, int)> write;
  std::function<int(const std::string&)> read_version;
};

int check_weights(const std::vector<Tensor>& weights, int version, const std::string& path) {
  for (const Tensor& w : weights)
    for (float v : w.to_vector<float>())
      if (v != float(version)) {
        ADD_FAILURE() << path << " mixes versions: a weight " << v << " in version " << version;
        return -1;
      }
  return version;
}

const Writer kCheckpoint{
    "checkpoint",
    [](nn::Module& net, const std::string& path, int k) { io::save_checkpoint(path, {&net}, {.step = k}); },
    [](const std::string& path) {
      auto net = big_net();
      const io::TrainingState s = io::load_checkpoint(path, {net.get()});
      return check_weights(net->parameters(), int(s.step), path);
    }};

const Writer kExport{
    "export",
    [](nn::Module& net, const std::string& path, int k) {
      io::onnx::export_onnx(net, path, {.preprocessing = {.input_size = {16, 16}, .class_names = {std::to_string(k)}}});
    },
    [](const std::string& path) {
      const io::onnx::Model m = io::onnx::read_model(path);
      std::vector<Tensor> weights;
      for (const auto& [_, t] : m.initializers) weights.push_back(t);
      EXPECT_EQ(weights.size(), 2u) << path;
      return check_weights(weights, std::stoi(m.metadata_value("hone.class_names")), path);
    }};

const Writer* const kWriters[] = {&kCheckpoint, &kExport};

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Runs `fn` in a forked child (one thread, so no pool lock is held across the fork) and
// returns its exit status and, when it threw, the message: 1 for a hone::Error, 2 for any
// other exception.
struct ChildResult {
  int status = -1;
  std::string message;
};
ChildResult in_child(const std::function<void()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) return {-1, "pipe failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    Context ctx;
    ctx.set_num_threads(1);
    ContextGuard guard(ctx);
    int status = 0;
    std::string message;
    try {
      fn();
    } catch (const Error& e) {
      status = 1, message = e.what();
    } catch (const std::exception& e) {
      status = 2, message = e.what();
    }
    if (!message.empty() && ::write(fds[1], message.data(), message.size()) < 0) status = 3;
    ::_exit(status);
  }
  ::close(fds[1]);
  ChildResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    r.message.append(buf, size_t(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {}
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return r;
}

// A child writes versions 1, 2, 3, ... to the same path as fast as it can and is killed
// with SIGKILL after a random time; each time the path must hold one complete version.
TEST(WriteFault, SigkillMidWriteLeavesACompleteFile) {
  for (const Writer* w : kWriters) {
    SCOPED_TRACE(w->name);
    const test::TempDir dir;
    const std::string path = (dir.path / "file").string();
    auto net = big_net();
    set_version(*net, 0);
    w->write(*net, path, 0);
    std::mt19937 rng(7);
    int killed_midway = 0;  // kills that left a temporary file: the write was interrupted
    for (int round = 0; round < 6; ++round) {
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        Context ctx;
        ctx.set_num_threads(1);
        ContextGuard guard(ctx);
        try {
          for (int k = 1;; ++k) {
            set_version(*net, k);
            w->write(*net, path, k);
          }
        } catch (...) {
        }
        ::_exit(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 80));
      ASSERT_EQ(::kill(pid, SIGKILL), 0);
      int wstatus = 0;
      while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {}
      EXPECT_TRUE(WIFSIGNALED(wstatus)) << "the writer stopped by itself: it failed";
      EXPECT_GE(w->read_version(path), 0) << "round " << round;
      killed_midway += listing(dir.path).size() > 1;
      for (const auto& name : listing(dir.path))
        if (name != "file") fs::remove(dir.path / name);
    }
    std::cout << "[ info ] " << w->name << ": " << killed_midway << " of 6 kills interrupted a write\n";
  }
}

// RLIMIT_FSIZE (with SIGXFSZ ignored) makes write() fail with EFBIG past the limit: a
// disk that fills up midway, without root or a small file system.
TEST(WriteFault, FullDiskGivesAClearErrorAndKeepsTheOldFile) {
  for (const Writer* w : kWriters) {
    SCOPED_TRACE(w->name);
    const test::TempDir dir;
    const std::string path = (dir.path / "file").string();
    auto net = big_net();
    set_version(*net, 1);
    w->write(*net, path, 1);
    set_version(*net, 2);
    const ChildResult r = in_child([&] {
      const rlimit limit{64 * 1024, 64 * 1024};  // the new file needs 6 MB
      if (::signal(SIGXFSZ, SIG_IGN) == SIG_ERR || ::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(4);
      w->write(*net, path, 2);
    });
    ASSERT_EQ(r.status, 1) << "expected a hone::Error, got: " << r.message;
    EXPECT_NE(r.message.find(path), std::string::npos) << r.message;
    EXPECT_NE(r.message.find(std::strerror(EFBIG)), std::string::npos) << r.message;
    EXPECT_EQ(listing(dir.path), std::vector<std::string>{"file"}) << "a temporary file was left behind";
    EXPECT_EQ(w->read_version(path), 1);
    // With room again, the next write goes through.
    w->write(*net, path, 2);
    EXPECT_EQ(w->read_version(path), 2);
  }
}

// Several writers at one path at once (two runs sharing an output folder): each call
// succeeds, and the file is one writer's complete version.
TEST(WriteFault, ConcurrentWritersToOnePathDoNotCollide) {
  for (const Writer* w : kWriters) {
    SCOPED_TRACE(w->name);
    const test::TempDir dir;
    const std::string path = (dir.path / "file").string();
    constexpr int kThreads = 4;
    std::vector<std::shared_ptr<nn::Sequential>> nets;
    for (int t = 0; t < kThreads; ++t) {
      nets.push_back(big_net());
      set_version(*nets.back(), t + 1);
    }
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        try {
          for (int i = 0; i < 3; ++i) w->write(*nets[size_t(t)], path, t + 1);
        } catch (const std::exception& e) {
          errors[size_t(t)] = e.what();
        }
      });
    for (auto& t : threads) t.join();
    for (const auto& e : errors) EXPECT_EQ(e, "");
    const int v = w->read_version(path);
    EXPECT_TRUE(v >= 1 && v <= kThreads) << v;
    EXPECT_EQ(listing(dir.path), std::vector<std::string>{"file"});
  }
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Replacing a file keeps its permission bits (a private 0600 checkpoint stays private); a
// new file gets the usual 0666 less the umask.
TEST(WriteFault, ReplacingAFileKeepsItsPermissions) {
  const mode_t umask_now = ::umask(0022);
  ::umask(umask_now);
  for (const Writer* w : kWriters) {
    SCOPED_TRACE(w->name);
    const test::TempDir dir;
    const std::string path = (dir.path / "file").string();
    auto net = big_net();
    w->write(*net, path, 0);
    EXPECT_EQ(mode_of(path), 0666 & ~umask_now);
    for (mode_t mode : {0600, 0640, 0444}) {
      ASSERT_EQ(::chmod(path.c_str(), mode), 0);
      w->write(*net, path, 0);
      EXPECT_EQ(mode_of(path), mode) << std::oct << mode;
    }
  }
}

// An unwritable place gives a hone::Error naming the path, and changes nothing there.
TEST(WriteFault, UnwritablePathsAreRefusedClearly) {
  for (const Writer* w : kWriters) {
    SCOPED_TRACE(w->name);
    const test::TempDir dir;
    auto net = big_net();
    const std::string missing = (dir.path / "no" / "such" / "file").string();
    test::expect_error([&] { w->write(*net, missing, 0); }, {missing, std::strerror(ENOENT)});
    fs::create_directories(dir.path / "taken" / "inside");  // a non-empty folder cannot be replaced
    const std::string taken = (dir.path / "taken").string();
    test::expect_error([&] { w->write(*net, taken, 0); }, {taken});
    EXPECT_EQ(listing(dir.path), std::vector<std::string>{"taken"}) << "a temporary file was left behind";
  }
}

}  // namespace
}  // namespace hone
