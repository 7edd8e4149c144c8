// service::Lifecycle, start-up recovery: the journal's open operations
// completed or rolled back, and the jails removed from the policy while no
// daemon ran. Runs under the control lock, before anything is served. What
// each kind's replay does is documented in docs/architecture.md ("State").

#include <algorithm>
#include <cerrno>
#include <set>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/crash_point.h"
#include "jailwarden/jail/depend.h"
#include "jailwarden/service/lifecycle.h"

namespace jailwarden::service {
namespace {

// A record holds one jail name a line; it is small.
constexpr std::size_t kMaxPolicyJailsBytes = 16u << 20;

bool Defined(jail::Manager& m, const std::string& name) { return m.Get(name).ok(); }

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) StrAppend(&out, out.empty() ? "" : ",", s);
  return out;
}

}  // namespace

absl::Status Lifecycle::ReplayJournalLocked() {
  for (const jail::JournalOp& op : journal_->pending()) {
    LogInfo("replaying an operation a killed daemon left open",
            {{"op", StrCat(op.id)}, {"kind", op.kind}, {"jail", op.Arg("jail")},
             {"steps", Joined(op.steps)}});
    if (absl::Status s = ReplayOneLocked(op); !s.ok()) {
      if (s.code() == absl::StatusCode::kDataLoss) return s;
      // The operation failed, as it could have without the kill; what the
      // manager did is whole either way (it rolls back its own steps).
      LogError("replayed operation failed",
               {{"op", StrCat(op.id)}, {"kind", op.kind}, {"error", std::string(s.message())}});
    }
    JW_RETURN_IF_ERROR(journal_->End(op.id));
  }
  jail::CrashPoint("startup.replayed");
  return absl::OkStatus();
}

absl::Status Lifecycle::ReplayOneLocked(const jail::JournalOp& op) {
  const std::string name = op.Arg("jail");
  if (op.kind == "create") {
    // Rolled back unless it finished: the caller never heard it succeed.
    const bool finished =
        op.Arg("start") == "1" ? op.Done("started") : op.Done("limits");
    if (finished) {
      LogInfo("interrupted create had finished; kept", {{"jail", name}});
      return absl::OkStatus();
    }
    if (policy_.FindJail(name) != nullptr) return absl::OkStatus();  // the policy's now
    LogInfo("interrupted create rolled back", {{"jail", name}});
    return RemoveJailLocked(name);
  }
  if (op.kind == "destroy") {
    LogInfo("interrupted destroy completed", {{"jail", name}});
    return RemoveJailLocked(name);
  }
  if (op.kind == "stop") {
    if (!Defined(manager_, name)) return absl::OkStatus();
    LogInfo("interrupted stop completed", {{"jail", name}});
    return manager_.Stop(name);
  }
  if (op.kind == "start" || op.kind == "restart") {
    // The jail was asked to run; Manager::Open cleaned a half-made start.
    if (!Defined(manager_, name)) return absl::OkStatus();
    if (op.kind == "restart" && !op.Done("stopped")) {
      LogInfo("interrupted restart completed", {{"jail", name}});
      JW_RETURN_IF_ERROR(manager_.Stop(name));
    } else {
      LogInfo("interrupted start completed", {{"jail", name}});
    }
    return manager_.Start(name);
  }
  if (op.kind == "apply" || op.kind == "startup-remove") {
    // The removals it decided are completed, unless the policy this daemon
    // starts with defines the jail again. Its other changes are those of
    // the policy the daemon starts with, which start-up makes true.
    for (const std::string& gone : op.List("remove")) {
      if (policy_.FindJail(gone) != nullptr) continue;
      LogInfo("interrupted removal completed", {{"jail", gone}, {"by", op.kind}});
      JW_RETURN_IF_ERROR(RemoveJailLocked(gone));
    }
    return absl::OkStatus();
  }
  return absl::DataLossError(ToAbsl(
      StrCat(journal_->PathOf(op.id), ": operation of unknown kind \"", op.kind,
             "\"; refusing to guess how to finish it")));
}

absl::Status Lifecycle::StopRemovedJailsLocked() {
  const std::string path = StrCat(policy_.server.state_dir, "/", kPolicyJailsFile);
  absl::StatusOr<std::string> text = ReadFile(path, kMaxPolicyJailsBytes);
  if (!text.ok()) {
    if (StatusErrno(text.status()) == ENOENT) return absl::OkStatus();  // first start
    return text.status();
  }
  std::set<std::string> removed;
  std::size_t start = 0;
  while (start < text->size()) {
    std::size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    const std::string n(StripWhitespace(std::string_view(*text).substr(start, end - start)));
    start = end + 1;
    if (n.empty()) continue;
    if (n.find_first_of("./") != std::string::npos) {
      return absl::DataLossError(ToAbsl(StrCat(path, ": \"", n, "\" is not a jail name")));
    }
    if (policy_.FindJail(n) == nullptr && Defined(manager_, n)) removed.insert(n);
  }
  if (removed.empty()) return absl::OkStatus();
  if (!policy_.server.stop_removed_jails) {
    for (const std::string& n : removed) {
      LogInfo("jail no longer in the policy kept (server.stop_removed_jails: false)",
              {{"jail", n}});
    }
    return absl::OkStatus();
  }
  // Dependents before their dependencies, as jail(8) stops them.
  jail::DependGraph graph;
  for (const jail::JailRecord& rec : manager_.List()) graph[rec.spec.name] = rec.spec.depend;
  std::vector<std::string> order;
  for (const std::string& n : jail::StopAllOrder(graph)) {
    if (removed.count(n) != 0) order.push_back(n);
  }
  JW_ASSIGN_OR_RETURN(const uint64_t op, BeginOpLocked("startup-remove", {{"remove", order}}));
  for (const std::string& n : order) {
    LogInfo("jail removed from the policy while jailwarden was down; stopping it",
            {{"jail", n}});
    if (absl::Status s = RemoveJailLocked(n); !s.ok()) {
      LogError("jail removal failed", {{"jail", n}, {"error", std::string(s.message())}});
      continue;
    }
    StepOpLocked(op, StrCat("removed:", n));
  }
  EndOpLocked(op);
  return absl::OkStatus();
}

}  // namespace jailwarden::service
