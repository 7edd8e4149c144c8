#include "platform/freebsd/root_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

// Closes on every path, keeping errno.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    const int e = errno;
    if (fd >= 0) close(fd);
    errno = e;
  }
};

}  // namespace

absl::Status CopyIntoRoot(const std::string& root, const std::string& source,
                          const std::string& target) {
  if (target.empty() || target.front() != '/') {
    return absl::InvalidArgumentError(StrCat("copy target ", target, ": not absolute"));
  }
  std::vector<std::string> parts;
  for (std::string_view c : Split(target, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      return absl::InvalidArgumentError(StrCat("copy target ", target, ": contains \"..\""));
    }
    parts.emplace_back(c);
  }
  if (parts.empty()) {
    return absl::InvalidArgumentError(StrCat("copy target ", target, ": names no file"));
  }
  absl::StatusOr<std::string> data = ReadFile(source);
  if (!data.ok()) return data.status();
  struct stat src{};
  if (stat(source.c_str(), &src) != 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("stat ", source));
  }
  Fd dir(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("open jail root ", root));
  }
  std::string walked = root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += "/" + parts[i];
    int next = openat(dir.fd, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT) {
      if (mkdirat(dir.fd, parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
        const int e = errno;
        return ErrnoStatus(e, StrCat("mkdir ", walked));
      }
      next = openat(dir.fd, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      const int e = errno;
      if (e == ELOOP || e == ENOTDIR || e == EMLINK) {
        return absl::PermissionDeniedError(
            StrCat("copy to ", target, ": ", walked,
                   " is a symlink or not a directory in the jail: not followed"));
      }
      return ErrnoStatus(e, StrCat("open ", walked));
    }
    close(dir.fd);
    dir.fd = next;
  }
  const std::string& leaf = parts.back();
  std::string tmp;
  Fd out(-1);
  for (int attempt = 0; attempt < 100 && out.fd < 0; ++attempt) {
    tmp = StrCat(".", leaf, ".jailwarden-", static_cast<int64_t>(getpid()), "-", attempt);
    out.fd = openat(dir.fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0600);
    if (out.fd < 0 && errno != EEXIST) break;
  }
  if (out.fd < 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("create a temporary file for ", target));
  }
  auto fail = [&](std::string_view what) {
    const int e = errno;
    unlinkat(dir.fd, tmp.c_str(), 0);
    return ErrnoStatus(e, StrCat(what, " ", root, target));
  };
  std::string_view rest = *data;
  while (!rest.empty()) {
    const ssize_t n = write(out.fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (fchmod(out.fd, src.st_mode & 07777) != 0) return fail("chmod");
  if (fsync(out.fd) != 0) return fail("fsync");
  if (renameat(dir.fd, tmp.c_str(), dir.fd, leaf.c_str()) != 0) return fail("rename");
  (void)fsync(dir.fd);
  return absl::OkStatus();
}

}  // namespace jailwarden::platform
