#pragma once

// Small file-system helpers shared by the layers (state store, policy
// loader, Linux runtime). Thread-safe (no shared state).

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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
