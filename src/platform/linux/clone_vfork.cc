#include "platform/linux/clone_vfork.h"

#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace jailwarden::platform {
namespace {

// struct clone_args of <linux/sched.h>, version 2 (with `cgroup`).
struct RawCloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};

constexpr size_t kChildStack = 64 * 1024;

}  // namespace
}  // namespace jailwarden::platform

// The child of a clone3 with a new stack resumes at the instruction after
// the system call with only its stack pointer changed, so it cannot return
// through C frames that live on the caller's stack. This trampoline makes
// the call, and in the child (return value 0) calls fn(arg) on the new
// stack and exits with its result. Returns the raw result: pid or -errno.
extern "C" long jw_clone3_trampoline(void* args, unsigned long size, int (*fn)(void*),
                                     void* arg);

#if defined(__x86_64__)
// rdi = args, rsi = size, rdx = fn, rcx = arg. `syscall` clobbers rcx and
// r11 only, and the child starts with the parent's registers.
__asm__(
    ".text\n"
    ".globl jw_clone3_trampoline\n"
    ".type jw_clone3_trampoline,@function\n"
    "jw_clone3_trampoline:\n"
    "  mov %rdx, %r8\n"
    "  mov %rcx, %r9\n"
    "  mov $435, %eax\n"  // __NR_clone3
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jz 1f\n"
    "  ret\n"
    "1:\n"
    "  xor %ebp, %ebp\n"
    "  mov %r9, %rdi\n"
    "  call *%r8\n"
    "  mov %eax, %edi\n"
    "  mov $60, %eax\n"  // __NR_exit
    "  syscall\n"
    "  hlt\n"
    ".size jw_clone3_trampoline, .-jw_clone3_trampoline\n");
#define JW_HAVE_CLONE3_TRAMPOLINE 1
#elif defined(__aarch64__)
// x0 = args, x1 = size, x2 = fn, x3 = arg. `svc` preserves all but x0.
__asm__(
    ".text\n"
    ".globl jw_clone3_trampoline\n"
    ".type jw_clone3_trampoline,%function\n"
    "jw_clone3_trampoline:\n"
    "  mov x9, x2\n"
    "  mov x10, x3\n"
    "  mov x8, #435\n"  // __NR_clone3
    "  svc #0\n"
    "  cbz x0, 1f\n"
    "  ret\n"
    "1:\n"
    "  mov x29, xzr\n"
    "  mov x30, xzr\n"
    "  mov x0, x10\n"
    "  blr x9\n"
    "  mov x8, #93\n"  // __NR_exit
    "  svc #0\n"
    ".size jw_clone3_trampoline, .-jw_clone3_trampoline\n");
#define JW_HAVE_CLONE3_TRAMPOLINE 1
#endif

namespace jailwarden::platform {

void ResetSignalHandlersForExec(const sigset_t& mask) {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) {
      continue;
    }
    struct sigaction sa;
    // The raw call: glibc's sigaction refuses its own reserved signals.
    if (syscall(SYS_rt_sigaction, sig, nullptr, &sa, NSIG / 8) != 0) {
      continue;
    }
    if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
      struct sigaction dfl;
      memset(&dfl, 0, sizeof(dfl));
      dfl.sa_handler = SIG_DFL;
      syscall(SYS_rt_sigaction, sig, &dfl, nullptr, NSIG / 8);
    }
  }
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, NSIG / 8);
}

pid_t CloneVfork(const CloneVforkArgs& a, int (*fn)(void*), void* arg) {
  RawCloneArgs args;
  memset(&args, 0, sizeof(args));
  args.flags = a.flags;
  args.pidfd = reinterpret_cast<uint64_t>(a.pidfd);
  args.exit_signal = static_cast<uint64_t>(a.exit_signal);
  if ((a.flags & CLONE_INTO_CGROUP) != 0) {
    args.cgroup = static_cast<uint64_t>(a.cgroup_fd);
  }
  // Blocked in the caller around the call so the child starts blocked and
  // no handler runs on the shared memory before fn resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  long rc;
#ifdef JW_HAVE_CLONE3_TRAMPOLINE
  void* stack = mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = err;
    return -1;
  }
  args.flags |= CLONE_VM | CLONE_VFORK;
  args.stack = reinterpret_cast<uint64_t>(stack);
  args.stack_size = kChildStack;
  rc = jw_clone3_trampoline(&args, sizeof(args), fn, arg);
  // With CLONE_VFORK the child has exec'd or exited: its stack is free.
  munmap(stack, kChildStack);
#else
  // Elsewhere: fork semantics (copied memory), same contract for fn.
  rc = syscall(SYS_clone3, &args, sizeof(args));
  if (rc == 0) {
    _exit(fn(arg));
  }
  rc = rc < 0 ? -errno : rc;
#endif
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc < 0) {
    errno = static_cast<int>(-rc);
    return -1;
  }
  return static_cast<pid_t>(rc);
}

}  // namespace jailwarden::platform
