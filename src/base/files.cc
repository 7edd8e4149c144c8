#include "jailwarden/base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden {

absl::StatusOr<std::string> ReadFile(const std::string& path, std::size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno, StrCat("read ", path));
  }
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return ErrnoStatus(err, StrCat("read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) {
      close(fd);
      return ErrnoStatus(EFBIG, StrCat("read ", path));
    }
  }
  close(fd);
  return out;
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string cur = path.substr(0, i);
      if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, StrCat("mkdir ", cur));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace jailwarden
