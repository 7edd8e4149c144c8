#include "jailwarden/platform/freebsd/rctl_backend.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

constexpr std::size_t kMaxGrowth = 64 * 1024 * 1024;

absl::Status CallInputOnly(FreeBsdKernel& kernel, RctlOutputCall call,
                           std::string_view name, std::string_view input) {
  const std::string in(input);
  // rctl(8) passes strlen + 1 and no output buffer for add and remove.
  if ((kernel.*call)(in.c_str(), in.size() + 1, nullptr, 0) != 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat(name, "(", input, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RacctState> ReadRacctState(FreeBsdKernel& kernel) {
  // Room for either width; the length the kernel reports says which.
  unsigned char buf[8] = {};
  std::size_t len = sizeof buf;
  if (kernel.Sysctlbyname("kern.racct.enable", buf, &len, nullptr, 0) != 0) {
    const int e = errno;
    if (e == ENOENT) return RacctState::kAbsent;
    return ErrnoStatus(e, "sysctlbyname(kern.racct.enable)");
  }
  bool enabled = false;
  if (len == 1) {
    enabled = buf[0] != 0;
  } else if (len == sizeof(int)) {
    int v = 0;
    std::memcpy(&v, buf, sizeof v);
    enabled = v != 0;
  } else if (len == sizeof(int64_t)) {
    int64_t v = 0;
    std::memcpy(&v, buf, sizeof v);
    enabled = v != 0;
  } else {
    return absl::InternalError(
        StrCat("sysctlbyname(kern.racct.enable): unexpected size ", len));
  }
  return enabled ? RacctState::kEnabled : RacctState::kDisabled;
}

std::string EnosysText(FreeBsdKernel& kernel) {
  absl::StatusOr<RacctState> state = ReadRacctState(kernel);
  if (state.ok() && *state == RacctState::kDisabled) {
    return std::string(kRacctDisabledText);
  }
  return std::string(kRacctNotPresentText);
}

absl::Status CheckRacctAvailable(FreeBsdKernel& kernel) {
  absl::StatusOr<RacctState> state = ReadRacctState(kernel);
  if (!state.ok()) return state.status();
  if (*state == RacctState::kAbsent) {
    return absl::FailedPreconditionError(StrCat(
        kRacctNotPresentText,
        ". jailwarden needs a kernel built with 'options RACCT' and "
        "'options RCTL' (the amd64 GENERIC kernel has both)."));
  }
  if (*state == RacctState::kDisabled) {
    return absl::FailedPreconditionError(StrCat(
        kRacctDisabledText,
        ". kern.racct.enable is a boot-time tunable: add "
        "'kern.racct.enable=1' to /boot/loader.conf and reboot."));
  }
  // Enabled: probe rctl(2) itself; a small buffer is enough (ERANGE means
  // the call works).
  char out[1];
  static constexpr char kAll[] = "::";
  if (kernel.RctlGetRules(kAll, sizeof kAll, out, sizeof out) != 0) {
    const int e = errno;
    switch (e) {
      case ERANGE:
        break;
      case ENOSYS:
        return absl::FailedPreconditionError(StrCat(
            kRacctNotPresentText,
            ". kern.racct.enable=1 but rctl(2) is missing: the kernel needs "
            "'options RCTL' as well as 'options RACCT'."));
      case EPERM:
        return ErrnoStatusWithMessage(
            EPERM,
            "rctl(2) refused: jailwarden must run as root on the host "
            "(jailed root has no PRIV_RCTL_* privileges)");
      default:
        return ErrnoStatus(e, "rctl_get_rules(::)");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CallRctlGrowing(FreeBsdKernel& kernel,
                                            RctlOutputCall call,
                                            std::string_view input,
                                            std::size_t initial) {
  const std::string in(input);
  std::vector<char> buf(initial == 0 ? 1 : initial);
  for (;;) {
    if ((kernel.*call)(in.c_str(), in.size() + 1, buf.data(), buf.size()) == 0) {
      return std::string(buf.data(), strnlen(buf.data(), buf.size()));
    }
    const int e = errno;
    // get_rules/get_limits stop with E2BIG past kern.racct.rctl.maxbufsize;
    // get_racct has no such bound, so bound the growth here.
    if (e != ERANGE || buf.size() >= kMaxGrowth) {
      return ErrnoStatus(e, StrCat("rctl(", input, ")"));
    }
    buf.resize(buf.size() * 4);
  }
}

absl::Status FreeBsdRctlBackend::AddRule(std::string_view rule) {
  return CallInputOnly(kernel_, &FreeBsdKernel::RctlAddRule, "rctl_add_rule",
                       rule);
}

absl::Status FreeBsdRctlBackend::RemoveRule(std::string_view filter) {
  return CallInputOnly(kernel_, &FreeBsdKernel::RctlRemoveRule,
                       "rctl_remove_rule", filter);
}

absl::StatusOr<std::string> FreeBsdRctlBackend::GetRules(std::string_view filter) {
  return CallRctlGrowing(kernel_, &FreeBsdKernel::RctlGetRules, filter);
}

absl::StatusOr<std::string> FreeBsdRctlBackend::GetLimits(
    std::string_view filter) {
  return CallRctlGrowing(kernel_, &FreeBsdKernel::RctlGetLimits, filter);
}

absl::StatusOr<std::string> FreeBsdRctlBackend::GetRacct(std::string_view filter) {
  return CallRctlGrowing(kernel_, &FreeBsdKernel::RctlGetRacct, filter);
}

std::string FreeBsdRctlBackend::EnosysMessage() const {
  return EnosysText(kernel_);
}

}  // namespace jailwarden::platform
