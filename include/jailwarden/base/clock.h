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

// CLOCK_MONOTONIC, expressed as an absl::Time since an arbitrary epoch.
class MonotonicClock final : public Clock {
 public:
  absl::Time Now() override;
  void SleepUntil(absl::Time deadline) override;
  // Process-wide instance.
  static MonotonicClock& Get();
};

// A clock that moves only when told. SleepUntil advances time to the
// deadline instead of blocking, so code under test runs without sleeps.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch() + absl::Hours(1))
      : now_(start) {}
  absl::Time Now() override;
  void SleepUntil(absl::Time deadline) override;
  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jailwarden
