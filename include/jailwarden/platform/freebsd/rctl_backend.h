#pragma once

// rctl(2) through the FreeBsdKernel seam, called the way rctl(8) calls it
// (usr.bin/rctl/rctl.c; ../shared/reference/freebsd-rctl.md §8, §9), and
// the start-up check for RACCT/RCTL (§1, §10).

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/rctl/rctl_command.h"

namespace jailwarden::platform {

// rctl(8)'s two enosys() texts, exactly.
inline constexpr std::string_view kRacctNotPresentText =
    "RACCT/RCTL support not present in kernel; see rctl(8) for details";
inline constexpr std::string_view kRacctDisabledText =
    "RACCT/RCTL present, but disabled; enable using kern.racct.enable=1 tunable";

enum class RacctState : uint8_t {
  kAbsent,    // sysctl kern.racct.enable does not exist (no options RACCT)
  kDisabled,  // it exists and is 0 (GENERIC's RACCT_DEFAULT_TO_DISABLED)
  kEnabled,
};

// Reads kern.racct.enable whether the kernel declares it a bool (1 byte,
// current kernels) or an int (4 bytes, older ones). rctl(8) itself reads a
// bool and fails with ENOMEM on an int kernel; this does not.
// Errors: whatever sysctlbyname(3) reports other than ENOENT.
absl::StatusOr<RacctState> ReadRacctState(FreeBsdKernel& kernel);

// The enosys() text for the current kernel: kRacctDisabledText when the
// sysctl reads 0, kRacctNotPresentText otherwise (also when RACCT is on
// but the kernel lacks RCTL, where rctl(8) would print strerror instead).
std::string EnosysText(FreeBsdKernel& kernel);

// The start-up check: OK when rctl(2) answers. Otherwise
// FailedPrecondition whose message is rctl(8)'s text followed by how to fix
// it (loader.conf tunable and reboot; or a kernel with options RACCT and
// RCTL), PermissionDenied when not root on the host (rctl(2) needs
// PRIV_RCTL_*, which jailed root lacks), or the probe's own error.
absl::Status CheckRacctAvailable(FreeBsdKernel& kernel);

// One rctl(2) output call with the buffer grown ×4 on ERANGE, from
// `initial` bytes, as rctl(8) does (it starts at 128 KiB). Stops at the
// first other error (E2BIG once the buffer passes
// kern.racct.rctl.maxbufsize). The errno is in the status (StatusErrno).
using RctlOutputCall = int (FreeBsdKernel::*)(const char*, std::size_t, char*,
                                              std::size_t);
absl::StatusOr<std::string> CallRctlGrowing(FreeBsdKernel& kernel,
                                            RctlOutputCall call,
                                            std::string_view input,
                                            std::size_t initial = 128 * 1024);

// The five calls over the seam, so rctl::RunRctl behaves as rctl(8) on
// that kernel. Inputs go in with strlen+1 as inbuflen; errors carry the
// kernel's errno. Thread-safe if the kernel is.
class FreeBsdRctlBackend final : public rctl::RctlBackend {
 public:
  explicit FreeBsdRctlBackend(FreeBsdKernel& kernel) : kernel_(kernel) {}
  absl::Status AddRule(std::string_view rule) override;
  absl::Status RemoveRule(std::string_view filter) override;
  absl::StatusOr<std::string> GetRules(std::string_view filter) override;
  absl::StatusOr<std::string> GetLimits(std::string_view filter) override;
  absl::StatusOr<std::string> GetRacct(std::string_view filter) override;
  std::string EnosysMessage() const override;

 private:
  FreeBsdKernel& kernel_;
};

}  // namespace jailwarden::platform
