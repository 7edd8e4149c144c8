#include "oci/limits.h"

#include <iostream>

#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/linux_limit_enforcer.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::oci {

absl::Status ApplyLimits(const std::string& id, const ContainerRecord& record,
                         const std::vector<std::string>& rules, bool debug) {
  std::vector<rctl::Rule> parsed;
  for (const std::string& text : rules) {
    absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(StrCat("jail:", id, ":", text));
    if (!rule.ok()) {
      return absl::InvalidArgumentError(StrCat("rule ", text, ": ", std::string(rule.status().message())));
    }
    parsed.push_back(*rule);
  }
  JW_ASSIGN_OR_RETURN(std::unique_ptr<platform::LinuxLimitEnforcer> enforcer,
                      platform::LinuxLimitEnforcer::Create());
  platform::JailInstance instance;
  instance.ref.name = id;
  instance.init_pid = record.pid;
  instance.backend_state = record.backend_state;
  instance.backend_state["init.pid"] = std::to_string(record.pid);
  instance.backend_state["devpts"] = StrCat("/proc/", record.pid, "/root/dev/pts");
  JW_RETURN_IF_ERROR(enforcer->AddJail(instance));
  JW_ASSIGN_OR_RETURN(std::vector<platform::Enforcement> applied,
                      enforcer->Apply(instance.ref, parsed));
  if (debug) {
    for (const platform::Enforcement& e : applied) {
      std::cerr << "jailwarden-oci: " << rctl::FormatRule(e.rule) << ": "
                << platform::FidelityName(e.fidelity) << " (" << e.mechanism << ")"
                << (e.detail.empty() ? "" : " " + e.detail) << "\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace jailwarden::oci
