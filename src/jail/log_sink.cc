#include "jailwarden/jail/log_sink.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/logs.h"
#include "jailwarden/platform/spawn_ready.h"

namespace jailwarden::jail {
namespace {

std::string SocketOf(const std::string& state_dir, std::string_view name) {
  return StrCat(LogDirFor(state_dir, name), "/writer.sock");
}

// One request to the writer; its answer ("ok"/"error"). `fd` >= 0 is
// passed along.
absl::StatusOr<std::string> Ask(const std::string& path, std::string_view text, int fd) {
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return ErrnoStatus(errno, "socket");
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    close(s);
    return absl::InvalidArgumentError(StrCat("log writer socket path too long: ", path));
  }
  memcpy(addr.sun_path, path.data(), path.size());
  if (connect(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(s);
    return ErrnoStatus(err, StrCat("connect ", path));
  }
  struct iovec iov = {const_cast<char*>(text.data()), text.size()};
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof(control));
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  if (sendmsg(s, &msg, MSG_NOSIGNAL) < 0) {
    int err = errno;
    close(s);
    return ErrnoStatus(err, "sendmsg to the log writer");
  }
  struct pollfd p = {s, POLLIN, 0};
  char buf[16];
  ssize_t n = poll(&p, 1, 2000) == 1 ? recv(s, buf, sizeof(buf), 0) : -1;
  close(s);
  if (n <= 0) return absl::UnavailableError("the log writer did not answer");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

absl::StatusOr<std::string> JailLogSink::FindLogd() {
  std::vector<std::string> candidates;
  if (const char* env = getenv("JAILWARDEN_LOGD"); env != nullptr && *env != '\0') {
    candidates.push_back(env);
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    std::string self(exe, static_cast<size_t>(n));
    std::string dir = self.substr(0, self.rfind('/'));
    candidates.push_back(dir + "/jailwarden-logd");
    candidates.push_back(dir + "/../src/jailwarden-logd");
    candidates.push_back(dir + "/../../src/jailwarden-logd");
    candidates.push_back(dir + "/../libexec/jailwarden/jailwarden-logd");
  }
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  return absl::NotFoundError(
      StrCat("jailwarden-logd not found (tried ", Join(candidates, ", "), ")"));
}

void JailLogSink::Reap() const {
  absl::MutexLock lock(&mu_);
  std::erase_if(children_, [](const auto& kv) {
    int st;
    return waitpid(kv.second, &st, WNOHANG) != 0;
  });
}

absl::Status JailLogSink::Ensure(const platform::JailSpec& spec) const {
  Reap();
  const std::string sock = SocketOf(state_dir_, spec.name);
  if (Ask(sock, "ping", -1).ok()) return absl::OkStatus();
  std::vector<std::string> args = {logd_path_, StrCat("--dir=", LogDirFor(state_dir_, spec.name)),
                                   StrCat("--max-size=", spec.log.max_size),
                                   StrCat("--max-files=", spec.log.max_files)};
#if defined(__linux__)
  // FreeBSD's runtime appends hook output to exec.consolelog itself
  // (freebsd/jail_runtime.cc); on Linux the writer does, as jail(8) would.
  if (auto it = spec.parameters.find("exec.consolelog"); it != spec.parameters.end()) {
    args.push_back(StrCat("--consolelog=", it->second));
  }
#endif
  // jailwarden-logd says "ready" once its socket is bound; its stderr (the
  // daemon's log) says why it did not.
  JW_ASSIGN_OR_RETURN(
      const pid_t pid,
      platform::SpawnUntilReady(std::move(args),
                                StrCat("jail ", spec.name, ": the log writer did not start")));
  // It is in its own session and stays; Reap collects it once it ends (a
  // daemon that was restarted in between leaves that to the host's init).
  absl::MutexLock lock(&mu_);
  children_[spec.name] = pid;
  return absl::OkStatus();
}

absl::StatusOr<std::array<int, 2>> JailLogSink::Pipes(std::string_view name,
                                                      std::string_view source) const {
  const std::string sock = SocketOf(state_dir_, name);
  std::array<int, 2> out = {-1, -1};
  const char* streams[2] = {"stdout", "stderr"};
  for (int i = 0; i < 2; ++i) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
      int err = errno;
      for (int fd : out) if (fd >= 0) close(fd);
      return ErrnoStatus(err, "pipe2");
    }
    absl::StatusOr<std::string> a = Ask(sock, StrCat("attach ", streams[i], " ", source), p[0]);
    close(p[0]);
    if (!a.ok() || *a != "ok") {
      close(p[1]);
      for (int fd : out) if (fd >= 0) close(fd);
      return a.ok() ? absl::InternalError("the log writer refused a pipe") : a.status();
    }
    out[i] = p[1];
  }
  return out;
}

void JailLogSink::Finish(std::string_view name) const {
  (void)Ask(SocketOf(state_dir_, name), "quit", -1);
  int pid = -1;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = children_.find(name); it != children_.end()) {
      pid = it->second;
      children_.erase(it);
    }
  }
  if (pid > 0) {
    int st;
    for (int i = 0; i < 600 && waitpid(pid, &st, WNOHANG) == 0; ++i) {
      usleep(10000);
    }
    if (waitpid(pid, &st, WNOHANG) == 0) {  // stuck past its own bound
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
    }
  }
  Reap();
}

}  // namespace jailwarden::jail
