#pragma once

// Dropping the calling process to a jail's capability set with the raw
// system calls (no libcap). Header-only and free of abseil and allocation:
// jailwarden-init (linked statically from init_main.cc alone) calls it
// after pivot_root, and the setns helper (exec.cc) between fork and execve,
// where only async-signal-safe calls are allowed.
//
// PR_SET_NO_NEW_PRIVS is deliberately not set: set-user-ID programs in the
// jail still work, within the bounding set.

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace jailwarden::platform {

// Bounding set = `keep`; permitted = effective = `keep` & what the process
// had; inheritable and ambient emptied (an inheritable set would let a file
// with inheritable capabilities regain them). After that, execve as root
// gives exactly the bounding set. Needs CAP_SETPCAP for the bounding set.
// Returns 0, or the errno of the failed step with *step naming it.
inline int DropToCapabilities(uint64_t keep, const char** step) {
  for (int cap = 0; cap < 64; ++cap) {
    if (((keep >> cap) & 1) != 0) {
      continue;
    }
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) {
        break;  // past the kernel's last capability; so is every higher one
      }
      *step = "prctl(PR_CAPBSET_DROP)";
      return errno;
    }
  }
  // Linux < 4.3 has no ambient set (EINVAL): nothing to clear then.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    *step = "prctl(PR_CAP_AMBIENT_CLEAR_ALL)";
    return errno;
  }
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    *step = "capget";
    return errno;
  }
  const uint64_t had = static_cast<uint64_t>(data[0].permitted) |
                       (static_cast<uint64_t>(data[1].permitted) << 32);
  const uint64_t now = had & keep;
  for (int i = 0; i < 2; ++i) {
    const uint32_t word = static_cast<uint32_t>(now >> (32 * i));
    data[i].permitted = word;
    data[i].effective = word;
    data[i].inheritable = 0;
  }
  header = {_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capset, &header, data) != 0) {
    *step = "capset";
    return errno;
  }
  return 0;
}

}  // namespace jailwarden::platform
