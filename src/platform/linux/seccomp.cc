// The jail's seccomp filter (jailwarden/platform/linux/seccomp.h). Built
// into both the platform library and the static jailwarden-init, so it
// uses neither abseil nor the library's helpers.

#include "jailwarden/platform/linux/seccomp.h"

#include <errno.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace jailwarden::platform {
namespace {

// runc/moby's default profile refuses these to a container without the
// matching capability; a jail has none of those capabilities, and several
// (keyctl, bpf, perf_event_open, userfaultfd) need none at all to reach
// state shared with the host.
constexpr std::string_view kAlwaysDenied[] = {
    "add_key",
    "request_key",
    "keyctl",
    "bpf",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "open_by_handle_at",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "userfaultfd",
    "lookup_dcookie",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "pivot_root",
    "iopl",
    "ioperm",
    "uselib",
    "nfsservctl",
    "_sysctl",
    "vm86",
    "vm86old",
    "get_kernel_syms",
    "query_module",
};
constexpr std::string_view kMountFamily[] = {
    "mount",  "umount",   "umount2", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick",    "mount_setattr",
};
constexpr std::string_view kTime[] = {"settimeofday", "clock_settime", "adjtimex", "clock_adjtime",
                                      "stime"};
constexpr std::string_view kQuotas[] = {"quotactl", "quotactl_fd"};

constexpr uint64_t kCloneNamespaces[] = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWNET,
                                         CLONE_NEWPID,  CLONE_NEWIPC, CLONE_NEWUTS};

bool Contains(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

std::string Joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    out += out.empty() ? "" : ",";
    out += n;
  }
  return out;
}

bool SplitNames(std::string_view list, std::vector<std::string>* out, std::string* error) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string name(list.substr(0, comma));
    if (!IsKnownSyscallName(name)) {
      *error = "unknown system call \"" + name + "\"";
      return false;
    }
    out->push_back(name);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return true;
}

// Owns a libseccomp context.
class Ctx {
 public:
  Ctx() : ctx_(seccomp_init(SCMP_ACT_ALLOW)) {}
  ~Ctx() {
    if (ctx_ != nullptr) {
      seccomp_release(ctx_);
    }
  }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

bool Fail(std::string* error, const std::string& step, int rc) {
  *error = step + ": " + strerror(rc < 0 ? -rc : rc);
  return false;
}

}  // namespace

const std::vector<std::string_view>& DefaultDeniedSyscalls() {
  static const std::vector<std::string_view>* const kList = [] {
    auto* v = new std::vector<std::string_view>(std::begin(kAlwaysDenied), std::end(kAlwaysDenied));
    v->insert(v->end(), std::begin(kMountFamily), std::end(kMountFamily));
    v->insert(v->end(), std::begin(kTime), std::end(kTime));
    v->insert(v->end(), std::begin(kQuotas), std::end(kQuotas));
    return v;
  }();
  return *kList;
}

const std::vector<std::string_view>& NamespaceSyscalls() {
  static const std::vector<std::string_view> kList = {"unshare", "clone", "setns", "clone3"};
  return kList;
}

bool IsKnownSyscallName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  return seccomp_syscall_resolve_name(std::string(name).c_str()) != __NR_SCMP_ERROR;
}

std::string SeccompSettingsToText(const SeccompSettings& s) {
  std::string out = "default";
  if (s.allow_mount) {
    out += " mount";
  }
  if (s.allow_time) {
    out += " time";
  }
  if (s.allow_quotas) {
    out += " quotas";
  }
  if (!s.allow.empty()) {
    out += " allow:" + Joined(s.allow);
  }
  if (!s.deny.empty()) {
    out += " deny:" + Joined(s.deny);
  }
  if (s.guard_project_quota) {
    out += " projquota";
  }
  return out;
}

bool SeccompSettingsFromText(std::string_view text, SeccompSettings* settings, std::string* error) {
  SeccompSettings s;
  bool first = true;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view token = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (token.empty()) {
      continue;
    }
    if (first) {
      if (token != "default") {
        *error = "seccomp settings must start with \"default\"";
        return false;
      }
      first = false;
    } else if (token == "mount") {
      s.allow_mount = true;
    } else if (token == "time") {
      s.allow_time = true;
    } else if (token == "quotas") {
      s.allow_quotas = true;
    } else if (token == "projquota") {
      s.guard_project_quota = true;
    } else if (token.substr(0, 6) == "allow:") {
      if (!SplitNames(token.substr(6), &s.allow, error)) {
        return false;
      }
    } else if (token.substr(0, 5) == "deny:") {
      if (!SplitNames(token.substr(5), &s.deny, error)) {
        return false;
      }
    } else {
      *error = "unknown seccomp setting \"" + std::string(token) + "\"";
      return false;
    }
  }
  if (first) {
    *error = "empty seccomp settings";
    return false;
  }
  *settings = std::move(s);
  return true;
}

bool BuildSeccompFilter(const SeccompSettings& s, std::vector<sock_filter>* program,
                        std::string* error) {
  Ctx ctx;
  if (ctx.get() == nullptr) {
    return Fail(error, "seccomp_init", ENOMEM);
  }
  // The filter is installed with seccomp(2) by the caller, which keeps
  // capabilities instead of setting no_new_privs (seccomp.h).
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc != 0) {
    return Fail(error, "seccomp_attr_set(NNP)", rc);
  }
#if defined(__x86_64__)
  // A 32-bit or x32 program would otherwise meet the bad-architecture
  // action (kill) instead of the same rules.
  for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
    if (int rc = seccomp_arch_add(ctx.get(), arch); rc != 0 && rc != -EEXIST) {
      return Fail(error, "seccomp_arch_add", rc);
    }
  }
#endif
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  auto refused = [&](std::string_view name) { return !Contains(s.allow, name); };
  auto deny = [&](std::string_view name) -> bool {
    if (!refused(name)) {
      return true;
    }
    int nr = seccomp_syscall_resolve_name(std::string(name).c_str());
    if (nr == __NR_SCMP_ERROR) {
      *error = "unknown system call \"" + std::string(name) + "\"";
      return false;
    }
    // -EDOM/-EOPNOTSUPP: a call none of the filter's architectures has
    // (vm86 on x86-64 only exists for i386, and is added there).
    int rc = seccomp_rule_add(ctx.get(), eperm, nr, 0);
    if (rc != 0 && rc != -EDOM && rc != -EOPNOTSUPP && rc != -EEXIST) {
      return Fail(error, "seccomp_rule_add(" + std::string(name) + ")", rc);
    }
    return true;
  };
  for (std::string_view name : kAlwaysDenied) {
    if (!deny(name)) {
      return false;
    }
  }
  if (!s.allow_mount) {
    for (std::string_view name : kMountFamily) {
      if (!deny(name)) {
        return false;
      }
    }
  }
  if (!s.allow_time) {
    for (std::string_view name : kTime) {
      if (!deny(name)) {
        return false;
      }
    }
  }
  if (!s.allow_quotas) {
    for (std::string_view name : kQuotas) {
      if (!deny(name)) {
        return false;
      }
    }
  }
  for (const std::string& name : s.deny) {
    if (!deny(name)) {
      return false;
    }
  }
  // unshare and clone: one rule per namespace flag (the rules of one call
  // are ORed), so any CLONE_NEW* bit refuses the call and fork, vfork,
  // threads and posix_spawn's clone(CLONE_VM|CLONE_VFORK) pass. clone's
  // flags are argument 0 on every architecture this builds for; the
  // CLONE_NEWTIME bit lies in clone's exit-signal byte, so only unshare
  // checks it.
  for (std::string_view call : {"unshare", "clone"}) {
    if (!refused(call)) {
      continue;
    }
    int nr = seccomp_syscall_resolve_name(std::string(call).c_str());
    std::vector<uint64_t> flags(std::begin(kCloneNamespaces), std::end(kCloneNamespaces));
    if (call == "unshare") {
      flags.push_back(CLONE_NEWTIME);
    }
    for (uint64_t flag : flags) {
      int rc = seccomp_rule_add(ctx.get(), eperm, nr, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
      if (rc != 0 && rc != -EEXIST) {
        return Fail(error, "seccomp_rule_add(" + std::string(call) + ")", rc);
      }
    }
  }
  // linux.disk_quota: a jail's root owns its files, and the kernel lets an
  // owner in the initial user namespace change a file's project id
  // (FS_IOC_FSSETXATTR) and a directory's project inheritance
  // (FS_IOC_SETFLAGS, FS_PROJINHERIT_FL): either would take new data out
  // of the quota. On btrfs the quota is the layer subvolume's qgroup, and
  // any user may make a subvolume or snapshot in a directory it can write
  // to: a new subvolume has a qgroup of its own, outside the limit, so the
  // subvolume and snapshot creations are refused too. ioctl's request is
  // an unsigned int to the kernel, so only its low 32 bits are compared
  // (high bits cannot hide it).
  if (s.guard_project_quota && refused("ioctl")) {
    for (uint64_t request :
         {uint64_t{FS_IOC_FSSETXATTR}, uint64_t{FS_IOC_SETFLAGS}, uint64_t{FS_IOC32_SETFLAGS},
          uint64_t{BTRFS_IOC_SUBVOL_CREATE}, uint64_t{BTRFS_IOC_SUBVOL_CREATE_V2},
          uint64_t{BTRFS_IOC_SNAP_CREATE}, uint64_t{BTRFS_IOC_SNAP_CREATE_V2}}) {
      int rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(ioctl), 1,
                                SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, request));
      if (rc != 0 && rc != -EEXIST) {
        return Fail(error, "seccomp_rule_add(ioctl)", rc);
      }
    }
  }
  // setns(fd, 0) joins whatever namespace fd is: no flag to test.
  if (refused("setns") && !deny("setns")) {
    return false;
  }
  if (refused("clone3")) {
    int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc != 0) {
      return Fail(error, "seccomp_rule_add(clone3)", rc);
    }
  }
  // libseccomp 2.5 exports only to a file descriptor.
  int fd = memfd_create("jw-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    return Fail(error, "memfd_create", errno);
  }
  if (int rc = seccomp_export_bpf(ctx.get(), fd); rc != 0) {
    close(fd);
    return Fail(error, "seccomp_export_bpf", rc);
  }
  off_t size = lseek(fd, 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    close(fd);
    return Fail(error, "seccomp_export_bpf size", EINVAL);
  }
  std::vector<sock_filter> out(static_cast<size_t>(size) / sizeof(sock_filter));
  ssize_t n = pread(fd, out.data(), static_cast<size_t>(size), 0);
  int err = errno;
  close(fd);
  if (n != size) {
    return Fail(error, "read exported filter", n < 0 ? err : EIO);
  }
  *program = std::move(out);
  return true;
}

int InstallSeccompFilter(const std::vector<sock_filter>& program) {
  struct sock_fprog prog = {static_cast<unsigned short>(program.size()),
                            const_cast<sock_filter*>(program.data())};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    return errno;
  }
  return 0;
}

}  // namespace jailwarden::platform
