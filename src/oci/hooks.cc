#include "oci/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::oci {

absl::Status RunHooks(const std::string& kind, const std::vector<Hook>& hooks,
                      const std::string& state_json) {
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    const Hook& h = hooks[i];
    std::string what = StrCat("hook ", kind, "[", i, "] ", h.path);
    std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
    std::vector<char*> argv, envp;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = h.env;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int in[2];
    if (pipe2(in, O_CLOEXEC) != 0) {
      return ErrnoStatus(errno, what);
    }
    pid_t pid = fork();
    if (pid < 0) {
      return ErrnoStatus(errno, what);
    }
    if (pid == 0) {
      // A hook starts with no signal blocked (`run` blocks the ones it
      // forwards, oci/run.h).
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      dup2(in[0], 0);
      execve(h.path.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    signal(SIGPIPE, SIG_IGN);
    (void)!write(in[1], state_json.data(), state_json.size());
    close(in[1]);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    int timeout_ms = h.timeout_s > 0 ? h.timeout_s * 1000 : -1;
    struct pollfd p = {pidfd, POLLIN, 0};
    if (pidfd >= 0 && poll(&p, 1, timeout_ms) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(pidfd);
      return absl::DeadlineExceededError(StrCat(what, ": timed out after ", h.timeout_s, " s"));
    }
    if (pidfd >= 0) close(pidfd);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      return absl::FailedPreconditionError(
          StrCat(what, WIFEXITED(st) ? StrCat(": exit status ", WEXITSTATUS(st))
                                     : StrCat(": killed by signal ", WTERMSIG(st))));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> HooksToJson(const std::vector<Hook>& hooks) {
  std::vector<std::string> out;
  for (const Hook& h : hooks) {
    nlohmann::json j;
    j["path"] = h.path;
    j["args"] = h.args;
    j["env"] = h.env;
    j["timeout"] = h.timeout_s;
    out.push_back(j.dump());
  }
  return out;
}

std::vector<Hook> HooksFromJson(const std::vector<std::string>& texts) {
  std::vector<Hook> out;
  for (const std::string& t : texts) {
    try {
      nlohmann::json j = nlohmann::json::parse(t);
      out.push_back(Hook{j.value("path", ""), j.value("args", std::vector<std::string>{}),
                         j.value("env", std::vector<std::string>{}), j.value("timeout", 0)});
    } catch (const std::exception&) {
      continue;
    }
  }
  return out;
}

}  // namespace jailwarden::oci
