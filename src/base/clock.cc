#include "jailwarden/base/clock.h"

#include <time.h>

#include <cerrno>

namespace jailwarden {
namespace {

timespec ToTimespecAbs(absl::Time t) {
  const absl::Duration since = t - absl::UnixEpoch();
  timespec ts{};
  ts.tv_sec = absl::ToInt64Seconds(since);
  ts.tv_nsec = static_cast<long>(
      absl::ToInt64Nanoseconds(since - absl::Seconds(ts.tv_sec)));
  return ts;
}

}  // namespace

absl::Time MonotonicClock::Now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::UnixEpoch() + absl::Seconds(ts.tv_sec) +
         absl::Nanoseconds(ts.tv_nsec);
}

void MonotonicClock::SleepUntil(absl::Time deadline) {
  // TIMER_ABSTIME on the same clock Now() reads: no drift accumulates.
  const timespec ts = ToTimespecAbs(deadline);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) ==
         EINTR) {
  }
}

MonotonicClock& MonotonicClock::Get() {
  static MonotonicClock* clock = new MonotonicClock();
  return *clock;
}

}  // namespace jailwarden
