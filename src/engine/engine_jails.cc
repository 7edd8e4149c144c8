// The engine's fast path bound to a jail table: (rule, jail) checks sorted
// by (slot, resource, rule), their threshold columns (engine_internal.h,
// JailPart) and the pcpu deny groups of jails.

#include <algorithm>
#include <array>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>

#include "engine/engine_internal.h"
#include "jailwarden/engine/engine.h"

namespace jailwarden::engine {
namespace internal {

void CheckState::Init(std::size_t n) {
  if (n == 0) {
    return;  // nothing to index; no allocation
  }
  flags = std::make_unique<std::atomic<uint8_t>[]>(n);
  last = std::make_unique<std::atomic<uint8_t>[]>(n);
  matched = std::make_unique<std::atomic<uint64_t>[]>(n);
  over = std::make_unique<std::atomic<uint64_t>[]>(n);
  for (std::size_t i = 0; i < n; ++i) {
    flags[i].store(0, std::memory_order_relaxed);
    last[i].store(kNoDecision, std::memory_order_relaxed);
    matched[i].store(0, std::memory_order_relaxed);
    over[i].store(0, std::memory_order_relaxed);
  }
}

void CheckState::CopyFrom(std::size_t to, const CheckState& old,
                          std::size_t from) {
  flags[to].store(old.flags[from].load(std::memory_order_relaxed),
                  std::memory_order_relaxed);
  last[to].store(old.last[from].load(std::memory_order_relaxed),
                 std::memory_order_relaxed);
  matched[to].store(old.matched[from].load(std::memory_order_relaxed),
                    std::memory_order_relaxed);
  over[to].store(old.over[from].load(std::memory_order_relaxed),
                 std::memory_order_relaxed);
}

}  // namespace internal

using internal::JailCheck;
using internal::kBlockSlots;
using internal::kPatternValues;
using internal::kRowValues;
using internal::PcpuGroup;
using internal::Scope;

void Engine::JailPart::RefreshForce(uint32_t slot, std::size_t res) {
  if (column_of[res] < 0) {
    return;
  }
  const std::size_t g = slot * k + static_cast<std::size_t>(column_of[res]);
  bool forced = false;
  for (uint32_t i = group_begin[g]; i < group_begin[g + 1]; ++i) {
    if (state.flags[i].load(std::memory_order_relaxed) != 0) {
      forced = true;
      break;
    }
  }
  if (res == rctl::Index(rctl::Resource::kPcpu) && slot_group[slot] >= 0 &&
      groups[slot_group[slot]].throttled != 0) {
    forced = true;
  }
  const uint32_t bit = 1u << res;
  force[slot] = forced ? (force[slot] | bit) : (force[slot] & ~bit);
}

std::shared_ptr<Engine::JailPart> Engine::BindJails(
    const racct::JailTable& table) const {
  auto jp = std::make_shared<JailPart>();
  const Program& program = *program_;
  const std::size_t nj = table.size();

  // Children lists (CSR) for the subtree walks.
  std::vector<uint32_t> child_begin(nj + 1, 0);
  for (const racct::JailInfo& j : table.jails) {
    if (j.parent_slot >= 0) {
      ++child_begin[j.parent_slot + 1];
    }
  }
  for (std::size_t s = 0; s < nj; ++s) {
    child_begin[s + 1] += child_begin[s];
  }
  std::vector<uint32_t> children(child_begin[nj]);
  {
    std::vector<uint32_t> fill(child_begin.begin(), child_begin.end() - 1);
    for (uint32_t s = 0; s < nj; ++s) {
      const int32_t p = table.jails[s].parent_slot;
      if (p >= 0) {
        children[fill[p]++] = s;
      }
    }
  }

  // A jail:<J> rule with per=jail applies to J and each descendant.
  std::vector<JailCheck> jchecks;
  std::vector<uint32_t> jrule;
  std::vector<uint32_t> stack;
  for (uint32_t ri = 0; ri < program.rules.size(); ++ri) {
    const Program::CompiledRule& r = program.rules[ri];
    if (r.scope != Scope::kJail) {
      continue;
    }
    auto root = table.Find(r.rule.subject_id);
    if (!root) {
      ++jp->jail_dormant;
      continue;
    }
    stack.assign(1, *root);
    while (!stack.empty()) {
      const uint32_t s = stack.back();
      stack.pop_back();
      JailCheck c{};
      c.slot = s;
      c.res = static_cast<uint8_t>(rctl::Index(r.resource));
      c.trigger = r.action == rctl::Action::kDeny ? r.amount - 1 : r.amount;
      jchecks.push_back(c);
      jrule.push_back(ri);
      for (uint32_t k = child_begin[s]; k < child_begin[s + 1]; ++k) {
        stack.push_back(children[k]);
      }
    }
  }

  // Sorted by (slot, resource, rule) for streaming access.
  std::vector<uint32_t> order(jchecks.size());
  for (uint32_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    if (jchecks[x].slot != jchecks[y].slot) {
      return jchecks[x].slot < jchecks[y].slot;
    }
    if (jchecks[x].res != jchecks[y].res) {
      return jchecks[x].res < jchecks[y].res;
    }
    return jrule[x] < jrule[y];
  });
  jp->jail_checks.reserve(order.size());
  jp->jail_rule.reserve(order.size());
  for (uint32_t i : order) {
    jp->jail_checks.push_back(jchecks[i]);
    jp->jail_rule.push_back(jrule[i]);
  }
  const std::size_t n = jp->jail_checks.size();
  jp->state.Init(n);

  // pcpu deny groups: one per jail with such rules (§7.6).
  jp->slot_group.assign(nj, -1);
  for (std::size_t i = 0; i < n;) {
    const uint32_t slot = jp->jail_checks[i].slot;
    PcpuGroup g;
    g.target = slot;
    g.begin = static_cast<uint32_t>(jp->group_members.size());
    g.quick = std::numeric_limits<int64_t>::max();
    for (; i < n && jp->jail_checks[i].slot == slot; ++i) {
      const Program::CompiledRule& r = program.rules[jp->jail_rule[i]];
      if (r.pcpu_deny) {
        jp->group_members.push_back({static_cast<uint32_t>(i), r.amount});
        // adj <= 0  ⇔  usage >= amount − shift = PcpuAvailable(amount,
        // amount).
        g.quick = std::min(g.quick, PcpuAvailable(r.amount, r.amount));
      }
    }
    g.end = static_cast<uint32_t>(jp->group_members.size());
    if (g.end > g.begin) {
      jp->slot_group[slot] = static_cast<int32_t>(jp->groups.size());
      jp->groups.push_back(g);
    }
  }

  // The resources any check uses index the check groups.
  jp->column_of.fill(-1);
  for (const JailCheck& c : jp->jail_checks) {
    jp->column_of[c.res] = 0;
  }
  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    if (jp->column_of[r] == 0) {
      jp->column_of[r] = static_cast<int8_t>(jp->k++);
    }
  }
  jp->slots = nj;
  const std::size_t groups = nj * jp->k;
  jp->group_begin.assign(groups + 1, static_cast<uint32_t>(n));
  // Each slot's threshold row, blocks of eight rows (unused rows never
  // over).
  const std::size_t blocks = (nj + kBlockSlots - 1) / kBlockSlots;
  std::vector<int64_t> rows(blocks * kPatternValues,
                            std::numeric_limits<int64_t>::max());
  {
    std::size_t i = 0;
    for (std::size_t g = 0; g < groups; ++g) {
      jp->group_begin[g] = static_cast<uint32_t>(i);
      for (; i < n; ++i) {
        const JailCheck& c = jp->jail_checks[i];
        if (c.slot * jp->k + static_cast<std::size_t>(jp->column_of[c.res]) != g) {
          break;
        }
        int64_t& t = rows[c.slot * kRowValues + c.res];
        t = std::min(t, c.trigger);
      }
    }
  }
  constexpr std::size_t kPcpu = rctl::Index(rctl::Resource::kPcpu);
  for (const PcpuGroup& g : jp->groups) {
    // The group needs a visit once pcpu >= quick, i.e. > quick − 1 (quick
    // is at least −kPcpuShift: no overflow).
    int64_t& t = rows[g.target * kRowValues + kPcpu];
    t = std::min(t, g.quick - 1);
  }
  // Identical blocks share a pattern.
  std::unordered_map<std::string, uint32_t> seen;
  jp->block_pattern.resize(blocks);
  for (std::size_t blk = 0; blk < blocks; ++blk) {
    const int64_t* src = rows.data() + blk * kPatternValues;
    std::string key(reinterpret_cast<const char*>(src),
                    kPatternValues * sizeof(int64_t));
    auto [it, fresh] =
        seen.try_emplace(std::move(key), static_cast<uint32_t>(jp->patterns.size()));
    if (fresh) {
      internal::ThresholdPattern p;
      std::copy(src, src + kPatternValues, p.v);
      jp->patterns.push_back(p);
    }
    jp->block_pattern[blk] = it->second;
  }
  jp->live = internal::LiveVectors(jp->patterns.data(), jp->patterns.size());
  jp->force.assign(nj, 0);
  jp->hits.resize(nj);
  jp->pending.reserve(jp->groups.size());
  return jp;
}

}  // namespace jailwarden::engine
