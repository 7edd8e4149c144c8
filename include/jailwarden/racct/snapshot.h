#pragma once

// What one sampler tick publishes: an immutable Snapshot of every jail's
// RACCT usage in kernel units, the per-process and per-user containers from
// the slow tier, a short history ring of earlier ticks, and the sampler's
// own health (../shared/design/architecture.md §2).
// The history is compact (racct/history.h): varint deltas at full rate for
// the newest ticks, per-block maxima beyond.
//
// Everything reachable from a Snapshot is immutable once published, so any
// number of threads may read one without locks. Parts that do not change
// between ticks (the jail table, the slow-tier data) are shared between
// consecutive snapshots through shared_ptr, so a tick copies nothing it did
// not re-read.
//
// Units are the kernel's (rctl/resource.h): cputime and wallclock in µs,
// pcpu in percent of one CPU × 10^6, readbps/writebps in bytes and
// readiops/writeiops in operations counted in the current one-second window
// (racct/rates.h documents the algorithms).

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "jailwarden/platform/usage_reader.h"
#include "jailwarden/racct/history.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::racct {

using ResourceMask = platform::ResourceMask;

// A jail as the sampler knows it. Slots index every per-jail array of one
// tick (TickData::usage, TickData::present, JailTable::jails).
struct JailInfo {
  std::string name;     // prison_racct name, what jail:<name> rules use
  int64_t jid = -1;
  std::string parent;   // enclosing jail's name, "" for a top-level jail
  int32_t parent_slot = -1;  // slot of `parent` in the same table, -1 if none
  uint32_t depth = 0;        // 0 for top-level jails
};

// The jails of a run of ticks. Replaced (with a new generation) only when a
// jail appears or vanishes, so consumers can cache slot-indexed data keyed by
// `generation`. Parents always come before their children.
struct JailTable {
  uint64_t generation = 0;
  std::vector<JailInfo> jails;
  // (name, slot), sorted by name, for Find().
  std::vector<std::pair<std::string, uint32_t>> by_name;

  // The slot of the jail named `name`, or nullopt. O(log n), no allocation.
  std::optional<uint32_t> Find(std::string_view name) const;
  // Fills by_name, parent_slot and depth from `jails` (parents first), and
  // reorders nothing. Call once after filling `jails`.
  void Index();
  std::size_t size() const { return jails.size(); }
};

// Usage of every jail at one tick. Jail slot s resource r is usage[s][r].
// A jail's container includes its descendant jails (the kernel's
// prison_racct): either the backend reads it so, or the sampler sums the
// resources of SamplerOptions::aggregate_children.
struct TickData {
  uint64_t seq = 0;   // tick sequence number, 1 for the first tick
  absl::Time time;    // Clock::Now() when the tick started
  std::shared_ptr<const JailTable> jails;
  std::vector<rctl::UsageVector> usage;  // by slot
  std::vector<ResourceMask> present;     // by slot: resources read or derived
  std::vector<uint8_t> stale;            // by slot: 1 if this tick's read failed
                                         // and `usage` repeats the last good one
  // By slot: the backend's I/O running totals (read bytes, write bytes, read
  // ops, write ops; RateState::io_totals), -1 where the backend gives no
  // cumulative counter (FreeBSD gives only the rates). Empty in ticks built
  // without it (tests): no counters then.
  std::vector<std::array<int64_t, 4>> io_totals;
};

// One process from the slow tier (process: subjects, /process and /user per).
struct ProcessInfo {
  int64_t pid = 0;
  int64_t ruid = 0;
  int64_t euid = 0;
  std::string comm;
  std::string jail;          // immediate jail's name
  int32_t jail_slot = -1;    // slot in the JailTable the slow tier saw
  rctl::UsageVector usage{};  // kernel units, rates as for jails
  ResourceMask present;
};

// The real-uid container: the sum over the processes of that real uid that
// the reader reported (uidinfo racct, §2 "Containers").
struct UserInfo {
  int64_t ruid = 0;
  rctl::UsageVector usage{};
  ResourceMask present;
  uint32_t processes = 0;
};

// What the last slow-tier pass produced. Shared by every snapshot until the
// next slow tick.
struct SlowData {
  uint64_t seq = 0;  // the tick that read it
  absl::Time time;
  std::shared_ptr<const JailTable> jails;  // the table the slow tier used
  // Sorted by (jail_slot, pid). Processes of jail slot s are
  // processes[process_begin[s] .. process_begin[s + 1]).
  std::vector<ProcessInfo> processes;
  std::vector<uint32_t> process_begin;  // size jails->size() + 1
  std::vector<UserInfo> users;          // sorted by ruid

  // Index of the process with that pid, or nullopt. O(log n) via by_pid.
  std::optional<uint32_t> FindProcess(int64_t pid) const;
  // Index into users, or nullopt.
  std::optional<uint32_t> FindUser(int64_t ruid) const;
  std::vector<std::pair<int64_t, uint32_t>> by_pid;  // sorted by pid
};

// Upper bounds (µs, inclusive) of the tick-duration histogram's buckets
// (SamplerHealth::tick_buckets); one more bucket counts longer ticks.
inline constexpr std::array<int64_t, 11> kTickBucketBoundsUs = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000};

// The sampler's own health, cumulative since it started.
struct SamplerHealth {
  uint64_t ticks = 0;          // ticks completed
  uint64_t slow_ticks = 0;     // ticks that ran the slow tier
  uint64_t overruns = 0;       // deadlines missed (ticks skipped) because a
                               // tick ran past the next deadline
  // Failed reads by platform::ReadErrorReason (fast and slow tier; a
  // NotFound read counts as kVanished here and as a vanished jail).
  std::array<uint64_t, platform::kReadErrorReasonCount> read_errors{};
  uint64_t list_errors = 0;    // ListJails failures
  uint64_t jails_appeared = 0;
  uint64_t jails_vanished = 0;          // all disappearances
  uint64_t jails_vanished_mid_tick = 0; // of which: listed, then NotFound on read
  absl::Duration last_tick_duration;
  absl::Duration avg_tick_duration;     // mean over all ticks
  absl::Duration max_tick_duration;
  absl::Duration last_slow_duration;    // the slow tier's part of its last tick
  // Ticks by duration: tick_buckets[i] counts the ticks that took at most
  // kTickBucketBoundsUs[i] µs and more than the bound before it (not
  // cumulative); the last element counts ticks over 250 ms.
  std::array<uint64_t, kTickBucketBoundsUs.size() + 1> tick_buckets{};
};

// One published tick. Immutable.
struct Snapshot {
  uint64_t seq = 0;
  absl::Time time;
  int ncpu = 1;  // pcpu containers are clamped to 100 × 10^6 × ncpu
  std::shared_ptr<const TickData> tick;
  std::shared_ptr<const SlowData> slow;  // never null after the first tick
  // Usage of earlier ticks and of `tick` itself (the newest), covering
  // SamplerOptions::history; PeaksSince reads it.
  HistoryView history;
  SamplerHealth health;

  const JailTable& jails() const { return *tick->jails; }
  std::size_t jail_count() const { return tick->usage.size(); }
  const rctl::UsageVector& usage(uint32_t slot) const {
    return tick->usage[slot];
  }
  // Usage of the jail named `name`, or nullptr.
  const rctl::UsageVector* FindJailUsage(std::string_view name) const;
  // Oldest tick sequence still in history.
  uint64_t oldest_seq() const {
    return history.empty() ? seq : history.oldest_seq();
  }
};

// Per-jail peaks over a run of ticks.
struct Peaks {
  uint64_t from_seq = 0;  // first tick included
  uint64_t to_seq = 0;    // last tick included (the snapshot's)
  // False when ticks after the cursor's last read had already left the
  // history ring: the peak then covers only what the ring still held.
  bool complete = true;
  std::shared_ptr<const JailTable> jails;  // slots of `peak`
  std::vector<rctl::UsageVector> peak;     // by slot, max per resource
};

// Peaks of every jail over the ticks with since_seq < seq <= snap.seq that
// are still in snap.history. A jail that vanished is left out; one that
// appeared counts from its first tick. Exact while since_seq is within the
// history's full-rate window (the last 10 s by default); older, a coarse
// block counts whole, so the peak may include up to one block of ticks
// before since_seq. O(ticks × jails × 25). Pure.
Peaks PeaksSince(const Snapshot& snap, uint64_t since_seq);

// "Peak since my last read" for one reader (the metrics scrape, an API
// client). Each Read() covers every tick after the previous Read()'s
// snapshot. The cursor is the reader's own state: it never touches the
// snapshot or the sampler. Thread-compatible (one cursor per reader).
class PeakCursor {
 public:
  // Peaks since the previous Read (the first Read covers the whole ring).
  const Peaks& Read(const Snapshot& snap);
  uint64_t last_seq() const { return last_seq_; }

 private:
  uint64_t last_seq_ = 0;
  Peaks peaks_;
};

// Maps a read failure to the read-errors metric reason: NotFound →
// kVanished, PermissionDenied → kPermission, InvalidArgument/DataLoss →
// kParse, Unimplemented → kUnsupported, anything else → kIo.
platform::ReadErrorReason ReasonOf(const absl::Status& status);

}  // namespace jailwarden::racct
