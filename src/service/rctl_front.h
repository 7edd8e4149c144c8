#pragma once

// rctl(2) over the daemon's rule database and the sampler's latest
// snapshot: what `jailwarden rctl` and the API's /v1/rctl routes call.
// Writes go through RuleDatabase::Mutate (so a backend refusal changes
// nothing); reads never wait. Thread-safe.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "jailwarden/engine/event_stream.h"
#include "jailwarden/policy/policy.h"

#include "jailwarden/racct/sampler.h"
#include "jailwarden/rctl/rctl_command.h"
#include "jailwarden/service/rule_database.h"

namespace jailwarden::service {

// rctl's process_exists for this host: kill(pid, 0) (EPERM counts as alive).
bool HostProcessExists(int64_t pid);

class RctlFront final : public rctl::RctlBackend {
 public:
  // `events` (may be null) hears of policy drift: a RemoveRule that takes
  // a rule of `policy()` out of force appends one line per such rule,
  // "!system=JAILWARDEN subsystem=policy type=drift jail=J rule=R".
  RctlFront(RuleDatabase& rules, const racct::Sampler& sampler,
            engine::EventStream* events = nullptr,
            std::function<std::shared_ptr<const policy::Policy>()> policy = {})
      : rules_(rules), sampler_(sampler), events_(events), policy_(std::move(policy)) {}

  // Refusals for jails the daemon only observes (OCI containers,
  // OciWatcher::RefuseChange): called with the jail of a rule to add or of
  // a removal filter and the verb; a non-OK status is returned as is.
  using ReadOnlyCheck = std::function<absl::Status(std::string_view jail, std::string_view what)>;
  void SetReadOnlyCheck(ReadOnlyCheck check) { read_only_ = std::move(check); }

  absl::Status AddRule(std::string_view text) override;
  absl::Status RemoveRule(std::string_view text) override;
  absl::StatusOr<std::string> GetRules(std::string_view text) override;
  absl::StatusOr<std::string> GetLimits(std::string_view text) override;
  absl::StatusOr<std::string> GetRacct(std::string_view text) override;

 private:
  RuleDatabase& rules_;
  const racct::Sampler& sampler_;
  engine::EventStream* events_;
  std::function<std::shared_ptr<const policy::Policy>()> policy_;
  ReadOnlyCheck read_only_;
};

}  // namespace jailwarden::service
