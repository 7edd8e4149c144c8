// One runtime-spec hook run as a child (init_oci.h, RunOciHook): shared by
// the runtime and jailwarden-init, so no abseil.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/linux/init_oci.h"

namespace jailwarden::platform {
namespace {

std::string ErrnoText(const char* what, int err) {
  const char* name = strerrorname_np(err);
  return std::string(what) + ": " + (name != nullptr ? name : "E?");
}

}  // namespace

std::string RunOciHook(const InitOciHook& h, const std::string& state, bool* timed_out) {
  *timed_out = false;
  std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = h.env;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) {
    return ErrnoText("pipe2", errno);
  }
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(in[0]);
    close(in[1]);
    return ErrnoText("fork", err);
  }
  if (pid == 0) {
    // Only stdio reaches the hook: not the caller's report, config or
    // sync descriptors (an inherited copy would also hold their EOF).
    // A hook starts with no signal blocked (`run` blocks the ones it
    // forwards, oci/run.h).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(in[0], 0);
    syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
    execve(h.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(in[0]);
  signal(SIGPIPE, SIG_IGN);
  (void)!write(in[1], state.data(), state.size());
  close(in[1]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0 && h.timeout_s > 0) {
    struct pollfd p = {pidfd, POLLIN, 0};
    int ready;
    do {
      ready = poll(&p, 1, h.timeout_s * 1000);
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) {
      syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      close(pidfd);
      *timed_out = true;
      return "timed out after " + std::to_string(h.timeout_s) + " s";
    }
  }
  if (pidfd >= 0) close(pidfd);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    return "";
  }
  return WIFEXITED(st) ? "exit status " + std::to_string(WEXITSTATUS(st))
                       : "killed by signal " + std::to_string(WTERMSIG(st));
}

}  // namespace jailwarden::platform
