// The kernel's small formulas: ppsratecheck, the §7.5 throttle duration,
// rctl_pcpu_available's adjustment, and the log/devctl lines
// (sys/kern/kern_time.c, sys/kern/kern_rctl.c).

#include <algorithm>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/engine/engine.h"

namespace jailwarden::engine {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr int64_t kPcpuShift = 10 * 1000000;  // RCTL_PCPU_SHIFT

// xmul/xadd of kern_rctl.c: saturate at UINT64_MAX.
uint64_t XMul(uint64_t a, uint64_t b) {
  if (b != 0 && a > kU64Max / b) {
    return kU64Max;
  }
  return a * b;
}

uint64_t XAdd(uint64_t a, uint64_t b) {
  if (a > kU64Max - b) {
    return kU64Max;
  }
  return a + b;
}

// sbuf_new(..., RCTL_LOG_BUFSIZE, SBUF_FIXEDLEN) keeps one byte for the NUL.
std::string_view Truncate(std::string_view s) {
  return s.substr(0, std::min(s.size(), kLogBufferSize - 1));
}

}  // namespace

absl::Status ValidateEngineOptions(const EngineOptions& o) {
  if (o.hz < 1) {
    return absl::InvalidArgumentError(ToAbsl(StrCat("engine hz ", o.hz, " must be >= 1")));
  }
  const int64_t max = o.throttle_max > 0 ? o.throttle_max : 2 * int64_t{o.hz};
  if (o.throttle_min < 1 || o.throttle_min > max) {
    return absl::InvalidArgumentError(ToAbsl(
        StrCat("throttle_min ", o.throttle_min, " outside 1..throttle_max ", max)));
  }
  if (o.throttle_pct < 0) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("throttle_pct ", o.throttle_pct, " must be >= 0")));
  }
  if (o.throttle_pct2 < 0) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("throttle_pct2 ", o.throttle_pct2, " must be >= 0")));
  }
  return absl::OkStatus();
}

bool PpsRateCheck(absl::Time now, absl::Time& lasttime, int& curpps,
                  int max_pps) {
  if (lasttime == absl::InfinitePast() || now - lasttime >= absl::Seconds(1)) {
    lasttime = now;
    curpps = 1;
    return max_pps != 0;
  }
  if (curpps < std::numeric_limits<int>::max()) {
    ++curpps;
  }
  return max_pps < 0 || curpps <= max_pps;
}

int64_t ThrottleTicks(int64_t process_usage, int64_t amount, int64_t available,
                      const EngineOptions& o) {
  const uint64_t max = static_cast<uint64_t>(
      o.throttle_max > 0 ? o.throttle_max : 2 * int64_t{o.hz});
  if (amount == 0) {
    return static_cast<int64_t>(max);
  }
  const uint64_t a = static_cast<uint64_t>(amount);
  uint64_t s = XMul(static_cast<uint64_t>(o.hz),
                    static_cast<uint64_t>(std::max<int64_t>(process_usage, 0)));
  s = XMul(s, static_cast<uint64_t>(o.throttle_pct)) / 100;
  const uint64_t floor = static_cast<uint64_t>(o.throttle_min) * a;
  if (s < floor) {
    s = floor;
  }
  uint64_t ratio = 0;
  if (available < 0) {
    // -INT64_MIN does not exist; usage is never that far over.
    const int64_t over = available == std::numeric_limits<int64_t>::min()
                             ? std::numeric_limits<int64_t>::max()
                             : -available;
    ratio = static_cast<uint64_t>(over / amount);
  }
  ratio = XMul(ratio, ratio);
  ratio = XMul(ratio, static_cast<uint64_t>(o.throttle_pct2)) / 100;
  s = XAdd(s, XMul(s, ratio));
  s = s / a;
  if (s > max) {
    s = max;
  }
  return static_cast<int64_t>(s);
}

int64_t PcpuAvailable(int64_t available, int64_t limit) {
  if (limit == 0) {
    return available;
  }
  if (limit > 2 * kPcpuShift) {
    return available - kPcpuShift;
  }
  return available - limit / 2;
}

std::string FormatLogLine(std::string_view rule_text, int64_t pid,
                          std::string_view comm, int64_t euid,
                          std::string_view jail) {
  return StrCat("rctl: rule \"", Truncate(rule_text), "\" matched by pid ", pid,
                " (", comm, "), uid ", euid, ", jail ", jail);
}

std::string FormatDevctlLine(std::string_view rule_text, int64_t pid,
                             int64_t ruid, std::string_view jail) {
  std::string data =
      StrCat("rule=", rule_text, " pid=", pid, " ruid=", ruid, " jail=", jail);
  return StrCat("!system=RCTL subsystem=rule type=matched ", Truncate(data));
}

std::string_view DecisionKindName(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::kDenyAtOrOver:
      return "deny_at_or_over";
    case DecisionKind::kLogged:
      return "logged";
    case DecisionKind::kDevctlSent:
      return "devctl";
    case DecisionKind::kSignalled:
      return "signalled";
    case DecisionKind::kRateLimited:
      return "rate_limited";
    case DecisionKind::kAlreadyReported:
      return "already_reported";
    case DecisionKind::kThrottled:
      return "throttled";
    case DecisionKind::kWoken:
      return "woken";
  }
  return "unknown";
}

}  // namespace jailwarden::engine
