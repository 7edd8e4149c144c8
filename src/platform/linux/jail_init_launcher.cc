#include "platform/linux/jail_init_launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <vector>

#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/cgroup.h"
#include "platform/linux/clone_vfork.h"
#include "platform/linux/jail_host_files.h"

namespace jailwarden::platform {
namespace {

// What the child of CloneVfork needs to become jailwarden-init; prepared
// before the clone, since the child shares our memory and may not allocate.
struct InitChild {
  int cfg_read, report_write, devnull;
  const char* path;
  char** argv;
  char** envp;
};

// The CloneVfork child: async-signal-safe only. Moves the pipe ends to 3
// and 4 by way of high numbers so one cannot overwrite the other.
int StartInit(void* arg) {
  const InitChild& c = *static_cast<const InitChild*>(arg);
  int cfg = fcntl(c.cfg_read, F_DUPFD, 10);
  int rep = fcntl(c.report_write, F_DUPFD, 10);
  if (cfg < 0 || rep < 0 || dup2(cfg, 3) < 0 || dup2(rep, 4) < 0 || dup2(c.devnull, 0) < 0 ||
      dup2(c.devnull, 1) < 0 || dup2(c.devnull, 2) < 0) {
    return 127;
  }
  syscall(SYS_close_range, 5, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  ResetSignalHandlersForExec(none);
  execve(c.path, c.argv, c.envp);
  return 127;
}

}  // namespace

absl::StatusOr<std::string> FindJailInit(const std::string& configured) {
  std::vector<std::string> candidates;
  if (!configured.empty()) {
    candidates.push_back(configured);
  } else {
    if (const char* env = getenv("JAILWARDEN_INIT"); env != nullptr && *env != '\0') {
      candidates.push_back(env);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
      std::string dir = Dirname(std::string(exe, static_cast<size_t>(n)));
      candidates.push_back(dir + "/jailwarden-init");
      candidates.push_back(dir + "/../src/jailwarden-init");
      candidates.push_back(dir + "/../../src/jailwarden-init");
      candidates.push_back(dir + "/../libexec/jailwarden/jailwarden-init");
    }
  }
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) {
      return c;
    }
  }
  return absl::NotFoundError(StrCat("jailwarden-init not found (tried ",
                                    Join(candidates, ", "), ")"));
}

absl::StatusOr<LaunchedInit> LaunchJailInit(
    const std::string& init_path, uint64_t clone_flags,
    const std::map<std::string, std::string>& backend_state, InitConfig config,
    const std::function<absl::Status(int64_t pid)>& place) {
  int cfg[2], rep[2];
  if (pipe2(cfg, O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, "pipe2");
  }
  if (pipe2(rep, O_CLOEXEC) != 0) {
    int err = errno;
    close(cfg[0]);
    close(cfg[1]);
    return ErrnoStatus(err, "pipe2");
  }
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  std::string argv0 = "jailwarden-init";
  std::string a1 = "--config-fd=3", a2 = "--report-fd=4";
  char* argv[] = {argv0.data(), a1.data(), a2.data(), nullptr};
  std::string path_env = "PATH=/bin:/usr/bin:/sbin:/usr/sbin";
  char* envp[] = {path_env.data(), nullptr};

  // jailwarden-init is born in the jail's v2 cgroup (CLONE_INTO_CGROUP,
  // Linux 5.7) and joins the v1 hierarchies itself through `tasks`: no
  // step takes the kernel's global threadgroup lock (see
  // CgroupLayout::JoinFiles). A kernel without CLONE_INTO_CGROUP refuses
  // the flag (EINVAL, or E2BIG for the larger argument block); then init
  // writes the v2 cgroup.procs like the v1 files.
  int cgroup_fd = -1;
  if (std::string dir = CgroupLayout::CloneIntoDir(backend_state); !dir.empty() && !place) {
    cgroup_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  int pidfd = -1;
  CloneVforkArgs args;
  args.flags = clone_flags | CLONE_PIDFD;
  args.pidfd = &pidfd;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup_fd = cgroup_fd;
  }
  InitChild child{cfg[0], rep[1], devnull, init_path.c_str(), argv, envp};
  pid_t pid = CloneVfork(args, StartInit, &child);
  if (pid < 0 && cgroup_fd >= 0 && (errno == EINVAL || errno == E2BIG)) {
    close(cgroup_fd);
    cgroup_fd = -1;
    args.flags &= ~static_cast<uint64_t>(CLONE_INTO_CGROUP);
    args.cgroup_fd = -1;
    pid = CloneVfork(args, StartInit, &child);
  }
  int clone_err = errno;
  bool v2_joined_at_clone = cgroup_fd >= 0;
  if (cgroup_fd >= 0) {
    close(cgroup_fd);
  }
  close(cfg[0]);
  close(rep[1]);
  if (devnull >= 0) {
    close(devnull);
  }
  if (pid < 0) {
    close(cfg[1]);
    close(rep[0]);
    return ErrnoStatus(clone_err, "clone3(jail namespaces)");
  }
  if (place) {
    // Init blocks reading fd 3 until the config comes, so it is still
    // nowhere but in its new namespaces while `place` moves it.
    if (absl::Status placed = place(pid); !placed.ok()) {
      close(cfg[1]);
      close(rep[0]);
      (void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      siginfo_t info;
      while (waitid(static_cast<idtype_t>(3) /* P_PIDFD */, static_cast<id_t>(pidfd), &info,
                    WEXITED) != 0 &&
             errno == EINTR) {
      }
      close(pidfd);
      return placed;
    }
    v2_joined_at_clone = true;  // the daemon moved it (cgroup.procs)
  }
  config.cgroup_join = CgroupLayout::JoinFiles(backend_state, v2_joined_at_clone);
  std::string json = InitConfigToJson(config);
  (void)!write(cfg[1], json.data(), json.size());
  close(cfg[1]);
  return LaunchedInit{pid, pidfd, rep[0]};
}

std::string ReadJailInitReport(int report_fd, absl::Duration timeout) {
  std::string report;
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    struct pollfd pfd = {report_fd, POLLIN, 0};
    int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (ms <= 0 || poll(&pfd, 1, ms) == 0) {
      report = "error timeout waiting for jailwarden-init";
      break;
    }
    char buf[512];
    ssize_t n = read(report_fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    report.append(buf, static_cast<size_t>(n));
  }
  close(report_fd);
  return std::string(StripWhitespace(report));
}

}  // namespace jailwarden::platform
