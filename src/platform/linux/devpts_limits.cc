#include "platform/linux/devpts_limits.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/cgroup_files.h"
#include "platform/linux/linux_jail_paths.h"

namespace jailwarden::platform {
namespace {

constexpr std::string_view kPoint = "/dev/pts";

struct DevptsMount {
  std::string super_options;
  unsigned long flags = 0;  // per-mount flags to keep across the remount
};

// Per-mount flags from mountinfo field 6 ("rw,nosuid,noexec,relatime").
unsigned long MountFlags(std::string_view options) {
  unsigned long flags = 0;
  for (std::string_view o : Split(options, ',')) {
    if (o == "ro") {
      flags |= MS_RDONLY;
    } else if (o == "nosuid") {
      flags |= MS_NOSUID;
    } else if (o == "nodev") {
      flags |= MS_NODEV;
    } else if (o == "noexec") {
      flags |= MS_NOEXEC;
    } else if (o == "noatime") {
      flags |= MS_NOATIME;
    } else if (o == "nodiratime") {
      flags |= MS_NODIRATIME;
    } else if (o == "relatime") {
      flags |= MS_RELATIME;
    }
  }
  return flags;
}

absl::StatusOr<DevptsMount> FindDevptsIn(std::string_view info, int64_t pid) {
  std::optional<DevptsMountOptions> found = FindDevptsMount(info, kPoint);
  if (!found) {
    return absl::NotFoundError(StrCat("no devpts at /dev/pts in the mount namespace of ", pid));
  }
  DevptsMount m;
  m.super_options = std::string(found->super_options);
  m.flags = MountFlags(found->mount_options);
  return m;
}

absl::StatusOr<DevptsMount> FindDevpts(int64_t pid) {
  JW_ASSIGN_OR_RETURN(std::string info,
                      ReadFileToString(StrCat("/proc/", pid, "/mountinfo")));
  return FindDevptsIn(info, pid);
}

}  // namespace

absl::StatusOr<int64_t> ReadDevptsMax(int64_t pid) {
  JW_ASSIGN_OR_RETURN(std::string info,
                      ReadFileToString(StrCat("/proc/", pid, "/mountinfo")));
  return DevptsMaxFromMountinfo(info, pid);
}

absl::StatusOr<int64_t> DevptsMaxFromMountinfo(std::string_view info, int64_t pid) {
  JW_ASSIGN_OR_RETURN(DevptsMount m, FindDevptsIn(info, pid));
  for (std::string_view o : Split(m.super_options, ',')) {
    if (StartsWith(o, "max=")) {
      if (std::optional<int64_t> v = ParseInt<int64_t>(o.substr(4))) {
        return *v;
      }
    }
  }
  return kDevptsDefaultMax;
}

absl::Status SetDevptsMax(int64_t pid, int64_t max) {
  JW_ASSIGN_OR_RETURN(DevptsMount m, FindDevpts(pid));
  char options[512];
  if (!DevptsOptionsWithMax(m.super_options, max, options, sizeof(options))) {
    return absl::InternalError("devpts options too long");
  }
  std::string ns_path = StrCat("/proc/", pid, "/ns/mnt");
  int ns = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    return ErrnoStatus(errno, StrCat("open ", ns_path));
  }
  unsigned long flags = MS_REMOUNT | m.flags;
  // Only async-signal-safe calls between fork and _exit: everything the
  // child needs was prepared above.
  pid_t child = fork();
  if (child < 0) {
    int err = errno;
    close(ns);
    return ErrnoStatus(err, "fork");
  }
  if (child == 0) {
    if (setns(ns, CLONE_NEWNS) != 0) {
      _exit(errno & 0x7f);
    }
    if (mount("devpts", "/dev/pts", "devpts", flags, options) != 0) {
      _exit(errno & 0x7f);
    }
    _exit(0);
  }
  close(ns);
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      return ErrnoStatus(errno, "waitpid");
    }
  }
  if (!WIFEXITED(status)) {
    return absl::InternalError("devpts remount helper was killed");
  }
  int code = WEXITSTATUS(status);
  if (code == 0) {
    return absl::OkStatus();
  }
  return ErrnoStatus(code, StrCat("setns+remount devpts of ", pid, " with ", options));
}

}  // namespace jailwarden::platform
