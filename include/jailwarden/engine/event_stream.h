#pragma once

// An in-process stream of devctl-style event lines ("!system=RCTL ..."),
// the jailwarden stand-in for devd(8)'s socket. The engine's ActionSink
// implementation appends; the API and tests read from a sequence number.
// Bounded: the oldest lines are dropped when full (counted).
//
// Thread-safe: Append and Read may be called from any thread; readers hold
// the lock only to copy lines out.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace jailwarden::engine {

class EventStream {
 public:
  struct Event {
    uint64_t seq = 0;  // 1 for the first event ever appended
    std::string line;
  };

  explicit EventStream(std::size_t capacity = 4096) : capacity_(capacity) {}

  // Appends `line` and returns its sequence number.
  uint64_t Append(std::string_view line);

  // Every retained event with seq > after_seq, oldest first. `dropped`, if
  // non-null, is set to how many events after after_seq were already gone.
  std::vector<Event> Read(uint64_t after_seq, uint64_t* dropped = nullptr) const;

  uint64_t last_seq() const;
  uint64_t dropped_total() const;

 private:
  const std::size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jailwarden::engine
