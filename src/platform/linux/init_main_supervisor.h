#pragma once

// jailwarden-init: the jail's supervised main process (`command:`, issue
// 17). Lives in init's single-threaded event loop (init_main.cc); not
// thread-safe. Init is pid 1 of the jail's pid namespace, so the main
// process is its child and every exit reaches its waitpid.
//
// Policy: restart per InitMainSpec::restart (on-failure: a non-zero exit or
// a signal) after a backoff that starts at backoff_initial_ms and doubles
// up to backoff_max_ms (back to the initial one after a run that lasted at
// least backoff_max_ms); a restart that would be the limit_count+1-th
// within limit_window_ms is not made: the main process stays down
// (gave_up). While configured, the supervisor holds the jail (init does not
// end when the jail is otherwise empty): a jail with a command lives until
// it is stopped, so its record can be read.

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "platform/linux/init_config.h"

namespace jailwarden::platform::jail_init {

class MainSupervisor {
 public:
  // `oom_fd`: the cgroup's OOM counter file (InitConfig::oom_events_path),
  // or -1. Not owned.
  explicit MainSupervisor(int oom_fd) : oom_fd_(oom_fd) {}
  ~MainSupervisor();
  MainSupervisor(const MainSupervisor&) = delete;
  MainSupervisor& operator=(const MainSupervisor&) = delete;

  // main.start: remembers the request (argv, env, rlimits, policy) and the
  // three stdio fds (takes ownership; -1 = /dev/null) and starts it now.
  // False (fds closed) when a main process is already configured.
  bool Configure(const InitRequest& request, const int fds[3]);

  // From the reap loop: true when `pid` was the main process (recorded).
  bool Reaped(pid_t pid, int wait_status);

  // Starts a due restart; SIGKILLs after a stop's grace. Call every loop.
  void Tick();

  // Milliseconds until Tick has work (-1: none).
  int TimeoutMs() const;

  // main.stop: SIGTERM to the main process group now, SIGKILL after
  // `timeout_ms`; no restart after. `conn` (owned) gets the status once the
  // process is down (at once when it is not running).
  void Stop(int64_t timeout_ms, int conn);

  // Answers `conn` (not closed) with the status JSON.
  void SendStatus(int conn) const;

  // Whether the supervisor holds the jail (configured).
  bool Holds() const { return status_.configured; }

  const InitMainStatus& status() const { return status_; }

 private:
  void Start();
  int64_t ReadOomKills() const;
  void ReplyStopWaiters();

  int oom_fd_;
  InitRequest request_;
  int fds_[3] = {-1, -1, -1};
  InitMainStatus status_;
  pid_t pid_ = 0;                     // main process (jail pid), 0 = none
  int64_t started_ms_ = 0;            // monotonic, of the current run
  int64_t backoff_ms_ = 0;            // the next restart's delay
  int64_t due_mono_ms_ = 0;           // restart due (monotonic), 0 = none
  int64_t kill_at_mono_ms_ = 0;       // stop: SIGKILL then, 0 = none
  int64_t oom_kills_at_start_ = 0;
  std::deque<int64_t> restarts_mono_ms_;  // restarts within the window
  std::vector<int> stop_waiters_;
};

// execve of args[0] with `env`: a name with a slash as it is, otherwise
// tried in each directory of env's PATH (default
// /bin:/usr/bin:/sbin:/usr/sbin; an empty entry is "."), as a shell does.
// Returns only on failure, with the errno to report: the first error other
// than ENOENT/ENOTDIR met on the PATH, else ENOENT. `args` is not empty.
int ExecSearchingPath(const std::vector<std::string>& args, const std::vector<std::string>& env);

}  // namespace jailwarden::platform::jail_init
