#include "jailwarden/racct/sampler.h"

#include <sys/resource.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>
#include <utility>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "racct/sampler_internal.h"

// Lifecycle, rule minimums and the fast tier (one read per jail per tick,
// then publish). The jail list and the slow tier are in sampler_slow.cc.

namespace jailwarden::racct {
namespace {

using sampler_internal::AdvancePast;
using sampler_internal::ResetRaw;
using sampler_internal::SaturatingAdd;

constexpr absl::Duration kMinInterval = absl::Milliseconds(1);
constexpr absl::Duration kMaxInterval = absl::Seconds(60);
constexpr absl::Duration kMaxSlowInterval = absl::Hours(1);
constexpr absl::Duration kMaxHistory = absl::Hours(1);
constexpr absl::Duration kStopSlice = absl::Milliseconds(100);
// Ticks per history block (about a second of ticks), and how much of the
// history is kept at full rate.
constexpr absl::Duration kHistoryBlock = absl::Seconds(1);
constexpr absl::Duration kFullRateHistory = absl::Seconds(10);
constexpr std::size_t kMaxBlockTicks = 1000;

// Linux: the tick thread runs this many nice levels ahead of the process
// (setpriority on its tid), so on a busy host a tick gets a CPU before the
// daemon's HTTP, maintenance and enforcement threads and before other
// nice-0 work: a late tick is a missed tick, a late scrape or pass is
// only late. Needs CAP_SYS_NICE (or RLIMIT_NICE); without it the thread
// keeps the process's nice (logged at debug). Elsewhere nothing.
constexpr int kTickNiceBoost = 5;

// The calling thread `boost` nice levels ahead of the process (Linux,
// where setpriority on a tid reaches that one thread). Best effort.
void RaiseTickPriority(int boost) {
#if defined(__linux__)
  if (boost <= 0) {
    return;
  }
  const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int process_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(getpid()));
  if (errno != 0) {
    return;
  }
  const int want = std::max(process_nice - boost, -20);
  if (setpriority(PRIO_PROCESS, tid, want) != 0) {
    LogDebug("sampler: tick thread keeps the process's nice",
             {{"nice", StrCat(process_nice)}, {"errno", std::string(ErrnoName(errno))}});
    return;
  }
  LogDebug("sampler: tick thread nice", {{"nice", StrCat(want)}});
#else
  (void)boost;
#endif
}

std::size_t TicksIn(absl::Duration d, absl::Duration interval) {
  if (interval <= absl::ZeroDuration()) {
    return 1;
  }
  absl::Duration rem;
  return static_cast<std::size_t>(
      std::max<int64_t>(absl::IDivDuration(d, interval, &rem), 0));
}

HistoryOptions HistoryOptionsFor(const SamplerOptions& o) {
  HistoryOptions h;
  h.ticks = TicksIn(o.history, o.interval) + 1;
  h.block_ticks = std::clamp<std::size_t>(TicksIn(kHistoryBlock, o.interval), 1,
                                          kMaxBlockTicks);
  h.full_ticks = std::max(h.block_ticks, TicksIn(kFullRateHistory, o.interval));
  h.max_coarse_blocks = 64;
  return h;
}

// The first pooled object no reader holds any more, or a new one (taking
// the place of one a reader still holds: that one lives on with it).
template <typename T>
std::shared_ptr<T> Reusable(std::array<std::shared_ptr<T>, 3>& pool,
                            std::size_t& next) {
  for (std::shared_ptr<T>& p : pool) {
    if (p != nullptr && p.use_count() == 1) {
      // Readers dropped it with an atomic (release) decrement: see their
      // reads before this thread writes it.
      std::atomic_thread_fence(std::memory_order_acquire);
      return p;
    }
  }
  for (std::shared_ptr<T>& p : pool) {
    if (p == nullptr) {
      p = std::make_shared<T>();
      return p;
    }
  }
  std::shared_ptr<T>& p = pool[next++ % pool.size()];
  p = std::make_shared<T>();
  return p;
}

}  // namespace

absl::Status ValidateSamplerOptions(const SamplerOptions& options) {
  if (options.interval < kMinInterval || options.interval > kMaxInterval) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("sampler interval ", absl::FormatDuration(options.interval),
                      " outside 1ms..60s")));
  }
  if (options.slow_interval < options.interval ||
      options.slow_interval > kMaxSlowInterval) {
    return absl::InvalidArgumentError(ToAbsl(
        StrCat("sampler slow_interval ",
               absl::FormatDuration(options.slow_interval),
               " outside interval..1h")));
  }
  if (options.history < absl::ZeroDuration() || options.history > kMaxHistory) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("sampler history ", absl::FormatDuration(options.history),
                      " outside 0..1h")));
  }
  if (options.ncpu < 1) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("sampler ncpu ", options.ncpu, " must be >= 1")));
  }
  return absl::OkStatus();
}

Sampler::Sampler(platform::UsageReader& reader, Clock& clock,
                 SamplerOptions options)
    : reader_(reader),
      clock_(clock),
      options_(std::move(options)),
      table_(std::make_shared<JailTable>()),
      slow_(std::make_shared<SlowData>()),
      history_(HistoryOptionsFor(options_)),
      minimums_(std::make_shared<ThrottleMinimums>()) {
  auto slow = std::make_shared<SlowData>();
  slow->jails = table_;
  slow->process_begin.assign(1, 0);
  slow_ = std::move(slow);
}

Sampler::~Sampler() { Stop(); }

absl::Status Sampler::Start() {
  if (thread_.joinable()) {
    return absl::FailedPreconditionError("sampler already running");
  }
  if (absl::Status s = ValidateSamplerOptions(options_); !s.ok()) {
    return s;
  }
  stop_.store(false);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Sampler::Stop() {
  stop_.store(true);
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Sampler::Run() {
  RaiseTickPriority(kTickNiceBoost);
  absl::Time deadline = clock_.Now();
  while (!stop_.load(std::memory_order_relaxed)) {
    Tick(clock_.Now());
    deadline += options_.interval;
    const absl::Time now = clock_.Now();
    if (now > deadline) {
      // Absolute deadlines: a late tick skips the deadlines it overran
      // instead of shifting every later one (no drift).
      absl::Duration rem;  // IDivDuration needs it (null crashes)
      const int64_t missed =
          absl::IDivDuration(now - deadline - absl::Nanoseconds(1),
                             options_.interval, &rem) +
          1;
      health_.overruns += static_cast<uint64_t>(missed);
      deadline += missed * options_.interval;
    }
    while (!stop_.load(std::memory_order_relaxed)) {
      const absl::Time t = clock_.Now();
      if (t >= deadline) {
        break;
      }
      clock_.SleepUntil(std::min(deadline, t + kStopSlice));
    }
  }
}

std::shared_ptr<const Snapshot> Sampler::TickOnce() {
  Tick(clock_.Now());
  return Latest();
}

void Sampler::SetRules(const rctl::RuleSet& rules) {
  SetRules(std::span<const rctl::Rule>(rules.rules()));
}

void Sampler::SetRules(std::span<const rctl::Rule> rules) {
  auto mins = std::make_shared<const ThrottleMinimums>(
      ThrottleMinimums::FromRules(rules));
  absl::MutexLock lock(&rules_mu_);
  pending_minimums_ = std::move(mins);
  minimums_version_.fetch_add(1);
}

void Sampler::ResolveMinimums(bool force) {
  const uint64_t version = minimums_version_.load();
  if (version != minimums_version_seen_) {
    absl::MutexLock lock(&rules_mu_);
    minimums_ = pending_minimums_;
    minimums_version_seen_ = version;
    force = true;
  }
  if (!force) {
    return;
  }
  for (std::size_t slot = 0; slot < jails_.size(); ++slot) {
    jails_[slot]->mins = minimums_->Jail(table_->jails[slot].name);
  }
}

IoMinimums Sampler::ProcessMinimums(const platform::ProcessUsage& p,
                                    int32_t jail_slot) const {
  // Every rule linked to the process (§6.7): its own, its real and
  // effective uid's, and its jail's and each ancestor jail's.
  IoMinimums m = Min(minimums_->Process(p.pid), minimums_->User(p.ruid));
  m = Min(m, minimums_->User(p.euid));
  for (int32_t s = jail_slot; s >= 0; s = table_->jails[s].parent_slot) {
    m = Min(m, jails_[s]->mins);
  }
  return m;
}
void Sampler::DropGoneJails() {
  std::size_t gone = 0;
  for (uint8_t g : gone_) {
    gone += g;
  }
  if (gone == 0) {
    return;
  }
  health_.jails_vanished += gone;
  health_.jails_vanished_mid_tick += gone;
  auto table = std::make_shared<JailTable>();
  table->generation = ++table_generation_;
  std::vector<std::unique_ptr<JailState>> states;
  std::vector<platform::JailRef> refs;
  for (std::size_t s = 0; s < refs_.size(); ++s) {
    if (gone_[s]) {
      continue;
    }
    table->jails.push_back(table_->jails[s]);
    states.push_back(std::move(jails_[s]));
    refs.push_back(std::move(refs_[s]));
  }
  table->Index();
  table_ = std::move(table);
  jails_ = std::move(states);
  refs_ = std::move(refs);
}

void Sampler::Tick(absl::Time now) {
  ++seq_;
  if (seq_ == 1) {
    next_racctd_ = now + kRacctdPeriod;
    next_slow_racctd_ = now + kRacctdPeriod;
    next_slow_ = now;
  }
  const bool racctd_pass = AdvancePast(next_racctd_, now, kRacctdPeriod) > 0;
  const bool slow = !have_jails_ || now >= next_slow_;
  if (slow) {
    AdvancePast(next_slow_, now, options_.slow_interval);
  }
  ResolveMinimums(/*force=*/false);
  if (slow) {
    RefreshJails();
  }
  gone_.assign(refs_.size(), 0);
  if (slow) {
    ReadSlowTier(now);
  }

  // Pooled snapshots no reader holds let go of their tick, slow data and
  // history, so those can be reused or freed.
  for (std::shared_ptr<Snapshot>& s : snap_pool_) {
    if (s != nullptr && s.use_count() == 1) {
      std::atomic_thread_fence(std::memory_order_acquire);
      s->tick = nullptr;
      s->slow = nullptr;
      s->history = HistoryView();
    }
  }
  // The arrays of a tick no reader holds any more (the history keeps its
  // own compact copy of the usage).
  std::shared_ptr<TickData> tick = Reusable(tick_pool_, pool_next_);
  tick->jails = nullptr;
  tick->seq = seq_;
  tick->time = now;
  const std::size_t n = refs_.size();
  tick->usage.assign(n, rctl::UsageVector{});
  tick->present.assign(n, ResourceMask{});
  tick->stale.assign(n, 0);
  tick->io_totals.assign(n, {-1, -1, -1, -1});
  for (std::size_t slot = 0; slot < n; ++slot) {
    if (gone_[slot]) {
      continue;
    }
    JailState& js = *jails_[slot];
    platform::RawUsage& raw = raw_scratch_;
    ResetRaw(raw);
    absl::Status status = reader_.ReadFast(refs_[slot], raw);
    if (!status.ok()) {
      ++health_.read_errors[static_cast<std::size_t>(ReasonOf(status))];
      if (status.code() == absl::StatusCode::kNotFound) {
        gone_[slot] = 1;
      } else {
        tick->usage[slot] = js.last_usage;
        tick->present[slot] = js.last_present;
        tick->stale[slot] = 1;
        tick->io_totals[slot] = js.rates.io_totals();
      }
      continue;
    }
    if (js.have_slow && js.slow_raw.present.any()) {
      const platform::RawUsage& s = js.slow_raw;
      for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
        if (s.present[r] && !raw.present[r]) {
          raw.value[r] = s.value[r];
          raw.present[r] = true;
          raw.cumulative[r] = s.cumulative[r];
        }
      }
    }
    js.rates.Update(raw, now, racctd_pass, js.mins, options_.ncpu,
                    tick->usage[slot], tick->present[slot]);
    js.last_usage = tick->usage[slot];
    js.last_present = tick->present[slot];
    tick->io_totals[slot] = js.rates.io_totals();
  }

  if (options_.aggregate_children.any()) {
    // Children have higher slots than their parents: one backward pass
    // adds every descendant into every ancestor.
    for (std::size_t slot = n; slot-- > 0;) {
      const int32_t parent = table_->jails[slot].parent_slot;
      if (parent < 0 || gone_[slot]) {
        continue;
      }
      for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
        if (options_.aggregate_children[r] && tick->present[slot][r]) {
          tick->usage[parent][r] =
              SaturatingAdd(tick->usage[parent][r], tick->usage[slot][r]);
          tick->present[parent][r] = true;
        }
      }
    }
  }

  if (std::find(gone_.begin(), gone_.end(), 1) != gone_.end()) {
    std::vector<rctl::UsageVector> usage;
    std::vector<ResourceMask> present;
    std::vector<uint8_t> stale;
    std::vector<std::array<int64_t, 4>> io_totals;
    for (std::size_t s = 0; s < n; ++s) {
      if (!gone_[s]) {
        usage.push_back(tick->usage[s]);
        present.push_back(tick->present[s]);
        stale.push_back(tick->stale[s]);
        io_totals.push_back(tick->io_totals[s]);
      }
    }
    tick->usage = std::move(usage);
    tick->present = std::move(present);
    tick->stale = std::move(stale);
    tick->io_totals = std::move(io_totals);
    DropGoneJails();
  }
  tick->jails = table_;

  history_.Append(*tick);
  std::shared_ptr<Snapshot> snap = Reusable(snap_pool_, pool_next_);
  snap->seq = seq_;
  snap->time = now;
  snap->ncpu = options_.ncpu;
  snap->tick = std::move(tick);
  snap->slow = slow_;
  snap->history = history_.view();

  const absl::Duration took = clock_.Now() - now;
  ++health_.ticks;
  health_.last_tick_duration = took;
  health_.max_tick_duration = std::max(health_.max_tick_duration, took);
  total_tick_duration_ += took;
  health_.avg_tick_duration =
      total_tick_duration_ / static_cast<int64_t>(health_.ticks);
  const int64_t took_us = absl::ToInt64Microseconds(took);
  std::size_t bucket = 0;
  while (bucket < kTickBucketBoundsUs.size() &&
         took_us > kTickBucketBoundsUs[bucket]) {
    ++bucket;
  }
  ++health_.tick_buckets[bucket];
  snap->health = health_;

  std::shared_ptr<const Snapshot> published = std::move(snap);
  latest_.Store(published);
  if (callback_) {
    callback_(published);
  }
}

}  // namespace jailwarden::racct
