#pragma once

// Starting a child the way posix_spawn does — sharing the caller's memory
// (CLONE_VM | CLONE_VFORK) and running on a stack of its own — but with
// clone3's whole argument block: namespaces, CLONE_PIDFD and
// CLONE_INTO_CGROUP, which posix_spawn cannot pass.
//
// Why: a fork of a large multi-threaded process (the daemon, or any program
// linking every layer) copies its page tables and leaves every writable page
// copy-on-write, so the parent then takes a page fault and a TLB shootdown
// per page it touches. In run_oneshot_bench that was the biggest single
// cost of starting a jail (bench/README.md). With CLONE_VM nothing is
// copied; the caller is suspended until the child calls execve or exits.

#include <signal.h>
#include <sys/types.h>

#include <cstdint>

namespace jailwarden::platform {

struct CloneVforkArgs {
  // CLONE_NEW* and CLONE_PIDFD / CLONE_INTO_CGROUP as wanted. CLONE_VM and
  // CLONE_VFORK are added; CLONE_THREAD, CLONE_SIGHAND and CLONE_FS must
  // not be set (EINVAL).
  uint64_t flags = 0;
  int* pidfd = nullptr;  // with CLONE_PIDFD: receives the pidfd
  int cgroup_fd = -1;    // with CLONE_INTO_CGROUP: a v2 cgroup directory
  int exit_signal = 17;  // SIGCHLD
};

// Runs `fn(arg)` in a new child as described above and returns the child's
// pid once it has called execve (or exited), or -1 with errno.
//
// `fn` runs with every signal blocked and must confine itself to
// async-signal-safe calls ending in execve or _exit: it shares the
// caller's memory (no malloc, no locks, no stdio, no writes to the caller's
// objects). Its return value becomes the child's exit status. Before
// unblocking signals it calls ResetSignalHandlersForExec, so no handler of
// the caller can run on the shared memory.
pid_t CloneVfork(const CloneVforkArgs& args, int (*fn)(void*), void* arg);

// In a CloneVfork child: sets every signal the caller catches back to
// SIG_DFL (the child has its own handler table, the caller's is untouched),
// then installs `mask` as the signal mask. Async-signal-safe.
void ResetSignalHandlersForExec(const sigset_t& mask);

}  // namespace jailwarden::platform
