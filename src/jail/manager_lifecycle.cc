// jail::Manager, part 2: the lifecycle sequences in jail(8)'s order
// (../shared/reference/freebsd-rctl.md §11.3): start with rollback, stop,
// restart, destroy, and the hooks and JIDs they need.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>

#include "absl/time/clock.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/crash_point.h"
#include "jailwarden/jail/depend.h"
#include "jailwarden/jail/manager.h"

namespace jailwarden::jail {
namespace {

using platform::ExecRequest;
using platform::ExecResult;
using platform::ExecWhere;
using platform::JailSpec;

constexpr int64_t kJailMax = 999999;  // JAIL_MAX, sys/sys/jail.h

// Step names recorded in JailRecord::done.
constexpr char kStepPrepareHooks[] = "exec.prepare";
constexpr char kStepPrepare[] = "prepare";
constexpr char kStepCreate[] = "create";

std::string DescribeFailure(const ExecResult& r, absl::Duration timeout) {
  if (r.timed_out) {
    return StrCat("timed out after ", absl::FormatDuration(timeout));
  }
  if (r.term_signal != 0) {
    return StrCat("killed by signal ", r.term_signal);
  }
  return StrCat("exit status ", r.exit_code);
}

bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

int64_t Manager::AllocateJid(bool record) {
  // As the kernel does: the next number after the last one handed out,
  // skipping those in use, wrapping at JAIL_MAX.
  int64_t jid = last_jid_;
  for (int64_t tries = 0; tries < kJailMax; ++tries) {
    jid = jid >= kJailMax ? 1 : jid + 1;
    bool used = false;
    for (const auto& [name, rec] : jails_) {
      if (rec.jid == jid) {
        used = true;
        break;
      }
    }
    if (!used) {
      break;
    }
  }
  last_jid_ = jid;
  if (!record) {
    return jid;
  }
  absl::Status st = store_->SaveLastJid(jid);
  if (!st.ok()) {
    LogWarning("could not record the last jid", {{"error", std::string(st.message())}});
  }
  return jid;
}

absl::Status Manager::RunHooks(JailRecord& rec, std::string_view phase,
                               const platform::CommandList& commands, ExecWhere where,
                               bool rollback) {
  const JailSpec& spec = rec.spec;
  for (const std::string& cmd : commands) {
    ExecRequest req;
    req.argv = {"/bin/sh", "-c", cmd};
    req.timeout = spec.exec.timeout;
    const std::array<int, 2> pipes = LogPipes(rec, phase);  // issue 17
    req.stdout_fd = pipes[0] >= 0 ? pipes[0] : options_.hook_stdout_fd;
    req.stderr_fd = pipes[1] >= 0 ? pipes[1] : options_.hook_stderr_fd;
    FillCommandEnv(rec, where, &req);
    absl::StatusOr<ExecResult> r = runtime_->Exec(rec.instance, where, req);
    for (int fd : pipes) {
      if (fd >= 0) close(fd);
    }
    bool ok = r.ok() && r->ok();
    Notify({spec.name, std::string(phase), cmd, rollback, ok});
    if (!r.ok()) {
      return absl::AbortedError(StrCat("jail ", spec.name, ": ", phase, " \"", cmd,
                                       "\": ", std::string(r.status().message())));
    }
    if (!r->ok()) {
      return absl::AbortedError(StrCat("jail ", spec.name, ": ", phase, " \"", cmd,
                                       "\" failed: ", DescribeFailure(*r, spec.exec.timeout)));
    }
  }
  return absl::OkStatus();
}

absl::Status Manager::Start(std::string_view name) {
  absl::MutexLock lock(&mu_);
  JW_RETURN_IF_ERROR(ReconcileLocked());
  return StartLocked(name, /*hold_persist=*/false);
}

absl::Status Manager::StartLocked(std::string_view name, bool hold_persist) {
  JW_ASSIGN_OR_RETURN(std::vector<std::string> order, DependStartOrder(GraphLocked(), name));
  for (const std::string& n : order) {
    JailRecord& rec = jails_.at(n);
    if (rec.state == JailState::kRunning) {
      continue;
    }
    JW_RETURN_IF_ERROR(StartOneLocked(rec, hold_persist && n == name));
  }
  return absl::OkStatus();
}

absl::Status Manager::StartOneLocked(JailRecord& rec, bool hold_persist) {
  if (auto it = pending_specs_.find(rec.spec.name); it != pending_specs_.end()) {
    rec.spec = it->second;
    pending_specs_.erase(it);
  }
  const JailSpec& spec = rec.spec;
  rec.state = JailState::kStarting;
  rec.done.clear();
  rec.instance = {};
  rec.instance.ref.name = spec.name;
  rec.jid = -1;
  if (!rec.ephemeral) {  // Run saved an ephemeral jail as starting already
    JW_RETURN_IF_ERROR(Save(rec));
  }

  auto step = [&](const char* name, absl::Status st) -> absl::Status {
    Notify({spec.name, name, "", false, st.ok()});
    if (st.ok()) {
      rec.done.push_back(name);
      // Record what the backend did before going on, so a crash from here
      // on can be cleaned up by the next manager. An ephemeral (Run) jail
      // saves only what needs undoing: after Prepare and after Create.
      if (rec.ephemeral && std::string_view(name) != kStepPrepare) return absl::OkStatus();
      // The window a kill can hit: the backend did the step, the record
      // does not say so yet (its teardown must find what it made anyway).
      CrashPoint(StrCat("jail.", name, ".unsaved"));
      JW_RETURN_IF_ERROR(Save(rec));
      CrashPoint(StrCat("jail.", name));
      return absl::OkStatus();
    }
    return st;
  };

  // The JID is handed out before exec.prepare so every hook sees the one
  // the jail will have (jail(8) hooks before creation see a jid only when
  // it is configured; ours always is).
  rec.jid = AllocateJid(/*record=*/!rec.ephemeral);
  rec.instance.ref.jid = rec.jid;
  absl::Status st = [&]() -> absl::Status {
    rec.done.push_back(kStepPrepareHooks);
    JW_RETURN_IF_ERROR(RunHooks(rec, "exec.prepare", spec.exec.prepare, ExecWhere::kHost, false));
    JW_RETURN_IF_ERROR(step(kStepPrepare, runtime_->Prepare(spec, rec.instance)));
    JW_RETURN_IF_ERROR(
        RunHooks(rec, "exec.prestart", spec.exec.prestart, ExecWhere::kHost, false));
    // Recorded before the kernel jail exists: if Create half-succeeds the
    // backend state written so far is what cleanup needs.
    rec.done.push_back(kStepCreate);
    absl::Status created = runtime_->Create(spec, rec.instance);
    if (created.ok() && rec.instance.ref.jid > 0) {
      rec.jid = rec.instance.ref.jid;  // the kernel's, should it differ (FreeBSD)
    }
    if (created.ok() && options_.on_kernel_jail_created) {
      // Part of the create step: a refusal is undone like a failed Create
      // that made the kernel jail (kStepCreate is recorded above).
      platform::JailInstance made = rec.instance;
      if (made.ref.name.empty()) {
        made.ref.name = spec.name;
      }
      created = options_.on_kernel_jail_created(made);
    }
    Notify({spec.name, kStepCreate, "", false, created.ok()});
    JW_RETURN_IF_ERROR(Save(rec));
    JW_RETURN_IF_ERROR(created);
    if (!rec.ephemeral) CrashPoint("jail.create");
    JW_RETURN_IF_ERROR(RunHooks(rec, "exec.created", spec.exec.created, ExecWhere::kHost, false));
    JW_RETURN_IF_ERROR(step("attach-network", runtime_->AttachNetwork(spec, rec.instance)));
    JW_RETURN_IF_ERROR(RunHooks(rec, "exec.start", spec.exec.start, ExecWhere::kJail, false));
    JW_RETURN_IF_ERROR(
        RunHooks(rec, "exec.poststart", spec.exec.poststart, ExecWhere::kHost, false));
    if (!spec.main.argv.empty()) {  // command: (issue 17)
      JW_RETURN_IF_ERROR(step("main.start", StartMainLocked(rec)));
    }
    if (!hold_persist) {
      JW_RETURN_IF_ERROR(step("clear-persist", runtime_->ClearPersist(rec.instance)));
    }
    return absl::OkStatus();
  }();

  if (st.ok()) {
    rec.state = JailState::kRunning;
    rec.done.clear();
    // An ephemeral jail stays "starting" on disk: if the manager dies while
    // it runs, the next one cleans it up and forgets it, as it should.
    if (!rec.ephemeral) {
      JW_RETURN_IF_ERROR(Save(rec));
      CrashPoint("jail.running");
    }
    LogInfo("jail started", {{"jail", spec.name}, {"jid", StrCat(rec.jid)}});
    return absl::OkStatus();
  }

  // Undo in stop order whatever has a counterpart that ran.
  LogWarning("jail start failed, rolling back",
             {{"jail", spec.name}, {"error", std::string(st.message())}});
  if (Has(rec.done, kStepCreate)) {
    absl::Status r = RemoveKernelJail(rec);
    Notify({spec.name, "remove", "", true, r.ok()});
    (void)RunHooks(rec, "exec.poststop", spec.exec.poststop, ExecWhere::kHost, true);
  }
  if (Has(rec.done, kStepPrepare) || Has(rec.done, kStepCreate)) {
    absl::Status t = runtime_->Teardown(spec, rec.instance);
    Notify({spec.name, "teardown", "", true, t.ok()});
  } else {
    // Prepare may have failed half-way; Teardown tolerates missing parts.
    (void)runtime_->Teardown(spec, rec.instance);
  }
  if (Has(rec.done, kStepPrepareHooks) && !spec.exec.prepare.empty()) {
    (void)RunHooks(rec, "exec.release", spec.exec.release, ExecWhere::kHost, true);
  }
  if (options_.log_sink != nullptr) options_.log_sink->Finish(spec.name);  // issue 17
  rec.state = JailState::kStopped;
  rec.jid = -1;
  rec.done.clear();
  rec.instance = {};
  absl::Status saved = Save(rec);
  if (!saved.ok()) {
    LogError("could not record a rolled-back jail", {{"jail", spec.name}});
  }
  return st;
}

absl::Status Manager::Stop(std::string_view name) {
  absl::MutexLock lock(&mu_);
  JW_RETURN_IF_ERROR(ReconcileLocked());
  return StopLocked(name);
}

absl::Status Manager::StopLocked(std::string_view name) {
  auto it = jails_.find(name);
  if (it == jails_.end()) {
    return absl::NotFoundError(StrCat("jail ", name, " is not defined"));
  }
  for (const std::string& dependent : DependentsStopOrder(GraphLocked(), name)) {
    JailRecord& dep = jails_.at(dependent);
    if (dep.state != JailState::kStopped) {
      JW_RETURN_IF_ERROR(StopOneLocked(dep));
    }
  }
  return StopOneLocked(it->second);
}

absl::Status Manager::StopOneLocked(JailRecord& rec) {
  if (rec.state == JailState::kStopped) {
    return absl::OkStatus();
  }
  const JailSpec spec = rec.spec;
  absl::StatusOr<bool> alive = runtime_->Adopt(rec.instance);
  if (alive.ok() && *alive && !spec.main.argv.empty()) {
    StopMainLocked(rec);  // command: first (issue 17)
  }
  if (alive.ok() && *alive) {
    // jail(8): a failing exec.prestop or exec.stop means the jail is not
    // removed.
    JW_RETURN_IF_ERROR(
        RunHooks(rec, "exec.prestop", spec.exec.prestop, ExecWhere::kHost, false));
    JW_RETURN_IF_ERROR(RunHooks(rec, "exec.stop", spec.exec.stop, ExecWhere::kJail, false));
  }
  rec.state = JailState::kStopping;
  if (!rec.ephemeral) {
    JW_RETURN_IF_ERROR(Save(rec));
    CrashPoint("jail.stopping");
  }
  absl::Status first;
  auto keep = [&first](const absl::Status& s) {
    if (first.ok() && !s.ok()) {
      first = s;
    }
  };
  if (alive.ok() && *alive && spec.stop_timeout > absl::ZeroDuration()) {
    // stop.timeout: SIGTERM, then wait for the processes to go.
    absl::Status sig = runtime_->SignalAll(rec.instance, SIGTERM);
    Notify({spec.name, "sigterm", "", false, sig.ok()});
    absl::Time deadline = absl::Now() + spec.stop_timeout;
    absl::Duration pause = absl::Microseconds(500);
    for (;;) {
      absl::StatusOr<int> n = runtime_->CountProcesses(rec.instance);
      if (!n.ok() || *n == 0 || absl::Now() >= deadline) {
        break;
      }
      absl::SleepFor(pause);
      pause = std::min(pause * 2, absl::Milliseconds(50));
    }
  }
  absl::Status removed = RemoveKernelJail(rec);
  Notify({spec.name, "remove", "", false, removed.ok()});
  keep(removed);
  if (!rec.ephemeral) CrashPoint("jail.remove");
  keep(RunHooks(rec, "exec.poststop", spec.exec.poststop, ExecWhere::kHost, false));
  absl::Status td = runtime_->Teardown(spec, rec.instance);
  Notify({spec.name, "teardown", "", false, td.ok()});
  keep(td);
  if (!rec.ephemeral) CrashPoint("jail.teardown");
  keep(RunHooks(rec, "exec.release", spec.exec.release, ExecWhere::kHost, false));
  rec.state = JailState::kStopped;
  rec.jid = -1;
  rec.done.clear();
  rec.instance = {};
  if (!rec.ephemeral) {
    keep(Save(rec));
  }
  if (options_.log_sink != nullptr) options_.log_sink->Finish(spec.name);  // issue 17
  LogInfo("jail stopped", {{"jail", spec.name}});
  return first;
}

absl::Status Manager::Restart(std::string_view name) {
  absl::MutexLock lock(&mu_);
  JW_RETURN_IF_ERROR(ReconcileLocked());
  JW_RETURN_IF_ERROR(StopLocked(name));
  return StartLocked(name, /*hold_persist=*/false);
}

absl::Status Manager::Destroy(std::string_view name) {
  absl::MutexLock lock(&mu_);
  JW_RETURN_IF_ERROR(ReconcileLocked());
  return DestroyLocked(name);
}

absl::Status Manager::DestroyLocked(std::string_view name) {
  auto it = jails_.find(name);
  if (it == jails_.end()) {
    return absl::NotFoundError(StrCat("jail ", name, " is not defined"));
  }
  for (const auto& [n, rec] : jails_) {
    if (n != name && Has(rec.spec.depend, name)) {
      return absl::FailedPreconditionError(
          StrCat("jail ", name, " cannot be destroyed: jail ", n, " depends on it"));
    }
  }
  JW_RETURN_IF_ERROR(StopOneLocked(it->second));
  JW_RETURN_IF_ERROR(runtime_->Discard(it->second.spec));
  if (!it->second.ephemeral) CrashPoint("jail.destroy");
  JW_RETURN_IF_ERROR(store_->Remove(name, it->second.ephemeral));
  pending_specs_.erase(std::string(name));
  jails_.erase(it);
  return absl::OkStatus();
}

absl::Status Manager::StopAll() {
  absl::MutexLock lock(&mu_);
  JW_RETURN_IF_ERROR(ReconcileLocked());
  absl::Status first;
  for (const std::string& n : StopAllOrder(GraphLocked())) {
    absl::Status st = StopOneLocked(jails_.at(n));
    if (first.ok() && !st.ok()) {
      first = st;
    }
  }
  return first;
}

absl::Status Manager::RemoveKernelJail(JailRecord& rec) {
  absl::Status removed = runtime_->Remove(rec.instance);
  if (options_.on_kernel_jail_removed) {
    options_.on_kernel_jail_removed(rec.spec.name);
  }
  return removed;
}

}  // namespace jailwarden::jail
