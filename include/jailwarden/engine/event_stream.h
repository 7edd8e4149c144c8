#pragma once

// The daemon's one ordered event log: jail lifecycle (created, started,
// stopped, destroyed, restarted, main_exited, oom_killed, health_changed),
// policy_reloaded, and the devctl-style rule lines ("!system=RCTL ...",
// type "limit", the jailwarden stand-in for devd(8)'s socket). Every event
// gets the next id (1, 2, ...); ids never repeat, across restarts too when
// the log has a high-water-mark file (OpenHighWater). The log keeps the
// last `capacity` events in memory (a ring); readers resume from an id and
// learn how many ids fell out of the ring before they read them (a gap).
//
// The high-water mark: ids are reserved in blocks of `reserve_block`; the
// end of the current block is written (base::WriteFileAtomically, fsync)
// before an id beyond the previous block is handed out, so after a crash
// or a restart the log goes on past every id an earlier run could have
// used. The ids a run reserved but never used are skipped (a reader
// resuming across a restart is told of the gap).
//
// Thread-safe: every method may be called from any thread. Publish and
// Append take the lock for a copy (and, once per block, the mark's write);
// readers hold it only to copy events out.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jailwarden::engine {

// The event types (the "type" field of /v1/events). details per type are in
// docs/events.md.
inline constexpr std::string_view kEventCreated = "created";
inline constexpr std::string_view kEventStarted = "started";
inline constexpr std::string_view kEventStopped = "stopped";
inline constexpr std::string_view kEventDestroyed = "destroyed";
inline constexpr std::string_view kEventRestarted = "restarted";
// The jail's main process ended: details {"code": N} or {"signal": N}.
inline constexpr std::string_view kEventMainExited = "main_exited";
inline constexpr std::string_view kEventOomKilled = "oom_killed";
inline constexpr std::string_view kEventHealthChanged = "health_changed";
inline constexpr std::string_view kEventLimit = "limit";
inline constexpr std::string_view kEventPolicyReloaded = "policy_reloaded";

// Every type above, in that order.
const std::vector<std::string_view>& EventTypes();
bool IsEventType(std::string_view type);

// One detail of an event: a string or an integer.
struct EventField {
  std::string key;
  std::variant<std::string, int64_t> value;
};

// RFC 3339 in UTC with nanoseconds: "2026-12-07T09:01:02.123456789Z".
std::string Rfc3339Nanos(absl::Time t);

class EventStream {
 public:
  struct Event {
    uint64_t seq = 0;  // the event's id; 1 for the first event ever
    absl::Time time = absl::UnixEpoch();
    std::string type;  // one of EventTypes()
    std::string jail;  // "" when the event is about no jail
    std::vector<EventField> details;
    std::string line;  // type "limit": the devctl line; else ""
  };

  explicit EventStream(std::size_t capacity = 10000) : capacity_(capacity) {}

  // Makes ids survive restarts: reads the mark at `path` (a missing file is
  // a first start), continues after it, and reserves the first block.
  // Call before the first Publish. Errors: DataLoss naming `path` when the
  // file holds no number; the write's ErrnoStatus.
  absl::Status OpenHighWater(std::string path, uint64_t reserve_block = 1024);

  // Appends an event and returns its id. A failed write of the mark is
  // logged and retried at the next event; the event is kept either way.
  uint64_t Publish(std::string_view type, std::string_view jail,
                   std::vector<EventField> details);
  // A devctl line as a "limit" event (jail from its "jail=" field).
  uint64_t Append(std::string_view line);

  // Every retained event with seq > after_seq, oldest first. `dropped`, if
  // non-null, is set to how many ids after after_seq are no longer (or, for
  // skipped ids after a restart, never were) in the ring.
  std::vector<Event> Read(uint64_t after_seq, uint64_t* dropped = nullptr) const;

  // Blocks until an event with seq > after_seq exists or `timeout` passed;
  // true if one exists.
  bool WaitFor(uint64_t after_seq, absl::Duration timeout) const;

  uint64_t last_seq() const;
  uint64_t dropped_total() const;

 private:
  uint64_t Push(Event e);
  void ReserveLocked(uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  std::string mark_path_ ABSL_GUARDED_BY(mu_);  // "" = ids not persisted
  uint64_t reserve_block_ ABSL_GUARDED_BY(mu_) = 1024;
  uint64_t reserved_ ABSL_GUARDED_BY(mu_) = 0;  // highest id the mark covers
};

}  // namespace jailwarden::engine
