// jailwarden-init: pid 1 of a Linux jail.
//
// Started by LinuxJailRuntime::Create with clone3(CLONE_NEWNS|NEWPID|NEWUTS|
// NEWIPC[|NEWNET]) as
//   jailwarden-init --config-fd=3 --report-fd=4
// It reads an InitConfig (JSON) from fd 3, joins the jail's cgroups, enters
// a new cgroup namespace, builds the jail's mounts (root or thin overlay,
// bind/tmpfs mounts, /proc, a private /dev with its own devpts), sets the
// hostname, brings lo up in a new netns, makes /proc/sys and other host-wide
// /proc files read-only, pivot_roots, drops to the jail's capability set
// (docs/linux-privileges.md), then writes "ok\n" (or "error <step>:
// <reason>\n") to fd 4 and closes it.
//
// Then it supervises: reaps every child (orphans of the jail are
// reparented to it), and while the jail is held (temporary persist during
// creation, or persist=true) stays; after SIGUSR1 (clear the temporary
// persist, jail(8) clear_persist) a non-persist jail ends — init exits 0 —
// as soon as no other process is left in the jail's pid namespace. The
// runtime sees the exit through its pidfd. SIGTERM/SIGINT/SIGHUP are
// ignored: jail(8) signals the jail's processes, not the jail.

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

namespace {

using jailwarden::platform::InitConfig;
using jailwarden::platform::InitMount;
using jailwarden::platform::InitRequest;

struct SetupError {
  std::string step;
  int err;
};

#define CHECK_SYS(expr, step)                 \
  do {                                        \
    if ((expr) != 0) {                        \
      throw SetupError{(step), errno};        \
    }                                         \
  } while (false)

// mkdir -p. Tries `path` itself first: in a ready-made root every parent
// exists, and walking down from "/" cost a system call per component.
void MkdirP(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) {
    return;
  }
  if (errno != ENOENT) {
    throw SetupError{"mkdir " + path, errno};
  }
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    MkdirP(path.substr(0, slash), mode);
  }
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    throw SetupError{"mkdir " + path, errno};
  }
}

void WriteFile(const std::string& path, const char* value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    throw SetupError{"open " + path, errno};
  }
  ssize_t n = write(fd, value, strlen(value));
  int err = errno;
  close(fd);
  if (n < 0) {
    throw SetupError{"write " + path, err};
  }
}

void MakeReadOnly(const std::string& target) {
  // mount_setattr(2) applies MOUNT_ATTR_RDONLY to the whole bind tree at
  // once; a MS_REMOUNT|MS_BIND|MS_RDONLY would cover only the top mount.
  struct {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
  } attr = {0x00000001 /* MOUNT_ATTR_RDONLY */, 0, 0, 0};
  if (syscall(SYS_mount_setattr, AT_FDCWD, target.c_str(),
              0x8000 /* AT_RECURSIVE */, &attr, sizeof(attr)) != 0) {
    CHECK_SYS(mount(nullptr, target.c_str(), nullptr,
                    MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr),
              "remount ro " + target);
  }
}

void MountOne(const std::string& root, const InitMount& m) {
  std::string target = root + m.target;
  if (m.fstype == "nullfs" || m.fstype == "bind" || m.fstype.empty()) {
    struct stat st;
    CHECK_SYS(stat(m.source.c_str(), &st), "stat " + m.source);
    if (S_ISDIR(st.st_mode)) {
      MkdirP(target, 0755);
    } else {
      MkdirP(target.substr(0, target.rfind('/')), 0755);
      int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) {
        close(fd);
      }
    }
    CHECK_SYS(mount(m.source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr),
              "bind " + m.source + " on " + m.target);
    if (m.read_only) {
      MakeReadOnly(target);
    }
    return;
  }
  if (m.fstype == "tmpfs") {
    MkdirP(target, 0755);
    unsigned long flags = MS_NOSUID | MS_NODEV | (m.read_only ? MS_RDONLY : 0);
    CHECK_SYS(mount("tmpfs", target.c_str(), "tmpfs", flags,
                    m.options.empty() ? nullptr : m.options.c_str()),
              "tmpfs on " + m.target);
    return;
  }
  throw SetupError{"mount " + m.target + ": fstype " + m.fstype + " not supported", EINVAL};
}

void MakeDev(const std::string& root, int devpts_max) {
  std::string dev = root + "/dev";
  MkdirP(dev, 0755);
  CHECK_SYS(mount("tmpfs", dev.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536"),
            "tmpfs on /dev");
  struct Node {
    const char* name;
    unsigned major, minor;
  };
  static const Node kNodes[] = {{"null", 1, 3},    {"zero", 1, 5},    {"full", 1, 7},
                                {"random", 1, 8},  {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const Node& n : kNodes) {
    std::string p = dev + "/" + n.name;
    CHECK_SYS(mknod(p.c_str(), S_IFCHR | 0666, makedev(n.major, n.minor)), "mknod " + p);
    chmod(p.c_str(), 0666);  // not subject to umask
  }
  std::string pts = dev + "/pts";
  MkdirP(pts, 0755);
  std::string opts = "newinstance,ptmxmode=0666,mode=0620";
  if (devpts_max > 0) {
    opts += ",max=" + std::to_string(devpts_max);
  }
  CHECK_SYS(mount("devpts", pts.c_str(), "devpts", MS_NOSUID | MS_NOEXEC, opts.c_str()),
            "devpts on /dev/pts");
  CHECK_SYS(symlink("pts/ptmx", (dev + "/ptmx").c_str()), "symlink /dev/ptmx");
  CHECK_SYS(symlink("/proc/self/fd", (dev + "/fd").c_str()), "symlink /dev/fd");
  CHECK_SYS(symlink("/proc/self/fd/0", (dev + "/stdin").c_str()), "symlink /dev/stdin");
  CHECK_SYS(symlink("/proc/self/fd/1", (dev + "/stdout").c_str()), "symlink /dev/stdout");
  CHECK_SYS(symlink("/proc/self/fd/2", (dev + "/stderr").c_str()), "symlink /dev/stderr");
  MkdirP(dev + "/shm", 01777);
  chmod((dev + "/shm").c_str(), 01777);
}

// Binds `path` onto itself (with what is mounted below it); read-only
// unless `writable`. Missing paths are skipped: /proc/acpi exists only with
// ACPI, /proc/bus only with some buses.
void BindOver(const std::string& path, bool writable) {
  if (access(path.c_str(), F_OK) != 0) {
    return;
  }
  CHECK_SYS(mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr),
            "bind " + path);
  if (!writable) {
    CHECK_SYS(mount(nullptr, path.c_str(), nullptr,
                    MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    nullptr),
              "read-only " + path);
  }
}

// The jail's /proc shows host-wide controls that need no capability, only
// uid 0: sysctls (kernel.core_pattern alone runs a program as the host's
// root), sysrq-trigger (reboots the host), irq affinities. Read-only, as
// OCI runtimes do, except the jail's own hostname (allow.set_hostname) and,
// for vnet, its own network stack's sysctls. A bind copies its source's
// flags, so the writable exceptions are bound first and come along in the
// recursive bind of /proc/sys, whose top alone turns read-only.
void ProtectProc(const std::string& proc, const InitConfig& c) {
  if (c.hostname_writable) {
    BindOver(proc + "/sys/kernel/hostname", true);
  }
  if (c.net_sysctls_writable) {
    BindOver(proc + "/sys/net", true);
  }
  for (const char* p : {"/sys", "/sysrq-trigger", "/irq", "/bus", "/fs", "/acpi"}) {
    BindOver(proc + p, false);
  }
}

void LoopbackUp() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    throw SetupError{"socket", errno};
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    int err = errno;
    close(s);
    throw SetupError{"SIOCGIFFLAGS lo", err};
  }
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  int rc = ioctl(s, SIOCSIFFLAGS, &ifr);
  int err = errno;
  close(s);
  if (rc != 0) {
    throw SetupError{"SIOCSIFFLAGS lo", err};
  }
}

int g_listen_fd = -1;

// The command socket, bound on the host's file system before pivot_root so
// the runtime can connect to it later (also after a jailwarden restart).
int Listen(const std::string& path) {
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
  CHECK_SYS(bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), "bind " + path);
  CHECK_SYS(chmod(path.c_str(), 0600), "chmod " + path);
  CHECK_SYS(listen(fd, 64), "listen");
  return fd;
}

// Runs in the forked child: never returns.
[[noreturn]] void ExecRequestChild(const InitRequest& r, const int fds[3]) {
  for (int i = 0; i < 3; ++i) {
    if (fds[i] >= 0) {
      dup2(fds[i], i);
    }
  }
  syscall(SYS_close_range, 3, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (r.spawn) {
    setsid();
  }
  for (const std::array<uint64_t, 3>& l : r.rlimits) {
    const struct rlimit lim = {static_cast<rlim_t>(l[1]), static_cast<rlim_t>(l[2])};
    setrlimit(static_cast<__rlimit_resource>(l[0]), &lim);  // see exec.cc
  }
  if (chdir("/") != 0) {
    _exit(126);
  }
  std::vector<char*> argv, envp;
  for (const std::string& a : r.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::string path = "/bin:/usr/bin:/sbin:/usr/sbin";
  for (const std::string& e : r.env) {
    envp.push_back(const_cast<char*>(e.c_str()));
    if (e.rfind("PATH=", 0) == 0) {
      path = e.substr(5);
    }
  }
  envp.push_back(nullptr);
  const std::string& a0 = r.argv[0];
  int err = ENOENT;
  if (a0.find('/') != std::string::npos) {
    execve(a0.c_str(), argv.data(), envp.data());
    err = errno;
  } else {
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) {
        end = path.size();
      }
      std::string dir = path.substr(start, end - start);
      std::string cand = (dir.empty() ? "." : dir) + "/" + a0;
      execve(cand.c_str(), argv.data(), envp.data());
      if (errno != ENOENT && errno != ENOTDIR) {
        err = errno;
      }
      start = end + 1;
    }
  }
  _exit(err == EACCES ? 126 : 127);
}

// Accepts one connection and starts its command. Returns the child's pid
// and the connection (closed and -1 for spawn), or pid -1.
std::pair<int, int> Accept(int listen_fd) {
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
  if (n > 0 && jailwarden::platform::InitRequestFromJson(buf.substr(0, static_cast<size_t>(n)),
                                                         &req, &error)) {
    pid = fork();
    if (pid == 0) {
      ExecRequestChild(req, fds);
    }
  }
  for (int fd : fds) {
    if (fd >= 0) {
      close(fd);
    }
  }
  int32_t reply = pid;
  if (send(conn, &reply, sizeof(reply), MSG_NOSIGNAL) != sizeof(reply) || pid < 0 || req.spawn) {
    close(conn);
    return {pid, -1};
  }
  return {pid, conn};
}

void Setup(const InitConfig& c) {
  for (const std::string& procs : c.cgroup_join) {
    WriteFile(procs, "0");
  }
  // After joining: the new cgroup namespace is rooted at the jail's cgroup.
  CHECK_SYS(unshare(CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)");
  CHECK_SYS(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
  if (!c.overlay_lower.empty()) {
    std::string opts = "lowerdir=" + c.overlay_lower + ",upperdir=" + c.overlay_upper +
                       ",workdir=" + c.overlay_work;
    CHECK_SYS(mount("overlay", c.root.c_str(), "overlay", 0, opts.c_str()), "overlay root");
  } else {
    CHECK_SYS(mount(c.root.c_str(), c.root.c_str(), nullptr, MS_BIND | MS_REC, nullptr),
              "bind root");
  }
  for (const InitMount& m : c.mounts) {
    MountOne(c.root, m);
  }
  std::string proc = c.root + "/proc";
  MkdirP(proc, 0555);
  CHECK_SYS(mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
            "proc");
  ProtectProc(proc, c);
  MakeDev(c.root, c.devpts_max);
  MkdirP(c.root + "/tmp", 01777);
  if (!c.hostname.empty()) {
    CHECK_SYS(sethostname(c.hostname.data(), c.hostname.size()), "sethostname");
  }
  if (c.new_net) {
    LoopbackUp();
  }
  if (!c.socket_path.empty()) {
    g_listen_fd = Listen(c.socket_path);
  }
  // pivot_root(".", "."): the old root ends up on top of the new one and is
  // detached right away, so no directory for it is needed in the jail.
  CHECK_SYS(chdir(c.root.c_str()), "chdir root");
  CHECK_SYS(static_cast<int>(syscall(SYS_pivot_root, ".", ".")), "pivot_root");
  CHECK_SYS(umount2(".", MNT_DETACH), "detach old root");
  CHECK_SYS(chdir("/"), "chdir /");
  // From here on init needs no privilege: it reaps, forks and signals its
  // own children. Everything it starts inherits the reduced set.
  if (!c.caps_unrestricted) {
    const char* step = "";
    if (int err = jailwarden::platform::DropToCapabilities(c.capabilities, &step); err != 0) {
      throw SetupError{std::string("drop capabilities: ") + step, err};
    }
  }
  // Not dumpable: the jail's root may not ptrace pid 1 or open
  // /proc/1/exe (the host's jailwarden-init). Its children become dumpable
  // again at execve.
  CHECK_SYS(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)");
}

bool OtherProcessesExist() {
  DIR* d = opendir("/proc");
  if (d == nullptr) {
    return true;  // cannot tell: stay
  }
  bool found = false;
  while (struct dirent* e = readdir(d)) {
    const char* n = e->d_name;
    if (n[0] < '1' || n[0] > '9') {
      continue;
    }
    if (strcmp(n, "1") != 0) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
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
  std::string error;
  std::string report = "ok\n";
  if (!InitConfigFromJson(text, &config, &error)) {
    report = "error config: " + error + "\n";
  } else {
    try {
      Setup(config);
    } catch (const SetupError& e) {
      report = "error " + e.step + ": " + strerror(e.err) + "\n";
    }
  }
  (void)!write(report_fd, report.data(), report.size());
  close(report_fd);
  if (report != "ok\n") {
    return 1;
  }

  bool held = true;  // jail(8)'s temporary persist while the jail is made
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  std::map<int, int> waiting;  // child pid -> connection awaiting its status
  for (;;) {
    std::vector<struct pollfd> pfds;
    pfds.push_back({sfd, POLLIN, 0});
    if (g_listen_fd >= 0) {
      pfds.push_back({g_listen_fd, POLLIN, 0});
    }
    for (const auto& [pid, conn] : waiting) {
      pfds.push_back({conn, POLLIN, 0});  // readable or hung up: peer gave up
    }
    poll(pfds.data(), pfds.size(), 250);
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
      if (si.ssi_signo == SIGUSR1) {
        held = config.persist;
      }
    }
    size_t first_conn = g_listen_fd >= 0 ? 2 : 1;
    for (size_t i = first_conn; i < pfds.size(); ++i) {
      if (pfds[i].revents != 0) {
        // The runtime closed the connection (exec.timeout): kill the child.
        for (auto it = waiting.begin(); it != waiting.end(); ++it) {
          if (it->second == pfds[i].fd) {
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
    if (g_listen_fd >= 0 && pfds[1].revents & POLLIN) {
      auto [child, conn] = Accept(g_listen_fd);
      if (child > 0 && conn >= 0) {
        waiting[child] = conn;
      }
      continue;  // a new process exists: look again before deciding to end
    }
    if (!held && waiting.empty() && !OtherProcessesExist()) {
      return 0;
    }
  }
}
