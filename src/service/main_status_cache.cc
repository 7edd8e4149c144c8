#include "service/main_status_cache.h"

#include <utility>

#include "service/api_view.h"

namespace jailwarden::service {

bool MainStatusCache::HasMain(const jail::JailRecord& rec) {
  return !rec.spec.main.argv.empty() && rec.state == jail::JailState::kRunning;
}

bool MainStatusCache::SameRun(const Entry& e, const jail::JailRecord& rec) {
  return e.init_pid == rec.instance.init_pid && e.started == rec.instance.started;
}

std::map<std::string, std::optional<platform::MainProcessStatus>> MainStatusCache::Refresh(
    const std::vector<jail::JailRecord>& records) {
  std::map<std::string, std::optional<platform::MainProcessStatus>> out;
  std::map<std::string, Entry> next;
  for (const jail::JailRecord& rec : records) {
    if (!HasMain(rec)) continue;
    std::optional<platform::MainProcessStatus> st = MainOf(runtime_, rec);
    next[rec.spec.name] = Entry{rec.instance.init_pid, rec.instance.started, st};
    out[rec.spec.name] = std::move(st);
  }
  absl::MutexLock l(&mu_);
  entries_ = std::move(next);
  return out;
}

std::optional<platform::MainProcessStatus> MainStatusCache::Get(const jail::JailRecord& rec) {
  if (!HasMain(rec)) return std::nullopt;
  {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(rec.spec.name);
    if (it != entries_.end() && SameRun(it->second, rec)) return it->second.status;
  }
  // A run the last pass did not see: read once, outside the lock.
  std::optional<platform::MainProcessStatus> st = MainOf(runtime_, rec);
  absl::MutexLock l(&mu_);
  entries_[rec.spec.name] = Entry{rec.instance.init_pid, rec.instance.started, st};
  return st;
}

}  // namespace jailwarden::service
