// FreeBsdMainHost (one jail's main process, served on a unix socket) and
// the launchers that start hosts. main_host.h says what and why.

#include "jailwarden/platform/freebsd/main_host.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#if defined(__FreeBSD__)
#include <sys/sysctl.h>
#endif
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/spawn_ready.h"
#include "platform/freebsd/main_host_wire.h"
#include "platform/freebsd/main_supervisor.h"

namespace jailwarden::platform {
namespace {

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
  fds.clear();
}

// Whether a host answers at `socket_path` (any answer, an error included).
bool Answers(const std::string& socket_path) {
  MainWireMessage m;
  m.verb = "status";
  absl::StatusOr<MainProcessStatus> s = AskMainHost(socket_path, m, {}, absl::Seconds(2));
  return s.ok() || s.status().code() != absl::StatusCode::kUnavailable;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FreeBsdMainHost>> FreeBsdMainHost::Bind(FreeBsdKernel& kernel,
                                                                       std::string socket_path,
                                                                       std::string record_path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(StrCat("main host socket path too long: ", socket_path));
  }
  memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  const int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return ErrnoStatus(errno, "socket");
  (void)unlink(socket_path.c_str());  // a stale one: its host is gone (Launch asked)
  const mode_t old_mask = umask(077);
  const int b = bind(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  umask(old_mask);
  if (b != 0 || listen(s, 16) != 0) {
    const int err = b != 0 ? bind_errno : errno;
    close(s);
    return ErrnoStatus(err, StrCat("bind ", socket_path));
  }
  int wake[2];
  if (pipe(wake) != 0) {
    const int err = errno;
    close(s);
    return ErrnoStatus(err, "pipe");
  }
  for (int fd : wake) (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  (void)fcntl(wake[0], F_SETFL, O_NONBLOCK);
  return std::unique_ptr<FreeBsdMainHost>(new FreeBsdMainHost(
      kernel, s, wake[0], wake[1], std::move(socket_path), std::move(record_path)));
}

FreeBsdMainHost::FreeBsdMainHost(FreeBsdKernel& kernel, int listen_fd, int wake_r, int wake_w,
                                 std::string socket_path, std::string record_path)
    : sup_(std::make_unique<FreeBsdMainSupervisor>(kernel)),
      listen_fd_(listen_fd),
      wake_r_(wake_r),
      wake_w_(wake_w),
      socket_path_(std::move(socket_path)),
      record_path_(std::move(record_path)) {}

FreeBsdMainHost::~FreeBsdMainHost() {
  sup_.reset();
  close(listen_fd_);
  close(wake_r_);
  close(wake_w_);
}

void FreeBsdMainHost::Shutdown() { (void)!write(wake_w_, "x", 1); }

void FreeBsdMainHost::WriteRecordIfChanged() {
  if (record_path_.empty() || jid_ == 0) return;
  absl::StatusOr<MainProcessStatus> st = sup_->Status(jid_);
  if (!st.ok()) return;
  const std::string text = EncodeMainWire(EncodeStatusAnswer(*st));
  if (text == last_record_) return;
  if (absl::Status w = WriteFileAtomically(record_path_, text); !w.ok()) {
    LogWarning("writing the main process record failed",
               {{"path", record_path_}, {"error", std::string(w.message())}});
    return;
  }
  last_record_ = text;
}

MainWireMessage FreeBsdMainHost::Handle(const MainWireMessage& request, std::vector<int>& fds,
                                        bool& quit) {
  if (request.verb == "start") {
    absl::StatusOr<MainStartRequest> r = DecodeStart(request);
    const std::size_t want = r.ok() ? static_cast<std::size_t>(r->has_stdin) +
                                          static_cast<std::size_t>(r->has_stdout) +
                                          static_cast<std::size_t>(r->has_stderr)
                                    : 0;
    if (r.ok() && fds.size() != want) {
      r = absl::InvalidArgumentError(
          StrCat("main host start: ", fds.size(), " descriptors for ", want, " streams"));
    }
    if (!r.ok()) {
      CloseAll(fds);
      return EncodeErrorAnswer(r.status());
    }
    ExecRequest req;
    req.argv = r->argv;
    req.env = r->env;
    req.clean_env = r->clean_env;
    std::size_t next = 0;
    if (r->has_stdin) req.stdin_fd = fds[next++];
    if (r->has_stdout) req.stdout_fd = fds[next++];
    if (r->has_stderr) req.stderr_fd = fds[next++];
    if (jid_ != 0 && jid_ != r->jid) sup_->Forget(jid_);  // the jail was made again
    absl::StatusOr<MainProcessStatus> st = sup_->Start(r->jail, r->jid, req, r->spec, r->user);
    CloseAll(fds);  // Start keeps duplicates
    if (!st.ok()) return EncodeErrorAnswer(st.status());
    jid_ = r->jid;
    return EncodeStatusAnswer(*st);
  }
  CloseAll(fds);
  if (jid_ == 0) {
    if (request.verb == "quit") {
      quit = true;
      return EncodeStatusAnswer(MainProcessStatus{});
    }
    return EncodeErrorAnswer(absl::FailedPreconditionError("no main process started here"));
  }
  if (request.verb == "status") {
    absl::StatusOr<MainProcessStatus> st = sup_->Status(jid_);
    return st.ok() ? EncodeStatusAnswer(*st) : EncodeErrorAnswer(st.status());
  }
  if (request.verb == "stop") {
    const std::optional<int64_t> ns = ParseInt<int64_t>(request.Get("timeout_ns"));
    if (!ns.has_value() || *ns < 0) {
      return EncodeErrorAnswer(absl::InvalidArgumentError("main host stop: bad timeout_ns"));
    }
    absl::StatusOr<MainProcessStatus> st = sup_->Stop(jid_, absl::Nanoseconds(*ns));
    return st.ok() ? EncodeStatusAnswer(*st) : EncodeErrorAnswer(st.status());
  }
  if (request.verb == "quit") {
    absl::StatusOr<MainProcessStatus> st = sup_->Status(jid_);
    sup_->Forget(jid_);
    quit = true;
    return st.ok() ? EncodeStatusAnswer(*st) : EncodeErrorAnswer(st.status());
  }
  return EncodeErrorAnswer(
      absl::InvalidArgumentError(StrCat("main host: unknown request ", request.verb)));
}

void FreeBsdMainHost::Serve() {
  bool quit = false;
  while (!quit) {
    WriteRecordIfChanged();
    struct pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_r_, POLLIN, 0}};
    if (poll(p, 2, 100) <= 0) continue;
    if ((p[1].revents & POLLIN) != 0) break;
    if ((p[0].revents & POLLIN) == 0) continue;
    const int c = accept(listen_fd_, nullptr, nullptr);
    if (c < 0) continue;
    (void)fcntl(c, F_SETFD, FD_CLOEXEC);
    std::string buf(kMainWireMax, '\0');
    struct iovec iov = {buf.data(), buf.size()};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 3)];
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct pollfd cp = {c, POLLIN, 0};
    ssize_t n = poll(&cp, 1, 2000) == 1 ? recvmsg(c, &msg, MSG_CMSG_CLOEXEC) : -1;
    std::vector<int> fds;
    for (struct cmsghdr* h = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr; h != nullptr;
         h = CMSG_NXTHDR(&msg, h)) {
      if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd = -1;
        memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
        fds.push_back(fd);
      }
    }
    MainWireMessage answer;
    if (n <= 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
      CloseAll(fds);
      answer = EncodeErrorAnswer(absl::InvalidArgumentError("main host: a truncated request"));
    } else {
      buf.resize(static_cast<std::size_t>(n));
      absl::StatusOr<MainWireMessage> req = DecodeMainWire(buf);
      if (req.ok()) {
        answer = Handle(*req, fds, quit);
      } else {
        CloseAll(fds);
        answer = EncodeErrorAnswer(req.status());
      }
    }
    if (quit) {  // gone before the answer: no later request waits on it
      (void)unlink(socket_path_.c_str());
      if (!record_path_.empty()) (void)unlink(record_path_.c_str());
    }
    const std::string out = EncodeMainWire(answer);
    (void)send(c, out.data(), out.size(), MSG_NOSIGNAL);
    close(c);
  }
  if (!quit) WriteRecordIfChanged();
}

absl::StatusOr<std::string> SpawningMainLauncher::Find() {
  std::vector<std::string> candidates;
  if (const char* env = getenv("JAILWARDEN_SUPERVISE"); env != nullptr && *env != '\0') {
    candidates.push_back(env);
  }
  char exe[PATH_MAX];
#if defined(__FreeBSD__)
  // The running binary's path without procfs: kern.proc.pathname.
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
  std::size_t len = sizeof(exe);
  const ssize_t n = sysctl(mib, 4, exe, &len, nullptr, 0) == 0 && len > 1
                        ? static_cast<ssize_t>(len - 1)  // len counts the NUL
                        : -1;
#else
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
#endif
  if (n > 0) {
    const std::string self(exe, static_cast<std::size_t>(n));
    const std::string dir = self.substr(0, self.rfind('/'));
    candidates.push_back(dir + "/jailwarden-supervise");
    candidates.push_back(dir + "/../libexec/jailwarden/jailwarden-supervise");
  }
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  return absl::NotFoundError(
      StrCat("jailwarden-supervise not found (tried ", Join(candidates, ", "), ")"));
}

absl::Status SpawningMainLauncher::Launch(const std::string& jail,
                                          const std::string& socket_path,
                                          const std::string& record_path) {
  {
    absl::MutexLock l(&mu_);
    std::erase_if(children_, [](pid_t pid) {
      int st = 0;
      return waitpid(pid, &st, WNOHANG) != 0;
    });
  }
  if (Answers(socket_path)) return absl::OkStatus();
  JW_ASSIGN_OR_RETURN(
      const pid_t pid,
      SpawnUntilReady({binary_, StrCat("--jail=", jail), StrCat("--socket=", socket_path),
                       StrCat("--record=", record_path)},
                      StrCat("jail ", jail,
                             ": the main process host did not start (its stderr says why)")));
  absl::MutexLock l(&mu_);
  children_.push_back(pid);
  return absl::OkStatus();
}

InProcessMainLauncher::~InProcessMainLauncher() {
  absl::MutexLock l(&mu_);
  for (auto& [path, r] : hosts_) r.host->Shutdown();
  for (auto& [path, r] : hosts_) {
    if (r.thread.joinable()) r.thread.join();
  }
  hosts_.clear();
}

absl::Status InProcessMainLauncher::Launch(const std::string& jail,
                                           const std::string& socket_path,
                                           const std::string& record_path) {
  (void)jail;
  if (Answers(socket_path)) return absl::OkStatus();
  absl::MutexLock l(&mu_);
  if (auto it = hosts_.find(socket_path); it != hosts_.end()) {  // it quit
    it->second.host->Shutdown();
    if (it->second.thread.joinable()) it->second.thread.join();
    hosts_.erase(it);
  }
  absl::StatusOr<std::unique_ptr<FreeBsdMainHost>> host =
      FreeBsdMainHost::Bind(kernel_, socket_path, record_path);
  if (!host.ok()) return host.status();
  Running& r = hosts_[socket_path];
  r.host = *std::move(host);
  FreeBsdMainHost* h = r.host.get();
  r.thread = std::thread([h] { h->Serve(); });
  return absl::OkStatus();
}

}  // namespace jailwarden::platform
