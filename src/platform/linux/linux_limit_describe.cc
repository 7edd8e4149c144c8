// DescribeLinuxEnforcement: how one rule is enforced on Linux, read from
// the resource map (resource_map.h) without touching the kernel.

#include <string>

#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/linux_limit_enforcer.h"
#include "platform/linux/resource_map.h"
#include "platform/linux/rlimits.h"

namespace jailwarden::platform {
namespace {

using rctl::Action;
using rctl::Resource;
using rctl::SubjectType;

Enforcement Make(const rctl::Rule& rule, Fidelity f, std::string mechanism,
                 std::string detail = "") {
  Enforcement e;
  e.rule = rule;
  e.fidelity = f;
  e.mechanism = std::move(mechanism);
  e.detail = std::move(detail);
  return e;
}

// A per-process rule of a user or process subject reaches only processes
// in jailwarden's jails (the enforcer applies limits jail by jail).
Enforcement Scoped(const rctl::Rule& rule, Enforcement e) {
  if (rule.subject == SubjectType::kUser || rule.subject == SubjectType::kProcess) {
    if (e.fidelity == Fidelity::kExact || e.fidelity == Fidelity::kApproximate) {
      e.detail = e.detail.empty() ? "applied to matching processes in jailwarden's jails only"
                                  : e.detail + "; applied to matching processes in "
                                               "jailwarden's jails only";
    }
  }
  return e;
}

// How a sampled deny of a per-process resource is enforced (sampled_deny.h).
std::string SampledSum(const rctl::Rule& rule, const LinuxResourceRow& row) {
  const char* rl = RlimitName(row.rlimit);
  const bool per_user = rule.per == SubjectType::kUser;
  std::string out = StrCat(
      "the sampler sums ", per_user ? "the user's" : "the jail's", " per-process ",
      rctl::ResourceName(row.resource), " (slow tier, /proc scan); while the sum is at or over "
      "the amount, each ", rule.subject == SubjectType::kProcess ? "linked " : "",
      per_user ? "process of the user in jailwarden's jails" : "process of the jail",
      " gets its soft ", rl, " lowered to its current use, so ", row.clamp_charge,
      "; the soft limit comes back when the sum drops below the amount. Lag: up to one "
      "slow-tier interval, during which the sum can overshoot; new processes are clamped "
      "at the next slow-tier pass");
  if (rule.subject == SubjectType::kJail && rule.per == SubjectType::kJail) {
    StrAppend(&out, ". ", rl, "=amount also bounds each process");
  }
  return out;
}

// A kCgroup row: its knob for a jail-wide rule, the sampler otherwise.
Enforcement DescribeCgroup(const rctl::Rule& rule, const LinuxResourceRow& row,
                           bool cgroup_v2) {
  const Resource r = row.resource;
  if (row.throttle_only && rule.action == Action::kDeny) {
    return Make(rule, Fidelity::kUnsupported, "none",
                StrCat(rctl::ResourceName(r), " cannot be denied, only throttled"));
  }
  if (rule.per != SubjectType::kJail) {
    if (rule.per == SubjectType::kUser && row.rlimit_use == LinuxRlimitUse::kPerUser) {
      return Make(rule, Fidelity::kApproximate, RlimitName(row.rlimit),
                  std::string(row.rlimit_detail));
    }
    return Make(rule, Fidelity::kSampled, "sampler", std::string(row.not_jail_detail));
  }
  // The table gives v1 and v2 columns; the host's version picks one.
  const std::string_view v1v2_knob[] = {row.cgroup_v1_knob, row.cgroup_v2_knob};
  const std::string_view v1v2_detail[] = {row.detail_v1, row.detail_v2};
  const Fidelity v1v2_fidelity[] = {row.fidelity_v1, row.fidelity_v2};
  const std::size_t col = cgroup_v2 ? 1 : 0;
  std::string mechanism(v1v2_knob[col]);
  if (cgroup_v2 && !row.cgroup_v2_key.empty()) {
    StrAppend(&mechanism, " ", row.cgroup_v2_key);
  }
  return Make(rule, v1v2_fidelity[col], std::move(mechanism), std::string(v1v2_detail[col]));
}

// A kRlimit row: the rlimit for a per-process rule; a jail-wide or
// per-user sum is sampled (and clamped), or bounded per process where the
// resource has no clamp.
Enforcement DescribeRlimit(const rctl::Rule& rule, const LinuxResourceRow& row) {
  const char* rl = RlimitName(row.rlimit);
  if (rule.per == SubjectType::kProcess) {
    return Make(rule, row.fidelity_v1, rl, std::string(row.detail_v1));
  }
  if (row.clamp == LinuxClampSource::kNone) {
    return Make(rule, Fidelity::kApproximate, rl, std::string(row.rlimit_detail));
  }
  return Make(rule, Fidelity::kSampled, StrCat("sampler + ", rl), SampledSum(rule, row));
}

// A jail-wide mechanism with no cgroup behind it (devpts max=, an IPC
// sysctl): `mechanism` for a jail-wide rule (or any per where the row
// says so), unsupported otherwise.
Enforcement DescribeNamespaceLimit(const rctl::Rule& rule, const LinuxResourceRow& row,
                                   std::string mechanism) {
  if (rule.per != SubjectType::kJail && !row.any_per) {
    return Make(rule, Fidelity::kUnsupported, "none", std::string(row.not_jail_detail));
  }
  return Make(rule, row.fidelity_v1, std::move(mechanism), std::string(row.detail_v1));
}

Enforcement DescribeOne(const rctl::Rule& rule, bool cgroup_v2) {
  if (rule.subject == SubjectType::kLoginclass || rule.per == SubjectType::kLoginclass) {
    return Make(rule, Fidelity::kUnsupported, "none",
                "Linux has no login classes: loginclass rules are kept but never enforced");
  }
  if (!rule.resource.has_value()) {
    return Make(rule, Fidelity::kUnsupported, "none", "the rule names no resource");
  }
  const LinuxResourceRow& row = LinuxResource(*rule.resource);
  if (rule.action != Action::kDeny && rule.action != Action::kThrottle) {
    if (row.mechanism == LinuxMechanism::kSamplerOnly) {
      return Make(rule, Fidelity::kSampled, "sampler",
                  "acted on when a sample shows the usage over the amount, as FreeBSD's "
                  "once-a-second racctd does");
    }
    return Make(rule, Fidelity::kSampled, "sampler",
                "acted on at the sampling interval; FreeBSD acts at the moment of the charge");
  }
  switch (row.mechanism) {
    case LinuxMechanism::kSamplerOnly:
      return Make(rule, Fidelity::kUnsupported, "none",
                  StrCat(rctl::ResourceName(row.resource),
                         " cannot be denied (FreeBSD refuses the rule)"));
    case LinuxMechanism::kCgroup:
      return DescribeCgroup(rule, row, cgroup_v2);
    case LinuxMechanism::kRlimit:
      return DescribeRlimit(rule, row);
    case LinuxMechanism::kDevpts:
      return DescribeNamespaceLimit(rule, row, "devpts max=");
    case LinuxMechanism::kIpcSysctl:
      return DescribeNamespaceLimit(rule, row, std::string(row.sysctl));
  }
  return Make(rule, Fidelity::kUnsupported, "none", "unknown resource");
}

}  // namespace

Enforcement DescribeLinuxEnforcement(const rctl::Rule& rule, bool cgroup_v2) {
  return Scoped(rule, DescribeOne(rule, cgroup_v2));
}

}  // namespace jailwarden::platform
