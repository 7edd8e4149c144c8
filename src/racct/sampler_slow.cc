// The slow tier (every SamplerOptions::slow_interval): the jail list with
// its slots, the slow per-jail reads, and the per-process and per-user
// containers. Lifecycle and the fast tier are in sampler.cc.

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "jailwarden/racct/sampler.h"
#include "racct/sampler_internal.h"

namespace jailwarden::racct {

using sampler_internal::AdvancePast;
using sampler_internal::ResetRaw;
using sampler_internal::SaturatingAdd;

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

}  // namespace jailwarden::racct
