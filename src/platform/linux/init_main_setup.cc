// jailwarden-init: building the jail (init_main_setup.h).

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

#include "jailwarden/platform/linux/seccomp.h"
#include "platform/linux/cap_drop.h"
#include "platform/linux/init_config.h"
#include "platform/linux/init_main_commands.h"
#include "platform/linux/init_main_setup.h"

namespace jailwarden::platform::jail_init {
namespace {

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
    JW_INIT_CHECK_SYS(mount(nullptr, target.c_str(), nullptr,
                    MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr),
              "remount ro " + target);
  }
}

void MountOne(const std::string& root, const InitMount& m) {
  std::string target = root + m.target;
  if (m.fstype == "nullfs" || m.fstype == "bind" || m.fstype.empty()) {
    struct stat st;
    JW_INIT_CHECK_SYS(stat(m.source.c_str(), &st), "stat " + m.source);
    if (S_ISDIR(st.st_mode)) {
      MkdirP(target, 0755);
    } else {
      MkdirP(target.substr(0, target.rfind('/')), 0755);
      int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) {
        close(fd);
      }
    }
    JW_INIT_CHECK_SYS(mount(m.source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr),
              "bind " + m.source + " on " + m.target);
    if (m.read_only) {
      MakeReadOnly(target);
    }
    return;
  }
  if (m.fstype == "tmpfs") {
    MkdirP(target, 0755);
    unsigned long flags = MS_NOSUID | MS_NODEV | (m.read_only ? MS_RDONLY : 0);
    JW_INIT_CHECK_SYS(mount("tmpfs", target.c_str(), "tmpfs", flags,
                    m.options.empty() ? nullptr : m.options.c_str()),
              "tmpfs on " + m.target);
    return;
  }
  throw SetupError{"mount " + m.target + ": fstype " + m.fstype + " not supported", EINVAL};
}

void MakeDev(const std::string& root, int devpts_max) {
  std::string dev = root + "/dev";
  MkdirP(dev, 0755);
  JW_INIT_CHECK_SYS(mount("tmpfs", dev.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536"),
            "tmpfs on /dev");
  struct Node {
    const char* name;
    unsigned major, minor;
  };
  static const Node kNodes[] = {{"null", 1, 3},    {"zero", 1, 5},    {"full", 1, 7},
                                {"random", 1, 8},  {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const Node& n : kNodes) {
    std::string p = dev + "/" + n.name;
    JW_INIT_CHECK_SYS(mknod(p.c_str(), S_IFCHR | 0666, makedev(n.major, n.minor)), "mknod " + p);
    chmod(p.c_str(), 0666);  // not subject to umask
  }
  std::string pts = dev + "/pts";
  MkdirP(pts, 0755);
  std::string opts = "newinstance,ptmxmode=0666,mode=0620";
  if (devpts_max > 0) {
    opts += ",max=" + std::to_string(devpts_max);
  }
  JW_INIT_CHECK_SYS(mount("devpts", pts.c_str(), "devpts", MS_NOSUID | MS_NOEXEC, opts.c_str()),
            "devpts on /dev/pts");
  JW_INIT_CHECK_SYS(symlink("pts/ptmx", (dev + "/ptmx").c_str()), "symlink /dev/ptmx");
  JW_INIT_CHECK_SYS(symlink("/proc/self/fd", (dev + "/fd").c_str()), "symlink /dev/fd");
  JW_INIT_CHECK_SYS(symlink("/proc/self/fd/0", (dev + "/stdin").c_str()), "symlink /dev/stdin");
  JW_INIT_CHECK_SYS(symlink("/proc/self/fd/1", (dev + "/stdout").c_str()), "symlink /dev/stdout");
  JW_INIT_CHECK_SYS(symlink("/proc/self/fd/2", (dev + "/stderr").c_str()), "symlink /dev/stderr");
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
  JW_INIT_CHECK_SYS(mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr),
            "bind " + path);
  if (!writable) {
    JW_INIT_CHECK_SYS(mount(nullptr, path.c_str(), nullptr,
                    MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    nullptr),
              "read-only " + path);
  }
}

// Hides `path` (absent: nothing to hide). Before pivot_root: /dev/null is
// the host's.
void MaskPath(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    JW_INIT_CHECK_SYS(mount("tmpfs", path.c_str(), "tmpfs",
                            MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555"),
                      "mask " + path);
  } else {
    JW_INIT_CHECK_SYS(mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr),
                      "mask " + path);
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
  for (const char* p : {"/sys", "/sysrq-trigger", "/irq", "/bus", "/fs"}) {
    BindOver(proc + p, false);
  }
  // runc's masked paths (its default spec), plus kallsyms: files that show
  // the host's kernel (addresses, timers of every process, the keys of
  // every user, physical memory) and that no jail needs. A file gets the
  // host's /dev/null bound over it (reads give nothing), a directory an
  // empty read-only tmpfs.
  for (const char* p : {"/acpi", "/asound", "/interrupts", "/kcore", "/keys", "/key-users",
                        "/kallsyms", "/latency_stats", "/timer_list", "/timer_stats",
                        "/sched_debug", "/scsi"}) {
    MaskPath(proc + p);
  }
}

void InstallJailSeccomp(const std::string& text) {
  SeccompSettings settings;
  std::vector<sock_filter> program;
  std::string error;
  if (!SeccompSettingsFromText(text, &settings, &error) ||
      !BuildSeccompFilter(settings, &program, &error)) {
    throw SetupError{"seccomp filter: " + error, EINVAL};
  }
  if (int err = InstallSeccompFilter(program); err != 0) {
    throw SetupError{"seccomp(SECCOMP_SET_MODE_FILTER)", err};
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

}  // namespace

int SetupJail(const InitConfig& c) {
  for (const std::string& procs : c.cgroup_join) {
    WriteFile(procs, "0");
  }
  // After joining: the new cgroup namespace is rooted at the jail's cgroup.
  JW_INIT_CHECK_SYS(unshare(CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)");
  JW_INIT_CHECK_SYS(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
  if (!c.overlay_lower.empty()) {
    std::string opts = "lowerdir=" + c.overlay_lower + ",upperdir=" + c.overlay_upper +
                       ",workdir=" + c.overlay_work;
    JW_INIT_CHECK_SYS(mount("overlay", c.root.c_str(), "overlay", 0, opts.c_str()), "overlay root");
  } else {
    JW_INIT_CHECK_SYS(mount(c.root.c_str(), c.root.c_str(), nullptr, MS_BIND | MS_REC, nullptr),
              "bind root");
  }
  for (const InitMount& m : c.mounts) {
    MountOne(c.root, m);
  }
  std::string proc = c.root + "/proc";
  MkdirP(proc, 0555);
  JW_INIT_CHECK_SYS(mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
            "proc");
  ProtectProc(proc, c);
  MakeDev(c.root, c.devpts_max);
  MkdirP(c.root + "/tmp", 01777);
  if (!c.hostname.empty()) {
    JW_INIT_CHECK_SYS(sethostname(c.hostname.data(), c.hostname.size()), "sethostname");
  }
  if (c.new_net) {
    LoopbackUp();
  }
  int listen_fd = -1;
  if (!c.socket_path.empty()) {
    listen_fd = ListenForCommands(c.socket_path);
  }
  // pivot_root(".", "."): the old root ends up on top of the new one and is
  // detached right away, so no directory for it is needed in the jail.
  JW_INIT_CHECK_SYS(chdir(c.root.c_str()), "chdir root");
  JW_INIT_CHECK_SYS(static_cast<int>(syscall(SYS_pivot_root, ".", ".")), "pivot_root");
  JW_INIT_CHECK_SYS(umount2(".", MNT_DETACH), "detach old root");
  JW_INIT_CHECK_SYS(chdir("/"), "chdir /");
  // The seccomp filter goes on once init's own mount work (the detach
  // above) is done, and before the capability drop: seccomp(2) without
  // no_new_privs, which jailwarden leaves unset so set-user-ID programs
  // work, needs CAP_SYS_ADMIN.
  if (!c.seccomp.empty()) {
    InstallJailSeccomp(c.seccomp);
  }
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
  JW_INIT_CHECK_SYS(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)");
  return listen_fd;
}

}  // namespace jailwarden::platform::jail_init
