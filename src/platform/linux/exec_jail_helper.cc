// The setns helper: how a command enters a jail whose pid 1 has no
// command socket (exec_internal.h, StartJailHelper).

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/exec_internal.h"

namespace jailwarden::platform::exec_internal {
namespace {

void HelperFail(int fd, int step) {
  HelperHello h = {0, step, errno};
  WriteFull(fd, &h, sizeof(h));
  _exit(1);
}

// The helper (C1): joins the cgroups, enters the namespaces, forks. In the
// forked child either the command is exec'd (`spawn` false) or, for
// spawn, forked once more so the command is orphaned into the jail's pid 1.
[[noreturn]] void JailHelper(const ExecTarget& t, const Prepared& p, int init_pidfd,
                             int report_fd, bool spawn) {
  // The helper lives outside the jail's pid namespace: a SIGTERM sent to
  // everything in the jail's cgroup must not kill it before its child.
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  // Not dumpable before entering: the jail's root may not ptrace the child
  // (the daemon's image, full capabilities until it execs) or open its
  // /proc/PID/exe (the host's jailwarden binary). execve makes the command
  // dumpable again.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  for (const std::string& procs : t.cgroup_join) {
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) {
      HelperFail(report_fd, 1);
    }
    close(fd);
  }
  if (setns(init_pidfd, t.ns_flags) != 0) {
    HelperFail(report_fd, 2);
  }
  pid_t child = fork();
  if (child < 0) {
    HelperFail(report_fd, 3);
  }
  if (child == 0) {
    if (spawn) {
      pid_t grandchild = fork();
      if (grandchild == 0) {
        setsid();
        ExecPrepared(p);
      }
      int32_t ns_pid = grandchild;
      WriteFull(report_fd, &ns_pid, sizeof(ns_pid));
      _exit(grandchild > 0 ? 0 : 1);
    }
    ExecPrepared(p);
  }
  HelperHello h = {child, 0, 0};
  WriteFull(report_fd, &h, sizeof(h));
  int st = 0;
  while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  if (!spawn) {
    int32_t st32 = st;
    WriteFull(report_fd, &st32, sizeof(st32));
  }
  _exit(0);
}

}  // namespace

absl::Status HelperStepError(const HelperHello& h) {
  const char* what = h.step == 1 ? "join jail cgroup" : h.step == 2 ? "setns into jail" : "fork";
  return ErrnoStatus(h.err, what);
}

absl::StatusOr<std::pair<pid_t, int>> StartJailHelper(const ExecTarget& t, const Prepared& p,
                                                      bool spawn) {
  int init_pidfd = PidfdOpen(t.init_pid);
  if (init_pidfd < 0) {
    return ErrnoStatus(errno, StrCat("pidfd_open(jail init ", t.init_pid, ")"));
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    int err = errno;
    close(init_pidfd);
    return ErrnoStatus(err, "pipe2");
  }
  pid_t helper = fork();
  if (helper == 0) {
    close(fds[0]);
    JailHelper(t, p, init_pidfd, fds[1], spawn);
  }
  int fork_err = errno;
  close(fds[1]);
  close(init_pidfd);
  if (helper < 0) {
    close(fds[0]);
    return ErrnoStatus(fork_err, "fork");
  }
  return std::make_pair(helper, fds[0]);
}

}  // namespace jailwarden::platform::exec_internal
