// FakeFreeBsdKernel's rctl(2): the five calls with the errno order of
// freebsd-rctl.md §8.2-§8.3 over rctl::RuleSet, and the kern.racct sysctls
// (kern.racct.enable as an int, a bool or missing; §1, §10).

#include "fakes/freebsd/fake_kernel.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::platform {
namespace {

int ErrnoOf(const absl::Status& status) {
  return StatusErrno(status).value_or(EINVAL);
}

}  // namespace

using rctl::SubjectType;

int FakeFreeBsdKernel::WriteOutLocked(const std::string& text, char* outbufp,
                                      std::size_t outbuflen) {
  // rctl_write_outbuf: the string and its NUL, or ERANGE.
  if (outbuflen < text.size() + 1) return FailLocked(ERANGE);
  if (outbufp == nullptr) return FailLocked(EFAULT);
  std::memcpy(outbufp, text.c_str(), text.size() + 1);
  return 0;
}

int FakeFreeBsdKernel::RctlCommon(RctlCall which, const char* inbufp,
                                  std::size_t inbuflen, char* outbufp,
                                  std::size_t outbuflen) {
  absl::MutexLock lock(&mu_);
  static constexpr const char* kNames[] = {"rctl_get_racct", "rctl_get_rules",
                                           "rctl_get_limits", "rctl_add_rule",
                                           "rctl_remove_rule"};
  static constexpr Call kCalls[] = {Call::kRctlGetRacct, Call::kRctlGetRules,
                                    Call::kRctlGetLimits, Call::kRctlAddRule,
                                    Call::kRctlRemoveRule};
  const auto w = static_cast<std::size_t>(which);
  std::string input;
  if (inbufp != nullptr && inbuflen > 0) {
    input.assign(inbufp, strnlen(inbufp, std::min<std::size_t>(inbuflen, 4096)));
  }
  if (which == RctlCall::kGetRacct) {
    ++racct_calls_;  // not logged: it runs every tick
  } else {
    LogLocked(StrCat(kNames[w], "(", input, ")"));
  }
  int fault = 0;
  if (TakeFaultLocked(kCalls[w], fault)) return FailLocked(fault);
  // §8.2, in order.
  if (racct_form_ == RacctSysctl::kMissing || !racct_enabled_) {
    return FailLocked(ENOSYS);
  }
  if (!CallerIsRootLocked()) return FailLocked(EPERM);
  if ((which == RctlCall::kGetRules || which == RctlCall::kGetLimits) &&
      outbuflen > maxbufsize_) {
    return FailLocked(E2BIG);
  }
  if (inbuflen == 0) return FailLocked(EINVAL);
  if (inbuflen > rctl::kMaxInputLength) return FailLocked(E2BIG);
  if (inbufp == nullptr) return FailLocked(EFAULT);
  if (std::memchr(inbufp, '\0', inbuflen) == nullptr) {
    return FailLocked(ENAMETOOLONG);
  }
  const rctl::ProcessExists exists = [this](int64_t pid) {
    mu_.AssertHeld();
    return processes_.contains(static_cast<pid_t>(pid));
  };
  switch (which) {
    case RctlCall::kGetRacct: {
      absl::StatusOr<rctl::Rule> f = rctl::ParseRuleText(input, exists);
      if (!f.ok()) return FailLocked(ErrnoOf(f.status()));
      if (f->subject == SubjectType::kUndefined || f->subject_id.empty()) {
        return FailLocked(EINVAL);
      }
      rctl::UsageVector usage{};
      if (f->subject == SubjectType::kProcess) {
        usage = processes_[static_cast<pid_t>(*f->SubjectNumber())].usage;
      } else {
        // uifind, loginclass_find and prison_racct_find create the
        // container on demand: an unknown id reads as zeros.
        usage = ContainerLocked(f->subject, f->subject_id);
      }
      return WriteOutLocked(rctl::FormatUsage(usage, f->subject), outbufp,
                            outbuflen);
    }
    case RctlCall::kGetRules: {
      absl::StatusOr<rctl::Rule> f = rctl::ParseRuleText(input, exists);
      if (!f.ok()) return FailLocked(ErrnoOf(f.status()));
      return WriteOutLocked(rules_.ListText(*f), outbufp, outbuflen);
    }
    case RctlCall::kGetLimits: {
      absl::StatusOr<rctl::Rule> f = rctl::ParseRuleText(input, exists);
      if (!f.ok()) return FailLocked(ErrnoOf(f.status()));
      if (f->subject == SubjectType::kUndefined) return FailLocked(EINVAL);
      if (f->subject != SubjectType::kProcess) return FailLocked(EOPNOTSUPP);
      if (f->subject_id.empty()) return FailLocked(EINVAL);
      const FakeProcess& p = processes_[static_cast<pid_t>(*f->SubjectNumber())];
      const std::vector<std::string> chain = PrisonChainLocked(p.jid);
      std::string out;
      // Every rule linked to the process (§6.7): its own, its real or
      // effective uid's, its login class's, its jail's and ancestors'.
      for (const rctl::Rule& r : rules_.List(rctl::Rule{})) {
        bool linked = false;
        switch (r.subject) {
          case SubjectType::kProcess:
            linked = r.subject_id == f->subject_id;
            break;
          case SubjectType::kUser:
            linked = r.subject_id == StrCat(static_cast<int64_t>(p.ruid)) ||
                     r.subject_id == StrCat(static_cast<int64_t>(p.euid));
            break;
          case SubjectType::kLoginclass:
            linked = r.subject_id == p.loginclass;
            break;
          case SubjectType::kJail:
            linked = std::find(chain.begin(), chain.end(), r.subject_id) !=
                     chain.end();
            break;
          case SubjectType::kUndefined:
            break;
        }
        if (!linked) continue;
        if (!out.empty()) out.push_back(',');
        out.append(rctl::FormatRule(r));
      }
      return WriteOutLocked(out, outbufp, outbuflen);
    }
    case RctlCall::kAdd: {
      absl::StatusOr<rctl::Rule> r = rctl::ParseRuleForAdd(input, exists);
      if (!r.ok()) return FailLocked(ErrnoOf(r.status()));
      if (absl::Status s = rules_.Add(*std::move(r)); !s.ok()) {
        return FailLocked(ErrnoOf(s));
      }
      return 0;
    }
    case RctlCall::kRemove: {
      absl::StatusOr<rctl::Rule> f = rctl::ParseRuleText(input, exists);
      if (!f.ok()) return FailLocked(ErrnoOf(f.status()));
      absl::StatusOr<int> n = rules_.Remove(*f);
      if (!n.ok()) return FailLocked(ErrnoOf(n.status()));
      return 0;
    }
  }
  return FailLocked(EINVAL);
}

int FakeFreeBsdKernel::RctlGetRacct(const char* in, std::size_t inlen, char* out,
                                    std::size_t outlen) {
  return RctlCommon(RctlCall::kGetRacct, in, inlen, out, outlen);
}
int FakeFreeBsdKernel::RctlGetRules(const char* in, std::size_t inlen, char* out,
                                    std::size_t outlen) {
  return RctlCommon(RctlCall::kGetRules, in, inlen, out, outlen);
}
int FakeFreeBsdKernel::RctlGetLimits(const char* in, std::size_t inlen,
                                     char* out, std::size_t outlen) {
  return RctlCommon(RctlCall::kGetLimits, in, inlen, out, outlen);
}
int FakeFreeBsdKernel::RctlAddRule(const char* in, std::size_t inlen, char* out,
                                   std::size_t outlen) {
  return RctlCommon(RctlCall::kAdd, in, inlen, out, outlen);
}
int FakeFreeBsdKernel::RctlRemoveRule(const char* in, std::size_t inlen,
                                      char* out, std::size_t outlen) {
  return RctlCommon(RctlCall::kRemove, in, inlen, out, outlen);
}

int FakeFreeBsdKernel::Sysctlbyname(const char* name, void* oldp,
                                    std::size_t* oldlenp, const void* newp,
                                    std::size_t newlen) {
  absl::MutexLock lock(&mu_);
  const std::string n = name == nullptr ? "" : name;
  LogLocked(StrCat("sysctlbyname(", n, ")"));
  int fault = 0;
  if (TakeFaultLocked(Call::kSysctlbyname, fault)) return FailLocked(fault);
  unsigned char value[8] = {};
  std::size_t size = 0;
  if (racct_form_ != RacctSysctl::kMissing && n == "kern.racct.enable") {
    if (racct_form_ == RacctSysctl::kBool) {
      value[0] = racct_enabled_ ? 1 : 0;
      size = 1;
    } else {
      const int v = racct_enabled_ ? 1 : 0;
      std::memcpy(value, &v, sizeof v);
      size = sizeof v;
    }
  } else if (racct_form_ != RacctSysctl::kMissing &&
             n == "kern.racct.rctl.maxbufsize") {
    const auto v = static_cast<uint32_t>(maxbufsize_);
    std::memcpy(value, &v, sizeof v);
    size = sizeof v;
  } else if (n == "security.jail.jailed") {
    // An int, 1 when the caller runs in a jail (kern_jail.c).
    const int v = caller_jail_ != 0 ? 1 : 0;
    std::memcpy(value, &v, sizeof v);
    size = sizeof v;
  } else {
    return FailLocked(ENOENT);
  }
  if (newp != nullptr || newlen != 0) return FailLocked(EPERM);  // RDTUN
  if (oldlenp == nullptr) return FailLocked(EFAULT);
  if (oldp == nullptr) {
    *oldlenp = size;
    return 0;
  }
  const std::size_t n_copy = std::min(*oldlenp, size);
  std::memcpy(oldp, value, n_copy);
  const bool short_buffer = *oldlenp < size;
  *oldlenp = size;
  if (short_buffer) return FailLocked(ENOMEM);
  return 0;
}

}  // namespace jailwarden::platform
