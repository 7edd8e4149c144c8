#include "service/rctl_front.h"

#include <signal.h>

#include <algorithm>

#include <cerrno>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/checks.h"
#include "jailwarden/rctl/kernel_form.h"
#include "platform/linux/proc_parser.h"
#include "service/api_view.h"

namespace jailwarden::service {
namespace {

// Real and effective uid of a host process (Linux /proc/<pid>/status).
bool ProcessUids(int64_t pid, int64_t* ruid, int64_t* euid) {
  absl::StatusOr<std::string> text = ReadFile(StrCat("/proc/", pid, "/status"));
  if (!text.ok()) return false;
  std::optional<platform::ProcStatusUids> uids = platform::ParseProcStatusUids(*text);
  if (!uids.has_value()) return false;
  *ruid = uids->ruid;
  *euid = uids->euid;
  return true;
}

}  // namespace

bool HostProcessExists(int64_t pid) {
  if (pid <= 0 || pid > INT32_MAX) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

absl::Status RctlFront::AddRule(std::string_view text) {
  // The one rule checker (policy/checks.h): the words and the acceptance
  // of a policy's `rules:`, process rules refused.
  JW_ASSIGN_OR_RETURN(rctl::Rule rule,
                      policy::CheckRule(text, {policy::RuleUse::kRuntimeRule, true, nullptr}));
  if (read_only_ && rule.subject == rctl::SubjectType::kJail) {
    JW_RETURN_IF_ERROR(read_only_(rule.subject_id, "rctl -a"));
  }
  JW_RETURN_IF_ERROR(rules_.Mutate([&](RuleDraft& draft) { return draft.Add(rule); }));
  LogInfo("rule added",
          {{"rule", rctl::FormatRule(rule)},
           {"jail", rule.subject == rctl::SubjectType::kJail ? rule.subject_id : ""}});
  return absl::OkStatus();
}

absl::Status RctlFront::RemoveRule(std::string_view text) {
  JW_ASSIGN_OR_RETURN(rctl::Rule filter, rctl::ParseRuleText(text, HostProcessExists));
  if (read_only_ && filter.subject == rctl::SubjectType::kJail && !filter.subject_id.empty()) {
    JW_RETURN_IF_ERROR(read_only_(filter.subject_id, "rctl -r"));
  }
  int removed = 0;
  // Drift before and after, for the jails the filter can touch.
  std::shared_ptr<const policy::Policy> pol = policy_ ? policy_() : nullptr;
  std::vector<rctl::Rule> policy_rules;
  if (pol != nullptr && events_ != nullptr) policy_rules = pol->AllRules().rules();
  auto drift = [&](const RuleSnapshot& snap) {
    std::vector<rctl::Rule> out;
    std::vector<std::string> jails;
    for (const rctl::Rule& p : policy_rules) {
      if (p.subject != rctl::SubjectType::kJail) continue;
      if (!filter.subject_id.empty() && filter.subject_id != p.subject_id) continue;
      if (std::find(jails.begin(), jails.end(), p.subject_id) != jails.end()) continue;
      jails.push_back(p.subject_id);
      for (rctl::Rule& r : PolicyDrift(p.subject_id, policy_rules, snap)) out.push_back(r);
    }
    return out;
  };
  const std::vector<rctl::Rule> before = drift(*rules_.Current());
  JW_RETURN_IF_ERROR(rules_.Mutate([&](RuleDraft& draft) -> absl::Status {
    JW_ASSIGN_OR_RETURN(removed, draft.Remove(filter));
    return absl::OkStatus();
  }));
  LogInfo("rules removed",
          {{"filter", rctl::FormatRule(filter)}, {"count", StrCat(removed)}});
  for (const rctl::Rule& r : drift(*rules_.Current())) {
    if (std::find(before.begin(), before.end(), r) != before.end()) continue;
    const std::string shown = rctl::FormatRule(r);
    LogWarning("policy drift: a policy rule is no longer in force until the next apply",
               {{"jail", r.subject_id}, {"rule", shown}});
    events_->Append(StrCat("!system=JAILWARDEN subsystem=policy type=drift jail=", r.subject_id,
                           " rule=", shown));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RctlFront::GetRules(std::string_view text) {
  JW_ASSIGN_OR_RETURN(rctl::Rule filter, rctl::ParseRuleText(text, HostProcessExists));
  return rules_.Current()->ListText(filter);
}

absl::StatusOr<std::string> RctlFront::GetLimits(std::string_view text) {
  JW_ASSIGN_OR_RETURN(rctl::Rule filter, rctl::ParseRuleText(text, HostProcessExists));
  if (filter.subject == rctl::SubjectType::kUndefined) {
    return ErrnoStatus(EINVAL, "rctl_get_limits: no subject");
  }
  if (filter.subject != rctl::SubjectType::kProcess) {
    return ErrnoStatus(EOPNOTSUPP, "rctl_get_limits: subject is not a process");
  }
  const std::optional<int64_t> pid = filter.SubjectNumber();
  if (!pid.has_value()) return ErrnoStatus(EINVAL, "rctl_get_limits: no pid");
  int64_t ruid = -1, euid = -1;
  std::string jail;
  if (std::shared_ptr<const racct::Snapshot> snap = sampler_.Latest();
      snap != nullptr && snap->slow != nullptr) {
    if (std::optional<uint32_t> i = snap->slow->FindProcess(*pid); i.has_value()) {
      const racct::ProcessInfo& p = snap->slow->processes[*i];
      ruid = p.ruid;
      euid = p.euid;
      jail = p.jail == "0" ? "" : p.jail;
    }
  }
  if (ruid < 0 && !ProcessUids(*pid, &ruid, &euid)) {
    return ErrnoStatus(ESRCH, "rctl_get_limits: no such process");
  }
  // Every rule linked to the process (§6.7): its own, its real and
  // effective user's, its jail's.
  std::vector<std::string> out;
  for (const RuleEntry* e : rules_.Current()->List(rctl::Rule{})) {
    const rctl::Rule& r = e->rule;
    bool applies = false;
    switch (r.subject) {
      case rctl::SubjectType::kProcess:
        applies = r.SubjectNumber() == pid;
        break;
      case rctl::SubjectType::kUser:
        applies = r.SubjectNumber() == ruid || r.SubjectNumber() == euid;
        break;
      case rctl::SubjectType::kJail:
        applies = !jail.empty() && r.subject_id == jail;
        break;
      case rctl::SubjectType::kLoginclass:
      case rctl::SubjectType::kUndefined:
        break;
    }
    if (applies) out.push_back(rctl::FormatRule(r));
  }
  return Join(out, ",");
}

absl::StatusOr<std::string> RctlFront::GetRacct(std::string_view text) {
  JW_ASSIGN_OR_RETURN(rctl::Rule filter, rctl::ParseRuleText(text, HostProcessExists));
  if (filter.subject == rctl::SubjectType::kUndefined || filter.subject_id.empty()) {
    return ErrnoStatus(EINVAL, "rctl_get_racct: subject and id required");
  }
  rctl::UsageVector usage{};
  std::shared_ptr<const racct::Snapshot> snap = sampler_.Latest();
  if (snap != nullptr) {
    switch (filter.subject) {
      case rctl::SubjectType::kJail:
        if (const rctl::UsageVector* u = snap->FindJailUsage(filter.subject_id)) usage = *u;
        break;
      case rctl::SubjectType::kProcess:
        if (snap->slow != nullptr) {
          if (auto i = snap->slow->FindProcess(*filter.SubjectNumber())) {
            usage = snap->slow->processes[*i].usage;
          }
        }
        break;
      case rctl::SubjectType::kUser:
        if (snap->slow != nullptr) {
          if (auto i = snap->slow->FindUser(*filter.SubjectNumber())) {
            usage = snap->slow->users[*i].usage;
          }
        }
        break;
      case rctl::SubjectType::kLoginclass:
      case rctl::SubjectType::kUndefined:
        break;
    }
  }
  return rctl::FormatUsage(usage, filter.subject);
}

}  // namespace jailwarden::service
