// escape_probe: the attacks of issue 13, run from inside a jail by
// jail_isolation_test.cc. Static (the jail's root is busybox). Each mode
// tries one thing with the raw system calls and prints one line per step,
// "<step> errno=<n>" (0 = it worked), so the test compares exact errnos.
//
//   escape_probe userns        unshare(NEWUSER|NEWNS|NEWCGROUP), then mount
//                              the v1 memory and pids cgroup file systems
//   escape_probe newns         unshare / clone / clone3 with namespace flags
//   escape_probe keyring DESC  keyctl search of the user keyring for the
//                              "user" key DESC and read it; add_key
//   escape_probe session DESC HOST_ID
//                              the session keyring: its id ("host=1" when
//                              it is HOST_ID, the host's), and a search of
//                              it for the "user" key DESC
//   escape_probe euid          prints the effective uid (run set-user-ID)
//   escape_probe spawn         fork + exec of /bin/true and a thread-free
//                              posix_spawn: what must keep working
//   escape_probe nobody-sleep SECONDS
//                              drops to uid/gid 65534 (the host's nobody:
//                              no user namespace) and sleeps at most
//                              SECONDS (at most 600)
//   escape_probe projid DIR    the ways out of a project quota: a new
//                              file in DIR given project 0
//                              (FS_IOC_FSSETXATTR), DIR's project
//                              inheritance cleared (FS_IOC_SETFLAGS)
//   escape_probe btrfs DIR     the ways out of a btrfs qgroup limit, DIR
//                              on the jail's subvolume: its limit lifted
//                              (QGROUP_LIMIT), quotas disabled
//                              (QUOTA_CTL), the subvolume deleted by id
//                              (SNAP_DESTROY_V2), a new subvolume (own
//                              qgroup) made in DIR (SUBVOL_CREATE), a
//                              snapshot of DIR made in DIR (SNAP_CREATE)
//   escape_probe sigqueue-init rt_sigqueueinfo(1, SIGUSR1) with a forged
//                              si_pid 0 and si_uid 0 (what the runtime's
//                              clear-persist looks like); exits 1 if the
//                              signal could not be sent

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

extern char** environ;

namespace {

int Report(const char* step, long rc) {
  int err = rc < 0 ? errno : 0;
  printf("%s errno=%d\n", step, err);
  return err;
}

int UserNs() {
  Report("unshare", unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP));
  mkdir("/tmp/jw-cg-memory", 0700);
  mkdir("/tmp/jw-cg-pids", 0700);
  Report("mount_memory", mount("cgroup", "/tmp/jw-cg-memory", "cgroup", 0, "memory"));
  Report("mount_pids", mount("cgroup", "/tmp/jw-cg-pids", "cgroup", 0, "pids"));
  return 0;
}

// Runs `step` in a forked child and reports its errno: each attempt starts
// from the jail's own namespaces (after a successful unshare(NEWUSER) the
// caller's uid is unmapped and any further CLONE_NEWUSER fails).
void InChild(const char* name, long (*step)()) {
  pid_t pid = fork();
  if (pid == 0) {
    long rc = step();
    _exit(rc < 0 ? errno : 0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("%s errno=%d\n", name, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

long CloneUser() {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) {
    _exit(0);
  }
  if (pid > 0) {
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
  }
  return pid;
}

long Clone3User() {
  struct clone_args args;
  memset(&args, 0, sizeof(args));
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid == 0) {
    _exit(0);
  }
  if (pid > 0) {
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
  }
  return pid;
}

int NewNs() {
  InChild("unshare_user", [] { return static_cast<long>(unshare(CLONE_NEWUSER)); });
  InChild("unshare_net", [] { return static_cast<long>(unshare(CLONE_NEWNET)); });
  InChild("unshare_time", [] { return static_cast<long>(unshare(0x80 /* CLONE_NEWTIME */)); });
  InChild("clone_user", CloneUser);
  InChild("clone3_user", Clone3User);
  return 0;
}

int Keyring(const char* description) {
  long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", description, 0);
  Report("search", id);
  if (id > 0) {
    char buf[256] = {};
    long n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof(buf) - 1);
    Report("read", n);
    if (n > 0) {
      printf("payload %s\n", buf);
    }
  }
  Report("add_key",
         syscall(SYS_add_key, "user", "jw-probe-added", "x", 1, KEY_SPEC_SESSION_KEYRING));
  return 0;
}

int Session(const char* description, const char* host_id) {
  long id = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
  int err = id < 0 ? errno : 0;
  printf("session errno=%d host=%d\n", err, id > 0 && id == atol(host_id) ? 1 : 0);
  if (id > 0) {
    Report("search",
           syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", description, 0));
  }
  return 0;
}

int Spawn() {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("fork_exec status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  char arg0[] = "true";
  char* argv[] = {arg0, nullptr};
  // glibc's posix_spawn tries clone3 first and falls back to clone on
  // ENOSYS, the filter's answer.
  int rc = posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ);
  st = 0;
  if (rc == 0) {
    waitpid(pid, &st, 0);
  }
  printf("posix_spawn rc=%d status=%d\n", rc, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  return 0;
}

// <linux/fs.h>'s, spelled out: it clashes with <sys/mount.h> in some
// glibc versions.
struct FsXattr {
  uint32_t fsx_xflags, fsx_extsize, fsx_nextents, fsx_projid, fsx_cowextsize;
  unsigned char fsx_pad[8];
};
constexpr unsigned long kFsIocFsgetxattr = 0x801c581f;  // _IOR('X', 31, struct fsxattr)
constexpr unsigned long kFsIocFssetxattr = 0x401c5820;  // _IOW('X', 32, struct fsxattr)
constexpr unsigned long kFsIocGetflags = 0x80086601;    // _IOR('f', 1, long)
constexpr unsigned long kFsIocSetflags = 0x40086602;    // _IOW('f', 2, long)
constexpr long kFsProjinheritFl = 0x20000000;

// linux.disk_quota: the jail's root owns its files; both ioctls would let
// it write outside its project quota.
int ProjectId(const char* dir) {
  const std::string file = std::string(dir) + "/projid-probe";
  int fd = open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Report("open", -1);
  }
  FsXattr x = {};
  Report("fsgetxattr", ioctl(fd, kFsIocFsgetxattr, &x));
  x.fsx_projid = 0;
  Report("fssetxattr", ioctl(fd, kFsIocFssetxattr, &x));
  close(fd);
  int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  long flags = 0;
  Report("getflags", ioctl(d, kFsIocGetflags, &flags));
  flags &= ~kFsProjinheritFl;
  Report("setflags", ioctl(d, kFsIocSetflags, &flags));
  close(d);
  return 0;
}

// <linux/btrfs.h>'s requests and argument layouts, spelled out for the
// same reason as <linux/fs.h>'s above.
constexpr unsigned long kBtrfsIocSnapCreate = 0x50009401;     // _IOW(0x94, 1, vol_args)
constexpr unsigned long kBtrfsIocSubvolCreate = 0x5000940e;   // _IOW(0x94, 14, vol_args)
constexpr unsigned long kBtrfsIocInoLookup = 0xd0009412;      // _IOWR(0x94, 18, ino_lookup)
constexpr unsigned long kBtrfsIocQuotaCtl = 0xc0109428;       // _IOWR(0x94, 40, quota_ctl)
constexpr unsigned long kBtrfsIocQgroupLimit = 0x8030942b;    // _IOR(0x94, 43, qgroup_limit)
constexpr unsigned long kBtrfsIocSnapDestroyV2 = 0x5000943f;  // _IOW(0x94, 63, vol_args_v2)
struct BtrfsVolArgs {
  int64_t fd;
  char name[4088];
};
struct BtrfsVolArgsV2 {
  int64_t fd;
  uint64_t transid, flags, unused[4];
  union {
    char name[4040];
    uint64_t subvolid;
  };
};
struct BtrfsInoLookup {
  uint64_t treeid, objectid;
  char name[4080];
};
struct BtrfsQgroupLimit {
  uint64_t qgroupid, flags, max_rfer, max_excl, rsv_rfer, rsv_excl;
};
static_assert(sizeof(BtrfsVolArgs) == 4096 && sizeof(BtrfsVolArgsV2) == 4096 &&
              sizeof(BtrfsInoLookup) == 4096 && sizeof(BtrfsQgroupLimit) == 48);

int Btrfs(const char* dir) {
  int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) {
    return Report("open", -1);
  }
  static BtrfsInoLookup lookup;
  lookup.objectid = 256;  // the subvolume's root; treeid 0: fd's subvolume
  Report("ino_lookup", ioctl(d, kBtrfsIocInoLookup, &lookup));
  BtrfsQgroupLimit limit = {};
  limit.qgroupid = lookup.treeid;
  limit.flags = 1;  // BTRFS_QGROUP_LIMIT_MAX_RFER
  limit.max_rfer = ~uint64_t{0};
  Report("qgroup_limit", ioctl(d, kBtrfsIocQgroupLimit, &limit));
  uint64_t quota_ctl[2] = {2, 0};  // BTRFS_QUOTA_CTL_DISABLE
  Report("quota_disable", ioctl(d, kBtrfsIocQuotaCtl, quota_ctl));
  static BtrfsVolArgsV2 destroy;
  destroy.flags = 1 << 4;  // BTRFS_SUBVOL_SPEC_BY_ID
  destroy.subvolid = lookup.treeid;
  Report("snap_destroy", ioctl(d, kBtrfsIocSnapDestroyV2, &destroy));
  static BtrfsVolArgs create;
  strcpy(create.name, "jw-escape-subvol");
  Report("subvol_create", ioctl(d, kBtrfsIocSubvolCreate, &create));
  static BtrfsVolArgs snap;
  snap.fd = d;
  strcpy(snap.name, "jw-escape-snap");
  Report("snap_create", ioctl(d, kBtrfsIocSnapCreate, &snap));
  close(d);
  return 0;
}

// A process of the jail that runs as the host's nobody, so that host user
// nobody may open its /proc/PID/root (same uid, dumpable).
int NobodySleep(const char* seconds) {
  if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
    Report("setuid", -1);
    return 1;
  }
  int n = atoi(seconds);
  sleep(static_cast<unsigned>(n < 0 ? 0 : n > 600 ? 600 : n));
  return 0;
}

// The forged form of the runtime's clear-persist: rt_sigqueueinfo(2) lets a
// process choose si_pid and si_uid, but only with an si_code below 0.
int SigqueueInit() {
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  info.si_signo = SIGUSR1;
  info.si_code = SI_QUEUE;
  info.si_pid = 0;
  info.si_uid = 0;
  const long rc = syscall(SYS_rt_sigqueueinfo, 1, SIGUSR1, &info);
  Report("sigqueue", rc);
  return rc == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "userns") == 0) {
    return UserNs();
  }
  if (argc >= 2 && strcmp(argv[1], "newns") == 0) {
    return NewNs();
  }
  if (argc >= 3 && strcmp(argv[1], "keyring") == 0) {
    return Keyring(argv[2]);
  }
  if (argc >= 4 && strcmp(argv[1], "session") == 0) {
    return Session(argv[2], argv[3]);
  }
  if (argc >= 2 && strcmp(argv[1], "euid") == 0) {
    printf("euid %d\n", static_cast<int>(geteuid()));
    return 0;
  }
  if (argc >= 2 && strcmp(argv[1], "spawn") == 0) {
    return Spawn();
  }
  if (argc >= 3 && strcmp(argv[1], "nobody-sleep") == 0) {
    return NobodySleep(argv[2]);
  }
  if (argc >= 3 && strcmp(argv[1], "projid") == 0) {
    return ProjectId(argv[2]);
  }
  if (argc >= 3 && strcmp(argv[1], "btrfs") == 0) {
    return Btrfs(argv[2]);
  }
  if (argc >= 2 && strcmp(argv[1], "sigqueue-init") == 0) {
    return SigqueueInit();
  }
  fprintf(stderr,
          "usage: escape_probe userns|newns|keyring DESC|session DESC ID|euid|spawn|"
          "nobody-sleep SECONDS|projid DIR|btrfs DIR|sigqueue-init\n");
  return 2;
}
