#pragma once

// RACCT rate and decay maths: how raw running totals become the usage the
// FreeBSD kernel reports (../shared/reference/freebsd-rctl.md §5, §7.5).
// Pure; no syscalls; thread-compatible.
//
// Which kernel algorithm: pcpu follows the NEWER racctd (upstream commit
// c72188d85a79, racct_updatepcpu_*): once per racctd pass (every second),
// for each container
//     new  = (cputime - r_runtime) × 100 × 10^6 / elapsed_us
//     pcpu = ((FSCALE - DECAY) × new + DECAY × old) / FSCALE
// with FSCALE = 2048 and DECAY = (fixpt_t)(0.3 × FSCALE) = 614, i.e.
// 0.7·new + 0.3·old in the kernel's integer arithmetic, clamped to
// [0, 100 × 10^6 × ncpu]. A container's pcpu comes from its own cputime
// (not a sum of per-process pcpu), as the newer kernel does.
//
// readbps/writebps/readiops/writeiops are the bytes or operations charged in
// the current one-second window: every tick adds the growth of the backend's
// running total, and every racctd pass first applies rctl_throttle_decay
// (§7.5): with m = the smallest amount among the container's throttle rules
// for that resource (INT64_MAX if none), usage < m resets to 0, otherwise
// usage = min(usage, 10·m) − m so the excess carries into the next second.
// The decay runs at the first tick at or after each one-second boundary,
// before that tick's growth is added (that growth was mostly charged after
// the boundary).
//
// cputime and wallclock are taken as read, in µs, every tick (the kernel
// refreshes them once a second; reading them fresher changes no rule
// outcome beyond timing).

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "absl/time/time.h"
#include "jailwarden/platform/usage_reader.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/rctl/rule_set.h"

namespace jailwarden::racct {

inline constexpr int64_t kFscale = int64_t{1} << 11;  // FSCALE (FSHIFT 11)
inline constexpr int64_t kPcpuDecayFactor = 614;      // RACCT_DECAY_FACTOR
inline constexpr absl::Duration kRacctdPeriod = absl::Seconds(1);
inline constexpr int64_t kPcpuPerCpu = 100 * 1000000;  // 100 % × 10^6

// The four decaying I/O resources, in resource order.
inline constexpr std::array<rctl::Resource, 4> kIoResources = {
    rctl::Resource::kReadbps, rctl::Resource::kWritebps,
    rctl::Resource::kReadiops, rctl::Resource::kWriteiops};
// Position of an I/O resource in kIoResources, or -1.
int IoIndex(rctl::Resource r);

// Per I/O resource: the minimum throttle amount linked to a container,
// INT64_MAX when there is none.
using IoMinimums = std::array<int64_t, 4>;
inline constexpr IoMinimums kNoThrottle = {INT64_MAX, INT64_MAX, INT64_MAX,
                                          INT64_MAX};

// One pcpu update of the newer kernel (see the file comment). `old_pcpu`
// and the result are percent × 10^6; `cpu_delta_us` is cputime growth since
// the last update, `elapsed_us` the wall time since it. elapsed_us <= 0
// returns old_pcpu unchanged. Negative growth counts as 0.
int64_t NextPcpu(int64_t old_pcpu, int64_t cpu_delta_us, int64_t elapsed_us,
                 int ncpu);

// rctl_throttle_decay on one counter, `m` the minimum throttle amount.
int64_t ThrottleDecay(int64_t usage, int64_t m);

// The throttle minimums of every container, from the rules linked to it:
// a jail or user container has the rules whose subject is that container
// (rctl_rule_add links a rule to its subject's racct); a process has every
// rule that applies to it (its process rules, user rules of its real or
// effective uid, jail rules of its jail and every ancestor).
struct ThrottleMinimums {
  std::map<std::string, IoMinimums, std::less<>> jail;
  std::map<int64_t, IoMinimums> user;
  std::map<int64_t, IoMinimums> process;  // process:<pid> rules only

  static ThrottleMinimums FromRules(const rctl::RuleSet& rules);
  static ThrottleMinimums FromRules(std::span<const rctl::Rule> rules);
  const IoMinimums& Jail(std::string_view name) const;
  const IoMinimums& User(int64_t uid) const;
  const IoMinimums& Process(int64_t pid) const;
};

// Elementwise minimum.
IoMinimums Min(const IoMinimums& a, const IoMinimums& b);

// Turns successive RawUsage readings of ONE container into kernel usage.
// Keeps the previous running totals, the I/O windows and the pcpu state.
class RateState {
 public:
  // Folds one reading taken at `now` into `out`/`present`:
  // - non-cumulative present resources are copied;
  // - a cumulative cputime is copied and, unless the reading gives pcpu
  //   itself, drives pcpu (updated only when `racctd_pass`);
  // - a cumulative I/O total adds its growth to the window, after the
  //   window was decayed with `mins` when `racctd_pass`;
  // - pcpu and the I/O windows keep their last value when absent from this
  //   reading (e.g. a failed read), as kernel counters would.
  // A running total that goes backwards (counter reset) contributes 0 and
  // becomes the new base. The first reading only sets the bases.
  void Update(const platform::RawUsage& raw, absl::Time now, bool racctd_pass,
              const IoMinimums& mins, int ncpu, rctl::UsageVector& out,
              platform::ResourceMask& present);

  int64_t pcpu() const { return pcpu_; }
  const std::array<int64_t, 4>& io_window() const { return window_; }
  // The I/O running totals of the last cumulative reading (read bytes,
  // write bytes, read ops, write ops, in IoIndex order); -1 where no
  // cumulative reading was seen. For the jail_*_total counters of /metrics.
  std::array<int64_t, 4> io_totals() const {
    std::array<int64_t, 4> t;
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = have_total_[i] ? last_total_[i] : -1;
    return t;
  }

 private:
  bool started_ = false;
  bool pcpu_started_ = false;
  std::array<int64_t, 4> last_total_{};
  std::array<bool, 4> have_total_{};
  std::array<int64_t, 4> window_{};
  int64_t pcpu_ = 0;
  int64_t r_runtime_ = 0;   // cputime at the last pcpu update
  absl::Time r_time_;       // when pcpu was last updated
  bool derive_pcpu_ = false;
};

}  // namespace jailwarden::racct
