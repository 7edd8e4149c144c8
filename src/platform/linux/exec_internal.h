#pragma once

// Pieces shared by exec.cc's ways of running a command (on the host,
// through the jail's pid 1, through the setns helper). Private to
// src/platform/linux. Everything a child needs is built before fork
// (Prepare); what runs in the child (ExecPrepared, JailHelper) is
// async-signal-safe.

#include <linux/filter.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/platform/jail_runtime.h"
#include "platform/linux/exec.h"
#include "platform/linux/init_config.h"

namespace jailwarden::platform::exec_internal {

// Everything a child needs, owned here so the raw pointers stay valid.
// Not copyable in practice (the raw pointers point into the storage).
struct Prepared {
  std::vector<std::string> argv_storage, env_storage, candidates;
  std::vector<char*> argv, envp;
  std::vector<std::array<uint64_t, 3>> rlimits;  // {RLIMIT_*, soft, hard}
  bool drop_caps = false;  // to `capabilities`, after the rlimits
  uint64_t capabilities = 0;
  // The jail's seccomp program, installed before the capability drop;
  // empty = none (host commands, and commands pid 1 starts: they inherit
  // pid 1's).
  std::vector<sock_filter> seccomp;
  int fds[3] = {-1, -1, -1};
  int devnull = -1;
  // Write end of the exec-error pipe (O_CLOEXEC): a child whose execve
  // fails writes its errno (int) here; EOF means it exec'd. -1 = none.
  // Closed by the destructor.
  int err_fd = -1;
  // Open a pseudo-terminal in the jail (the setns helper, after entering
  // its mount namespace) as the command's controlling terminal.
  bool tty = false;
  uint16_t tty_rows = 0, tty_cols = 0;
  ~Prepared();
};

// Fills `p` from `req`: argv, the environment (the daemon's unless
// clean_env, then req.env), the PATH candidates for argv[0], stdio (/dev/
// null where not given). InvalidArgument for an empty argv; the errno's
// status if /dev/null cannot be opened.
absl::Status Prepare(const ExecRequest& req, Prepared& p);

// In a child: stdio (with `tty_fd` >= 0: a new session with tty_fd, a
// terminal slave, as controlling terminal on 0-2), every other fd marked
// close-on-exec, signal handlers to default, rlimits, capabilities, then
// execve of each candidate. Exits 126 (cannot set up, EACCES) or 127 (not
// found), after writing execve's errno to p.err_fd. Async-signal-safe.
[[noreturn]] void ExecPrepared(const Prepared& p, int tty_fd = -1);

// Reads the errno a failed execve left in the exec-error pipe `fd`
// without blocking (the child is gone or exec'd by now): 0 when it exec'd
// or the pipe says nothing sensible. Closes `fd`.
int TakeExecErrno(int fd);

ExecResult FromWaitStatus(int st);

int PidfdOpen(int pid);

// Waits for `fd` to become readable until `deadline` (InfiniteFuture =
// forever). Returns false on timeout.
bool WaitReadable(int fd, absl::Time deadline);

// Whole reads and writes, retrying on EINTR. ReadFull: false on EOF or
// error; WriteFull gives up silently (the reader sees a short message).
bool ReadFull(int fd, void* buf, size_t n);
void WriteFull(int fd, const void* buf, size_t n);

// Connects to the jail's pid 1 at `socket_path` (its command socket) and
// sends `request`, with `fds` (the command's stdin, stdout, stderr)
// attached when all three are >= 0 (fds may be null: none attached).
// Returns the connection for the answer (O_CLOEXEC; the caller closes it).
// InvalidArgument for a path too long for sockaddr_un; the errno's status
// of socket, connect or sendmsg. Thread-safe (a connection per call).
absl::StatusOr<int> SendToInit(const std::string& socket_path, const InitRequest& request,
                               const int fds[3]);

// waitpid(pid), retrying on EINTR.
void ReapChild(pid_t pid);

// What the setns helper reports first: the command's host pid, or a failed
// step and its errno.
struct HelperHello {
  int32_t pid;   // > 0: the command's pid; <= 0: failure
  int32_t step;  // 1 join cgroup, 2 setns, 3 fork, 4 open the jail's /dev/ptmx
  int32_t err;
};

// The errno's status of a failed helper step, naming the step.
absl::Status HelperStepError(const HelperHello& h);

// Forks the setns helper for `p`: it joins `t`'s cgroups, enters its
// namespaces through a pidfd of its pid 1 and forks the command (for
// `spawn`, twice, so the command is orphaned into the jail's pid 1). It
// reports a HelperHello (for p.tty with the terminal's master attached,
// SCM_RIGHTS: see RecvHello), then the command's wait status (exec) or its
// pid in the jail (spawn). Returns the helper's pid and the read end of its
// report pipe (the caller closes it and reaps the helper). The errno's
// status of pidfd_open, pipe2 or fork.
// Reads the helper's HelperHello from `fd` and the fd attached to it, if
// any (-1 otherwise; O_CLOEXEC). False on EOF or error.
bool RecvHello(int fd, HelperHello* hello, int* attached_fd);

absl::StatusOr<std::pair<pid_t, int>> StartJailHelper(const ExecTarget& t, const Prepared& p,
                                                      bool spawn);

}  // namespace jailwarden::platform::exec_internal
