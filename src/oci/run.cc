#include "oci/run.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "oci/state.h"

namespace jailwarden::oci {
namespace {

constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

// Restores the signal mask this process had on entry when it leaves.
class BlockedSignals {
 public:
  BlockedSignals() {
    sigemptyset(&set_);
    for (int s : kForwarded) sigaddset(&set_, s);
    sigprocmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockedSignals() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;
  const sigset_t& set() const { return set_; }

 private:
  sigset_t set_, old_;
};

// Waits for `pid` (this process's child: Create cloned it) to exit,
// passing the forwarded signals on to it through its pidfd.
absl::StatusOr<int> WaitForwarding(pid_t pid, const sigset_t& forwarded) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return ErrnoStatus(errno, StrCat("pidfd_open ", pid));
  const int sfd = signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    const int err = errno;
    close(pidfd);
    return ErrnoStatus(err, "signalfd");
  }
  for (;;) {
    struct pollfd p[2] = {{pidfd, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if ((p[0].revents & POLLIN) != 0) break;
    signalfd_siginfo si;
    while (read(sfd, &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si))) {
      syscall(SYS_pidfd_send_signal, pidfd, static_cast<int>(si.ssi_signo), nullptr, 0);
    }
  }
  close(sfd);
  close(pidfd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, StrCat("waitpid ", pid));
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

absl::Status RunForeground(const GlobalOptions& g, const CreateOptions& o, int* exit_code) {
  // Blocked before the process exists, so no signal meant for it is lost
  // to this process's default action between start and the wait.
  BlockedSignals blocked;
  JW_RETURN_IF_ERROR(Create(g, o));
  absl::StatusOr<ContainerRecord> rec = LoadRecord(g.root, o.id);
  absl::Status st = rec.status();
  if (st.ok()) st = Start(g, o.id);
  if (!st.ok()) {
    (void)Delete(g, o.id, /*force=*/true);
    return st;
  }
  absl::StatusOr<int> code = WaitForwarding(static_cast<pid_t>(rec->pid), blocked.set());
  absl::Status deleted = Delete(g, o.id, /*force=*/!code.ok());
  JW_RETURN_IF_ERROR(code.status());
  *exit_code = *code;
  return deleted;
}

}  // namespace jailwarden::oci
