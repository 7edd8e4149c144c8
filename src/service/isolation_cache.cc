#include "service/isolation_cache.h"

#include <iterator>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "service/api_view.h"

namespace jailwarden::service {

std::optional<platform::IsolationStatus> IsolationCache::Get(const jail::JailRecord& rec) {
  if (rec.state != jail::JailState::kRunning) return std::nullopt;
  const absl::Time now = absl::Now();
  {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(rec.spec.name);
    if (it != entries_.end() && it->second.init_pid == rec.instance.init_pid &&
        it->second.started == rec.instance.started && now - it->second.read < max_age_) {
      return it->second.status;
    }
  }
  std::optional<platform::IsolationStatus> st = IsolationOf(runtime_, rec);
  absl::MutexLock l(&mu_);
  entries_[rec.spec.name] = Entry{rec.instance.init_pid, rec.instance.started, now, st};
  return st;
}

void IsolationCache::Retain(const std::vector<jail::JailRecord>& records) {
  std::set<std::string_view> names;
  for (const jail::JailRecord& rec : records) names.insert(rec.spec.name);
  absl::MutexLock l(&mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = names.count(it->first) != 0 ? std::next(it) : entries_.erase(it);
  }
}

void AddRunStatus(std::vector<metrics::JailStatus>& out,
                  const std::vector<jail::JailRecord>& records,
                  const std::map<std::string, JailHealth>& health,
                  const std::map<std::string, int64_t>& oom_kills, MainStatusCache& mains,
                  IsolationCache& isolation) {
  std::map<std::string_view, const jail::JailRecord*> by_name;
  for (const jail::JailRecord& rec : records) by_name.emplace(rec.spec.name, &rec);
  isolation.Retain(records);
  for (metrics::JailStatus& j : out) {
    if (auto it = oom_kills.find(j.name); it != oom_kills.end()) j.oom_kills = it->second;
    if (auto it = health.find(j.name); it != health.end()) {
      j.healthy = it->second.state == "healthy";
    }
    auto found = by_name.find(j.name);
    if (found == by_name.end()) continue;
    const jail::JailRecord& rec = *found->second;
    j.isolation = isolation.Get(rec);  // issue 13
    if (std::optional<platform::MainProcessStatus> m = mains.Get(rec)) {  // issue 17
      j.main = metrics::JailStatus::Main{
          .running = m->running,
          .restarts = m->restarts,
          .last_exit_code = m->exited && m->exit_signal == 0 ? m->exit_code : -1,
          .last_exit_signal = m->exited ? m->exit_signal : 0};
    }
  }
}

}  // namespace jailwarden::service
