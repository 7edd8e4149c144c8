// The setns helper: how a command enters a jail whose pid 1 has no
// command socket (exec_internal.h, StartJailHelper).

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

// Sends the hello with `fd` attached (SCM_RIGHTS). Async-signal-safe.
void SendHelloWithFd(int sock, const HelperHello& h, int fd) {
  struct iovec iov = {const_cast<HelperHello*>(&h), sizeof(h)};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof(control));
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// In the helper, inside the jail's mount namespace: a pseudo-terminal of
// the jail's own devpts (its /dev/ptmx, looked up from the jail's root),
// never one of the host's. The slave comes from the master (TIOCGPTPEER),
// not from a path the jail's root could swap. Returns false with errno.
bool OpenJailPty(const Prepared& p, int* master, int* slave) {
  // O_NONBLOCK: a FIFO planted at /dev/ptmx must not hang the helper.
  int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (m < 0) {
    return false;
  }
  struct stat st;
  if (fstat(m, &st) != 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
      minor(st.st_rdev) != 2) {
    close(m);
    errno = ENOTTY;
    return false;
  }
  int unlock = 0;
  if (ioctl(m, TIOCSPTLCK, &unlock) != 0) {
    close(m);
    return false;
  }
  if (p.tty_rows > 0 && p.tty_cols > 0) {
    struct winsize ws = {p.tty_rows, p.tty_cols, 0, 0};
    (void)ioctl(m, TIOCSWINSZ, &ws);
  }
  int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    close(m);
    return false;
  }
  *master = m;
  *slave = s;
  return true;
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
  int master = -1, slave = -1;
  if (p.tty && !spawn && !OpenJailPty(p, &master, &slave)) {
    HelperFail(report_fd, 4);
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
    ExecPrepared(p, slave);
  }
  HelperHello h = {child, 0, 0};
  if (master >= 0) {
    SendHelloWithFd(report_fd, h, master);
  } else {
    WriteFull(report_fd, &h, sizeof(h));
  }
  // While the command runs the helper keeps only its report socket: the
  // daemon's other descriptors (other sessions' connections, their
  // terminals) must not be held open by it, or a client's hangup would go
  // unseen. The command holds the only copies of the exec-error pipe and
  // the slave from now on.
  if (report_fd > 3) {
    syscall(SYS_close_range, 3U, static_cast<unsigned>(report_fd - 1), 0U);
  }
  syscall(SYS_close_range, static_cast<unsigned>(report_fd + 1), ~0U, 0U);
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
  const char* what = h.step == 1   ? "join jail cgroup"
                     : h.step == 2 ? "setns into jail"
                     : h.step == 4 ? "open the jail's /dev/ptmx"
                                   : "fork";
  return ErrnoStatus(h.err, what);
}

bool RecvHello(int fd, HelperHello* hello, int* attached_fd) {
  *attached_fd = -1;
  char* at = reinterpret_cast<char*>(hello);
  size_t left = sizeof(*hello);
  while (left > 0) {
    struct iovec iov = {at, left};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
          c->cmsg_len == CMSG_LEN(sizeof(int)) && *attached_fd < 0) {
        memcpy(attached_fd, CMSG_DATA(c), sizeof(int));
      }
    }
    at += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

absl::StatusOr<std::pair<pid_t, int>> StartJailHelper(const ExecTarget& t, const Prepared& p,
                                                      bool spawn) {
  int init_pidfd = PidfdOpen(t.init_pid);
  if (init_pidfd < 0) {
    return ErrnoStatus(errno, StrCat("pidfd_open(jail init ", t.init_pid, ")"));
  }
  // A socket, not a pipe: a terminal's master travels back on it.
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    int err = errno;
    close(init_pidfd);
    return ErrnoStatus(err, "socketpair");
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
