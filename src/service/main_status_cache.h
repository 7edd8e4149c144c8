#pragma once

// service::MainStatusCache (issue 17): the supervised main process
// (`command:`) of every running jail as the daemon's maintenance pass last
// read it from the jail's supervisor (JailRuntime::MainStatus, a socket
// round trip to jailwarden-init on Linux). `list`, GET /v1/jails[/NAME] and
// /metrics read this copy, so neither a scrape nor a list talks to a
// jail's init, and a jail's root cannot slow either down by making its init
// slow to answer: at most the maintenance pass waits (bounded by
// MainStatus's own timeout).
//
// An entry belongs to one run of a jail (init pid and start time): a jail
// restarted since the last pass is read once, on its first lookup, and
// then served from the cache until the next pass replaces it.
//
// Thread-safety: every method is thread-safe. Lock: mu_, never held while
// the runtime is asked.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jailwarden/jail/state_store.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::service {

class MainStatusCache {
 public:
  // `runtime` must outlive the cache.
  explicit MainStatusCache(platform::JailRuntime& runtime) : runtime_(runtime) {}

  // The maintenance pass: asks the supervisor of every running jail in
  // `records` that has a main process, replaces the cache with the answers
  // (jails no longer running drop out) and returns them by jail name
  // (nullopt: the supervisor did not answer, logged).
  std::map<std::string, std::optional<platform::MainProcessStatus>> Refresh(
      const std::vector<jail::JailRecord>& records);

  // `rec`'s main process as last read; nullopt for a jail without one, one
  // not running, or whose supervisor did not answer. A run not yet in the
  // cache is read once (one round trip) and kept.
  std::optional<platform::MainProcessStatus> Get(const jail::JailRecord& rec);

 private:
  struct Entry {
    int64_t init_pid = -1;
    absl::Time started = absl::InfinitePast();
    std::optional<platform::MainProcessStatus> status;
  };
  static bool HasMain(const jail::JailRecord& rec);
  static bool SameRun(const Entry& e, const jail::JailRecord& rec);

  platform::JailRuntime& runtime_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jailwarden::service
