#include "platform/linux/signal_target.h"

#include "jailwarden/base/strings.h"

namespace jailwarden::platform {

std::optional<std::string_view> SignalMemoryField(rctl::Resource resource) {
  if (resource == rctl::Resource::kMemoryuse) return "VmRSS";
  if (resource == rctl::Resource::kVmemoryuse) return "VmSize";
  if (resource == rctl::Resource::kSwapuse) return "VmSwap";
  return std::nullopt;
}

std::optional<uint64_t> StatusFieldBytes(std::string_view status, std::string_view field) {
  for (std::string_view line : Split(status, '\n')) {
    if (line.size() <= field.size() || !StartsWith(line, field) || line[field.size()] != ':') {
      continue;
    }
    std::vector<std::string_view> f = SplitWhitespace(line.substr(field.size() + 1));
    if (f.size() != 2 || f[1] != "kB") return std::nullopt;
    std::optional<int64_t> kb = ParseInt<int64_t>(f[0]);
    if (!kb || *kb < 0) return std::nullopt;
    return static_cast<uint64_t>(*kb) * 1024;
  }
  return std::nullopt;
}

std::optional<int64_t> BiggestConsumer(
    const std::vector<int64_t>& pids, std::string_view field,
    const std::function<std::optional<std::string>(int64_t pid)>& read_status) {
  std::optional<int64_t> best;
  uint64_t best_bytes = 0;
  for (int64_t pid : pids) {
    std::optional<std::string> status = read_status(pid);
    if (!status) continue;
    std::optional<uint64_t> bytes = StatusFieldBytes(*status, field);
    if (!bytes) continue;
    if (!best || *bytes > best_bytes || (*bytes == best_bytes && pid < *best)) {
      best = pid;
      best_bytes = *bytes;
    }
  }
  return best;
}

}  // namespace jailwarden::platform
