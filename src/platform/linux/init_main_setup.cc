// jailwarden-init: building the jail (init_main_setup.h).

#include <dirent.h>
#include <fcntl.h>
#include <linux/keyctl.h>
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
#include "platform/linux/init_main_oci.h"
#include "platform/linux/init_main_setup.h"
#include "platform/linux/safe_path.h"

namespace jailwarden::platform::jail_init {
namespace {

// Throws SetupError for a failed safe_path call (`r` = -errno), naming the
// jail-relative path and why (safe_path.h: EXDEV, ELOOP).
int CheckPath(int r, const std::string& what, const std::string& path) {
  if (r < 0) {
    throw SetupError{what + " " + path, -r, SafePathHint(-r)};
  }
  return r;
}

// A descriptor closed at scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  std::string path() const { return FdPath(fd_); }

 private:
  int fd_;
};

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

// Makes the mount at `fd` (a descriptor of its root) read-only.
void MakeReadOnly(int fd, const std::string& what) {
  // mount_setattr(2) applies MOUNT_ATTR_RDONLY to the whole bind tree at
  // once; a MS_REMOUNT|MS_BIND|MS_RDONLY would cover only the top mount.
  struct {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
  } attr = {0x00000001 /* MOUNT_ATTR_RDONLY */, 0, 0, 0};
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | 0x8000 /* AT_RECURSIVE */, &attr,
              sizeof(attr)) != 0) {
    JW_INIT_CHECK_SYS(mount(nullptr, FdPath(fd).c_str(), nullptr,
                            MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr),
                      "remount ro " + what);
  }
}

// Every target is resolved beneath the root (safe_path.h): a symlink the
// jail planted that leads out fails the start (EXDEV) before anything is
// made, and the mount goes onto the descriptor, so what was checked is
// what gets mounted on.
void MountOne(int root_fd, const InitMount& m) {
  if (m.fstype == "nullfs" || m.fstype == "bind" || m.fstype.empty()) {
    struct stat st;
    JW_INIT_CHECK_SYS(stat(m.source.c_str(), &st), "stat " + m.source);
    Fd target(S_ISDIR(st.st_mode)
                  ? CheckPath(MkdirAllBeneath(root_fd, m.target, 0755), "mount target", m.target)
                  : CheckPath(OpenFileBeneath(root_fd, m.target, O_RDONLY, 0644), "mount target",
                              m.target));
    JW_INIT_CHECK_SYS(mount(m.source.c_str(), target.path().c_str(), nullptr, MS_BIND | MS_REC,
                            nullptr),
                      "bind " + m.source + " on " + m.target);
    if (m.read_only) {
      // The new mount's root: the same lookup, now crossing onto it.
      Fd mounted(CheckPath(OpenBeneath(root_fd, m.target, O_PATH), "mount target", m.target));
      MakeReadOnly(mounted.get(), m.target);
    }
    // nosuid, nodev, noexec in the options (an OCI bind mount's): the
    // bind's top gets them too.
    unsigned long extra = 0;
    for (const auto& [word, flag] : {std::pair<const char*, unsigned long>{"nosuid", MS_NOSUID},
                                     {"nodev", MS_NODEV},
                                     {"noexec", MS_NOEXEC}}) {
      if (("," + m.options + ",").find(std::string(",") + word + ",") != std::string::npos) {
        extra |= flag;
      }
    }
    if (extra != 0) {
      Fd mounted(CheckPath(OpenBeneath(root_fd, m.target, O_PATH), "mount target", m.target));
      JW_INIT_CHECK_SYS(mount(nullptr, mounted.path().c_str(), nullptr,
                              MS_BIND | MS_REMOUNT | extra | (m.read_only ? MS_RDONLY : 0),
                              nullptr),
                        "remount " + m.target + " " + m.options);
    }
    return;
  }
  if (m.fstype == "tmpfs") {
    Fd target(CheckPath(MkdirAllBeneath(root_fd, m.target, 0755), "mount target", m.target));
    unsigned long flags = MS_NOSUID | MS_NODEV | (m.read_only ? MS_RDONLY : 0);
    JW_INIT_CHECK_SYS(mount("tmpfs", target.path().c_str(), "tmpfs", flags,
                            m.options.empty() ? nullptr : m.options.c_str()),
                      "tmpfs on " + m.target);
    return;
  }
  if (m.fstype == "sysfs" || m.fstype == "mqueue" || m.fstype == "cgroup2") {
    // Kernel file systems an OCI config asks for (src/oci): always
    // nosuid, nodev, noexec; sysfs and cgroup2 as the config says (ro).
    Fd target(CheckPath(MkdirAllBeneath(root_fd, m.target, 0755), "mount target", m.target));
    unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (m.read_only ? MS_RDONLY : 0);
    JW_INIT_CHECK_SYS(mount(m.fstype.c_str(), target.path().c_str(), m.fstype.c_str(), flags,
                            nullptr),
                      m.fstype + " on " + m.target);
    return;
  }
  throw SetupError{"mount " + m.target + ": fstype " + m.fstype + " not supported", EINVAL};
}

bool UnderDev(const std::string& target) { return target.rfind("/dev/", 0) == 0; }

// A private /dev: a tmpfs on the root's dev (resolved beneath it), then
// the nodes, devpts and links made relative to the new tmpfs's descriptor.
void MakeDev(int root_fd, int devpts_max) {
  {
    Fd under(CheckPath(MkdirAllBeneath(root_fd, "/dev", 0755), "mount target", "/dev"));
    JW_INIT_CHECK_SYS(mount("tmpfs", under.path().c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC,
                            "mode=755,size=65536"),
                      "tmpfs on /dev");
  }
  Fd dev(CheckPath(OpenBeneath(root_fd, "/dev", O_PATH | O_DIRECTORY), "open", "/dev"));
  struct Node {
    const char* name;
    unsigned major, minor;
  };
  static const Node kNodes[] = {{"null", 1, 3},    {"zero", 1, 5},    {"full", 1, 7},
                                {"random", 1, 8},  {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const Node& n : kNodes) {
    std::string p = std::string("/dev/") + n.name;
    JW_INIT_CHECK_SYS(mknodat(dev.get(), n.name, S_IFCHR | 0666, makedev(n.major, n.minor)),
                      "mknod " + p);
    fchmodat(dev.get(), n.name, 0666, 0);  // not subject to umask
  }
  JW_INIT_CHECK_SYS(mkdirat(dev.get(), "pts", 0755), "mkdir /dev/pts");
  {
    Fd pts(openat(dev.get(), "pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    JW_INIT_CHECK_SYS(pts.get() < 0 ? -1 : 0, "open /dev/pts");
    std::string opts = "newinstance,ptmxmode=0666,mode=0620";
    if (devpts_max > 0) {
      opts += ",max=" + std::to_string(devpts_max);
    }
    JW_INIT_CHECK_SYS(mount("devpts", pts.path().c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
                            opts.c_str()),
                      "devpts on /dev/pts");
  }
  static const char* const kLinks[][2] = {{"pts/ptmx", "ptmx"},
                                          {"/proc/self/fd", "fd"},
                                          {"/proc/self/fd/0", "stdin"},
                                          {"/proc/self/fd/1", "stdout"},
                                          {"/proc/self/fd/2", "stderr"}};
  for (const auto& l : kLinks) {
    JW_INIT_CHECK_SYS(symlinkat(l[0], dev.get(), l[1]), std::string("symlink /dev/") + l[1]);
  }
  JW_INIT_CHECK_SYS(mkdirat(dev.get(), "shm", 01777), "mkdir /dev/shm");
  fchmodat(dev.get(), "shm", 01777, 0);
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

// linux.sysfs: a fresh sysfs (it shows the jail's own network devices
// when it has a network namespace), read-only as runc mounts it, and the
// parts of it runc masks hidden: firmware tables (ACPI, EFI variables,
// DMI), the power-capping counters whose energy readings leak what other
// tenants compute (CVE-2020-8694 class), and the kernel's debug and
// tracing files. Before pivot_root (MaskPath binds the host's /dev/null).
void MountSysfs(int root_fd) {
  {
    Fd under(CheckPath(MkdirAllBeneath(root_fd, "/sys", 0555), "mount target", "/sys"));
    JW_INIT_CHECK_SYS(mount("sysfs", under.path().c_str(), "sysfs",
                            MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
                      "sysfs");
  }
  // Opened again: the fd above still names the directory under the mount.
  Fd sys(CheckPath(OpenBeneath(root_fd, "/sys", O_PATH | O_DIRECTORY), "open", "/sys"));
  for (const char* p : {"/firmware", "/devices/virtual/powercap", "/kernel/debug",
                        "/kernel/tracing", "/kernel/security", "/fs/bpf"}) {
    MaskPath(sys.path() + p);
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

// Mounts a thin jail's overlay and returns the directory it is on. The
// overlay's options are what /proc/self/mountinfo shows in the jail, so
// the layers are given by short names in a staging tmpfs (on c.root, in
// this private mount namespace): "l" a bind of the lower layer, "u" a bind
// of the directory holding the upper and work directories (overlayfs
// wants both on one mount), "r" the overlay itself. The staging binds are
// detached right after (overlayfs holds its own references) and the tmpfs
// goes with the old root at pivot_root.
std::string MountOverlayRoot(const InitConfig& c) {
  PathSplit upper = SplitLast(c.overlay_upper);
  PathSplit work = SplitLast(c.overlay_work);
  if (upper.parent.empty() || upper.parent != work.parent) {
    // Not laid out by this runtime: full paths.
    std::string opts = "lowerdir=" + c.overlay_lower + ",upperdir=" + c.overlay_upper +
                       ",workdir=" + c.overlay_work;
    JW_INIT_CHECK_SYS(mount("overlay", c.root.c_str(), "overlay", 0, opts.c_str()),
                      "overlay root");
    return c.root;
  }
  JW_INIT_CHECK_SYS(mount("tmpfs", c.root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          "size=16k,mode=700"),
                    "staging tmpfs");
  JW_INIT_CHECK_SYS(chdir(c.root.c_str()), "chdir staging");
  for (const char* d : {"l", "u", "r"}) {
    JW_INIT_CHECK_SYS(mkdir(d, 0700), std::string("mkdir staging ") + d);
  }
  JW_INIT_CHECK_SYS(mount(c.overlay_lower.c_str(), "l", nullptr, MS_BIND, nullptr),
                    "bind lower layer");
  JW_INIT_CHECK_SYS(mount(upper.parent.c_str(), "u", nullptr, MS_BIND, nullptr),
                    "bind upper layer");
  std::string opts =
      "lowerdir=l,upperdir=u/" + upper.name + ",workdir=u/" + work.name;
  JW_INIT_CHECK_SYS(mount("overlay", "r", "overlay", 0, opts.c_str()), "overlay root");
  JW_INIT_CHECK_SYS(umount2("l", MNT_DETACH), "detach staging l");
  JW_INIT_CHECK_SYS(umount2("u", MNT_DETACH), "detach staging u");
  JW_INIT_CHECK_SYS(chdir("/"), "chdir /");
  return c.root + "/r";
}

}  // namespace

int SetupJail(const InitConfig& c) {
  for (const std::string& procs : c.cgroup_join) {
    WriteFile(procs, "0");
  }
  // After joining: the new cgroup namespace is rooted at the jail's cgroup.
  JW_INIT_CHECK_SYS(unshare(CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)");
  JW_INIT_CHECK_SYS(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
  std::string root = c.root;
  if (!c.overlay_lower.empty()) {
    root = MountOverlayRoot(c);
  } else {
    JW_INIT_CHECK_SYS(mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr),
                      "bind root");
  }
  {
    // The root's mount: every path below is resolved beneath it.
    Fd root_fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    JW_INIT_CHECK_SYS(root_fd.get() < 0 ? -1 : 0, "open root");
    for (const InitMount& m : c.mounts) {
      if (!UnderDev(m.target)) {
        MountOne(root_fd.get(), m);
      }
    }
    {
      Fd under(CheckPath(MkdirAllBeneath(root_fd.get(), "/proc", 0555), "mount target", "/proc"));
      JW_INIT_CHECK_SYS(mount("proc", under.path().c_str(), "proc",
                              MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
                        "proc");
    }
    {
      // The fresh procfs: nothing in it is the jail's.
      Fd proc(CheckPath(OpenBeneath(root_fd.get(), "/proc", O_PATH | O_DIRECTORY), "open",
                        "/proc"));
      ProtectProc(proc.path(), c);
    }
    if (c.mount_sysfs) {
      MountSysfs(root_fd.get());
    }
    MakeDev(root_fd.get(), c.devpts_max);
    // Mounts below /dev (an OCI /dev/shm, /dev/mqueue) go on the private
    // /dev, not under it where its tmpfs would hide them.
    for (const InitMount& m : c.mounts) {
      if (UnderDev(m.target)) {
        MountOne(root_fd.get(), m);
      }
    }
    // A convenience, not a mount: a jail that made its own /tmp a link
    // that leads out keeps what it made (nothing is created anywhere).
    int tmp = MkdirAllBeneath(root_fd.get(), "/tmp", 01777);
    if (tmp >= 0) {
      close(tmp);
    } else if (tmp != -EXDEV && tmp != -ELOOP && tmp != -ENOTDIR && tmp != -ENOENT) {
      CheckPath(tmp, "mkdir", "/tmp");
    }
  }
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
  // An OCI container's create hooks: its mounts are made, / is still the
  // runtime's.
  OciBeforePivotRoot(c);
  // pivot_root(".", "."): the old root ends up on top of the new one and is
  // detached right away, so no directory for it is needed in the jail.
  JW_INIT_CHECK_SYS(chdir(root.c_str()), "chdir root");
  JW_INIT_CHECK_SYS(static_cast<int>(syscall(SYS_pivot_root, ".", ".")), "pivot_root");
  JW_INIT_CHECK_SYS(umount2(".", MNT_DETACH), "detach old root");
  JW_INIT_CHECK_SYS(chdir("/"), "chdir /");
  // The seccomp filter goes on once init's own mount work (the detach
  // above) is done, and before the capability drop: seccomp(2) without
  // no_new_privs, which jailwarden leaves unset so set-user-ID programs
  // work, needs CAP_SYS_ADMIN.
  // First a session keyring of its own (anonymous, new), which every
  // process in the jail inherits: the daemon's session keyring is not the
  // jail's. After the filter keyctl may be refused.
  if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr) < 0 && errno != ENOSYS) {
    throw SetupError{"keyctl(KEYCTL_JOIN_SESSION_KEYRING)", errno};
  }
  // An OCI container's own steps (its mounts first: the filters below
  // refuse the mount family).
  OciBeforeCapabilityDrop(c);
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
