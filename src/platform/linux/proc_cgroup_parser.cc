#include "jailwarden/platform/linux/proc_cgroup.h"

#include "absl/status/status.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {

absl::StatusOr<std::vector<ProcCgroupEntry>> ParseProcCgroup(std::string_view text) {
  std::vector<ProcCgroupEntry> out;
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    line = StripWhitespace(line);
    if (line.empty()) {
      continue;
    }
    // The path may itself contain ':', so split only at the first two.
    size_t a = line.find(':');
    size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) {
      return absl::InvalidArgumentError(
          StrCat("/proc/pid/cgroup line ", line_no, ": expected id:controllers:path"));
    }
    std::optional<int> id = ParseInt<int>(line.substr(0, a));
    if (!id || *id < 0) {
      return absl::InvalidArgumentError(
          StrCat("/proc/pid/cgroup line ", line_no, ": bad hierarchy id"));
    }
    ProcCgroupEntry e;
    e.hierarchy_id = *id;
    std::string_view ctl = line.substr(a + 1, b - a - 1);
    if (!ctl.empty()) {
      for (std::string_view c : Split(ctl, ',')) {
        e.controllers.emplace_back(c);
      }
    }
    e.path = std::string(line.substr(b + 1));
    if (e.path.empty() || e.path[0] != '/') {
      return absl::InvalidArgumentError(
          StrCat("/proc/pid/cgroup line ", line_no, ": path must start with '/'"));
    }
    out.push_back(std::move(e));
  }
  return out;
}

const ProcCgroupEntry* FindCgroupEntry(const std::vector<ProcCgroupEntry>& entries,
                                       std::string_view controller) {
  for (const ProcCgroupEntry& e : entries) {
    if (controller.empty()) {
      if (e.hierarchy_id == 0 && e.controllers.empty()) {
        return &e;
      }
      continue;
    }
    for (const std::string& c : e.controllers) {
      if (c == controller) {
        return &e;
      }
    }
  }
  return nullptr;
}

}  // namespace jailwarden::platform
