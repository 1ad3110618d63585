#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "tensor/error.h"

namespace hone::io {

namespace {

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, std::string where) : path_(std::move(path)), where_(std::move(where)) {
  struct stat st {};
  const bool replacing = ::stat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  const mode_t mode = replacing ? st.st_mode & 0777 : 0666;  // a new file: 0666 less the umask, as usual
  // pid + a per-process counter keeps live writers apart; O_EXCL steps over a stale file
  // that a killed process with a reused pid left behind.
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; fd_ < 0; ++attempt) {
    tmp_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd_ < 0 && (errno != EEXIST || attempt == 99)) fail(where_, "cannot create ", tmp_, ": ", std::strerror(errno));
  }
  // The umask may have taken bits the old file has (0664 under umask 022).
  if (replacing && ::fchmod(fd_, mode) != 0) {
    const int error = errno;
    ::close(fd_);
    ::unlink(tmp_.c_str());
    fail(where_, "cannot set the permissions of ", tmp_, ": ", std::strerror(error));
  }
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t put = ::write(fd_, p, std::min<size_t>(n, 1u << 30));
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) fail(where_, "write failed: ", std::strerror(errno));
    if (put == 0) fail(where_, "write failed: no byte was written");
    p += put;
    n -= size_t(put);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) fail(where_, "fsync failed: ", std::strerror(errno));
  if (::close(std::exchange(fd_, -1)) != 0) fail(where_, "close failed: ", std::strerror(errno));
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail(where_, "cannot rename ", tmp_, " over it: ", std::strerror(errno));
  committed_ = true;
  // Make the rename itself durable. The new file is complete whatever happens here, so a
  // failure is not reported: the worst case is the old file after a power loss.
  const int dir = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace hone::io
