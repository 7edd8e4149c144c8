#include "platform/linux/rlimits.h"

#include <cerrno>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/resource_map.h"

namespace jailwarden::platform {

std::optional<int> RlimitFor(rctl::Resource r) { return LinuxRlimitOf(r); }

const char* RlimitName(int resource) {
  switch (resource) {
    case RLIMIT_DATA:
      return "RLIMIT_DATA";
    case RLIMIT_STACK:
      return "RLIMIT_STACK";
    case RLIMIT_CORE:
      return "RLIMIT_CORE";
    case RLIMIT_MEMLOCK:
      return "RLIMIT_MEMLOCK";
    case RLIMIT_NOFILE:
      return "RLIMIT_NOFILE";
    case RLIMIT_AS:
      return "RLIMIT_AS";
    case RLIMIT_NPROC:
      return "RLIMIT_NPROC";
    case RLIMIT_CPU:
      return "RLIMIT_CPU";
    default:
      return "RLIMIT_?";
  }
}

absl::Status SetProcessRlimit(int64_t pid, const RlimitSetting& setting) {
  struct rlimit lim {setting.soft, setting.hard};
  if (prlimit(static_cast<pid_t>(pid), static_cast<__rlimit_resource>(setting.resource),
              &lim, nullptr) != 0) {
    int err = errno;
    if (err == ESRCH) {
      return absl::NotFoundError(StrCat("process ", pid, " gone"));
    }
    return ErrnoStatus(err, StrCat("prlimit(", pid, ", ", RlimitName(setting.resource), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RlimitSetting> GetProcessRlimit(int64_t pid, int resource) {
  struct rlimit lim {};
  if (prlimit(static_cast<pid_t>(pid), static_cast<__rlimit_resource>(resource), nullptr,
              &lim) != 0) {
    int err = errno;
    if (err == ESRCH) {
      return absl::NotFoundError(StrCat("process ", pid, " gone"));
    }
    return ErrnoStatus(err, StrCat("prlimit(", pid, ", ", RlimitName(resource), ")"));
  }
  return RlimitSetting{resource, lim.rlim_cur, lim.rlim_max};
}

int ApplyRlimitsBeforeExec(const RlimitSetting* settings, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    struct rlimit lim {settings[i].soft, settings[i].hard};
    if (setrlimit(static_cast<__rlimit_resource>(settings[i].resource), &lim) != 0) {
      return errno;
    }
  }
  return 0;
}

}  // namespace jailwarden::platform
