#pragma once

// What the sampler's two tiers share (sampler.cc: lifecycle and the fast
// tier; sampler_slow.cc: the jail list and the slow tier): per-container
// state kept between ticks and small arithmetic helpers. Private to
// src/racct; everything here is used on the tick thread only.

#include <cstdint>
#include <limits>

#include "absl/time/time.h"
#include "jailwarden/platform/usage_reader.h"
#include "jailwarden/racct/rates.h"
#include "jailwarden/racct/sampler.h"

namespace jailwarden::racct {

struct Sampler::JailState {
  RateState rates;
  platform::RawUsage slow_raw;
  bool have_slow = false;
  rctl::UsageVector last_usage{};
  ResourceMask last_present;
  IoMinimums mins = kNoThrottle;
};

struct Sampler::ProcessState {
  RateState rates;
};

struct Sampler::UserState {
  RateState rates;
};

namespace sampler_internal {

// Marks every resource of `raw` unread (values are left as they are: only
// present ones are ever read).
inline void ResetRaw(platform::RawUsage& raw) {
  raw.present.reset();
  raw.cumulative.reset();
}

// Advances `deadline` past `now` by whole periods; returns how many
// deadlines were at or before `now`.
inline int64_t AdvancePast(absl::Time& deadline, absl::Time now,
                           absl::Duration period) {
  if (now < deadline) {
    return 0;
  }
  absl::Duration rem;
  const int64_t k = absl::IDivDuration(now - deadline, period, &rem) + 1;
  deadline += k * period;
  return k;
}

// a + b, clamped to the int64_t range instead of overflowing.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  }
  return r;
}

}  // namespace sampler_internal
}  // namespace jailwarden::racct
