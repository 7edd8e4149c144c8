// jailwarden-init: pid 1 of a Linux jail.
//
// Started by LinuxJailRuntime::Create with clone3(CLONE_NEWNS|NEWPID|NEWUTS|
// NEWIPC[|NEWNET]) as
//   jailwarden-init --config-fd=3 --report-fd=4
// It reads an InitConfig (JSON) from fd 3, joins the jail's cgroups, enters
// a new cgroup namespace, builds the jail's mounts (root or thin overlay,
// bind/tmpfs mounts, /proc, a private /dev with its own devpts), sets the
// hostname, brings lo up in a new netns, makes /proc/sys and other host-wide
// /proc files read-only and hides runc's masked paths (/proc/keys,
// kallsyms, timer_list, ...), pivot_roots, installs the jail's seccomp filter
// (docs/security.md) and drops to the jail's capability set
// (docs/linux-privileges.md), then writes "ok\n" (or "error <step>:
// <reason>\n") to fd 4 and closes it.
//
// Then it supervises: reaps every child (orphans of the jail are
// reparented to it), and while the jail is held (temporary persist during
// creation, or persist=true) stays; after SIGUSR1 (clear the temporary
// persist, jail(8) clear_persist) a non-persist jail ends — init exits 0 —
// as soon as no other process is left in the jail's pid namespace. The
// runtime sees the exit through its pidfd. SIGTERM/SIGINT/SIGHUP are
// ignored: jail(8) signals the jail's processes, not the jail. A SIGUSR1
// counts only when the runtime sent it from outside the jail (issue 13:
// the jail's root can signal its pid 1; see FromOutsideTheJail).
//
// Issue 17: it also supervises the jail's main process (`command:`), told
// over the command socket ("main.start" after exec.poststart, "main.stop"
// first when the jail stops, "main.status" at any time): see
// init_main_supervisor.h. Its record lives here, in the process that outlives
// the daemon; the daemon reads it again after a restart.

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
#include "platform/linux/init_main_oci.h"
#include "platform/linux/init_main_setup.h"
#include "platform/linux/init_main_supervisor.h"

namespace {

using jailwarden::platform::InitConfig;
using jailwarden::platform::jail_init::AcceptCommand;
using jailwarden::platform::jail_init::MainSupervisor;
using jailwarden::platform::jail_init::SetupError;
using jailwarden::platform::jail_init::SetupJail;

// Who else is in the jail's pid namespace (init is pid 1).
enum class Others {
  kNone,         // nobody: a non-persist jail may end
  kDescendants,  // only processes made in the jail: the last one to exit is
                 // init's child (orphans are reparented to it), so SIGCHLD
                 // tells init when to look again
  kOutsider,     // a process that entered from outside (setns: its parent is
                 // not in the namespace, PPid 0) or one that could not be
                 // read: its exit sends init nothing, so init must poll
};

// The parent pid from /proc/<pid>/stat ("pid (comm) state ppid ..."; comm
// may hold ')' and spaces, so after the last ')'), or -1 if unreadable (the
// process is gone, or the read failed).
int ParentPid(int pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  char buf[512];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) {
    return -1;
  }
  buf[n] = '\0';
  const char* close_paren = strrchr(buf, ')');
  if (close_paren == nullptr) {
    return -1;
  }
  char state = 0;
  int ppid = -1;
  if (sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) {
    return -1;
  }
  return ppid;
}

// Scans /proc once; stops at the first outsider. Called only when the jail
// could end (not held), after an event, never on a timer unless an
// outsider was seen. A process that vanished during the scan is skipped.
Others ScanOtherProcesses() {
  DIR* d = opendir("/proc");
  if (d == nullptr) {
    return Others::kOutsider;  // cannot tell: stay, and look again
  }
  Others found = Others::kNone;
  while (struct dirent* e = readdir(d)) {
    const char* n = e->d_name;
    if (n[0] < '1' || n[0] > '9' || strcmp(n, "1") == 0) {
      continue;
    }
    const int pid = atoi(n);
    const int ppid = ParentPid(pid);
    if (ppid == 0) {
      found = Others::kOutsider;
      break;
    }
    if (ppid > 0) {
      found = Others::kDescendants;
    } else if (kill(pid, 0) == 0) {
      found = Others::kOutsider;  // alive but unreadable: do not trust SIGCHLD
      break;
    }
  }
  closedir(d);
  return found;
}

// How long init may sleep with nothing due: while the jail could end and
// an outsider is in it, 250 ms (init cannot hear it exit); otherwise until
// an event (signal, command, connection, the supervisor's next deadline).
int PollTimeoutMs(int supervisor_ms, bool outsider) {
  if (!outsider) {
    return supervisor_ms;
  }
  return supervisor_ms < 0 || supervisor_ms > 250 ? 250 : supervisor_ms;
}

// Whether a signal init read from its signalfd was sent from outside the
// jail's pid namespace with kill(2)/pidfd_send_signal(2), as
// LinuxJailRuntime::ClearPersist sends it. The kernel fills in si_pid as
// the receiver's namespace sees the sender (signal(7), pid_namespaces(7)):
// 0 for a sender in an ancestor namespace, the sender's pid in the jail for
// a process of the jail, which as the jail's pid 1 init still receives
// (a blocked signal is never dropped, even for an unkillable init). SI_USER
// cannot be forged: rt_sigqueueinfo(2) and pidfd_send_signal(2) with a
// siginfo refuse an si_code >= 0 for another process (EPERM), and the forms
// they allow (SI_QUEUE, ...) may carry any si_pid, 0 included, so only
// si_code SI_USER with si_pid 0 is the host.
bool FromOutsideTheJail(const struct signalfd_siginfo& si) {
  return si.ssi_code == SI_USER && si.ssi_pid == 0;
}

int ParseFdFlag(const char* arg, const char* name) {
  size_t len = strlen(name);
  if (strncmp(arg, name, len) == 0 && arg[len] == '=') {
    return atoi(arg + len + 1);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  int config_fd = -1, report_fd = -1;
  for (int i = 1; i < argc; ++i) {
    int v;
    if ((v = ParseFdFlag(argv[i], "--config-fd")) >= 0) {
      config_fd = v;
    } else if ((v = ParseFdFlag(argv[i], "--report-fd")) >= 0) {
      report_fd = v;
    }
  }
  if (config_fd < 0 || report_fd < 0 || getpid() != 1) {
    fprintf(stderr, "jailwarden-init: internal program, run by jailwarden\n");
    return 2;
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(config_fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  close(config_fd);

  // Block the signals we handle before anything can send them.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGUSR1, SIGTERM, SIGINT, SIGHUP}) {
    sigaddset(&set, s);
  }
  sigprocmask(SIG_BLOCK, &set, nullptr);

  InitConfig config;
  jailwarden::platform::InitOciProcess oci;  // an OCI container's process
  int listen_fd = -1;  // the command socket, when the config names one
  std::string error;
  std::string report = "ok\n";
  int oom_fd = -1;  // issue 17: the cgroup's OOM counter, read-only
  if (!InitConfigFromJson(text, &config, &error)) {
    report = "error config: " + error + "\n";
  } else {
    if (!config.oom_events_path.empty()) {
      oom_fd = open(config.oom_events_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    try {
      listen_fd = SetupJail(config);
      if (!config.oci_process.empty()) {
        jailwarden::platform::jail_init::PrepareOciProcess(config, &oci);
      }
    } catch (const SetupError& e) {
      // The errno's name and text, and why: "mount target /tmp: EXDEV
      // (Invalid cross-device link): a symbolic link ... leads out of the
      // jail's root".
      const char* name = strerrorname_np(e.err);
      report = "error " + e.step + ": " + (name != nullptr ? name : "E?") + " (" +
               strerror(e.err) + ")" + (e.detail.empty() ? "" : ": " + e.detail) + "\n";
    }
  }
  (void)!write(report_fd, report.data(), report.size());
  close(report_fd);
  if (report != "ok\n") {
    return 1;
  }
  if (!config.oci_process.empty()) {
    return jailwarden::platform::jail_init::ExecOciProcess(oci);
  }

  bool held = true;  // jail(8)'s temporary persist while the jail is made
  bool told_ignored = false;  // a SIGUSR1 from inside the jail was logged
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  std::map<int, int> waiting;  // child pid -> connection awaiting its status
  MainSupervisor main_process(oom_fd);  // command: (issue 17)
  bool outsider = false;  // the last look at /proc found one (Others)
  for (;;) {
    std::vector<struct pollfd> pfds;
    pfds.push_back({sfd, POLLIN, 0});
    if (listen_fd >= 0) {
      pfds.push_back({listen_fd, POLLIN, 0});
    }
    for (const auto& [pid, conn] : waiting) {
      pfds.push_back({conn, POLLIN, 0});  // readable or hung up: peer gave up
    }
    // Idle, init sleeps: no timer unless work is due (200 idle jails used
    // to wake 800 times a second, and the daemon's slow tier then read
    // every init in full as a process that ran).
    poll(pfds.data(), pfds.size(), PollTimeoutMs(main_process.TimeoutMs(), outsider));
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
      if (si.ssi_signo != SIGUSR1) {
        continue;
      }
      if (FromOutsideTheJail(si)) {
        held = config.persist;
      } else if (!told_ignored) {
        // Once: the jail may send them in a loop.
        fprintf(stderr, "jailwarden-init: ignored SIGUSR1 from pid %u (code %d) in the jail\n",
                si.ssi_pid, si.ssi_code);
        told_ignored = true;
      }
    }
    size_t first_conn = listen_fd >= 0 ? 2 : 1;
    for (size_t i = first_conn; i < pfds.size(); ++i) {
      if (pfds[i].revents != 0) {
        // The runtime closed the connection (exec.timeout): kill the child.
        for (auto it = waiting.begin(); it != waiting.end(); ++it) {
          if (it->second == pfds[i].fd) {
            kill(-it->first, SIGKILL);  // its group (ExecRequestChild)
            kill(it->first, SIGKILL);
            close(it->second);
            it->second = -1;
            break;
          }
        }
      }
    }
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
      if (main_process.Reaped(pid, st)) {
        continue;
      }
      auto it = waiting.find(pid);
      if (it != waiting.end()) {
        if (it->second >= 0) {
          int32_t status = st;
          (void)!send(it->second, &status, sizeof(status), MSG_NOSIGNAL);
          close(it->second);
        }
        waiting.erase(it);
      }
    }
    std::erase_if(waiting, [](const auto& kv) { return kv.second < 0 && kill(kv.first, 0) != 0; });
    main_process.Tick();
    if (listen_fd >= 0 && pfds[1].revents & POLLIN) {
      auto [child, conn] = AcceptCommand(listen_fd, &main_process);
      if (child > 0 && conn >= 0) {
        waiting[child] = conn;
      }
      continue;  // a new process exists: look again before deciding to end
    }
    // A configured main process holds the jail (init_main_supervisor.h).
    outsider = false;
    if (!held && !main_process.Holds() && waiting.empty()) {
      Others others = ScanOtherProcesses();
      if (others == Others::kNone) {
        return 0;
      }
      outsider = others == Others::kOutsider;
    }
  }
}
