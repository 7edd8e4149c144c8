#pragma once

// FreeBsdMainSupervisor: the supervised main processes (`command:`, issue
// 17) of the FreeBSD backend's jails. A FreeBSD jail has no pid 1 of
// jailwarden's (jail(8) and jexec(8) enter a jail with jail_attach in a
// forked child), so a host process supervises: FreeBsdMainHost
// (jailwarden/platform/freebsd/main_host.h, the process
// jailwarden-supervise on FreeBSD, one per jail, outliving the daemon)
// runs this class. It starts the main process with
// FreeBsdKernel::SpawnMain (its own process group, as exec.jail_user,
// looked up in the jail), reaps it with WaitChild on its own thread and
// restarts it with the policy jailwarden-init follows on Linux
// (platform/linux/init_main_supervisor.h): `restart: on-failure` after a
// non-zero exit or a signal, `always` after any exit; a backoff doubling
// from backoff_initial up to backoff_max (back to the initial one after a
// run that lasted backoff_max); a restart that would be the
// limit_count+1-th within limit_window is not made (gave_up). While one is
// configured the jail is held (FreeBsdJailRuntime keeps jail(8)'s
// temporary persist), so a jail whose command is between restarts does not
// vanish.
//
// What a jail's root can do: kill or stop the main process (it is
// restarted per policy, counted, and the limit bounds the restarts), make
// it exit at will, setsid out of its process group (a stop still ends the
// jail's every process: jail(8)'s term_procs and jail_remove follow). It
// cannot reach the supervisor: the supervisor only waits on its own child.
//
// Thread-safety: thread-safe. Lock: mu_; kernel calls made under it do not
// block (fork, waitpid WNOHANG, kill).

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

class FreeBsdMainSupervisor {
 public:
  // `kernel` must outlive the supervisor. `poll`: how often children are
  // reaped and due restarts made.
  explicit FreeBsdMainSupervisor(FreeBsdKernel& kernel,
                                 absl::Duration poll = absl::Milliseconds(20));
  // Stops the thread. Main processes still running are left running.
  ~FreeBsdMainSupervisor();
  FreeBsdMainSupervisor(const FreeBsdMainSupervisor&) = delete;
  FreeBsdMainSupervisor& operator=(const FreeBsdMainSupervisor&) = delete;

  // Starts `request` in jail `jid` (named `jail`) as `user` ("" = root)
  // and supervises it per `spec`. The request's stdio fds are duplicated
  // (the caller keeps its own). Errors: FailedPrecondition (the jail has a
  // main process already), the spawn's errno (EINVAL no such jail, ENOENT
  // empty argv).
  absl::StatusOr<MainProcessStatus> Start(const std::string& jail, int jid,
                                          const ExecRequest& request, const MainSpec& spec,
                                          const std::string& user);
  // The record. FailedPrecondition when this supervisor started none in
  // `jid` (none configured, or started by an earlier daemon).
  absl::StatusOr<MainProcessStatus> Status(int jid) const;
  // SIGTERM to its process group and to it, SIGKILL after `timeout`; no
  // restart after. Returns once it is down (bounded: timeout + 5 s).
  absl::StatusOr<MainProcessStatus> Stop(int jid, absl::Duration timeout);
  // Whether a main process is configured in `jid` (it holds the jail).
  bool Holds(int jid) const;
  // The jail is gone: drops its record, reaping the child if it ended
  // (else later, so no zombie is left).
  void Forget(int jid);

 private:
  struct Entry {
    std::string jail;
    ExecRequest request;  // stdio fds owned (duplicates)
    MainSpec spec;
    std::string user;
    MainProcessStatus status;
    pid_t pid = 0;  // 0 = not running
    absl::Time run_started = absl::InfinitePast();
    absl::Duration backoff = absl::ZeroDuration();
    absl::Time due = absl::InfiniteFuture();      // restart due
    absl::Time kill_at = absl::InfiniteFuture();  // stop: SIGKILL then
    std::deque<absl::Time> restarts;              // within the window
  };
  void Loop();
  void PollLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts e's process; false (recorded as a failed exit) when it could not.
  bool SpawnLocked(int jid, Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records an exit (wait status `st`, or `spawn_errno` != 0 for a start
  // that failed) and plans the restart.
  void ExitedLocked(Entry& e, int st, int spawn_errno) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void CloseFds(ExecRequest& r);

  FreeBsdKernel& kernel_;
  const absl::Duration poll_;
  mutable absl::Mutex mu_;
  std::map<int, Entry> entries_ ABSL_GUARDED_BY(mu_);  // by jid
  std::vector<pid_t> reap_later_ ABSL_GUARDED_BY(mu_);  // forgotten children
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace jailwarden::platform
