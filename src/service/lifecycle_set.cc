// Lifecycle::SetApiJailKeysLocked: `jailwarden set` (PATCH /v1/jails/NAME)
// of a jail created through the API, whose spec is runtime state
// (jails/NAME/config.json) rather than policy text.

#include <set>
#include <string>
#include <vector>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/service/lifecycle.h"

namespace jailwarden::service {

absl::StatusOr<api::ApplyResult> Lifecycle::SetApiJailKeysLocked(
    std::string_view name, const std::vector<policy::JailKeyValue>& keys, bool dry_run) {
  JW_ASSIGN_OR_RETURN(const jail::JailRecord rec, manager_.Get(name));
  JW_ASSIGN_OR_RETURN(platform::JailSpec next, policy::SetJailSpecKeys(rec.spec, keys));
  api::ApplyResult result;
  if (next == rec.spec) return result;  // nothing to change
  result.changed = true;
  const bool running = rec.state != jail::JailState::kStopped;
  result.diff = running ? StrCat("restart jail ", name, "\n")
                        : StrCat("change jail ", name, " (stopped: used at its next start)\n");
  if (dry_run) return result;
  const JailStates before = JailStatesLocked();
  // A running jail: the intent is a restart, recorded before config.json
  // changes, so a kill at any point leaves the old or the new definition
  // (one atomic write) and the replay restarts the jail with it. A stopped
  // jail: the write is the one step.
  uint64_t op = 0;
  if (running) {
    JW_ASSIGN_OR_RETURN(op, BeginOpLocked("restart", {{"jail", {std::string(name)}}}));
  }
  if (absl::Status s = manager_.Update(next); !s.ok()) {
    EndOpLocked(op);
    return s;
  }
  LogInfo("jail keys set", {{"jail", std::string(name)}, {"by", "api"}});
  absl::Status s = absl::OkStatus();
  if (running) {
    s = manager_.Stop(name);
    if (s.ok()) {
      StepOpLocked(op, "stopped");
      s = manager_.Start(name);
    }
    if (!s.ok()) {
      // Nothing half-done: the jail runs again as it was.
      LogWarning("jail keys set rolled back",
                 {{"jail", std::string(name)}, {"error", std::string(s.message())}});
      absl::Status back = manager_.Update(rec.spec);
      if (back.ok()) back = manager_.Start(name);
      if (!back.ok()) {
        s = absl::Status(s.code(), ToAbsl(StrCat(ToStd(s.message()),
                                                 "; and the old definition did not start "
                                                 "again: ",
                                                 ToStd(back.message()))));
      }
    }
  }
  EndOpLocked(op);
  SyncLocked();
  PublishChangesLocked(before, running ? std::set<std::string>{std::string(name)}
                                       : std::set<std::string>{},
                       "set");
  JW_RETURN_IF_ERROR(s);
  return result;
}

}  // namespace jailwarden::service
