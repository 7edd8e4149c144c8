// ExtractBaseRelease: two passes over the archive with libarchive; the
// first only reads headers and refuses what is unsafe, the second writes
// into a staging directory that becomes DIR by rename(2).

#include "jailwarden/platform/freebsd/base_release.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<struct archive, ReadDeleter>;
using WriteArchive = std::unique_ptr<struct archive, WriteDeleter>;

constexpr std::size_t kBlock = 1 << 16;

absl::StatusOr<ReadArchive> OpenRead(const std::string& path) {
  ReadArchive a(archive_read_new());
  if (!a) return absl::ResourceExhaustedError("archive_read_new");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), kBlock) != ARCHIVE_OK) {
    const int e = archive_errno(a.get());
    if (e == ENOENT) return absl::NotFoundError(StrCat(path, ": no such file"));
    return absl::InvalidArgumentError(
        StrCat(path, ": ", archive_error_string(a.get()) ? archive_error_string(a.get()) : "cannot read"));
  }
  return a;
}

// The entry's name without "./" and trailing "/"; "" for the root itself.
// nullopt-like error text when the name is unsafe.
absl::StatusOr<std::vector<std::string>> Components(std::string_view name) {
  if (!name.empty() && name.front() == '/') {
    return absl::InvalidArgumentError("absolute path");
  }
  std::vector<std::string> parts;
  for (std::string_view c : Split(name, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") return absl::InvalidArgumentError("\"..\" would escape DIR");
    parts.emplace_back(c);
  }
  return parts;
}

std::string JoinParts(const std::vector<std::string>& parts, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back('/');
    out.append(parts[i]);
  }
  return out;
}

// Pass 1: every header, nothing written.
absl::Status CheckEntries(const std::string& archive, int64_t* root_mode) {
  absl::StatusOr<ReadArchive> a = OpenRead(archive);
  if (!a.ok()) return a.status();
  std::set<std::string> symlinks;  // entries that are symlinks, so far
  struct archive_entry* entry = nullptr;
  for (int64_t index = 0;; ++index) {
    const int r = archive_read_next_header(a->get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return absl::InvalidArgumentError(StrCat(archive, ": entry ", index, ": ",
                                               archive_error_string(a->get())));
    }
    const char* raw = archive_entry_pathname(entry);
    const std::string name = raw != nullptr ? raw : "";
    auto refuse = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          StrCat(archive, ": entry ", index, " \"", name, "\": ", why));
    };
    absl::StatusOr<std::vector<std::string>> parts = Components(name);
    if (!parts.ok()) return refuse(std::string(parts.status().message()));
    auto through_symlink = [&](const std::vector<std::string>& p, std::size_t upto)
        -> std::string {
      for (std::size_t n = 1; n < upto; ++n) {
        std::string prefix = JoinParts(p, n);
        if (symlinks.contains(prefix)) return prefix;
      }
      return "";
    };
    if (std::string via = through_symlink(*parts, parts->size()); !via.empty()) {
      return refuse(StrCat("goes through the symlink \"", via,
                           "\" the archive made (it would be followed out of DIR)"));
    }
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      absl::StatusOr<std::vector<std::string>> target = Components(link);
      if (!target.ok()) {
        return refuse(StrCat("hard link to \"", link, "\": ",
                             std::string(target.status().message())));
      }
      if (target->empty() ||
          !through_symlink(*target, target->size() + 1).empty()) {
        return refuse(StrCat("hard link to \"", link, "\" would leave DIR"));
      }
    }
    const std::string key = JoinParts(*parts, parts->size());
    if (key.empty()) {
      if (archive_entry_filetype(entry) != AE_IFDIR) return refuse("the root is not a directory");
      *root_mode = archive_entry_perm(entry);
      continue;
    }
    if (archive_entry_filetype(entry) == AE_IFLNK) {
      symlinks.insert(key);
    } else {
      symlinks.erase(key);
    }
  }
  return absl::OkStatus();
}

// Pass 2 into `staging` (an absolute path without symlinks).
absl::Status Extract(const std::string& archive, const std::string& staging,
                     const BaseExtractOptions& options, BaseExtractResult& result) {
  absl::StatusOr<ReadArchive> in = OpenRead(archive);
  if (!in.ok()) return in.status();
  WriteArchive out(archive_write_disk_new());
  if (!out) return absl::ResourceExhaustedError("archive_write_disk_new");
  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_FFLAGS |
              ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
              ARCHIVE_EXTRACT_SECURE_SYMLINKS;
  if (options.keep_owners) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(out.get(), flags);
  // No name lookups: the numeric ids are the release's, not this host's.
  std::error_code ec;
  const int64_t size = static_cast<int64_t>(std::filesystem::file_size(archive, ec));
  struct archive_entry* entry = nullptr;
  for (int64_t index = 0;; ++index) {
    const int r = archive_read_next_header(in->get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return absl::InvalidArgumentError(StrCat(archive, ": entry ", index, ": ",
                                               archive_error_string(in->get())));
    }
    const std::string name = archive_entry_pathname(entry);
    absl::StatusOr<std::vector<std::string>> parts = Components(name);
    if (!parts.ok()) return parts.status();  // pass 1 refused it already
    const std::string rel = JoinParts(*parts, parts->size());
    if (rel.empty()) continue;  // the root: its mode is set at the end
    archive_entry_set_pathname(entry, StrCat(staging, "/", rel).c_str());
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      absl::StatusOr<std::vector<std::string>> t = Components(link);
      if (!t.ok()) return t.status();
      archive_entry_set_hardlink(entry, StrCat(staging, "/", JoinParts(*t, t->size())).c_str());
    }
    auto fail = [&](struct archive* which) {
      const int e = archive_errno(which);
      const std::string what = StrCat(archive, ": entry ", index, " \"", name, "\": ",
                                      archive_error_string(which) ? archive_error_string(which) : "");
      return e > 0 ? ErrnoStatusWithMessage(e, what) : absl::InvalidArgumentError(what);
    };
    auto warn = [&](struct archive* which) {
      ++result.warnings;
      if (result.first_warning.empty()) {
        result.first_warning = StrCat(name, ": ", archive_error_string(which)
                                                      ? archive_error_string(which) : "");
      }
    };
    int w = archive_write_header(out.get(), entry);
    if (w < ARCHIVE_WARN) return fail(out.get());
    if (w == ARCHIVE_WARN) warn(out.get());
    if (archive_entry_size(entry) > 0) {
      const void* buf = nullptr;
      size_t len = 0;
      la_int64_t offset = 0;
      for (;;) {
        const int d = archive_read_data_block(in->get(), &buf, &len, &offset);
        if (d == ARCHIVE_EOF) break;
        if (d < ARCHIVE_WARN) return fail(in->get());
        if (archive_write_data_block(out.get(), buf, len, offset) < ARCHIVE_WARN) {
          return fail(out.get());
        }
        result.bytes += static_cast<int64_t>(len);
      }
    }
    w = archive_write_finish_entry(out.get());
    if (w < ARCHIVE_WARN) return fail(out.get());
    if (w == ARCHIVE_WARN) warn(out.get());
    ++result.entries;
    if (options.progress) {
      options.progress({result.entries, archive_filter_bytes(in->get(), -1), size});
    }
  }
  if (archive_write_close(out.get()) < ARCHIVE_WARN) {
    // Directory modes and times are fixed up at close.
    const int e = archive_errno(out.get());
    return ErrnoStatusWithMessage(e > 0 ? e : EIO, StrCat(staging, ": ",
                                                           archive_error_string(out.get())));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BaseExtractResult> ExtractBaseRelease(const std::string& archive,
                                                     const std::string& dir,
                                                     const BaseExtractOptions& options) {
  if (dir.empty()) return absl::InvalidArgumentError("DIR is empty");
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target = fs::absolute(dir, ec);
  if (ec) return ErrnoStatus(ec.value(), dir);
  struct stat st{};
  bool replace_empty = false;
  if (lstat(target.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode) || !fs::is_empty(target, ec)) {
      return absl::AlreadyExistsError(
          StrCat(dir, ": exists and is not an empty directory; mkroot makes a new root"));
    }
    replace_empty = true;
  }
  if (access(archive.c_str(), R_OK) != 0) {
    const int e = errno;
    return ErrnoStatus(e, archive);
  }
  int64_t root_mode = 0755;
  if (absl::Status s = CheckEntries(archive, &root_mode); !s.ok()) return s;

  // The staging directory: beside DIR (same file system, so rename works),
  // its path resolved so that no component is a symlink.
  char parent_real[PATH_MAX];
  if (realpath(target.parent_path().c_str(), parent_real) == nullptr) {
    const int e = errno;
    return ErrnoStatus(e, target.parent_path().string());
  }
  std::string tmpl = StrCat(parent_real, "/", target.filename().string(), ".partial-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("mkdtemp ", tmpl));
  }
  const std::string staging = tmpl;
  BaseExtractResult result;
  absl::Status s = Extract(archive, staging, options, result);
  if (s.ok() && chmod(staging.c_str(), static_cast<mode_t>(root_mode & 07777)) != 0) {
    const int e = errno;
    s = ErrnoStatus(e, StrCat("chmod ", staging));
  }
  if (s.ok() && replace_empty && rmdir(target.c_str()) != 0) {
    const int e = errno;
    s = ErrnoStatus(e, StrCat("rmdir ", target.string()));
  }
  const std::string final_path = StrCat(parent_real, "/", target.filename().string());
  if (s.ok() && rename(staging.c_str(), final_path.c_str()) != 0) {
    const int e = errno;
    s = ErrnoStatus(e, StrCat("rename ", staging, " ", final_path));
  }
  if (!s.ok()) {
    fs::remove_all(staging, ec);  // best effort; schg files may stay
    return s;
  }
  // The rename is durable once the parent directory is synced.
  if (const int fd = open(parent_real, O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  return result;
}

}  // namespace jailwarden::platform
