#pragma once

// The seccomp filter every process in a Linux jail runs under
// (docs/security.md). A deny list, not an allow list: the jail's programs
// are arbitrary, so everything stays allowed except what container
// runtimes (runc/crun with moby's default profile, nsjail) refuse by
// default because it reaches past the jail into the shared kernel: the
// keyrings, bpf, perf_event_open, kexec, module loading, open_by_handle_at,
// userfaultfd, the clock, swap, reboot, acct, quotactl, pivot_root, the
// mount family (unless allow.mount) and new namespaces (unshare, clone
// with CLONE_NEW* flags, setns). Refused calls fail with EPERM; clone3
// fails with ENOSYS, because its flags are in memory a filter cannot read
// and libc falls back to clone on ENOSYS.
//
// Free of abseil (jailwarden-init, linked statically, builds and installs
// the filter itself). Building uses libseccomp; InstallSeccompFilter is
// one system call and async-signal-safe, so the setns helper calls it
// between fork and execve with a program built before the fork.

#include <linux/filter.h>

#include <string>
#include <string_view>
#include <vector>

namespace jailwarden::platform {

// What a jail's filter refuses beyond nothing; the default-constructed
// value is the default filter.
struct SeccompSettings {
  // allow.mount: mount, umount2, the new mount API (open_tree, move_mount,
  // fsopen, fsconfig, fsmount, fspick, mount_setattr) are allowed.
  bool allow_mount = false;
  // CAP_SYS_TIME granted (allow.settime / allow.adjtime): settimeofday,
  // clock_settime, adjtimex, clock_adjtime are allowed.
  bool allow_time = false;
  // allow.quotas: quotactl and quotactl_fd are allowed.
  bool allow_quotas = false;
  // linux.seccomp `allow`: names taken off the deny list entirely (for
  // unshare/clone/setns: with every flag; clone3: allowed, flags unseen).
  std::vector<std::string> allow;
  // linux.seccomp `deny`: names refused with EPERM in addition.
  std::vector<std::string> deny;
  // linux.disk_quota: the ioctls that would move the jail's files out of
  // its project quota are refused with EPERM (FS_IOC_FSSETXATTR: a file's
  // project id; FS_IOC_SETFLAGS and its 32-bit form: a directory's project
  // inheritance). Not when `allow` names ioctl.
  bool guard_project_quota = false;

  friend bool operator==(const SeccompSettings&, const SeccompSettings&) = default;
};

// The names the default filter refuses outright (EPERM), in a fixed order,
// before allow.* and linux.seccomp adjust it; the mount family, the clock,
// quotactl included. unshare/clone/setns/clone3 are not in it (refused by
// flags or with ENOSYS). For documentation and tests.
const std::vector<std::string_view>& DefaultDeniedSyscalls();

// The calls refused by their namespace flags (unshare, clone) or
// entirely (setns: nstype 0 joins any namespace type), and clone3.
const std::vector<std::string_view>& NamespaceSyscalls();

// True if libseccomp knows `name` as a system call on any architecture it
// supports ("keyctl", "clone3"). Thread-safe.
bool IsKnownSyscallName(std::string_view name);

// The settings as one line, for InitConfig and the jail's backend state:
// "default" then " mount", " time", " quotas", " allow:a,b", " deny:c",
// " projquota" as set. SeccompSettingsFromText is its inverse; it returns false and sets
// *error on anything else (an unknown token, an unknown syscall name).
std::string SeccompSettingsToText(const SeccompSettings& settings);
bool SeccompSettingsFromText(std::string_view text, SeccompSettings* settings, std::string* error);

// Compiles the filter for the native architecture plus, on x86-64, the
// i386 and x32 system call tables (a static 32-bit program in the jail is
// filtered too, not killed). Returns false and sets *error (libseccomp's
// failing step and errno) on failure, or for a name libseccomp does not
// know. Allocates; not async-signal-safe.
bool BuildSeccompFilter(const SeccompSettings& settings, std::vector<sock_filter>* program,
                        std::string* error);

// seccomp(SECCOMP_SET_MODE_FILTER) with `program`. The caller needs
// CAP_SYS_ADMIN or no_new_privs (jailwarden does not set no_new_privs, so
// set-user-ID programs in the jail keep working: install before dropping
// capabilities). Returns 0 or the errno. Async-signal-safe.
int InstallSeccompFilter(const std::vector<sock_filter>& program);

}  // namespace jailwarden::platform
