#pragma once

// racct::Sampler: reads every jail's usage through a platform::UsageReader
// on absolute deadlines and publishes one immutable Snapshot per tick
// (../shared/design/architecture.md §2). The tick is the hot path: no
// strings are built and, once warmed up, nothing is allocated per jail
// except the tick's own usage arrays.
//
// Tiers:
// - fast, every tick: ReadFast for each jail;
// - slow, every `slow_interval` (and whenever the jail list is unknown):
//   ListJails, then ReadSlow for each jail (the expensive resources and the
//   per-process scan). Slow resources are carried into fast ticks until the
//   next slow pass (a resource the fast tier gives wins).
//
// Jails that appear are picked up at the next slow pass; a jail whose fast
// read returns NotFound is dropped at once (counted as vanished mid-tick).
//
// Thread-safety: Latest() and health readers may be called from any thread
// at any time and never wait on a tick. Start/Stop/TickOnce/SetRules/
// SetTickCallback are for the owning thread; TickOnce must not be used while
// the thread started by Start() runs. The only blocking call the sampler
// makes is Clock::SleepUntil between ticks.

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/platform/usage_reader.h"
#include "jailwarden/racct/history.h"
#include "jailwarden/racct/rates.h"
#include "jailwarden/racct/shared_slot.h"
#include "jailwarden/racct/snapshot.h"
#include "jailwarden/rctl/rule_set.h"

namespace jailwarden::racct {

struct SamplerOptions {
  // Tick period, 1 ms .. 60 s.
  absl::Duration interval = absl::Milliseconds(100);
  // Slow-tier period, >= interval and <= 1 h. Runs on the first tick at or
  // after each slow deadline.
  absl::Duration slow_interval = absl::Seconds(1);
  // How far back Snapshot::history reaches, 0 .. 1 h. Memory (history.h):
  // the newest 10 s at full rate, ≈ 25–40 bytes per jail per tick for a
  // quiet jail, then at most 64 rows of per-block maxima per jail (≈ 8 KB
  // per jail at 10 Hz and 60 s).
  absl::Duration history = absl::Seconds(10);
  // CPUs for the pcpu clamp (100 × 10^6 × ncpu). Must be >= 1.
  int ncpu = 1;
  // Resources the reader gives per jail WITHOUT its descendants; the
  // sampler adds each child's container into its parent's. Default: none
  // (FreeBSD prison_racct and cgroup v2 files are already hierarchical).
  ResourceMask aggregate_children;
  // Pass a process vector to ReadSlow (process: and user: subjects, /user
  // and /process per need it).
  bool read_processes = true;
};

// InvalidArgument naming the field when an option is out of range.
absl::Status ValidateSamplerOptions(const SamplerOptions& options);

class Sampler {
 public:
  // Called on the sampler thread right after each publish (the daemon runs
  // engine::Engine::Evaluate here). Must not call back into the sampler.
  using TickCallback = std::function<void(const std::shared_ptr<const Snapshot>&)>;

  // `reader` and `clock` must outlive the sampler. Options are validated by
  // Start(); TickOnce() with invalid options clamps nothing and is the
  // caller's problem (tests), so validate first.
  Sampler(platform::UsageReader& reader, Clock& clock, SamplerOptions options);
  ~Sampler();  // Stop()s
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Validates the options and starts the tick thread. The first tick runs at
  // once, later ones at start + k × interval. FailedPrecondition if running.
  absl::Status Start();
  // Stops the thread; returns within about min(interval, 100 ms) of the
  // clock. Idempotent.
  void Stop();
  bool running() const { return thread_.joinable(); }

  // One synchronous tick at clock.Now() (tests and benchmarks), published
  // like a threaded tick. Returns the new snapshot.
  std::shared_ptr<const Snapshot> TickOnce();

  // The latest snapshot, or nullptr before the first tick. Never waits on a
  // tick in progress.
  std::shared_ptr<const Snapshot> Latest() const { return latest_.Load(); }

  // The rules whose throttle amounts drive the I/O window decay. Takes
  // effect at the next tick. Thread-safe.
  void SetRules(const rctl::RuleSet& rules);
  void SetRules(std::span<const rctl::Rule> rules);

  // Set before Start().
  void SetTickCallback(TickCallback callback) { callback_ = std::move(callback); }

  const SamplerOptions& options() const { return options_; }

 private:
  struct JailState;
  struct ProcessState;
  struct UserState;

  void Run();
  void Tick(absl::Time now);
  void RefreshJails();
  void ReadSlowTier(absl::Time now);
  void ResolveMinimums(bool force);
  void DropGoneJails();
  IoMinimums ProcessMinimums(const platform::ProcessUsage& p,
                             int32_t jail_slot) const;

  platform::UsageReader& reader_;
  Clock& clock_;
  SamplerOptions options_;

  // Tick-thread state.
  uint64_t seq_ = 0;
  bool have_jails_ = false;
  absl::Time next_slow_;
  absl::Time next_racctd_;
  absl::Time next_slow_racctd_;
  uint64_t table_generation_ = 0;
  std::shared_ptr<const JailTable> table_;
  std::vector<std::unique_ptr<JailState>> jails_;  // by slot of table_
  std::vector<platform::JailRef> refs_;            // by slot of table_
  std::shared_ptr<const SlowData> slow_;
  std::map<int64_t, std::unique_ptr<ProcessState>> processes_;  // by pid
  std::map<int64_t, std::unique_ptr<UserState>> users_;         // by ruid
  std::vector<uint8_t> gone_;  // by slot: vanished during this tick
  HistoryRecorder history_;
  // Tick arrays and snapshots, reused once no reader holds them (a
  // multi-megabyte allocation per tick would be mmap'd and faulted anew).
  std::array<std::shared_ptr<TickData>, 3> tick_pool_;
  std::array<std::shared_ptr<Snapshot>, 3> snap_pool_;
  std::size_t pool_next_ = 0;
  SamplerHealth health_;
  absl::Duration total_tick_duration_;
  std::shared_ptr<const ThrottleMinimums> minimums_;
  uint64_t minimums_version_seen_ = 0;
  std::vector<platform::ProcessUsage> process_scratch_;
  platform::RawUsage raw_scratch_;
  platform::RawUsage slow_scratch_;

  absl::Mutex rules_mu_;
  std::shared_ptr<const ThrottleMinimums> pending_minimums_
      ABSL_GUARDED_BY(rules_mu_);
  std::atomic<uint64_t> minimums_version_{0};

  SharedSlot<const Snapshot> latest_;
  TickCallback callback_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace jailwarden::racct
