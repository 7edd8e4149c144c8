// Small steps of `create` (create_parts.h).

#include "oci/create_parts.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::oci {

std::string NowRfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  // Six digits always: records' times then sort as text (the daemon gives
  // a contested name to the older container).
  char micros[32];
  snprintf(micros, sizeof(micros), ".%06ldZ", static_cast<long>(ts.tv_nsec / 1000));
  return StrCat(buf, micros);
}

absl::StatusOr<int> ConnectConsole(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return ErrnoStatus(errno, "socket");
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    close(fd);
    return absl::InvalidArgumentError(StrCat("--console-socket ", path, ": path too long"));
  }
  memcpy(addr.sun_path, path.c_str(), path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(err, StrCat("connect --console-socket ", path));
  }
  return fd;
}

// process.oomScoreAdj onto the container's init, unless already so.
absl::Status SetOomScoreAdj(const OciPlan& plan, pid_t pid) {
  if (!plan.has_oom_score_adj) {
    return absl::OkStatus();
  }
  std::string path = StrCat("/proc/", pid, "/oom_score_adj");
  absl::StatusOr<std::string> cur = ReadFile(path, 64);
  if (cur.ok() && std::string(StripWhitespace(*cur)) == std::to_string(plan.oom_score_adj)) {
    return absl::OkStatus();
  }
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  std::string v = std::to_string(plan.oom_score_adj);
  if (fd < 0 || write(fd, v.data(), v.size()) < 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    return ErrnoStatus(err, "/process/oomScoreAdj: write " + path);
  }
  close(fd);
  return absl::OkStatus();
}

}  // namespace jailwarden::oci
