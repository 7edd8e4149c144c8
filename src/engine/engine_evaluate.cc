// The engine's evaluate half: one pass of a Snapshot over the bound check
// arrays (engine_internal.h), decisions to the ActionSink, and the per-check
// statistics. Compile and Bind are in engine.cc.

#include <algorithm>
#include <limits>
#include <utility>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/engine/engine.h"
#include "jailwarden/rctl/kernel_form.h"
#include "engine/engine_internal.h"

namespace jailwarden::engine {
namespace {

using internal::CheckKey;
using internal::GroupMember;
using internal::JailCheck;
using internal::kAtOrOverBit;
using internal::kLatchedBit;
using internal::kNoDecision;
using internal::kOverBit;
using internal::PcpuGroup;
using internal::ProcCheck;
using internal::Scope;
using internal::Source;
using racct::JailTable;
using racct::SlowData;
using racct::Snapshot;
using racct::TickData;

struct Who {
  int64_t pid = -1;
  std::string_view comm;
  int64_t euid = -1;
  int64_t ruid = -1;
  std::string_view jail;
};

}  // namespace

const EvaluationResult& Engine::Evaluate(const Snapshot& snapshot) {
  result_.decisions.clear();
  result_.snapshot_seq = snapshot.seq;
  result_.exceeded = 0;
  result_.deny_at_or_over = 0;
  result_.rebound = false;
  if (snapshot.tick == nullptr) {
    result_.checks = 0;
    return result_;
  }
  if (bound_ == nullptr || snapshot.tick->jails != bound_->jails ||
      (snapshot.slow != nullptr && snapshot.slow != bound_->slow)) {
    Bind(&snapshot, snapshot.tick->jails);
    result_.rebound = true;
  }
  BindState& b = *bound_;
  const Program& program = *b.program;
  const TickData& tick = *snapshot.tick;
  const SlowData& slow = *b.slow;
  const rctl::UsageVector* usage = tick.usage.data();
  JailPart& jp = *b.jail;

  // The slow path of one pair: everything but "under and nothing to reset".
  // `i` is the check's index, `state`/`at` where its state lives.
  auto act = [&](std::size_t i, internal::CheckState& state, std::size_t at,
                 const Program::CompiledRule& r, const Target& target,
                 int64_t per_usage, int64_t own_usage, bool present,
                 auto&& who_fn) {
    std::atomic<uint8_t>& flag = state.flags[at];
    const uint8_t f = flag.load(std::memory_order_relaxed);
    const bool over = present && per_usage > r.amount;
    const bool at_or_over = present && per_usage >= r.amount;
    uint8_t nf = f;
    Decision d;
    d.check = static_cast<uint32_t>(i);
    d.rule = static_cast<uint32_t>(&r - program.rules.data());
    d.action = r.action;
    d.resource = r.resource;
    d.target = target;
    d.usage = per_usage;
    d.amount = r.amount;
    auto decide = [&](DecisionKind kind) {
      d.kind = kind;
      result_.decisions.push_back(d);
      state.last[at].store(static_cast<uint8_t>(kind),
                           std::memory_order_relaxed);
    };
    if (!over) {
      // rctl_enforce: available >= 0 resets rrl_exceeded (re-arms).
      nf &= static_cast<uint8_t>(~(kOverBit | kLatchedBit));
      if (r.action == rctl::Action::kDeny && at_or_over) {
        nf |= kAtOrOverBit;
        ++result_.deny_at_or_over;
        decide(DecisionKind::kDenyAtOrOver);
      } else {
        nf &= static_cast<uint8_t>(~kAtOrOverBit);
      }
      flag.store(nf, std::memory_order_relaxed);
      return;
    }
    if (!(f & kOverBit)) {
      state.matched[at].store(
          state.matched[at].load(std::memory_order_relaxed) + 1,
          std::memory_order_relaxed);
    }
    state.over[at].store(state.over[at].load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    ++result_.exceeded;
    nf |= kOverBit;
    const bool latched = (f & kLatchedBit) != 0;
    switch (r.action) {
      case rctl::Action::kDeny:
        nf |= kAtOrOverBit;
        ++result_.deny_at_or_over;
        decide(DecisionKind::kDenyAtOrOver);
        break;
      case rctl::Action::kLog:
        if (latched) {
          decide(DecisionKind::kAlreadyReported);
        } else if (PpsRateCheck(snapshot.time, log_lasttime_, log_curpps_,
                                options_.log_rate_limit)) {
          const Who w = who_fn();
          line_ = FormatLogLine(r.text, w.pid, w.comm, w.euid, w.jail);
          sink_.OnLog(line_);
          nf |= kLatchedBit;
          decide(DecisionKind::kLogged);
        } else {
          decide(DecisionKind::kRateLimited);
        }
        break;
      case rctl::Action::kDevctl:
        if (latched) {
          decide(DecisionKind::kAlreadyReported);
        } else if (PpsRateCheck(snapshot.time, devctl_lasttime_, devctl_curpps_,
                                options_.devctl_rate_limit)) {
          const Who w = who_fn();
          line_ = FormatDevctlLine(r.text, w.pid, w.ruid, w.jail);
          sink_.OnDevctl(line_);
          nf |= kLatchedBit;
          decide(DecisionKind::kDevctlSent);
        } else {
          decide(DecisionKind::kRateLimited);
        }
        break;
      case rctl::Action::kThrottle: {
        // No latch: every over-limit evaluation recomputes the sleep.
        const int64_t ticks = ThrottleTicks(own_usage, r.amount,
                                            r.amount - per_usage, options_);
        const Who w = who_fn();
        ThrottleRequest req;
        req.target = target;
        req.jail = w.jail;
        req.pid = target.pid;
        req.ticks = ticks;
        req.duration = absl::Seconds(1) * ticks / options_.hz;
        req.resource = r.resource;
        req.rule = d.rule;
        sink_.OnThrottle(req);
        d.throttle_ticks = ticks;
        decide(DecisionKind::kThrottled);
        break;
      }
      case rctl::Action::kUndefined:
        break;
      default:
        if (rctl::IsSignalAction(r.action)) {
          if (latched) {
            decide(DecisionKind::kAlreadyReported);
          } else {
            const Who w = who_fn();
            SignalRequest req;
            req.target = target;
            req.jail = w.jail;
            req.pid = target.pid;
            req.signal = r.action;
            req.rule = d.rule;
            sink_.OnSignal(req);
            nf |= kLatchedBit;
            decide(DecisionKind::kSignalled);
          }
        }
        break;
    }
    flag.store(nf, std::memory_order_relaxed);
  };

  // Jail representative (see the header): heaviest process of that jail in
  // the rule's resource, lowest pid on ties.
  auto jail_who = [&](uint32_t slot, std::size_t res) {
    Who w;
    w.jail = b.jails->jails[slot].name;
    const SlowData& s = *b.slow;
    if (s.jails == nullptr) {
      return w;
    }
    auto ss = s.jails->Find(w.jail);
    if (!ss || *ss + 1 >= s.process_begin.size()) {
      return w;
    }
    const racct::ProcessInfo* best = nullptr;
    for (uint32_t k = s.process_begin[*ss]; k < s.process_begin[*ss + 1]; ++k) {
      const racct::ProcessInfo& p = s.processes[k];
      if (best == nullptr || p.usage[res] > best->usage[res]) {
        best = &p;
      }
    }
    if (best != nullptr) {
      w.pid = best->pid;
      w.comm = best->comm;
      w.euid = best->euid;
      w.ruid = best->ruid;
    }
    return w;
  };

  // Fast path: the threshold scan finds the slots with a column over (or
  // state to re-arm); only their (rule, jail) pairs are visited, in the
  // order of the checks (slot, resource, rule).
  const std::size_t nj = jp.jail_checks.size();
  const JailCheck* checks = jp.jail_checks.data();
  constexpr std::size_t kPcpu = rctl::Index(rctl::Resource::kPcpu);
  jp.pending.clear();
  internal::ThresholdBlocks in;
  in.usage = tick.usage.empty() ? nullptr : tick.usage.front().data();
  in.slots = std::min(jp.slots, tick.usage.size());
  in.patterns = jp.patterns.data();
  in.block_pattern = jp.block_pattern.data();
  in.live = jp.live;
  in.force = jp.force.data();
  const std::size_t hits = internal::ScanThresholds(
      in, jp.hits.data(), internal::BestScanKernel());
  for (std::size_t h = 0; h < hits; ++h) {
    const uint32_t slot = jp.hits[h].slot;
    for (uint32_t mask = jp.hits[h].mask; mask != 0; mask &= mask - 1) {
      const std::size_t res = static_cast<std::size_t>(__builtin_ctz(mask));
      if (jp.column_of[res] < 0) {
        continue;
      }
      const std::size_t g = slot * jp.k + static_cast<std::size_t>(jp.column_of[res]);
      for (uint32_t i = jp.group_begin[g]; i < jp.group_begin[g + 1]; ++i) {
        const JailCheck& c = checks[i];
        const int64_t u = usage[c.slot][c.res];
        if (u > c.trigger ||
            jp.state.flags[i].load(std::memory_order_relaxed) != 0) {
          const Program::CompiledRule& r = program.rules[jp.jail_rule[i]];
          Target t;
          t.kind = TargetKind::kJail;
          t.jail_slot = static_cast<int32_t>(c.slot);
          act(i, jp.state, i, r, t, u, u, tick.present[c.slot][c.res],
              [&] { return jail_who(c.slot, c.res); });
        }
      }
      if (res == kPcpu && jp.slot_group[slot] >= 0) {
        const PcpuGroup& pg = jp.groups[jp.slot_group[slot]];
        if (pg.throttled || usage[slot][kPcpu] >= pg.quick) {
          jp.pending.push_back(static_cast<uint32_t>(jp.slot_group[slot]));
        }
      }
      jp.RefreshForce(slot, res);
    }
  }

  // Process links from the slow tier.
  auto proc_usage = [&](const ProcCheck& c, std::size_t res,
                        bool& present) -> int64_t {
    switch (c.source) {
      case Source::kProcess: {
        const racct::ProcessInfo& p = slow.processes[c.source_index];
        present = p.present[res];
        return p.usage[res];
      }
      case Source::kUser: {
        const racct::UserInfo& u = slow.users[c.source_index];
        present = u.present[res];
        return u.usage[res];
      }
      case Source::kJail:
        present = tick.present[c.source_index][res];
        return usage[c.source_index][res];
    }
    present = false;
    return 0;
  };
  for (std::size_t k = 0; k < b.proc_checks.size(); ++k) {
    const ProcCheck& c = b.proc_checks[k];
    const std::size_t i = nj + k;
    const Program::CompiledRule& r = program.rules[c.rule];
    const std::size_t res = rctl::Index(r.resource);
    bool present = false;
    const int64_t per_usage = proc_usage(c, res, present);
    const int64_t trigger =
        r.action == rctl::Action::kDeny ? r.amount - 1 : r.amount;
    if (per_usage <= trigger &&
        b.proc_state.flags[k].load(std::memory_order_relaxed) == 0) {
      continue;
    }
    const racct::ProcessInfo& p = slow.processes[c.proc];
    Target t;
    t.kind = TargetKind::kProcess;
    t.jail_slot = c.jail_slot;
    t.pid = p.pid;
    act(i, b.proc_state, k, r, t, per_usage, p.usage[res], present, [&] {
      Who w;
      w.pid = p.pid;
      w.comm = p.comm;
      w.euid = p.euid;
      w.ruid = p.ruid;
      w.jail = p.jail;
      return w;
    });
  }

  // pcpu deny → throttling (racctd's second pass, §7.6).
  // Jail groups the scan found (slot order), then process groups.
  auto visit_group = [&](PcpuGroup& g,
                         const std::vector<internal::GroupMember>& members) {
    int64_t min_available = std::numeric_limits<int64_t>::max();
    int64_t limit = 0;
    uint32_t limiting = members[g.begin].check;
    // Newest rule first, as the kernel's rule links are.
    for (uint32_t m = g.end; m-- > g.begin;) {
      const uint32_t i = members[m].check;
      const int64_t amount = members[m].amount;
      bool present = false;
      int64_t per_usage;
      if (i < nj) {
        present = tick.present[checks[i].slot][kPcpu];
        per_usage = usage[checks[i].slot][kPcpu];
      } else {
        per_usage = proc_usage(b.proc_checks[i - nj], kPcpu, present);
      }
      if (!present) {
        continue;
      }
      const int64_t available = amount - per_usage;
      if (available < min_available) {
        min_available = available;
        limit = amount;
        limiting = i;
      }
    }
    if (min_available == std::numeric_limits<int64_t>::max()) {
      return;  // no pcpu reading
    }
    Target t;
    int64_t own_pcpu;
    std::string_view jail_name;
    if (!g.is_proc) {
      t.kind = TargetKind::kJail;
      t.jail_slot = static_cast<int32_t>(g.target);
      own_pcpu = usage[g.target][kPcpu];
      jail_name = b.jails->jails[g.target].name;
    } else {
      const ProcCheck& c = b.proc_checks[g.target];
      const racct::ProcessInfo& p = slow.processes[c.proc];
      t.kind = TargetKind::kProcess;
      t.jail_slot = c.jail_slot;
      t.pid = p.pid;
      own_pcpu = p.usage[kPcpu];
      jail_name = p.jail;
    }
    const bool throttle = PcpuAvailable(min_available, limit) <= 0 &&
                          own_pcpu > options_.pcpu_threshold;
    if (throttle == (g.throttled != 0)) {
      return;
    }
    g.throttled = throttle ? 1 : 0;
    if (!g.is_proc) {
      jp.RefreshForce(g.target, kPcpu);
    }
    ThrottleRequest req;
    req.target = t;
    req.jail = jail_name;
    req.pid = t.pid;
    req.ticks = throttle ? -1 : 0;
    req.duration = throttle ? absl::InfiniteDuration() : absl::ZeroDuration();
    req.resource = rctl::Resource::kPcpu;
    req.rule = b.RuleOf(limiting);
    sink_.OnThrottle(req);
    Decision d;
    d.check = limiting;
    d.rule = req.rule;
    d.kind = throttle ? DecisionKind::kThrottled : DecisionKind::kWoken;
    d.action = rctl::Action::kDeny;
    d.resource = rctl::Resource::kPcpu;
    d.target = t;
    d.usage = own_pcpu;
    d.amount = limit;
    d.throttle_ticks = req.ticks;
    result_.decisions.push_back(d);
    std::size_t at = 0;
    b.StateOf(limiting, at).last[at].store(static_cast<uint8_t>(d.kind),
                                           std::memory_order_relaxed);
  };
  for (uint32_t g : jp.pending) {
    visit_group(jp.groups[g], jp.group_members);
  }
  for (PcpuGroup& g : b.groups) {
    visit_group(g, b.group_members);
  }

  result_.checks = b.n;
  b.last_tick.Store(snapshot.tick);
  return result_;
}

}  // namespace jailwarden::engine
