#include "platform/linux/clone_vfork.h"

#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

int ExecShell(void* arg) {
  sigset_t none;
  sigemptyset(&none);
  ResetSignalHandlersForExec(none);
  const char* script = static_cast<const char*>(arg);
  char sh[] = "/bin/sh", c[] = "-c";
  char* argv[] = {sh, c, const_cast<char*>(script), nullptr};
  char* envp[] = {nullptr};
  execve("/bin/sh", argv, envp);
  return 127;
}

int WaitStatus(pid_t pid) {
  int st = 0;
  EXPECT_EQ(waitpid(pid, &st, 0), pid);
  return st;
}

TEST(CloneVforkTest, ChildExecsAndItsExitStatusArrives) {
  char script[] = "exit 3";
  pid_t pid = CloneVfork({}, ExecShell, script);
  ASSERT_GT(pid, 0) << strerror(errno);
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 3);
}

TEST(CloneVforkTest, PidfdIsReturnedAndBecomesReadableAtExit) {
  CloneVforkArgs a;
  int pidfd = -1;
  a.flags = CLONE_PIDFD;
  a.pidfd = &pidfd;
  char script[] = "exit 0";
  pid_t pid = CloneVfork(a, ExecShell, script);
  ASSERT_GT(pid, 0) << strerror(errno);
  ASSERT_GE(pidfd, 0);
  struct pollfd p = {pidfd, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 5000), 1);
  EXPECT_EQ(WEXITSTATUS(WaitStatus(pid)), 0);
  close(pidfd);
}

int WriteAndExit(void* arg) {
  *static_cast<volatile int*>(arg) = 42;
  return 9;
}

TEST(CloneVforkTest, ChildSharesMemoryAndCallerWaitsForIt) {
#if defined(__x86_64__) || defined(__aarch64__)
  volatile int seen = 0;
  pid_t pid = CloneVfork({}, WriteAndExit, const_cast<int*>(&seen));
  ASSERT_GT(pid, 0) << strerror(errno);
  // CLONE_VM: the write is in our memory; CLONE_VFORK: it happened before
  // CloneVfork returned.
  EXPECT_EQ(seen, 42);
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 9);
#else
  GTEST_SKIP() << "no clone3 trampoline on this architecture: fork semantics";
#endif
}

std::atomic<int> g_handled{0};
void OnUsr1(int) { g_handled.fetch_add(1); }

int RaiseUsr1(void*) {
  sigset_t none;
  sigemptyset(&none);
  ResetSignalHandlersForExec(none);
  kill(getpid(), SIGUSR1);  // default action now: terminate
  return 0;
}

TEST(CloneVforkTest, CallersHandlersNeverRunInTheChild) {
  struct sigaction sa = {};
  sa.sa_handler = OnUsr1;
  struct sigaction old;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  pid_t pid = CloneVfork({}, RaiseUsr1, nullptr);
  ASSERT_GT(pid, 0) << strerror(errno);
  int st = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGUSR1);
  EXPECT_EQ(g_handled.load(), 0);
  // The caller's own handler is untouched.
  struct sigaction now;
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, OnUsr1);
  sigaction(SIGUSR1, &old, nullptr);
}

TEST(CloneVforkTest, BadFlagsAreAnErrnoNotACrash) {
  CloneVforkArgs a;
  a.flags = CLONE_THREAD;  // needs CLONE_SIGHAND: EINVAL
  char script[] = "exit 0";
  EXPECT_EQ(CloneVfork(a, ExecShell, script), -1);
  EXPECT_EQ(errno, EINVAL);
}

}  // namespace
}  // namespace jailwarden::platform
