#include "service/api_view.h"

#include <algorithm>

#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::service {

api::RuleInfo RuleInfoOf(const platform::Enforcement& e) {
  return api::RuleInfo{rctl::FormatRule(e.rule), std::string(platform::FidelityName(e.fidelity)),
                       e.mechanism, e.detail};
}

api::JailInfo JailInfoOf(const jail::JailRecord& rec, const policy::Policy& policy,
                         const RuleSnapshot& rules) {
  api::JailInfo info;
  info.name = rec.spec.name;
  info.state = std::string(jail::JailStateName(rec.state));
  info.jid = rec.state == jail::JailState::kStopped ? -1 : rec.jid;
  info.path = rec.spec.path;
  info.base_root = rec.spec.base_root;
  info.hostname = rec.spec.hostname.empty() ? rec.spec.name : rec.spec.hostname;
  info.ip4 = rec.spec.network.ip4_addresses;
  info.depend = rec.spec.depend;
  info.persist = rec.spec.persist;
  if (rec.state != jail::JailState::kStopped) {
    info.init_pid = rec.instance.init_pid;
    info.started = rec.instance.started;
  }
  if (const policy::JailPolicy* jp = policy.FindJail(info.name); jp != nullptr) {
    info.in_policy = true;
    info.template_name = jp->template_name;
  } else {
    info.template_name = rec.spec.template_name;  // an API create from a template
  }
  if (const RuleGroup* g = rules.FindJail(info.name)) {
    for (const RuleEntry& e : g->entries) info.limits.push_back(RuleInfoOf(e.enforcement));
  }
  return info;
}

api::JailInfo ContainerInfoOf(const OciWatcher::Adopted& a) {
  const OciContainer& c = a.container;
  api::JailInfo info;
  info.name = c.name;  // podman's name, or the id (OciWatcher::Refresh)
  info.state = c.status;
  info.jid = -1;
  info.path = c.bundle + "/rootfs";
  info.hostname = "";
  if (c.status != "stopped") {
    info.init_pid = c.pid;
    if (absl::Time t; absl::ParseTime(absl::RFC3339_full, c.created, &t, nullptr)) {
      info.started = t;
    }
  }
  for (const platform::Enforcement& e : a.limits) info.limits.push_back(RuleInfoOf(e));
  info.oci_root = a.root;
  info.oci_bundle = c.bundle;
  return info;
}

absl::StatusOr<std::vector<api::RuleInfo>> DescribeRules(
    const RuleSnapshot& rules, std::string_view filter_text,
    const rctl::ProcessExists& process_exists) {
  JW_ASSIGN_OR_RETURN(rctl::Rule filter, rctl::ParseRuleText(filter_text, process_exists));
  std::vector<api::RuleInfo> out;
  for (const RuleEntry* e : rules.List(filter)) out.push_back(RuleInfoOf(e->enforcement));
  return out;
}

std::vector<rctl::Rule> PolicyDrift(std::string_view jail,
                                    const std::vector<rctl::Rule>& policy_rules,
                                    const RuleSnapshot& rules) {
  std::vector<rctl::Rule> out;
  std::vector<rctl::Rule> in_force;
  bool loaded = false;
  for (const rctl::Rule& p : policy_rules) {
    if (p.subject != rctl::SubjectType::kJail || p.subject_id != jail) continue;
    if (!loaded) {
      in_force = rules.JailRules(jail);
      loaded = true;
    }
    const bool held = std::any_of(in_force.begin(), in_force.end(), [&p](const rctl::Rule& r) {
      if (r == p) return true;
      return p.action == rctl::Action::kDeny && r.action == rctl::Action::kDeny &&
             r.resource == p.resource && r.per == p.per;
    });
    if (!held) out.push_back(p);
  }
  return out;
}

std::vector<metrics::JailStatus> JailStatuses(const std::vector<jail::JailRecord>& records,
                                              const policy::Policy& policy,
                                              const std::vector<rctl::Rule>& policy_rules,
                                              const RuleSnapshot& rules) {
  std::vector<metrics::JailStatus> out;
  out.reserve(records.size());
  for (const jail::JailRecord& rec : records) {
    metrics::JailStatus s;
    s.name = rec.spec.name;
    s.jid = rec.state == jail::JailState::kStopped ? -1 : rec.jid;
    s.state = std::string(jail::JailStateName(rec.state));
    if (rec.state != jail::JailState::kStopped &&
        rec.instance.started != absl::InfinitePast()) {
      s.start_time = rec.instance.started;
    }
    s.expected_running = policy.FindJail(rec.spec.name) != nullptr;
    s.policy_drift =
        static_cast<int64_t>(PolicyDrift(rec.spec.name, policy_rules, rules).size());
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<platform::MainProcessStatus> MainOf(platform::JailRuntime& runtime,
                                                  const jail::JailRecord& rec) {
  if (rec.spec.main.argv.empty() || rec.state != jail::JailState::kRunning) {
    return std::nullopt;
  }
  absl::StatusOr<platform::MainProcessStatus> st = runtime.MainStatus(rec.instance);
  if (!st.ok()) {
    LogWarning("reading the jail's main process failed",
               {{"jail", rec.spec.name}, {"error", std::string(st.status().message())}});
    return std::nullopt;
  }
  return *st;
}

std::optional<platform::IsolationStatus> IsolationOf(platform::JailRuntime& runtime,
                                                     const jail::JailRecord& rec) {
  if (rec.state != jail::JailState::kRunning) {
    return std::nullopt;
  }
  return runtime.Isolation(rec.instance);
}

}  // namespace jailwarden::service
