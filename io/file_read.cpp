#include "io/file_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "tensor/error.h"

namespace hone::io {

namespace fs = std::filesystem;

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

const char* kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a file";
}

void check_regular(const struct stat& st, const std::string& where) {
  HONE_CHECK(S_ISREG(st.st_mode), where, ": not a regular file (", kind(st.st_mode), ")");
}

// openat + fstat, checked again once open: what was checked before may have been replaced.
OpenFile open_checked(int dirfd, const char* name, int flags, const std::string& where) {
  OpenFile f;
  f.fd = Fd(::openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | flags));
  if (f.fd.get() < 0) fail(where, ": cannot open (", std::strerror(errno), ")");
  if (::fstat(f.fd.get(), &f.st) != 0) fail(where, ": cannot stat (", std::strerror(errno), ")");
  check_regular(f.st, where);
  return f;
}

}  // namespace

OpenFile open_regular_file(const fs::path& path, const std::string& where) {
  HONE_CHECK(path.native().find('\0') == std::string::npos, where, ": the path contains a NUL byte");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(where, ": cannot open (", std::strerror(errno), ")");
  check_regular(st, where);
  return open_checked(AT_FDCWD, path.c_str(), 0, where);
}

OpenFile open_in_folder(const fs::path& dir, const std::string& location, const std::string& where) {
  HONE_CHECK(location.find('\0') == std::string::npos, where, ": the location contains a NUL byte");
  const fs::path rel(location);
  HONE_CHECK(!location.empty() && !rel.is_absolute() && !rel.has_root_name(), where,
             ": the location must be a relative path inside the folder");
  std::vector<std::string> parts;
  for (const auto& part : rel) {
    HONE_CHECK(part != "..", where, ": the location may not contain '..'");
    if (!part.empty() && part != ".") parts.push_back(part.string());
  }
  HONE_CHECK(!parts.empty(), where, ": the location names the folder itself, not a file");
  // O_PATH: folders are only walked through, so search permission is all they need.
  Fd folder(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (folder.get() < 0) fail(where, ": cannot open the folder ", dir.string(), " (", std::strerror(errno), ")");
  std::string walked;  // the components opened so far, for messages
  for (size_t i = 0;; ++i) {
    walked += (i ? "/" : "") + parts[i];
    const std::string at = where + ": '" + walked + "'";
    struct stat st {};
    if (::fstatat(folder.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      fail(at, " in ", dir.string(), ": cannot open (", std::strerror(errno), ")");
    HONE_CHECK(!S_ISLNK(st.st_mode), at, " is a symbolic link; external files are read only where they lie in the folder, "
               "named without links");
    if (i + 1 == parts.size()) {
      check_regular(st, where);
      return open_checked(folder.get(), parts[i].c_str(), O_NOFOLLOW, where);
    }
    HONE_CHECK(S_ISDIR(st.st_mode), at, " is not a folder");
    Fd next(::openat(folder.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (next.get() < 0) fail(at, ": cannot open (", std::strerror(errno), ")");
    folder = std::move(next);
  }
}

void read_exactly(int fd, void* dst, uint64_t n, uint64_t offset, const std::string& where) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, size_t(std::min<uint64_t>(n, 1u << 30)), off_t(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(where, ": read failed at offset ", offset, " (", std::strerror(errno), ")");
    if (got == 0) fail(where, ": the file ended at offset ", offset, " while reading (was it changed meanwhile?)");
    p += got;
    n -= uint64_t(got);
    offset += uint64_t(got);
  }
}

}  // namespace hone::io
