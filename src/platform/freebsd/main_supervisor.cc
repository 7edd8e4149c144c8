#include "platform/freebsd/main_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {

FreeBsdMainSupervisor::FreeBsdMainSupervisor(FreeBsdKernel& kernel, absl::Duration poll)
    : kernel_(kernel), poll_(poll) {
  thread_ = std::thread([this] { Loop(); });
}

FreeBsdMainSupervisor::~FreeBsdMainSupervisor() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  thread_.join();
  absl::MutexLock l(&mu_);
  for (auto& [jid, e] : entries_) CloseFds(e.request);
}

void FreeBsdMainSupervisor::CloseFds(ExecRequest& r) {
  for (int* fd : {&r.stdin_fd, &r.stdout_fd, &r.stderr_fd}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

absl::StatusOr<MainProcessStatus> FreeBsdMainSupervisor::Start(const std::string& jail, int jid,
                                                               const ExecRequest& request,
                                                               const MainSpec& spec,
                                                               const std::string& user) {
  absl::MutexLock l(&mu_);
  if (auto it = entries_.find(jid); it != entries_.end()) {
    if (it->second.status.configured && !it->second.status.stopped) {
      return absl::FailedPreconditionError(
          StrCat("jail ", jail, " has a main process already"));
    }
    CloseFds(it->second.request);
    entries_.erase(it);
  }
  Entry e;
  e.jail = jail;
  e.request = request;
  e.request.tty = false;
  e.request.on_tty = nullptr;
  e.request.timeout = absl::ZeroDuration();
  int* fds[3] = {&e.request.stdin_fd, &e.request.stdout_fd, &e.request.stderr_fd};
  for (int* fd : fds) {
    if (*fd >= 0) *fd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);  // -1 on failure: /dev/null
  }
  e.spec = spec;
  e.user = user;
  e.backoff = std::max(spec.backoff_initial, absl::Milliseconds(1));
  pid_t pid = 0;
  if (kernel_.SpawnMain(jid, e.request, user, pid) != 0) {
    const int err = errno;
    CloseFds(e.request);
    return ErrnoStatus(err, StrCat("spawn ", request.argv.empty() ? "" : request.argv[0],
                                   " in jail ", jail));
  }
  e.pid = pid;
  e.run_started = absl::Now();
  e.status.configured = true;
  e.status.running = true;
  e.status.pid = pid;
  e.status.starts = 1;
  const MainProcessStatus out = e.status;
  entries_[jid] = std::move(e);
  return out;
}

absl::StatusOr<MainProcessStatus> FreeBsdMainSupervisor::Status(int jid) const {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(jid);
  if (it == entries_.end()) {
    return absl::FailedPreconditionError(StrCat(
        "jail (jid ", jid,
        ") has no main process this daemon started (none, or started before it)"));
  }
  return it->second.status;
}

bool FreeBsdMainSupervisor::Holds(int jid) const {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(jid);
  return it != entries_.end() && it->second.status.configured;
}

absl::StatusOr<MainProcessStatus> FreeBsdMainSupervisor::Stop(int jid, absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(jid);
  if (it == entries_.end()) {
    return absl::FailedPreconditionError(StrCat("jail (jid ", jid, ") has no main process"));
  }
  Entry& e = it->second;
  e.status.stopped = true;
  e.due = absl::InfiniteFuture();
  e.status.next_start = absl::InfinitePast();
  if (e.pid > 0) {
    (void)kernel_.Kill(-e.pid, SIGTERM);  // its process group (SpawnMain)
    (void)kernel_.Kill(e.pid, SIGTERM);
    e.kill_at = absl::Now() + std::max(timeout, absl::ZeroDuration());
    PollLocked();
  }
  const absl::Time deadline = absl::Now() + std::max(timeout, absl::ZeroDuration()) +
                              absl::Seconds(5);
  const auto down = [this, jid]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto found = entries_.find(jid);
    return stopping_ || found == entries_.end() || found->second.pid == 0;
  };
  mu_.AwaitWithDeadline(absl::Condition(&down), deadline);
  it = entries_.find(jid);
  if (it == entries_.end()) return absl::NotFoundError("the jail's record went away");
  if (it->second.pid != 0) {
    return absl::DeadlineExceededError(
        StrCat("jail ", it->second.jail, ": the main process did not end after SIGKILL"));
  }
  return it->second.status;
}

void FreeBsdMainSupervisor::Forget(int jid) {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(jid);
  if (it == entries_.end()) return;
  if (it->second.pid > 0) reap_later_.push_back(it->second.pid);
  CloseFds(it->second.request);
  entries_.erase(it);
  PollLocked();
}

void FreeBsdMainSupervisor::Loop() {
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    PollLocked();
    const auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stop), poll_);
  }
}

void FreeBsdMainSupervisor::PollLocked() {
  std::erase_if(reap_later_, [this](pid_t pid) {
    int st = 0;
    return kernel_.WaitChild(pid, st) != 0;  // reaped, or not ours any more
  });
  const absl::Time now = absl::Now();
  for (auto& [jid, e] : entries_) {
    if (e.pid > 0) {
      int st = 0;
      const int r = kernel_.WaitChild(e.pid, st);
      if (r == 1) {
        ExitedLocked(e, st, 0);
      } else if (r < 0) {
        // Not our child any more (reaped elsewhere): an exit we cannot read.
        LogWarning("the jail's main process was lost",
                   {{"jail", e.jail}, {"pid", StrCat(static_cast<int64_t>(e.pid))}});
        ExitedLocked(e, -1, 0);
      }
    }
    if (e.pid > 0 && now >= e.kill_at) {
      (void)kernel_.Kill(-e.pid, SIGKILL);
      (void)kernel_.Kill(e.pid, SIGKILL);
      e.kill_at = absl::InfiniteFuture();
    }
    if (e.pid == 0 && !e.status.stopped && now >= e.due) {
      e.due = absl::InfiniteFuture();
      e.restarts.push_back(now);
      ++e.status.starts;
      e.status.restarts = e.status.starts - 1;
      e.status.next_start = absl::InfinitePast();
      (void)SpawnLocked(jid, e);
    }
  }
}

bool FreeBsdMainSupervisor::SpawnLocked(int jid, Entry& e) {
  pid_t pid = 0;
  if (kernel_.SpawnMain(jid, e.request, e.user, pid) != 0) {
    const int err = errno;
    LogWarning("restarting the jail's main process failed",
               {{"jail", e.jail}, {"error", std::string(ErrnoName(err))}});
    ExitedLocked(e, 0, err);
    return false;
  }
  e.pid = pid;
  e.run_started = absl::Now();
  e.status.running = true;
  e.status.pid = pid;
  return true;
}

void FreeBsdMainSupervisor::ExitedLocked(Entry& e, int st, int spawn_errno) {
  const absl::Time now = absl::Now();
  e.status.exited = true;
  if (spawn_errno != 0) {
    e.status.exit_code = 128 + spawn_errno;  // as jailwarden-init records it
    e.status.exit_signal = 0;
  } else if (st < 0) {
    e.status.exit_code = -1;
    e.status.exit_signal = 0;
  } else {
    e.status.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    e.status.exit_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  }
  e.status.exit_time = now;
  e.status.running = false;
  e.status.pid = 0;
  e.pid = 0;
  e.kill_at = absl::InfiniteFuture();
  if (e.status.stopped) return;
  const bool failed = e.status.exit_code != 0 || e.status.exit_signal != 0;
  const bool again = e.spec.restart == RestartPolicy::kAlways ||
                     (e.spec.restart == RestartPolicy::kOnFailure && failed);
  if (!again) return;
  while (!e.restarts.empty() && now - e.restarts.front() >= e.spec.limit_window) {
    e.restarts.pop_front();
  }
  if (static_cast<int>(e.restarts.size()) >= e.spec.limit_count) {
    e.status.gave_up = true;
    return;
  }
  const absl::Duration initial = std::max(e.spec.backoff_initial, absl::Milliseconds(1));
  const absl::Duration max = std::max(e.spec.backoff_max, absl::Milliseconds(1));
  if (now - e.run_started >= max) e.backoff = initial;
  e.due = now + e.backoff;
  e.status.next_start = e.due;
  e.backoff = std::min(e.backoff * 2, max);
}

}  // namespace jailwarden::platform
