#pragma once

// A clock that moves only when told, for tests and benchmarks. SleepUntil
// advances time to the deadline instead of blocking, so code under test runs
// without sleeps. Header-only; thread-safe. Not part of any production
// library (jailwarden's binary has no Fake symbol).

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jailwarden/base/clock.h"

namespace jailwarden {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch() + absl::Hours(1)) : now_(start) {}
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void SleepUntil(absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    if (deadline > now_) now_ = deadline;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jailwarden
