// The daemon's side of the supervised main process (main_process.h).

#include "platform/linux/main_process.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string_view>

#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/exec_internal.h"

namespace jailwarden::platform {

std::string OomEventsPathOf(const std::map<std::string, std::string>& bs) {
  if (auto it = bs.find("cgroup.memory"); it != bs.end() && !it->second.empty()) {
    return StrCat(it->second, "/memory.oom_control");
  }
  if (auto it = bs.find("cgroup.unified"); it != bs.end() && !it->second.empty()) {
    return StrCat(it->second, "/memory.events");
  }
  return "";
}

InitMainSpec InitMainSpecOf(const MainSpec& spec, const std::string& user) {
  InitMainSpec m;
  m.user = user;
  switch (spec.restart) {
    case RestartPolicy::kNo:
      m.restart = 0;
      break;
    case RestartPolicy::kOnFailure:
      m.restart = 1;
      break;
    case RestartPolicy::kAlways:
      m.restart = 2;
      break;
  }
  m.backoff_initial_ms = absl::ToInt64Milliseconds(spec.backoff_initial);
  m.backoff_max_ms = absl::ToInt64Milliseconds(spec.backoff_max);
  m.limit_count = spec.limit_count;
  m.limit_window_ms = absl::ToInt64Milliseconds(spec.limit_window);
  return m;
}

absl::StatusOr<MainProcessStatus> AskInitAboutMain(const std::string& socket_path,
                                                   const InitRequest& request,
                                                   const int fds[3], absl::Duration timeout) {
  if (socket_path.empty()) {
    return absl::FailedPreconditionError("the jail's pid 1 has no command socket");
  }
  JW_ASSIGN_OR_RETURN(const int fd, exec_internal::SendToInit(socket_path, request, fds));
  if (!exec_internal::WaitReadable(fd, absl::Now() + timeout)) {
    close(fd);
    return absl::DeadlineExceededError(
        StrCat("the jail's pid 1 did not answer ", request.op, " within ",
               absl::FormatDuration(timeout)));
  }
  char buf[4096];
  ssize_t n;
  do {
    n = recv(fd, buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) {
    return ErrnoStatus(err, "recv from jail init");
  }
  InitMainStatus s;
  std::string error;
  if (n == 0 || !InitMainStatusFromJson(std::string(buf, static_cast<size_t>(n)), &s, &error)) {
    return absl::InternalError(StrCat("jail init answered ", request.op,
                                      " with no status", error.empty() ? "" : ": ", error));
  }
  MainProcessStatus out;
  out.configured = s.configured;
  out.running = s.running;
  out.pid = s.pid;
  out.starts = s.starts;
  out.restarts = s.restarts;
  out.gave_up = s.gave_up;
  out.stopped = s.stopped;
  out.exited = s.exited;
  out.exit_code = s.exit_code;
  out.exit_signal = s.exit_signal;
  out.oom_killed = s.oom_killed;
  if (s.exit_time_ms > 0) {
    out.exit_time = absl::FromUnixMillis(s.exit_time_ms);
  }
  if (s.next_start_ms > 0) {
    out.next_start = absl::FromUnixMillis(s.next_start_ms);
  }
  return out;
}

namespace {
// How long a status question may take: init answers from memory.
constexpr absl::Duration kStatusTimeout = absl::Seconds(2);
}  // namespace

absl::StatusOr<MainProcessStatus> StartMainViaInit(
    const std::string& socket_path, const ExecRequest& request, const MainSpec& spec,
    const std::string& user, const std::vector<std::array<uint64_t, 3>>& rlimits) {
  InitRequest r;
  r.op = "main.start";
  r.argv = request.argv;
  std::map<std::string, std::string> env;
  if (!request.clean_env) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view kv(*e);
      if (size_t eq = kv.find('='); eq != std::string_view::npos) {
        env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
      }
    }
  }
  for (const auto& [k, v] : request.env) {
    env[k] = v;
  }
  for (const auto& [k, v] : env) {
    r.env.push_back(StrCat(k, "=", v));
  }
  r.rlimits = rlimits;
  r.main = InitMainSpecOf(spec, user);
  int fds[3] = {request.stdin_fd, request.stdout_fd, request.stderr_fd};
  int opened[3] = {-1, -1, -1};
  for (int i = 0; i < 3; ++i) {
    if (fds[i] < 0) {
      opened[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (opened[i] < 0) {
        int err = errno;
        for (int fd : opened) {
          if (fd >= 0) close(fd);
        }
        return ErrnoStatus(err, "open /dev/null");
      }
      fds[i] = opened[i];
    }
  }
  absl::StatusOr<MainProcessStatus> s = AskInitAboutMain(socket_path, r, fds, kStatusTimeout);
  for (int fd : opened) {
    if (fd >= 0) close(fd);
  }
  if (s.ok() && !s->configured) {
    return absl::InternalError("jail init did not take the main process");
  }
  return s;
}

absl::StatusOr<MainProcessStatus> MainStatusViaInit(const std::string& socket_path) {
  InitRequest r;
  r.op = "main.status";
  return AskInitAboutMain(socket_path, r, nullptr, kStatusTimeout);
}

absl::StatusOr<MainProcessStatus> StopMainViaInit(const std::string& socket_path,
                                                  absl::Duration timeout) {
  InitRequest r;
  r.op = "main.stop";
  r.stop_timeout_ms = absl::ToInt64Milliseconds(timeout);
  // SIGKILL at `timeout`; the exit is reaped at once after.
  return AskInitAboutMain(socket_path, r, nullptr, timeout + kStatusTimeout);
}

}  // namespace jailwarden::platform
