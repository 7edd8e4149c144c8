#include "jailwarden/service/state_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/time/clock.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
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

// Issue 13: the state directory holds the jails' roots and writable layers
// (roots/: a jail's root may put set-user-ID programs there), their specs
// with the exec commands (jails/) and their logs; no host user needs any of
// it. One an older version made (0755), or one the operator made, loses
// group and other access, as CloseRootParent does for the roots directory;
// a shared directory (sticky or writable by others) is left and named.
void CloseStateDir(const std::string& state_dir) {
  struct stat st;
  if (lstat(state_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
  const mode_t mode = st.st_mode & 07777;
  if ((mode & 077) == 0) return;
  char was[16];
  snprintf(was, sizeof(was), "%04o", static_cast<unsigned>(mode));
  if ((mode & (S_ISVTX | S_IWOTH)) != 0) {
    LogWarning("state_dir is a shared directory; jail roots need one of their own",
               {{"dir", state_dir}, {"mode", was}});
    return;
  }
  if (chmod(state_dir.c_str(), mode & ~static_cast<mode_t>(077)) != 0) {
    LogWarning("state_dir could not be closed to host users",
               {{"dir", state_dir}, {"errno", std::string(ErrnoName(errno))}});
    return;
  }
  LogWarning("state_dir was open to host users; closed (go-rwx)",
             {{"dir", state_dir}, {"mode_was", was}});
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
  CloseStateDir(state_dir);  // after the lock: only the holder changes it
  return std::unique_ptr<StateDirLock>(new StateDirLock(path, fd));
}

StateDirLock::~StateDirLock() { close(fd_); }

}  // namespace jailwarden::service
