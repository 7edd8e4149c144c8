#include "oci/hooks.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/init_oci.h"

namespace jailwarden::oci {

absl::Status RunHooks(const std::string& kind, const std::vector<Hook>& hooks,
                      const std::string& state_json) {
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    const Hook& h = hooks[i];
    bool timed_out = false;
    std::string why = platform::RunOciHook(
        platform::InitOciHook{h.path, h.args, h.env, h.timeout_s}, state_json, &timed_out);
    if (why.empty()) {
      continue;
    }
    std::string what = StrCat("hook ", kind, "[", i, "] ", h.path, ": ", why);
    return timed_out ? absl::DeadlineExceededError(what) : absl::FailedPreconditionError(what);
  }
  return absl::OkStatus();
}

absl::Status AwaitHookPoint(int sync_fd, absl::Duration timeout, bool* reached) {
  *reached = false;
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    struct pollfd p = {sync_fd, POLLIN, 0};
    int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (ms <= 0) {
      return absl::DeadlineExceededError(
          StrCat("container init did not reach its hooks in ", absl::FormatDuration(timeout)));
    }
    int ready = poll(&p, 1, ms);
    if (ready < 0 && errno != EINTR) {
      return ErrnoStatus(errno, "poll container init");
    }
    if (ready <= 0) {
      continue;
    }
    char c = 0;
    ssize_t n = read(sync_fd, &c, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    *reached = n == 1 && c == 'h';
    return absl::OkStatus();
  }
}

absl::Status ReleaseHookPoint(int sync_fd) {
  if (write(sync_fd, "g", 1) != 1) {
    return ErrnoStatus(errno, "resume container init after the create hooks");
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
