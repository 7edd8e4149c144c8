#pragma once

// jail::Manager: the jail lifecycle (create, start, stop, restart, destroy,
// exec, one-shot run) in jail(8)'s order (../shared/reference/freebsd-rctl.md
// §11.3), driving a platform::JailRuntime, with `depend`, `persist`, JIDs,
// hooks, rollback, the persistent state store and adoption after a restart.
//
// State lives under ManagerOptions::state_dir:
//   jails/<name>/config.json   the JailSpec (what to run)
//   jails/<name>/state.json    runtime state: JailState, jid, JailInstance
//   transient/<name>.json      both, for an ephemeral (Run) jail (or in
//                              ManagerOptions::transient_dir)
//   manager.json               the last JID handed out
// Every file is written atomically (temp file, fsync, rename, fsync dir);
// transient records skip the fsyncs (see StateStore).
//
// Thread-safety: every method is thread-safe. Lifecycle operations are
// serialized by one internal mutex; Exec and Run hold it only while they
// look the jail up, so a long command does not block List or other jails.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jailwarden/jail/depend.h"
#include "jailwarden/jail/log_sink.h"
#include "jailwarden/jail/state_store.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::jail {

// One step of a lifecycle operation, reported to ManagerOptions::observer
// (logging, tests that check hook order).
struct LifecycleEvent {
  std::string jail;
  // "exec.prepare" ... "exec.release" for hook commands; for backend steps
  // "prepare", "create", "attach-network", "clear-persist", "sigterm",
  // "remove", "teardown".
  std::string step;
  std::string command;  // the hook command ("" for backend steps)
  bool rollback = false;  // run while undoing a failed operation
  bool ok = true;         // the step (command) succeeded
};

struct ManagerOptions {
  // Root of the state store (created if missing). Required, absolute.
  std::string state_dir;
  // fsync files and directories when writing state (off only in benchmarks
  // that measure the rest).
  bool fsync = true;
  // Where ephemeral (Run) jails keep their records; "" = <state_dir>/transient.
  // Meant for the runtime directory (/run/jailwarden, tmpfs on systemd
  // hosts): those records never outlive the machine's uptime anyway.
  std::string transient_dir;
  // Called synchronously, under the manager's lock, for every step. Must
  // not call back into the Manager.
  std::function<void(const LifecycleEvent&)> observer;
  // Where hook commands' stdout/stderr go; -1 = /dev/null. Not owned.
  int hook_stdout_fd = -1;
  int hook_stderr_fd = -1;
  // Issue 17: when set, every hook's and the main process's stdout/stderr
  // go to the jail's log writer instead (hook_*_fd when it cannot be
  // reached, logged). Not owned; outlives the manager.
  const JailLogSink* log_sink = nullptr;

  // Hooks for whoever must follow kernel jails as they come and go (the
  // service layer registers them with the usage reader and the enforcer).
  // Both optional (empty = not called). Both are called on the caller's
  // thread with the manager's lock held, and must not call back into the
  // Manager.
  //
  // Called right after JailRuntime::Create succeeded, before exec.created,
  // AttachNetwork and exec.start, with the instance Create filled in
  // (ref.name set to the jail's name if the runtime left it empty). An
  // error fails the start at that step: it is rolled back as if Create had
  // failed after making the kernel jail (Remove, exec.poststop, Teardown,
  // exec.release; the jail stays stopped, exec.start never runs), and
  // Start, Restart or Run returns that error.
  std::function<absl::Status(const platform::JailInstance&)> on_kernel_jail_created;
  // Called right after every JailRuntime::Remove of a jail's kernel jail
  // (stop, rollback of a failed start, a jail that ended by itself, cleanup
  // in Open), whether or not Remove succeeded, with the jail's name.
  std::function<void(const std::string& name)> on_kernel_jail_removed;
};

// What Open found in the state store.
struct OpenReport {
  std::vector<std::string> adopted;   // running jails taken over
  std::vector<std::string> cleaned;   // half-made or dead jails torn down
  std::vector<std::string> removed;   // ephemeral (Run) jails forgotten
};

class Manager {
 public:
  // Opens (creating if needed) the state store, loads every jail, adopts the
  // ones still running (runtime->Adopt), and tears down the ones that were
  // half-made (interrupted while starting or stopping) or died while no
  // manager was watching (no hooks run for those). Errors: InvalidArgument
  // (state_dir not absolute), any I/O error of the state store. A jail
  // whose files do not parse is skipped and logged, not fatal.
  static absl::StatusOr<std::unique_ptr<Manager>> Open(
      ManagerOptions options, std::unique_ptr<platform::JailRuntime> runtime);

  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  const OpenReport& open_report() const { return open_report_; }

  // Defines a jail (stores config.json, state kStopped). Does not start it.
  // Errors: InvalidArgument (bad name: empty, has '.' or '/', too long; path
  // not absolute; hostname too long), AlreadyExists (name defined).
  // Issue 17: the supervised main process of running jail `name`
  // (JailRuntime::MainStatus). NotFound, FailedPrecondition (not running or
  // no command).
  absl::StatusOr<platform::MainProcessStatus> MainStatus(std::string_view name);

  absl::Status Create(const platform::JailSpec& spec);

  // Replaces a defined jail's config; a running jail uses it from its next
  // start. NotFound if not defined.
  absl::Status Update(const platform::JailSpec& spec);

  // Starts a defined jail: first every jail it depends on (transitively,
  // dependencies before dependents), each through its last exec.poststart.
  // Order: exec.prepare, Prepare (root, mounts, copies), exec.prestart,
  // Create (JID assigned), exec.created, AttachNetwork, exec.start (in the
  // jail), exec.poststart; then the temporary persist is cleared unless
  // spec.persist. Every command must exit 0 within exec.timeout; otherwise
  // what was done is undone in reverse (Remove, exec.poststop, Teardown,
  // exec.release as far as their counterparts ran) and the first error is
  // returned. Errors: NotFound, FailedPrecondition (dependency cycle or a
  // missing dependency, with the path in the message; already running is
  // NOT an error: returns OK), Aborted (a hook failed: message names the
  // phase, command and exit status), backend errors.
  absl::Status Start(std::string_view name);

  // Stops a running jail: first every running jail that depends on it
  // (dependents before dependencies), then: exec.prestop, exec.stop (in
  // the jail), SIGTERM to every process and wait up to stop.timeout, Remove
  // (kills what is left), exec.poststop, Teardown, exec.release. As in
  // jail(8), a failing exec.prestop or exec.stop aborts the stop (Aborted;
  // the jail keeps running); once Remove has run, a failing exec.poststop
  // or exec.release is returned but the teardown is completed. Stopping a
  // stopped jail is OK. NotFound if not defined.
  absl::Status Stop(std::string_view name);

  // Stop then Start.
  absl::Status Restart(std::string_view name);

  // Stops the jail if it runs and forgets it (removes jails/<name>/).
  // FailedPrecondition if another defined jail depends on it.
  absl::Status Destroy(std::string_view name);

  // Runs a command in a running jail and waits for it (like jexec).
  // NotFound / FailedPrecondition (not running).
  absl::StatusOr<platform::ExecResult> Exec(std::string_view name,
                                            const platform::ExecRequest& request);

  // One-shot run (libioc fork_exec, lightjail ljspawn): creates an
  // ephemeral jail from `spec` (spec.name "" = generated "run-<pid>-<n>"),
  // starts it (persist held), runs `request` in it, stops and destroys it.
  // Returns the command's result (exit status passed through); an error
  // only when the jail could not be made or torn down.
  absl::StatusOr<platform::ExecResult> Run(const platform::JailSpec& spec,
                                           const platform::ExecRequest& request);

  // Stops every running jail, dependents first. Errors: the first one.
  absl::Status StopAll();

  // Notices jails that ended by themselves (no persist, last process gone)
  // and cleans them up (Remove, Teardown; no hooks), marking them stopped.
  // List and Get call it first. Cheap: one pidfd poll per running jail.
  absl::Status Reconcile();

  // Every defined jail, sorted by name.
  std::vector<JailRecord> List();

  // Changes when what List() returns may have changed: a count of record
  // saves, definitions and removals, and the number of jails. Equal
  // versions mean List() would return the same records, so a periodic
  // caller (service::Lifecycle::Maintain) can skip copying them. Does not
  // reconcile (call Reconcile first). Thread-safe.
  struct ListVersion {
    uint64_t changes = 0;
    std::size_t jails = 0;
    bool operator==(const ListVersion&) const = default;
  };
  ListVersion Version();

  // One jail. NotFound if not defined.
  absl::StatusOr<JailRecord> Get(std::string_view name);

  // The start order for `name` (its dependencies first, `name` last).
  // FailedPrecondition on a cycle ("dependency cycle: a -> b -> a") or a
  // missing dependency.
  absl::StatusOr<std::vector<std::string>> StartOrder(std::string_view name);

 private:
  Manager(ManagerOptions options, std::unique_ptr<platform::JailRuntime> runtime,
          std::unique_ptr<StateStore> store);
  ManagerOptions options_;
  std::unique_ptr<platform::JailRuntime> runtime_;
  std::unique_ptr<StateStore> store_;
  OpenReport open_report_;
  absl::Mutex mu_;
  std::map<std::string, JailRecord, std::less<>> jails_ ABSL_GUARDED_BY(mu_);
  // Bumped by every Save and every change of jails_ made here (removals
  // elsewhere show in jails_.size(); see Version()).
  std::atomic<uint64_t> changes_{0};
  int64_t last_jid_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t run_counter_ ABSL_GUARDED_BY(mu_) = 0;
  // Specs updated while their jail runs, applied at its next start.
  std::map<std::string, platform::JailSpec, std::less<>> pending_specs_
      ABSL_GUARDED_BY(mu_);

  // The `depend` graph of every defined jail.
  DependGraph GraphLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status StartLocked(std::string_view name, bool hold_persist)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StartOneLocked(JailRecord& rec, bool hold_persist)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StopLocked(std::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StopOneLocked(JailRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DestroyLocked(std::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReconcileLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // runtime_->Remove(rec.instance), then ManagerOptions::on_kernel_jail_removed.
  absl::Status RemoveKernelJail(JailRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RunHooks(JailRecord& rec, std::string_view phase,
                        const platform::CommandList& commands,
                        platform::ExecWhere where, bool rollback)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The environment of a command run for `rec` (exec.clean semantics).
  static void FillCommandEnv(const JailRecord& rec, platform::ExecWhere where,
                             platform::ExecRequest* req);
  // Issue 17 (manager_main.cc): the supervised main process. Start: after
  // exec.poststart, a failure fails the start. Stop: first when the jail
  // stops (SIGTERM, stop.timeout, SIGKILL), before exec.prestop.
  absl::Status StartMainLocked(JailRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The log writer's pipes for `source` ({-1, -1}: hook_*_fd), after
  // starting the writer if it does not answer.
  std::array<int, 2> LogPipes(const JailRecord& rec, std::string_view source);
  void StopMainLocked(JailRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const LifecycleEvent& event);
  absl::Status Save(const JailRecord& rec);
  // `record` false: the hint in manager.json is not rewritten (ephemeral
  // jails: reusing their JIDs after a restart is harmless).
  int64_t AllocateJid(bool record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AdoptAll();
};

}  // namespace jailwarden::jail
