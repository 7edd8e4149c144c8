#include "jailwarden/platform/linux/oom_events.h"

#include "jailwarden/base/strings.h"
#include "platform/linux/linux_jail_paths.h"

namespace jailwarden::platform {
namespace {

// The value of line "oom_kill N" in a memory.events/oom_control text.
std::optional<int64_t> OomKillField(std::string_view text) {
  for (std::string_view line : Split(text, '\n')) {
    const std::vector<std::string_view> f = SplitWhitespace(line);
    if (f.size() == 2 && f[0] == "oom_kill") return ParseInt<int64_t>(f[1]);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<int64_t> ReadOomKillCount(const JailInstance& instance) {
  absl::StatusOr<LinuxJailPaths> paths = LinuxJailPathsFromInstance(instance);
  if (!paths.ok()) return paths.status();
  // The limits (memory.max) are on the jail's directory, above its leaf:
  // its counters cover every process of the jail.
  std::string file;
  if (const std::string& v1 = paths->Cgroup("memory"); !v1.empty()) {
    file = JoinCgroupPath(v1, "memory.oom_control");
  } else if (const std::string& v2 = paths->Cgroup("unified"); !v2.empty()) {
    file = JoinCgroupPath(v2, "memory.events");
  } else {
    return absl::NotFoundError("the jail has no memory cgroup");
  }
  absl::StatusOr<std::string> text = ReadFileToString(file);
  if (!text.ok()) return text.status();
  const std::optional<int64_t> n = OomKillField(*text);
  if (!n.has_value()) {
    return absl::NotFoundError(StrCat(file, " has no oom_kill counter (kernel before 4.13?)"));
  }
  return *n;
}

}  // namespace jailwarden::platform
