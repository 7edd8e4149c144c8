// jailwarden-init: starting the runtime's commands (init_main_commands.h).

#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/un.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "platform/linux/cap_drop.h"
#include "platform/linux/init_config.h"
#include "platform/linux/init_main_commands.h"
#include "platform/linux/init_main_setup.h"
#include "platform/linux/init_main_supervisor.h"

namespace jailwarden::platform::jail_init {
namespace {

// Runs in the forked child: never returns. A failed execve's errno goes
// to `err_fd` (the exec-error pipe the runtime reads, exec.cc).
[[noreturn]] void ExecRequestChild(const InitRequest& r, const int fds[3], int err_fd) {
  for (int i = 0; i < 3; ++i) {
    if (fds[i] >= 0) {
      dup2(fds[i], i);
    }
  }
  // The error pipe to fd 3 (close-on-exec), everything above closed.
  if (err_fd >= 0 && err_fd != 3) {
    err_fd = dup3(err_fd, 3, O_CLOEXEC) == 3 ? 3 : -1;
  }
  syscall(SYS_close_range, err_fd == 3 ? 4 : 3, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (r.spawn) {
    setsid();
  } else {
    // Its own process group: on a timeout init kills the group, so what
    // the command started (a health check's `sh -c` children) ends too.
    setpgid(0, 0);
  }
  for (const std::array<uint64_t, 3>& l : r.rlimits) {
    const struct rlimit lim = {static_cast<rlim_t>(l[1]), static_cast<rlim_t>(l[2])};
    setrlimit(static_cast<__rlimit_resource>(l[0]), &lim);  // see exec.cc
  }
  if (chdir("/") != 0) {
    _exit(126);
  }
  const int err = ExecSearchingPath(r.argv, r.env);
  if (err_fd >= 0) {
    (void)!write(err_fd, &err, sizeof(err));
  }
  _exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

}  // namespace

int ListenForCommands(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw SetupError{"socket", errno};
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    throw SetupError{"socket path too long: " + path, ENAMETOOLONG};
  }
  memcpy(addr.sun_path, path.c_str(), path.size());
  unlink(path.c_str());
  JW_INIT_CHECK_SYS(bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), "bind " + path);
  JW_INIT_CHECK_SYS(chmod(path.c_str(), 0600), "chmod " + path);
  JW_INIT_CHECK_SYS(listen(fd, 64), "listen");
  return fd;
}

// Accepts one connection and starts its command. Returns the child's pid
// and the connection (closed and -1 for spawn), or pid -1.
std::pair<int, int> AcceptCommand(int listen_fd, MainSupervisor* main) {
  int conn = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) {
    return {-1, -1};
  }
  std::string buf(256 * 1024, '\0');
  char control[CMSG_SPACE(3 * sizeof(int))];
  struct iovec iov = {buf.data(), buf.size()};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  int fds[3] = {-1, -1, -1};
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      memcpy(fds, CMSG_DATA(c), std::min<size_t>(count, 3) * sizeof(int));
    }
  }
  InitRequest req;
  std::string error;
  int pid = -1;
  int err_pipe[2] = {-1, -1};
  const bool parsed =
      n > 0 && jailwarden::platform::InitRequestFromJson(buf.substr(0, static_cast<size_t>(n)),
                                                         &req, &error);
  // Issue 17: the main process's requests, answered with its status.
  if (parsed && !req.op.empty()) {
    if (req.op == "main.start") {
      main->Configure(req, fds);  // takes the fds
      main->SendStatus(conn);
      close(conn);
    } else if (req.op == "main.stop") {
      for (int fd : fds) {
        if (fd >= 0) close(fd);
      }
      main->Stop(req.stop_timeout_ms, conn);  // answers when down
    } else {
      for (int fd : fds) {
        if (fd >= 0) close(fd);
      }
      main->SendStatus(conn);
      close(conn);
    }
    return {-1, -1};
  }
  if (parsed) {
    if (!req.spawn && pipe2(err_pipe, O_CLOEXEC) != 0) {
      err_pipe[0] = err_pipe[1] = -1;
    }
    pid = fork();
    if (pid == 0) {
      ExecRequestChild(req, fds, err_pipe[1]);
    }
    if (pid > 0 && !req.spawn) {
      setpgid(pid, pid);  // as the child does: a timeout's kill cannot race it
    }
  }
  for (int fd : fds) {
    if (fd >= 0) {
      close(fd);
    }
  }
  if (err_pipe[1] >= 0) {
    close(err_pipe[1]);
  }
  // The reply: the child's pid, with the read end of its exec-error pipe
  // attached (an exec'd command closed its end; a failed one wrote errno).
  int32_t reply = pid;
  struct iovec reply_iov = {&reply, sizeof(reply)};
  alignas(struct cmsghdr) char reply_control[CMSG_SPACE(sizeof(int))];
  memset(reply_control, 0, sizeof(reply_control));
  struct msghdr reply_msg;
  memset(&reply_msg, 0, sizeof(reply_msg));
  reply_msg.msg_iov = &reply_iov;
  reply_msg.msg_iovlen = 1;
  if (pid > 0 && err_pipe[0] >= 0) {
    reply_msg.msg_control = reply_control;
    reply_msg.msg_controllen = sizeof(reply_control);
    struct cmsghdr* c = CMSG_FIRSTHDR(&reply_msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &err_pipe[0], sizeof(int));
  }
  const ssize_t sent = sendmsg(conn, &reply_msg, MSG_NOSIGNAL);
  if (err_pipe[0] >= 0) {
    close(err_pipe[0]);
  }
  if (sent != sizeof(reply) || pid < 0 || req.spawn) {
    close(conn);
    return {pid, -1};
  }
  return {pid, conn};
}

}  // namespace jailwarden::platform::jail_init
