#pragma once

// service::IsolationCache (issue 13): what isolates each running jail
// (JailRuntime::Isolation: on Linux init's Seccomp line, its mount table
// and a quotactl) as last read, for /metrics. A scrape would otherwise read
// two /proc files and ask the quota code for every jail every time; the
// layers do not change while a jail runs and disk usage may lag by
// `max_age`. GET /v1/jails/NAME reads the runtime directly (one jail).
//
// An entry belongs to one run of a jail (init pid and start time) and is
// read again once older than `max_age`.
//
// Thread-safety: thread-safe. Lock: mu_, never held while the runtime is
// asked. AddRunStatus is thread-safe as the caches are.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jailwarden/jail/state_store.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/service/health_checker.h"
#include "service/main_status_cache.h"

namespace jailwarden::service {

class IsolationCache {
 public:
  // `runtime` must outlive the cache.
  IsolationCache(platform::JailRuntime& runtime, absl::Duration max_age)
      : runtime_(runtime), max_age_(max_age) {}

  // `rec`'s isolation as read at most `max_age` ago in this run; nullopt
  // for a jail not running or a runtime that cannot say.
  std::optional<platform::IsolationStatus> Get(const jail::JailRecord& rec);

  // Drops the entries of jails not in `records` (destroyed ones).
  void Retain(const std::vector<jail::JailRecord>& records);

 private:
  struct Entry {
    int64_t init_pid = -1;
    absl::Time started = absl::InfinitePast();
    absl::Time read = absl::InfinitePast();
    std::optional<platform::IsolationStatus> status;
  };

  platform::JailRuntime& runtime_;
  const absl::Duration max_age_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// Adds to each jail of `out` (from JailStatuses) what only the running
// daemon knows: its OOM kills, health state, isolation (through
// `isolation`) and main process (through `mains`). Jails in `out` that
// have no record are left as they are.
void AddRunStatus(std::vector<metrics::JailStatus>& out,
                  const std::vector<jail::JailRecord>& records,
                  const std::map<std::string, JailHealth>& health,
                  const std::map<std::string, int64_t>& oom_kills, MainStatusCache& mains,
                  IsolationCache& isolation);

}  // namespace jailwarden::service
