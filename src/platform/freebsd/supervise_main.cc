// jailwarden-supervise: the host of one FreeBSD jail's supervised main
// process (`command:`, issue 17; jailwarden/platform/freebsd/main_host.h).
//
//   jailwarden-supervise --jail=NAME --socket=PATH [--record=PATH]
//
// Started by the daemon (SpawningMainLauncher) in a session of its own on
// the host, never in the jail. Binds PATH, prints "ready\n" on stdout and
// closes it, then serves the daemon's start/status/stop/quit requests
// until "quit" (the jail is gone). It outlives the daemon: the main
// process is its child, restarted per policy whether or not a daemon runs.
// Built only on FreeBSD (the real kernel behind the seam).

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/platform/freebsd/main_host.h"

int main(int argc, char** argv) {
  std::string jail, socket_path, record_path;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with("--jail=")) {
      jail = a.substr(7);
    } else if (a.starts_with("--socket=")) {
      socket_path = a.substr(9);
    } else if (a.starts_with("--record=")) {
      record_path = a.substr(9);
    } else {
      std::fprintf(stderr, "jailwarden-supervise: unknown argument %s\n", argv[i]);
      return 64;  // EX_USAGE
    }
  }
  if (jail.empty() || socket_path.empty()) {
    std::fprintf(stderr, "usage: jailwarden-supervise --jail=NAME --socket=PATH [--record=PATH]\n");
    return 64;
  }
  (void)setsid();  // FreeBSD 14's posix_spawn has no POSIX_SPAWN_SETSID
  (void)signal(SIGPIPE, SIG_IGN);
  (void)signal(SIGHUP, SIG_IGN);
  std::unique_ptr<jailwarden::platform::FreeBsdKernel> kernel =
      jailwarden::platform::SystemFreeBsdKernel();
  auto host = jailwarden::platform::FreeBsdMainHost::Bind(*kernel, socket_path, record_path);
  if (!host.ok()) {
    std::fprintf(stderr, "jailwarden-supervise: jail %s: %s\n", jail.c_str(),
                 std::string(host.status().message()).c_str());
    return 71;  // EX_OSERR
  }
  if (write(1, "ready\n", 6) != 6) return 71;
  const int null_fd = open("/dev/null", O_WRONLY);
  if (null_fd >= 0) {
    (void)dup2(null_fd, 1);
    close(null_fd);
  }
  (*host)->Serve();
  return 0;
}
