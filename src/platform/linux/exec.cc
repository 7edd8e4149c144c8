#include "platform/linux/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/seccomp.h"
#include "platform/linux/clone_vfork.h"
#include "platform/linux/exec_internal.h"
#include "platform/linux/init_config.h"
#include "platform/linux/linux_jail_paths.h"
#include "platform/linux/proc_parser.h"

namespace jailwarden::platform {
namespace {

using exec_internal::ExecPrepared;
using exec_internal::FromWaitStatus;
using exec_internal::HelperHello;
using exec_internal::HelperStepError;
using exec_internal::PidfdOpen;
using exec_internal::Prepare;
using exec_internal::Prepared;
using exec_internal::ReadFull;
using exec_internal::ReapChild;
using exec_internal::RecvHello;
using exec_internal::TakeExecErrno;
using exec_internal::StartJailHelper;
using exec_internal::WaitReadable;

// The setns helper's child installs the jail's filter itself (commands
// pid 1 starts inherit pid 1's): compiled here, before the fork, because
// libseccomp allocates. InternalError naming libseccomp's failing step.
absl::Status PrepareSeccomp(const ExecTarget& t, Prepared& p) {
  if (t.seccomp.empty()) {
    return absl::OkStatus();
  }
  SeccompSettings settings;
  std::string error;
  if (!SeccompSettingsFromText(t.seccomp, &settings, &error) ||
      !BuildSeccompFilter(settings, &p.seccomp, &error)) {
    return absl::InternalError(StrCat("jail seccomp filter: ", error));
  }
  return absl::OkStatus();
}

struct HostChild {
  const Prepared* p;
  int netns_fd;
};

int StartHostChild(void* arg) {
  const HostChild& c = *static_cast<const HostChild*>(arg);
  if (c.netns_fd >= 0 && setns(c.netns_fd, CLONE_NEWNET) != 0) {
    return 126;
  }
  ExecPrepared(*c.p);
}

absl::StatusOr<ExecResult> ExecOnHost(const ExecTarget& t, const ExecRequest& req,
                                      Prepared& p, int err_read) {
  int nsfd = -1;
  if (!t.netns_path.empty()) {
    nsfd = open(t.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      const int err = errno;
      close(err_read);
      return ErrnoStatus(err, StrCat("open ", t.netns_path));
    }
  }
  // Hooks and host tools (ip) run often from the daemon: started without
  // copying its memory (CloneVfork); the child only makes system calls.
  HostChild child{&p, nsfd};
  pid_t pid = CloneVfork({}, StartHostChild, &child);
  // The child has exec'd or exited (CLONE_VFORK): its copy is the only
  // one the exec-error pipe needs.
  close(p.err_fd);
  p.err_fd = -1;
  if (pid < 0) {
    int err = errno;
    if (nsfd >= 0) {
      close(nsfd);
    }
    return ErrnoStatus(err, "clone3");
  }
  if (nsfd >= 0) {
    close(nsfd);
  }
  int pidfd = PidfdOpen(pid);
  absl::Time deadline = req.timeout > absl::ZeroDuration() ? absl::Now() + req.timeout
                                                           : absl::InfiniteFuture();
  bool timed_out = false;
  if (pidfd >= 0 && !WaitReadable(pidfd, deadline)) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    kill(-pid, SIGKILL);  // its process group (ExecPrepared): what it started
    timed_out = true;
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (pidfd >= 0) {
    close(pidfd);
  }
  ExecResult r = FromWaitStatus(st);
  r.timed_out = timed_out;
  r.exec_errno = TakeExecErrno(err_read);
  return r;
}

// What the jail's pid 1 answers a request with: the connection (for the
// status), the child's pid in the jail's pid namespace, and the read end
// of the child's exec-error pipe (-1 from an init that sends none).
struct InitStarted {
  int conn = -1;
  int32_t pid = -1;
  int err_read = -1;
};

// Receives init's pid reply and the fd attached to it.
bool RecvInitReply(int fd, InitStarted* out) {
  int32_t pid = -1;
  struct iovec iov = {&pid, sizeof(pid)};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  while ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  for (struct cmsghdr* c = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr; c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int))) {
      memcpy(&out->err_read, CMSG_DATA(c), sizeof(int));
    }
  }
  if (n != static_cast<ssize_t>(sizeof(pid)) || pid <= 0) {
    return false;
  }
  out->pid = pid;
  return true;
}

// Asks the jail's pid 1 to start the command. Returns the connection (for
// the status) and the child's pid in the jail's pid namespace.
absl::StatusOr<InitStarted> RequestFromInit(const std::string& socket_path,
                                            const Prepared& p, bool spawn) {
  InitRequest r;
  r.argv = p.argv_storage;
  r.env = p.env_storage;
  r.spawn = spawn;
  r.rlimits = p.rlimits;
  JW_ASSIGN_OR_RETURN(const int fd, exec_internal::SendToInit(socket_path, r, p.fds));
  InitStarted started;
  if (!RecvInitReply(fd, &started)) {
    if (started.err_read >= 0) {
      close(started.err_read);
    }
    close(fd);
    return absl::InternalError("jail init could not start the command");
  }
  started.conn = fd;
  return started;
}

absl::StatusOr<ExecResult> ExecViaInit(const ExecTarget& t, const ExecRequest& req,
                                       const Prepared& p) {
  JW_ASSIGN_OR_RETURN(InitStarted started, RequestFromInit(t.init_socket, p, /*spawn=*/false));
  int fd = started.conn;
  absl::Time deadline = req.timeout > absl::ZeroDuration() ? absl::Now() + req.timeout
                                                           : absl::InfiniteFuture();
  if (!WaitReadable(fd, deadline)) {
    // Closing the connection makes init SIGKILL the command.
    close(fd);
    if (started.err_read >= 0) {
      close(started.err_read);
    }
    ExecResult r;
    r.timed_out = true;
    r.term_signal = SIGKILL;
    return r;
  }
  int32_t st = 0;
  bool got = ReadFull(fd, &st, sizeof(st));
  close(fd);
  if (!got) {
    if (started.err_read >= 0) {
      close(started.err_read);
    }
    return absl::InternalError("jail init went away before the command ended");
  }
  ExecResult r = FromWaitStatus(st);
  r.exec_errno = TakeExecErrno(started.err_read);
  return r;
}

}  // namespace

absl::StatusOr<ExecResult> ExecAndWait(const ExecTarget& t, const ExecRequest& req) {
  if (req.tty && !t.in_jail) {
    return absl::InvalidArgumentError("exec: a terminal is for commands in a jail only");
  }
  Prepared p;
  JW_RETURN_IF_ERROR(Prepare(req, p));
  p.rlimits = t.rlimits;
  p.drop_caps = t.in_jail && t.caps_restricted;
  p.capabilities = t.capabilities;
  // The exec-error pipe: a child whose execve fails says why on it.
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, "pipe2");
  }
  p.err_fd = err_pipe[1];
  const int err_read = err_pipe[0];
  if (!t.in_jail) {
    return ExecOnHost(t, req, p, err_read);
  }
  // Without its socket file (a runtime directory emptied while the jail
  // ran) the jail is still entered, through the setns helper. A terminal
  // always is: the helper opens it inside the jail's mount namespace.
  if (!req.tty && !t.init_socket.empty() && access(t.init_socket.c_str(), F_OK) == 0) {
    close(err_read);  // init makes its own
    return ExecViaInit(t, req, p);
  }
  absl::Status seccomp = PrepareSeccomp(t, p);
  absl::StatusOr<std::pair<pid_t, int>> started =
      seccomp.ok() ? StartJailHelper(t, p, /*spawn=*/false)
                   : absl::StatusOr<std::pair<pid_t, int>>(seccomp);
  close(p.err_fd);
  p.err_fd = -1;
  if (!started.ok()) {
    close(err_read);
    return started.status();
  }
  const pid_t helper = started->first;
  const int report_fd = started->second;
  HelperHello hello{};
  int master = -1;
  if (!RecvHello(report_fd, &hello, &master)) {
    close(report_fd);
    close(err_read);
    ReapChild(helper);
    return absl::InternalError("jail exec helper died");
  }
  if (hello.pid <= 0) {
    close(report_fd);
    close(err_read);
    if (master >= 0) {
      close(master);
    }
    ReapChild(helper);
    return HelperStepError(hello);
  }
  if (master >= 0) {
    if (req.tty && req.on_tty) {
      req.on_tty(master);
    } else {
      close(master);
    }
  }
  absl::Time deadline = req.timeout > absl::ZeroDuration() ? absl::Now() + req.timeout
                                                           : absl::InfiniteFuture();
  bool timed_out = false;
  if (!WaitReadable(report_fd, deadline)) {
    // The helper has not reaped the command yet, so its pid is still ours
    // to signal; its process group (ExecPrepared) too, so what it started
    // ends with it.
    kill(-hello.pid, SIGKILL);
    kill(hello.pid, SIGKILL);
    timed_out = true;
  }
  int32_t st = 0;
  bool got = ReadFull(report_fd, &st, sizeof(st));
  close(report_fd);
  ReapChild(helper);
  if (!got) {
    close(err_read);
    return absl::InternalError("jail exec helper died before reporting");
  }
  ExecResult r = FromWaitStatus(st);
  r.timed_out = timed_out;
  r.exec_errno = TakeExecErrno(err_read);
  return r;
}

absl::StatusOr<int64_t> SpawnInJail(const ExecTarget& t, const ExecRequest& req,
                                    const std::string& membership_dir) {
  Prepared p;
  JW_RETURN_IF_ERROR(Prepare(req, p));
  p.rlimits = t.rlimits;
  p.drop_caps = t.caps_restricted;
  p.capabilities = t.capabilities;
  int32_t ns_pid = 0;
  if (!t.init_socket.empty() && access(t.init_socket.c_str(), F_OK) == 0) {
    JW_ASSIGN_OR_RETURN(InitStarted started, RequestFromInit(t.init_socket, p, /*spawn=*/true));
    close(started.conn);
    if (started.err_read >= 0) {
      close(started.err_read);
    }
    ns_pid = started.pid;
    return HostPidOf(ns_pid, membership_dir);
  }
  JW_RETURN_IF_ERROR(PrepareSeccomp(t, p));
  JW_ASSIGN_OR_RETURN(auto started, StartJailHelper(t, p, /*spawn=*/true));
  const pid_t helper = started.first;
  const int report_fd = started.second;
  HelperHello hello{};
  int unused_fd = -1;
  bool ok = RecvHello(report_fd, &hello, &unused_fd) && hello.pid > 0 &&
            ReadFull(report_fd, &ns_pid, sizeof(ns_pid)) && ns_pid > 0;
  close(report_fd);
  if (unused_fd >= 0) {
    close(unused_fd);
  }
  ReapChild(helper);
  if (!ok) {
    if (hello.pid <= 0 && hello.step != 0) {
      return HelperStepError(hello);
    }
    return absl::InternalError("spawn in jail failed");
  }
  return HostPidOf(ns_pid, membership_dir);
}

absl::StatusOr<int64_t> HostPidOf(int32_t ns_pid, const std::string& membership_dir) {
  // The command's pid is in the jail's namespace; find its host pid by
  // the NSpid line of the jail's members (proc(5)).
  absl::StatusOr<std::string> procs = ReadFileToString(membership_dir + "/cgroup.procs");
  std::string_view members = procs.ok() ? std::string_view(*procs) : std::string_view();
  for (std::string_view line : Split(members, '\n')) {
    if (line.empty()) {
      continue;
    }
    absl::StatusOr<std::string> status = ReadFileToString(StrCat("/proc/", line, "/status"));
    if (!status.ok()) {
      continue;
    }
    std::optional<ProcStatusNsPid> ns = ParseProcStatusNsPid(*status);
    if (ns && ns->levels >= 2 && ns->inner == ns_pid) {
      return ns->outer;
    }
  }
  return absl::NotFoundError(StrCat("spawned pid ", ns_pid, " already gone"));
}

absl::Status RunHostTool(const std::vector<std::string>& argv,
                         const std::string& netns_path) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, "pipe2");
  }
  ExecRequest req;
  req.argv = argv;
  req.stderr_fd = fds[1];
  req.stdout_fd = fds[1];
  ExecTarget t;
  t.netns_path = netns_path;
  absl::StatusOr<ExecResult> r = ExecAndWait(t, req);
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  JW_RETURN_IF_ERROR(r.status());
  if (!r->ok()) {
    return absl::InternalError(StrCat(Join(argv, " "), ": exit ", r->exit_code, " signal ",
                                      r->term_signal, ": ", StripWhitespace(out)));
  }
  return absl::OkStatus();
}

namespace exec_internal {

absl::StatusOr<int> SendToInit(const std::string& socket_path, const InitRequest& request,
                               const int fds[3]) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return ErrnoStatus(errno, "socket");
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    close(fd);
    return absl::InvalidArgumentError(StrCat("socket path too long: ", socket_path));
  }
  memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(err, StrCat("connect ", socket_path));
  }
  std::string body = InitRequestToJson(request);
  struct iovec iov = {body.data(), body.size()};
  char control[CMSG_SPACE(3 * sizeof(int))];
  memset(control, 0, sizeof(control));
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fds != nullptr && fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(3 * sizeof(int));
    memcpy(CMSG_DATA(c), fds, 3 * sizeof(int));
  }
  if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(err, "sendmsg to jail init");
  }
  return fd;
}

}  // namespace exec_internal
}  // namespace jailwarden::platform
