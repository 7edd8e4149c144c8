#pragma once

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jailwarden {

// A monotonic clock the sampler and engine read, so tests drive time
// themselves. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic now. Only differences between two values are meaningful.
  virtual absl::Time Now() = 0;
  // Blocks until Now() >= deadline (returns at once if it already is).
  virtual void SleepUntil(absl::Time deadline) = 0;
};

// Tests use fakes::FakeClock (tests/fakes/fake_clock.h).

// CLOCK_MONOTONIC, expressed as an absl::Time since an arbitrary epoch.
class MonotonicClock final : public Clock {
 public:
  absl::Time Now() override;
  void SleepUntil(absl::Time deadline) override;
  // Process-wide instance.
  static MonotonicClock& Get();
};

}  // namespace jailwarden
