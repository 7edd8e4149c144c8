#include "jailwarden/racct/sampler.h"

#include <algorithm>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::racct {
namespace {

constexpr absl::Duration kMinInterval = absl::Milliseconds(1);
constexpr absl::Duration kMaxInterval = absl::Seconds(60);
constexpr absl::Duration kMaxSlowInterval = absl::Hours(1);
constexpr absl::Duration kMaxHistory = absl::Hours(1);
constexpr absl::Duration kStopSlice = absl::Milliseconds(100);

void ResetRaw(platform::RawUsage& raw) {
  raw.present.reset();
  raw.cumulative.reset();
}

// Advances `deadline` past `now` by whole periods; returns how many
// deadlines were at or before `now`.
int64_t AdvancePast(absl::Time& deadline, absl::Time now,
                    absl::Duration period) {
  if (now < deadline) {
    return 0;
  }
  absl::Duration rem;
  const int64_t k = absl::IDivDuration(now - deadline, period, &rem) + 1;
  deadline += k * period;
  return k;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  }
  return r;
}

}  // namespace

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
      minimums_(std::make_shared<ThrottleMinimums>()) {
  if (options_.interval > absl::ZeroDuration()) {
    absl::Duration rem;
    history_ticks_ = static_cast<std::size_t>(absl::IDivDuration(
                         options_.history, options_.interval, &rem)) +
                     1;
  }
  history_ticks_ = std::max<std::size_t>(history_ticks_, 1);
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

void Sampler::RefreshJails() {
  absl::StatusOr<std::vector<platform::JailRef>> listed = reader_.ListJails();
  if (!listed.ok()) {
    ++health_.list_errors;
    return;
  }
  std::vector<platform::JailRef>& refs = *listed;
  // Order parents before children: by depth, then name.
  std::unordered_map<std::string, std::size_t> index;
  index.reserve(refs.size());
  for (std::size_t i = 0; i < refs.size(); ++i) {
    index.emplace(refs[i].name, i);
  }
  std::vector<uint32_t> depth(refs.size(), 0);
  for (std::size_t i = 0; i < refs.size(); ++i) {
    std::string_view parent = refs[i].parent;
    uint32_t d = 0;
    while (!parent.empty() && d <= refs.size()) {
      auto it = index.find(std::string(parent));
      if (it == index.end()) {
        break;
      }
      ++d;
      parent = refs[it->second].parent;
    }
    depth[i] = d;
  }
  std::vector<std::size_t> order(refs.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (depth[a] != depth[b]) {
      return depth[a] < depth[b];
    }
    return refs[a].name < refs[b].name;
  });
  std::vector<platform::JailRef> sorted;
  sorted.reserve(refs.size());
  for (std::size_t i : order) {
    sorted.push_back(std::move(refs[i]));
  }

  const bool first = !have_jails_;
  have_jails_ = true;
  bool same = sorted.size() == refs_.size();
  for (std::size_t i = 0; same && i < sorted.size(); ++i) {
    same = sorted[i].name == refs_[i].name && sorted[i].jid == refs_[i].jid &&
           sorted[i].parent == refs_[i].parent;
  }
  if (same && !first) {
    refs_ = std::move(sorted);  // handles may have changed
    return;
  }

  auto table = std::make_shared<JailTable>();
  table->generation = ++table_generation_;
  table->jails.reserve(sorted.size());
  std::unordered_map<std::string, std::size_t> old_slots;
  old_slots.reserve(refs_.size());
  for (std::size_t s = 0; s < refs_.size(); ++s) {
    old_slots.emplace(refs_[s].name, s);
  }
  std::vector<std::unique_ptr<JailState>> states(sorted.size());
  std::size_t kept = 0;
  for (std::size_t s = 0; s < sorted.size(); ++s) {
    JailInfo info;
    info.name = sorted[s].name;
    info.jid = sorted[s].jid;
    info.parent = sorted[s].parent;
    table->jails.push_back(std::move(info));
    auto it = old_slots.find(sorted[s].name);
    if (it != old_slots.end() && refs_[it->second].jid == sorted[s].jid &&
        jails_[it->second] != nullptr) {
      states[s] = std::move(jails_[it->second]);
      ++kept;
    } else {
      states[s] = std::make_unique<JailState>();
      ++health_.jails_appeared;
    }
  }
  health_.jails_vanished += refs_.size() - kept;
  table->Index();
  table_ = std::move(table);
  jails_ = std::move(states);
  refs_ = std::move(sorted);
  ResolveMinimums(/*force=*/true);
}

void Sampler::ReadSlowTier(absl::Time now) {
  const absl::Time slow_start = clock_.Now();
  const bool proc_racctd = AdvancePast(next_slow_racctd_, now, kRacctdPeriod) > 0;
  process_scratch_.clear();
  std::vector<int32_t> proc_slot;
  for (std::size_t slot = 0; slot < refs_.size(); ++slot) {
    JailState& js = *jails_[slot];
    ResetRaw(slow_scratch_);
    const std::size_t before = process_scratch_.size();
    absl::Status status = reader_.ReadSlow(
        refs_[slot], slow_scratch_,
        options_.read_processes ? &process_scratch_ : nullptr);
    if (!status.ok()) {
      process_scratch_.resize(before);
      ++health_.read_errors[static_cast<std::size_t>(ReasonOf(status))];
      if (status.code() == absl::StatusCode::kNotFound) {
        gone_[slot] = 1;
      }
      continue;
    }
    js.slow_raw = slow_scratch_;
    js.have_slow = true;
    for (std::size_t i = before; i < process_scratch_.size(); ++i) {
      int32_t s = static_cast<int32_t>(slot);
      const std::string& jail = process_scratch_[i].jail;
      if (!jail.empty() && jail != refs_[slot].name) {
        auto found = table_->Find(jail);
        s = found ? static_cast<int32_t>(*found) : -1;
      }
      proc_slot.push_back(s);
    }
  }

  auto slow = std::make_shared<SlowData>();
  slow->seq = seq_;
  slow->time = now;
  slow->jails = table_;

  // Processes, deduplicated by pid (a reader may list a child jail's
  // processes under its parent too).
  std::vector<std::size_t> order(process_scratch_.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (process_scratch_[a].pid != process_scratch_[b].pid) {
      return process_scratch_[a].pid < process_scratch_[b].pid;
    }
    return a < b;
  });
  std::map<int64_t, std::unique_ptr<ProcessState>> kept_procs;
  std::map<int64_t, platform::RawUsage> user_raw;
  slow->processes.reserve(order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::size_t i = order[k];
    const platform::ProcessUsage& p = process_scratch_[i];
    if (k > 0 && process_scratch_[order[k - 1]].pid == p.pid) {
      continue;
    }
    auto it = processes_.find(p.pid);
    std::unique_ptr<ProcessState> state;
    if (it != processes_.end()) {
      state = std::move(it->second);
    } else {
      state = std::make_unique<ProcessState>();
    }
    ProcessInfo info;
    info.pid = p.pid;
    info.ruid = p.ruid;
    info.euid = p.euid;
    info.comm = p.comm;
    info.jail_slot = proc_slot[i];
    info.jail = info.jail_slot >= 0 ? table_->jails[info.jail_slot].name : p.jail;
    state->rates.Update(p.usage, now, proc_racctd,
                        ProcessMinimums(p, info.jail_slot), options_.ncpu,
                        info.usage, info.present);
    kept_procs.emplace(p.pid, std::move(state));
    slow->processes.push_back(std::move(info));

    // The real-uid container sums its processes' raw readings.
    platform::RawUsage& sum = user_raw[p.ruid];
    for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
      if (p.usage.present[r]) {
        sum.value[r] = SaturatingAdd(sum.value[r], p.usage.value[r]);
        sum.present[r] = true;
        if (p.usage.cumulative[r]) {
          sum.cumulative[r] = true;
        }
      }
    }
  }
  processes_ = std::move(kept_procs);

  std::sort(slow->processes.begin(), slow->processes.end(),
            [](const ProcessInfo& a, const ProcessInfo& b) {
              if (a.jail_slot != b.jail_slot) {
                return a.jail_slot < b.jail_slot;
              }
              return a.pid < b.pid;
            });
  slow->process_begin.assign(table_->size() + 1, 0);
  {
    std::size_t i = 0;
    for (std::size_t s = 0; s <= table_->size(); ++s) {
      while (i < slow->processes.size() && slow->processes[i].jail_slot >= 0 &&
             static_cast<std::size_t>(slow->processes[i].jail_slot) < s) {
        ++i;
      }
      while (i < slow->processes.size() && slow->processes[i].jail_slot < 0) {
        ++i;
      }
      slow->process_begin[s] = static_cast<uint32_t>(i);
    }
  }
  slow->by_pid.reserve(slow->processes.size());
  for (uint32_t i = 0; i < slow->processes.size(); ++i) {
    slow->by_pid.emplace_back(slow->processes[i].pid, i);
  }
  std::sort(slow->by_pid.begin(), slow->by_pid.end());

  std::map<int64_t, std::unique_ptr<UserState>> kept_users;
  slow->users.reserve(user_raw.size());
  for (auto& [ruid, raw] : user_raw) {
    auto it = users_.find(ruid);
    std::unique_ptr<UserState> state;
    if (it != users_.end()) {
      state = std::move(it->second);
    } else {
      state = std::make_unique<UserState>();
    }
    UserInfo info;
    info.ruid = ruid;
    state->rates.Update(raw, now, proc_racctd, minimums_->User(ruid),
                        options_.ncpu, info.usage, info.present);
    kept_users.emplace(ruid, std::move(state));
    slow->users.push_back(info);
  }
  for (const ProcessInfo& p : slow->processes) {
    if (auto u = slow->FindUser(p.ruid)) {
      ++slow->users[*u].processes;
    }
  }
  users_ = std::move(kept_users);
  slow_ = std::move(slow);
  ++health_.slow_ticks;
  health_.last_slow_duration = clock_.Now() - slow_start;
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

  // Reuse the arrays of a tick that left the history and that no reader
  // holds any more: a fresh multi-megabyte allocation each tick would be
  // mmap'd and page-faulted anew.
  std::shared_ptr<TickData> tick;
  if (spare_ != nullptr && spare_.use_count() == 1) {
    tick = std::move(spare_);
    tick->jails = nullptr;
  } else {
    tick = std::make_shared<TickData>();
  }
  spare_ = nullptr;
  tick->seq = seq_;
  tick->time = now;
  const std::size_t n = refs_.size();
  tick->usage.assign(n, rctl::UsageVector{});
  tick->present.assign(n, ResourceMask{});
  tick->stale.assign(n, 0);
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
    for (std::size_t s = 0; s < n; ++s) {
      if (!gone_[s]) {
        usage.push_back(tick->usage[s]);
        present.push_back(tick->present[s]);
        stale.push_back(tick->stale[s]);
      }
    }
    tick->usage = std::move(usage);
    tick->present = std::move(present);
    tick->stale = std::move(stale);
    DropGoneJails();
  }
  tick->jails = table_;

  std::shared_ptr<const TickData> tick_c = std::move(tick);
  history_.push_back(tick_c);
  if (history_.size() > history_ticks_) {
    const auto evicted = static_cast<std::ptrdiff_t>(history_.size() - history_ticks_);
    // TickData is created non-const here, so reusing it is well-defined.
    spare_ = std::const_pointer_cast<TickData>(history_.front());
    history_.erase(history_.begin(), history_.begin() + evicted);
  }

  auto snap = std::make_shared<Snapshot>();
  snap->seq = seq_;
  snap->time = now;
  snap->ncpu = options_.ncpu;
  snap->tick = tick_c;
  snap->slow = slow_;
  snap->history = history_;

  const absl::Duration took = clock_.Now() - now;
  ++health_.ticks;
  health_.last_tick_duration = took;
  health_.max_tick_duration = std::max(health_.max_tick_duration, took);
  total_tick_duration_ += took;
  health_.avg_tick_duration =
      total_tick_duration_ / static_cast<int64_t>(health_.ticks);
  snap->health = health_;

  std::shared_ptr<const Snapshot> published = std::move(snap);
  latest_.Store(published);
  if (callback_) {
    callback_(published);
  }
}

}  // namespace jailwarden::racct
