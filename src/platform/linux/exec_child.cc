// The child side of running a command: what Prepare builds before fork,
// and the async-signal-safe ExecPrepared and I/O helpers (exec_internal.h).

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/seccomp.h"
#include "platform/linux/cap_drop.h"
#include "platform/linux/clone_vfork.h"
#include "platform/linux/exec_internal.h"

extern char** environ;

namespace jailwarden::platform::exec_internal {
namespace {

constexpr char kDefaultPath[] = "/bin:/usr/bin:/sbin:/usr/sbin";

}  // namespace

Prepared::~Prepared() {
  if (devnull >= 0) {
    close(devnull);
  }
  if (err_fd >= 0) {
    close(err_fd);
  }
}

int PidfdOpen(int pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

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
  p.tty = req.tty;
  p.tty_rows = req.tty_rows;
  p.tty_cols = req.tty_cols;
  return absl::OkStatus();
}

int TakeExecErrno(int fd) {
  if (fd < 0) {
    return 0;
  }
  int err = 0;
  struct stat st;
  // The fd may come from a jail's pid 1 (RequestFromInit): only a pipe is
  // read, and never waited on.
  if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
      fcntl(fd, F_SETFL, O_NONBLOCK) == 0) {
    int v = 0;
    ssize_t n = read(fd, &v, sizeof(v));
    if (n == static_cast<ssize_t>(sizeof(v)) && v > 0 && v < 4096) {
      err = v;
    }
  }
  close(fd);
  return err;
}

// Async-signal-safe from here on.
[[noreturn]] void ExecPrepared(const Prepared& p, int tty_fd) {
  // Move the three fds out of the way first, so dup2 cannot clobber one
  // with another.
  int high[3];
  for (int i = 0; i < 3; ++i) {
    high[i] = fcntl(tty_fd >= 0 ? tty_fd : p.fds[i], F_DUPFD_CLOEXEC, 10);
  }
  if (tty_fd >= 0 && setsid() < 0) {
    _exit(126);
  }
  // Without a terminal: its own process group, so a timeout kills what the
  // command started too (a health check's `sh -c` children). Fails, and
  // need not, for a spawn's session leader.
  if (tty_fd < 0) {
    (void)setpgid(0, 0);
  }
  for (int i = 0; i < 3; ++i) {
    if (high[i] < 0 || dup2(high[i], i) < 0) {
      _exit(126);
    }
  }
  if (tty_fd >= 0 && ioctl(0, TIOCSCTTY, 0) != 0) {
    _exit(126);
  }
  // Nothing of the daemon's but 0-2 survives the execve, whatever a
  // library left without O_CLOEXEC (the jail's root must not inherit a
  // host fd).
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  // Handlers back to default before anything is unblocked: in a
  // CloneVfork child a handler would run on the caller's memory.
  sigset_t none;
  sigemptyset(&none);
  ResetSignalHandlersForExec(none);
  // What the daemon ignores (SIGPIPE) and the setns helper ignores to
  // outlive a jail-wide SIGTERM must not stay ignored in the command: a
  // terminal's hangup, ^C and a stop's SIGTERM have to reach it.
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE}) {
    signal(sig, SIG_DFL);
  }
  for (const std::array<uint64_t, 3>& l : p.rlimits) {
    const struct rlimit lim = {static_cast<rlim_t>(l[1]), static_cast<rlim_t>(l[2])};
    // Lowering never fails for root; a raise this host forbids keeps the
    // inherited (lower) limit, which is still within the rule.
    setrlimit(static_cast<__rlimit_resource>(l[0]), &lim);
  }
  // A jail command entering through the setns helper gets a new session
  // keyring, not the daemon's (jailwarden-init does the same for the
  // jail's own processes); before the filter, which may refuse keyctl.
  if (!p.seccomp.empty()) {
    syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr);
  }
  // The jail's seccomp filter, before the capability drop (seccomp.h:
  // without no_new_privs installing needs CAP_SYS_ADMIN).
  if (!p.seccomp.empty() && InstallSeccompFilter(p.seccomp) != 0) {
    static const char kMsg[] = "jailwarden: cannot install the jail's seccomp filter\n";
    (void)!write(2, kMsg, sizeof(kMsg) - 1);
    _exit(126);
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
  if (p.err_fd >= 0) {
    (void)!write(p.err_fd, &err, sizeof(err));
  }
  _exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
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

void ReapChild(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace jailwarden::platform::exec_internal
