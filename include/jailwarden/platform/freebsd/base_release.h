#pragma once

// `jailwarden mkroot freebsd-base --from base.txz DIR`: a FreeBSD release's
// base.txz (or any tar libarchive reads) extracted into a new jail root.
// Portable (libarchive on Debian and in FreeBSD's base system), so built
// and tested on Linux too.
//
// Safety, checked in a first pass over the whole archive before anything
// is written (bad input changes nothing): an entry with an absolute path,
// a ".." component, a hard link whose target would escape, or a path that
// goes through a symlink the archive itself makes (the symlink would be
// followed out of DIR) is refused with the entry's name and index. The
// second pass extracts with libarchive's SECURE_NODOTDOT, SECURE_SYMLINKS
// and SECURE_NOABSOLUTEPATHS as well, into a staging directory beside DIR
// (DIR.partial-XXXXXX) that is renamed to DIR only when complete, so a
// crash or an error never leaves a half-made DIR.
//
// Modes, times, extended attributes and file flags (schg, ...) are kept
// where the file system allows; owners too when running as root (as
// tar(1)'s -p). What could not be kept is counted in `warnings`.
//
// Not thread-safe with another extraction into the same DIR.

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden::platform {

struct BaseExtractProgress {
  int64_t entries = 0;           // entries extracted so far
  int64_t archive_bytes = 0;     // compressed bytes read so far
  int64_t archive_size = 0;      // the archive's size (0 if unknown)
};

struct BaseExtractOptions {
  // Keep owners (uid/gid). Default: when running as root.
  bool keep_owners = false;
  // Called after each entry of the second pass (not for every byte).
  std::function<void(const BaseExtractProgress&)> progress;
};

struct BaseExtractResult {
  int64_t entries = 0;
  int64_t bytes = 0;     // uncompressed file bytes written
  int64_t warnings = 0;  // metadata libarchive could not keep (flags, xattrs)
  std::string first_warning;
};

// Errors: NotFound (no archive), InvalidArgument ("ARCHIVE: entry N
// \"NAME\": ..." for an unsafe entry, or what libarchive says of a corrupt
// archive), AlreadyExists (DIR exists and is not an empty directory),
// the errno of a failed write or rename.
absl::StatusOr<BaseExtractResult> ExtractBaseRelease(const std::string& archive,
                                                     const std::string& dir,
                                                     const BaseExtractOptions& options);

}  // namespace jailwarden::platform
