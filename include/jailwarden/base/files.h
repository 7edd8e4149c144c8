#pragma once

// Small file-system helpers shared by the layers (state store, policy
// loader, Linux runtime). Thread-safe (no shared state).

#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace jailwarden {

// Reads the whole file at `path` with read(2), retrying on EINTR.
// Errors: an ErrnoStatus carrying open(2)'s or read(2)'s errno ("read
// <path>: ..."), so StatusErrno() == ENOENT tells a missing file; EFBIG
// once the file holds more than `max_bytes`.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     std::size_t max_bytes = SIZE_MAX);

// mkdir -p: creates each missing directory along `path` with `mode`
// (existing ones are left as they are). Errors: ErrnoStatus from mkdir(2).
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);

// fsync(2) of a directory, so a rename or unlink in it survives a power
// cut. Errors: ErrnoStatus from open or fsync.
absl::Status FsyncDir(const std::string& dir);

// Replaces `path` with `contents` atomically: written to `<path>.tmp`
// (mode 0600), renamed over `path`. With `durable` the file is fsync'd
// before the rename and its directory after it, so the new contents survive
// kill -9 and a power cut; without, a reader still never sees half a file.
// On error the temp file is removed and `path` is as it was. Errors:
// ErrnoStatus naming the step (create, write, fsync, close, rename).
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents,
                                 bool durable = true);

}  // namespace jailwarden

namespace jailwarden::base {

// Owns one file descriptor and close(2)s it on destruction. Move-only;
// -1 means "none". Thread-compatible.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  // Closes the current descriptor (if any) and owns `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace jailwarden::base
