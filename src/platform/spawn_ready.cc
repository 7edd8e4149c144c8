// Starting a helper and waiting for its "ready" (spawn_ready.h).

#include "jailwarden/platform/spawn_ready.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

extern char** environ;

namespace jailwarden::platform {

absl::StatusOr<pid_t> SpawnUntilReady(std::vector<std::string> argv, std::string_view not_ready) {
  if (argv.empty()) return absl::InvalidArgumentError("SpawnUntilReady: an empty argv");
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, ready[1], 1);  // fd 1 without close-on-exec
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
#ifdef POSIX_SPAWN_SETSID
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
#endif
  pid_t pid = -1;
  const int err = posix_spawn(&pid, argv[0].c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(ready[1]);
  if (err != 0) {
    close(ready[0]);
    return ErrnoStatus(err, StrCat("start ", argv[0]));
  }
  // "ready\n" once its socket is bound; EOF if it failed.
  struct pollfd p = {ready[0], POLLIN, 0};
  char buf[8];
  const ssize_t n = poll(&p, 1, 5000) == 1 ? read(ready[0], buf, sizeof(buf)) : -1;
  close(ready[0]);
  if (n != 6) {
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == 0) {
      (void)kill(pid, SIGKILL);
      (void)waitpid(pid, &st, 0);
    }
    return absl::InternalError(std::string(not_ready));
  }
  return pid;
}

}  // namespace jailwarden::platform
