#include "jailwarden/service/state_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "absl/time/clock.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::service {
namespace {

// The holder's pid from the lock file. The holder writes it just after
// flock(2) succeeds, so a reader that comes in between sees an empty file:
// it looks again for a short while before giving up.
std::string HolderPid(const std::string& path) {
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::string> text = ReadFile(path, 64);
    if (text.ok()) {
      std::string_view pid = StripWhitespace(*text);
      if (!pid.empty()) return std::string(pid);
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return "unknown";
}

}  // namespace

absl::StatusOr<std::unique_ptr<StateDirLock>> StateDirLock::Acquire(
    const std::string& state_dir) {
  JW_RETURN_IF_ERROR(MakeDirs(state_dir, 0700));
  const std::string path = StrCat(state_dir, "/", kFileName);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return ErrnoStatus(errno, StrCat("open ", path));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::UnavailableError(ToAbsl(
          StrCat("state_dir ", state_dir, " is in use by jailwarden pid ", HolderPid(path),
                 " (", path, " is locked); one daemon per state directory")));
    }
    return ErrnoStatus(err, StrCat("flock ", path));
  }
  const std::string pid = StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(err, StrCat("write ", path));
  }
  return std::unique_ptr<StateDirLock>(new StateDirLock(path, fd));
}

StateDirLock::~StateDirLock() { close(fd_); }

}  // namespace jailwarden::service
