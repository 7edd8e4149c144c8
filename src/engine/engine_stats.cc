// The engine's statistics: every (rule, target) pair's latches, counters
// and last decision, read from the published binding while Evaluate runs.

#include <utility>

#include "engine/engine_internal.h"
#include "jailwarden/engine/engine.h"

namespace jailwarden::engine {

using internal::JailCheck;
using internal::kLatchedBit;
using internal::kNoDecision;
using internal::kOverBit;
using internal::kAtOrOverBit;
using internal::ProcCheck;
using internal::Source;
using racct::SlowData;
using racct::TickData;

void Engine::ForEachStats(
    const std::function<void(const RuleTargetStatsView&)>& fn) const {
  std::shared_ptr<BindState> b = published_.Load();
  if (b == nullptr) {
    return;
  }
  std::shared_ptr<const TickData> tick = b->last_tick.Load();
  if (tick != nullptr && tick->jails != b->jails) {
    tick = nullptr;
  }
  const SlowData& slow = *b->slow;
  const std::size_t nj = b->nj();
  for (std::size_t i = 0; i < b->n; ++i) {
    const Program::CompiledRule& r = b->program->rules[b->RuleOf(i)];
    const std::size_t res = rctl::Index(r.resource);
    RuleTargetStatsView s;
    s.rule_index = b->RuleOf(i);
    s.rule = &r.rule;
    s.rule_text = r.text;
    bool have_usage = false;
    if (i < nj) {
      const JailCheck& c = b->jail->jail_checks[i];
      s.target.kind = TargetKind::kJail;
      s.target.jail_slot = static_cast<int32_t>(c.slot);
      s.jail = b->jails->jails[c.slot].name;
      if (tick != nullptr) {
        s.usage = tick->usage[c.slot][res];
        have_usage = true;
      }
    } else {
      const ProcCheck& c = b->proc_checks[i - nj];
      const racct::ProcessInfo& p = slow.processes[c.proc];
      s.target.kind = TargetKind::kProcess;
      s.target.jail_slot = c.jail_slot;
      s.target.pid = p.pid;
      s.jail = p.jail;
      switch (c.source) {
        case Source::kProcess:
          s.usage = slow.processes[c.source_index].usage[res];
          have_usage = true;
          break;
        case Source::kUser:
          s.usage = slow.users[c.source_index].usage[res];
          have_usage = true;
          break;
        case Source::kJail:
          if (tick != nullptr) {
            s.usage = tick->usage[c.source_index][res];
            have_usage = true;
          }
          break;
      }
    }
    s.headroom = have_usage ? r.amount - s.usage : r.amount;
    std::size_t at = 0;
    const internal::CheckState& state = b->StateOf(i, at);
    const uint8_t f = state.flags[at].load(std::memory_order_relaxed);
    s.exceeded = (f & kOverBit) != 0;
    s.latched = (f & kLatchedBit) != 0;
    s.matched = state.matched[at].load(std::memory_order_relaxed);
    s.evaluations_over = state.over[at].load(std::memory_order_relaxed);
    const uint8_t last = state.last[at].load(std::memory_order_relaxed);
    s.has_decision = last != kNoDecision;
    if (s.has_decision) {
      s.last_decision = static_cast<DecisionKind>(last);
    }
    s.sampled_deny = r.sampled_deny;
    s.sampled_deny_active = r.sampled_deny && (f & kAtOrOverBit) != 0;
    fn(s);
  }
}

std::vector<RuleTargetStats> Engine::Stats() const {
  std::vector<RuleTargetStats> out;
  ForEachStats([&out](const RuleTargetStatsView& v) {
    RuleTargetStats s;
    s.rule_index = v.rule_index;
    s.rule = *v.rule;
    s.rule_text = std::string(v.rule_text);
    s.target = v.target;
    s.jail = std::string(v.jail);
    s.matched = v.matched;
    s.evaluations_over = v.evaluations_over;
    s.usage = v.usage;
    s.headroom = v.headroom;
    s.exceeded = v.exceeded;
    s.latched = v.latched;
    s.has_decision = v.has_decision;
    s.last_decision = v.last_decision;
    s.sampled_deny = v.sampled_deny;
    s.sampled_deny_active = v.sampled_deny_active;
    out.push_back(std::move(s));
  });
  return out;
}

}  // namespace jailwarden::engine
