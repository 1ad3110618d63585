#pragma once
// Opening and reading files that a user or another file names, trusting neither: only a
// regular file is ever read (a FIFO would block forever, a device never ends), and a path
// that a file gives stays inside its folder. Every error is a hone::Error that starts with
// `where` (e.g. "m.onnx: initializer 'w': external data 'w.bin'").
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

namespace hone::io {

// A file descriptor, closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// A regular file open for reading, and what fstat said of it once open.
struct OpenFile {
  Fd fd;
  struct stat st {};
  uint64_t size() const { return uint64_t(st.st_size); }
};

// Opens `path`, which the user named (so links are followed), if it is a regular file.
// Anything else is refused before it is opened, and opening does not block (O_NONBLOCK)
// should a FIFO be put in its place meanwhile.
OpenFile open_regular_file(const std::filesystem::path& path, const std::string& where);

// Opens `location`, a relative path that a file gives, inside the folder `dir`. Each
// component is opened relative to the one before with O_NOFOLLOW, so no '..', absolute
// path or symbolic link can lead out, and nothing is resolved between the check and the
// open. A link is refused even where it stays inside: the location must name the file
// itself. The file must be regular, as above; a NUL byte in the location is refused.
OpenFile open_in_folder(const std::filesystem::path& dir, const std::string& location, const std::string& where);

// Reads exactly n bytes at `offset` (pread, retried when interrupted), or throws: a file
// that ends early (truncated meanwhile) is an error, never short data.
void read_exactly(int fd, void* dst, uint64_t n, uint64_t offset, const std::string& where);

}  // namespace hone::io
