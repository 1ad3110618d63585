#pragma once
// Replacing a file so that its path never holds a half-written one: the bytes go to a new
// temporary file beside it, which is flushed to disk and only then renamed over the path.
// A crash, a SIGKILL or a full disk midway leaves the old file as it was. hone's writers
// of checkpoints (save_safetensors) and models (export_onnx) both go through it.
#include <cstddef>
#include <string>

namespace hone::io {

class AtomicFile {
 public:
  // Creates "<path>.tmp-<pid>-<n>", a name no other writer in any process is using:
  // O_CREAT|O_EXCL|O_NOFOLLOW, so never an existing file or a planted link. When `path`
  // is a file already, the new one gets its permission bits (never looser meanwhile).
  // `where` starts every error message ("save_safetensors: <path>: ").
  AtomicFile(std::string path, std::string where);
  // Unless commit() succeeded, closes and removes the temporary file: `path` is untouched.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends n bytes; throws hone::Error with the system's reason ("File too large").
  void write(const void* data, size_t n);
  // fsync and close (both checked: a full disk can first show there), rename over the
  // path, fsync of the folder. Throws hone::Error on any failure but the last.
  void commit();

 private:
  std::string path_, tmp_, where_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace hone::io
