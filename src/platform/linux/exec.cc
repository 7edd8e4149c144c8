#include "platform/linux/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/cap_drop.h"
#include "platform/linux/clone_vfork.h"
#include "platform/linux/init_config.h"

extern char** environ;

namespace jailwarden::platform {
namespace {

constexpr char kDefaultPath[] = "/bin:/usr/bin:/sbin:/usr/sbin";

int PidfdOpen(int pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Everything a child needs, owned here so the raw pointers stay valid.
struct Prepared {
  std::vector<std::string> argv_storage, env_storage, candidates;
  std::vector<char*> argv, envp;
  std::vector<std::array<uint64_t, 3>> rlimits;  // {RLIMIT_*, soft, hard}
  bool drop_caps = false;  // to `capabilities`, after the rlimits
  uint64_t capabilities = 0;
  int fds[3] = {-1, -1, -1};
  int devnull = -1;
  ~Prepared() {
    if (devnull >= 0) {
      close(devnull);
    }
  }
};

absl::Status Prepare(const ExecRequest& req, Prepared& p) {
  if (req.argv.empty() || req.argv[0].empty()) {
    return absl::InvalidArgumentError("exec: empty argv");
  }
  p.argv_storage = req.argv;
  std::map<std::string, std::string> env;
  if (!req.clean_env) {
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view kv(*e);
      size_t eq = kv.find('=');
      if (eq != std::string_view::npos) {
        env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
      }
    }
  }
  for (const auto& [k, v] : req.env) {
    env[k] = v;
  }
  std::string path = env.count("PATH") ? env["PATH"] : kDefaultPath;
  for (const auto& [k, v] : env) {
    p.env_storage.push_back(StrCat(k, "=", v));
  }
  const std::string& a0 = req.argv[0];
  if (a0.find('/') != std::string::npos) {
    p.candidates.push_back(a0);
  } else {
    for (std::string_view dir : Split(path, ':')) {
      p.candidates.push_back(StrCat(dir.empty() ? "." : dir, "/", a0));
    }
  }
  for (std::string& s : p.argv_storage) {
    p.argv.push_back(s.data());
  }
  p.argv.push_back(nullptr);
  for (std::string& s : p.env_storage) {
    p.envp.push_back(s.data());
  }
  p.envp.push_back(nullptr);
  p.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (p.devnull < 0) {
    return ErrnoStatus(errno, "open /dev/null");
  }
  int given[3] = {req.stdin_fd, req.stdout_fd, req.stderr_fd};
  for (int i = 0; i < 3; ++i) {
    p.fds[i] = given[i] >= 0 ? given[i] : p.devnull;
  }
  return absl::OkStatus();
}

// Async-signal-safe from here on.
[[noreturn]] void ExecPrepared(const Prepared& p) {
  // Move the three fds out of the way first, so dup2 cannot clobber one
  // with another.
  int high[3];
  for (int i = 0; i < 3; ++i) {
    high[i] = fcntl(p.fds[i], F_DUPFD_CLOEXEC, 10);
  }
  for (int i = 0; i < 3; ++i) {
    if (high[i] < 0 || dup2(high[i], i) < 0) {
      _exit(126);
    }
  }
  // Handlers back to default before anything is unblocked: in a
  // CloneVfork child a handler would run on the caller's memory.
  sigset_t none;
  sigemptyset(&none);
  ResetSignalHandlersForExec(none);
  for (const std::array<uint64_t, 3>& l : p.rlimits) {
    const struct rlimit lim = {static_cast<rlim_t>(l[1]), static_cast<rlim_t>(l[2])};
    // Lowering never fails for root; a raise this host forbids keeps the
    // inherited (lower) limit, which is still within the rule.
    setrlimit(static_cast<__rlimit_resource>(l[0]), &lim);
  }
  if (p.drop_caps) {
    const char* step = "";
    if (DropToCapabilities(p.capabilities, &step) != 0) {
      static const char kMsg[] = "jailwarden: cannot drop to the jail's capabilities\n";
      (void)!write(2, kMsg, sizeof(kMsg) - 1);
      _exit(126);
    }
  }
  int err = ENOENT;
  for (const std::string& c : p.candidates) {
    execve(c.c_str(), p.argv.data(), p.envp.data());
    if (errno != ENOENT && errno != ENOTDIR) {
      err = errno;
    }
  }
  _exit(err == EACCES ? 126 : 127);
}

ExecResult FromWaitStatus(int st) {
  ExecResult r;
  if (WIFEXITED(st)) {
    r.exit_code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    r.term_signal = WTERMSIG(st);
  }
  return r;
}

// Waits for `fd` to become readable until `deadline` (InfiniteFuture =
// forever). Returns false on timeout.
bool WaitReadable(int fd, absl::Time deadline) {
  for (;;) {
    int ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return false;
      }
      ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    int rc = poll(&pfd, 1, ms);
    if (rc > 0) {
      return true;
    }
    if (rc < 0 && errno != EINTR) {
      return true;  // let the caller's read report it
    }
  }
}

bool ReadFull(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void WriteFull(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      return;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
}

// What the jail helper reports first: the command's host pid, or a failed
// step and its errno.
struct HelperHello {
  int32_t pid;   // > 0: the command's pid; <= 0: failure
  int32_t step;  // 1 join cgroup, 2 setns, 3 fork
  int32_t err;
};

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

absl::Status HelperStepError(const HelperHello& h) {
  const char* what = h.step == 1 ? "join jail cgroup" : h.step == 2 ? "setns into jail" : "fork";
  return ErrnoStatus(h.err, what);
}

void ReapChild(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
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
                                      Prepared& p) {
  int nsfd = -1;
  if (!t.netns_path.empty()) {
    nsfd = open(t.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      return ErrnoStatus(errno, StrCat("open ", t.netns_path));
    }
  }
  // Hooks and host tools (ip) run often from the daemon: started without
  // copying its memory (CloneVfork); the child only makes system calls.
  HostChild child{&p, nsfd};
  pid_t pid = CloneVfork({}, StartHostChild, &child);
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
  return r;
}

// Asks the jail's pid 1 to start the command. Returns the connection (for
// the status) and the child's pid in the jail's pid namespace.
absl::StatusOr<std::pair<int, int32_t>> RequestFromInit(const std::string& socket_path,
                                                        const Prepared& p, bool spawn) {
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
  InitRequest r;
  r.argv = p.argv_storage;
  r.env = p.env_storage;
  r.spawn = spawn;
  r.rlimits = p.rlimits;
  std::string body = InitRequestToJson(r);
  struct iovec iov = {body.data(), body.size()};
  char control[CMSG_SPACE(3 * sizeof(int))];
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
  c->cmsg_len = CMSG_LEN(3 * sizeof(int));
  memcpy(CMSG_DATA(c), p.fds, 3 * sizeof(int));
  if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(err, "sendmsg to jail init");
  }
  int32_t pid = -1;
  if (!ReadFull(fd, &pid, sizeof(pid)) || pid <= 0) {
    close(fd);
    return absl::InternalError("jail init could not start the command");
  }
  return std::make_pair(fd, pid);
}

absl::StatusOr<ExecResult> ExecViaInit(const ExecTarget& t, const ExecRequest& req,
                                       const Prepared& p) {
  JW_ASSIGN_OR_RETURN(auto conn, RequestFromInit(t.init_socket, p, /*spawn=*/false));
  int fd = conn.first;
  absl::Time deadline = req.timeout > absl::ZeroDuration() ? absl::Now() + req.timeout
                                                           : absl::InfiniteFuture();
  if (!WaitReadable(fd, deadline)) {
    // Closing the connection makes init SIGKILL the command.
    close(fd);
    ExecResult r;
    r.timed_out = true;
    r.term_signal = SIGKILL;
    return r;
  }
  int32_t st = 0;
  bool got = ReadFull(fd, &st, sizeof(st));
  close(fd);
  if (!got) {
    return absl::InternalError("jail init went away before the command ended");
  }
  return FromWaitStatus(st);
}

}  // namespace

// Forks the setns helper (JailHelper) for `p`; returns its pid and the read
// end of the pipe it reports on (the caller closes it and reaps the helper).
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

absl::StatusOr<ExecResult> ExecAndWait(const ExecTarget& t, const ExecRequest& req) {
  Prepared p;
  JW_RETURN_IF_ERROR(Prepare(req, p));
  p.rlimits = t.rlimits;
  p.drop_caps = t.in_jail && t.caps_restricted;
  p.capabilities = t.capabilities;
  if (!t.in_jail) {
    return ExecOnHost(t, req, p);
  }
  // Without its socket file (a runtime directory emptied while the jail
  // ran) the jail is still entered, through the setns helper.
  if (!t.init_socket.empty() && access(t.init_socket.c_str(), F_OK) == 0) {
    return ExecViaInit(t, req, p);
  }
  JW_ASSIGN_OR_RETURN(auto started, StartJailHelper(t, p, /*spawn=*/false));
  const pid_t helper = started.first;
  const int report_fd = started.second;
  HelperHello hello{};
  if (!ReadFull(report_fd, &hello, sizeof(hello))) {
    close(report_fd);
    ReapChild(helper);
    return absl::InternalError("jail exec helper died");
  }
  if (hello.pid <= 0) {
    close(report_fd);
    ReapChild(helper);
    return HelperStepError(hello);
  }
  absl::Time deadline = req.timeout > absl::ZeroDuration() ? absl::Now() + req.timeout
                                                           : absl::InfiniteFuture();
  bool timed_out = false;
  if (!WaitReadable(report_fd, deadline)) {
    // The helper has not reaped the command yet, so its pid is still ours
    // to signal.
    kill(hello.pid, SIGKILL);
    timed_out = true;
  }
  int32_t st = 0;
  bool got = ReadFull(report_fd, &st, sizeof(st));
  close(report_fd);
  ReapChild(helper);
  if (!got) {
    return absl::InternalError("jail exec helper died before reporting");
  }
  ExecResult r = FromWaitStatus(st);
  r.timed_out = timed_out;
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
    JW_ASSIGN_OR_RETURN(auto conn, RequestFromInit(t.init_socket, p, /*spawn=*/true));
    close(conn.first);
    ns_pid = conn.second;
    return HostPidOf(ns_pid, membership_dir);
  }
  JW_ASSIGN_OR_RETURN(auto started, StartJailHelper(t, p, /*spawn=*/true));
  const pid_t helper = started.first;
  const int report_fd = started.second;
  HelperHello hello{};
  bool ok = ReadFull(report_fd, &hello, sizeof(hello)) && hello.pid > 0 &&
            ReadFull(report_fd, &ns_pid, sizeof(ns_pid)) && ns_pid > 0;
  close(report_fd);
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
  std::ifstream procs(membership_dir + "/cgroup.procs");
  std::string line;
  while (std::getline(procs, line)) {
    std::ifstream status("/proc/" + line + "/status");
    std::string l;
    while (std::getline(status, l)) {
      if (!StartsWith(l, "NSpid:")) {
        continue;
      }
      std::vector<std::string_view> f = SplitWhitespace(l);
      if (f.size() >= 3 && ParseInt<int64_t>(f.back()) == ns_pid) {
        return *ParseInt<int64_t>(f[1]);
      }
      break;
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

}  // namespace jailwarden::platform
