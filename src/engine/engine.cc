// The engine's compile and bind halves: rules into a Program, a Program
// and a jail table into the flat check arrays of a BindState. Evaluate and
// Stats are in engine_evaluate.cc.

#include <algorithm>
#include <limits>
#include <unordered_map>
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

}  // namespace

Engine::Engine(ActionSink& sink, EngineOptions options)
    : sink_(sink), options_(std::move(options)) {
  program_ = std::make_shared<Program>();
  line_.reserve(256);
}

Engine::~Engine() = default;

absl::Status Engine::Compile(const rctl::RuleSet& rules,
                             std::shared_ptr<const JailTable> jails) {
  return Compile(std::span<const rctl::Rule>(rules.rules()), std::move(jails));
}

absl::Status Engine::Compile(std::span<const rctl::Rule> rules,
                             std::shared_ptr<const JailTable> jails) {
  return CompileWith(
      rules,
      [&](std::size_t i) {
        return options_.deny_is_sampled && options_.deny_is_sampled(rules[i]);
      },
      std::move(jails));
}

absl::Status Engine::Compile(std::span<const rctl::Rule> rules,
                             std::span<const uint8_t> sampled_denies,
                             std::shared_ptr<const JailTable> jails) {
  if (sampled_denies.size() != rules.size()) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("sampled_denies has ", sampled_denies.size(), " entries for ",
                      rules.size(), " rules")));
  }
  return CompileWith(
      rules, [&](std::size_t i) { return sampled_denies[i] != 0; }, std::move(jails));
}

absl::Status Engine::CompileWith(std::span<const rctl::Rule> rules,
                                 const std::function<bool(std::size_t)>& sampled,
                                 std::shared_ptr<const JailTable> jails) {
  auto program = std::make_shared<Program>();
  program->rules.reserve(rules.size());
  CompileInfo info;
  for (std::size_t ri = 0; ri < rules.size(); ++ri) {
    const rctl::Rule& rule = rules[ri];
    if (!rule.FullySpecified()) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("rule not fully specified: ", rctl::FormatRule(rule))));
    }
    Program::CompiledRule c;
    c.rule = rule;
    c.text = rctl::FormatRule(rule);
    c.resource = *rule.resource;
    c.action = rule.action;
    c.amount = rule.amount;
    if (rule.subject == rctl::SubjectType::kLoginclass ||
        rule.per == rctl::SubjectType::kLoginclass) {
      c.scope = Scope::kUnsupported;
      ++info.unsupported;
    } else if (rule.subject == rctl::SubjectType::kJail &&
               rule.per == rctl::SubjectType::kJail) {
      c.scope = Scope::kJail;
    } else {
      c.scope = Scope::kProcess;
    }
    c.sampled_deny = rule.action == rctl::Action::kDeny && sampled(ri);
    c.pcpu_deny = rule.action == rctl::Action::kDeny &&
                  c.resource == rctl::Resource::kPcpu;
    program->rules.push_back(std::move(c));
  }
  info.rules = program->rules.size();
  program_ = std::move(program);
  info_ = info;
  if (jails == nullptr) {
    jails = std::make_shared<JailTable>();
  }
  Bind(nullptr, std::move(jails));
  return absl::OkStatus();
}

void Engine::Bind(const Snapshot* snapshot,
                  std::shared_ptr<const JailTable> jails) {
  auto b = std::make_shared<BindState>();
  b->program = program_;
  b->jails = std::move(jails);
  if (snapshot != nullptr && snapshot->slow != nullptr) {
    b->slow = snapshot->slow;
  } else if (bound_ != nullptr) {
    b->slow = bound_->slow;
  } else {
    auto empty = std::make_shared<SlowData>();
    empty->process_begin.assign(1, 0);
    b->slow = std::move(empty);
  }
  const JailTable& table = *b->jails;
  const SlowData& slow = *b->slow;
  const Program& program = *b->program;

  // Children lists (CSR) for subtree walks.
  const std::size_t nj = table.size();
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
  auto in_subtree = [&](int32_t slot, uint32_t root) {
    for (int32_t s = slot; s >= 0; s = table.jails[s].parent_slot) {
      if (static_cast<uint32_t>(s) == root) {
        return true;
      }
    }
    return false;
  };
  // Jail slot (in `table`) of each slow-tier process, by name.
  std::vector<int32_t> proc_slot(slow.processes.size(), -1);
  for (std::size_t i = 0; i < slow.processes.size(); ++i) {
    if (auto s = table.Find(slow.processes[i].jail)) {
      proc_slot[i] = static_cast<int32_t>(*s);
    }
  }

  // Only the slow tier changed (the usual re-bind, once per slow pass): the
  // fast-path pairs depend on rules and jails alone, so copy them.
  const bool reuse_jail = bound_ != nullptr && bound_->program == b->program &&
                          bound_->jails == b->jails;
  std::size_t dormant = 0;
  std::size_t jail_dormant = 0;
  std::vector<JailCheck> jchecks;
  std::vector<uint32_t> jrule;
  std::vector<uint32_t> stack;
  for (uint32_t ri = 0; ri < program.rules.size(); ++ri) {
    const Program::CompiledRule& r = program.rules[ri];
    const std::size_t before = jchecks.size() + b->proc_checks.size();
    if (r.scope == Scope::kJail && reuse_jail) {
      continue;  // counted in the reused jail_dormant
    }
    if (r.scope == Scope::kJail) {
      auto root = table.Find(r.rule.subject_id);
      if (root) {
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
    } else if (r.scope == Scope::kProcess) {
      std::optional<uint32_t> root;
      if (r.rule.subject == rctl::SubjectType::kJail) {
        root = table.Find(r.rule.subject_id);
      }
      const std::optional<int64_t> number = r.rule.SubjectNumber();
      for (uint32_t pi = 0; pi < slow.processes.size(); ++pi) {
        const racct::ProcessInfo& p = slow.processes[pi];
        bool applies = false;
        switch (r.rule.subject) {
          case rctl::SubjectType::kProcess:
            applies = number && p.pid == *number;
            break;
          case rctl::SubjectType::kUser:
            applies = number && (p.ruid == *number || p.euid == *number);
            break;
          case rctl::SubjectType::kJail:
            applies = root && in_subtree(proc_slot[pi], *root);
            break;
          case rctl::SubjectType::kLoginclass:
          case rctl::SubjectType::kUndefined:
            break;
        }
        if (!applies) {
          continue;
        }
        ProcCheck c{};
        c.rule = ri;
        c.proc = pi;
        c.jail_slot = proc_slot[pi];
        switch (r.rule.per) {
          case rctl::SubjectType::kProcess:
            c.source = Source::kProcess;
            c.source_index = static_cast<int32_t>(pi);
            break;
          case rctl::SubjectType::kUser: {
            c.source = Source::kUser;
            auto u = slow.FindUser(p.ruid);
            c.source_index = u ? static_cast<int32_t>(*u) : -1;
            break;
          }
          case rctl::SubjectType::kJail:
            c.source = Source::kJail;
            c.source_index = proc_slot[pi];
            break;
          case rctl::SubjectType::kLoginclass:
          case rctl::SubjectType::kUndefined:
            c.source_index = -1;
            break;
        }
        if (c.source_index < 0) {
          continue;
        }
        b->proc_checks.push_back(c);
      }
    }
    if (r.scope != Scope::kUnsupported &&
        jchecks.size() + b->proc_checks.size() == before) {
      ++dormant;
      if (r.scope == Scope::kJail) {
        ++jail_dormant;
      }
    }
  }
  if (reuse_jail) {
    b->jail_checks = bound_->jail_checks;
    b->jail_rule = bound_->jail_rule;
    jail_dormant = bound_->jail_dormant;
    dormant += jail_dormant;
  }
  b->jail_dormant = jail_dormant;

  // Sort the fast path by (slot, resource, rule) for streaming access.
  if (!reuse_jail) {
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
    b->jail_checks.reserve(order.size());
    b->jail_rule.reserve(order.size());
    for (uint32_t i : order) {
      b->jail_checks.push_back(jchecks[i]);
      b->jail_rule.push_back(jrule[i]);
    }
  }

  const std::size_t nj_checks = b->jail_checks.size();
  b->n = nj_checks + b->proc_checks.size();
  b->flags = std::make_unique<std::atomic<uint8_t>[]>(b->n);
  b->last = std::make_unique<std::atomic<uint8_t>[]>(b->n);
  b->matched = std::make_unique<std::atomic<uint64_t>[]>(b->n);
  b->over = std::make_unique<std::atomic<uint64_t>[]>(b->n);
  for (std::size_t i = 0; i < b->n; ++i) {
    b->flags[i].store(0, std::memory_order_relaxed);
    b->last[i].store(kNoDecision, std::memory_order_relaxed);
    b->matched[i].store(0, std::memory_order_relaxed);
    b->over[i].store(0, std::memory_order_relaxed);
  }

  // pcpu deny groups: one per target with its deny rules (§7.6).
  if (reuse_jail) {
    b->groups.assign(bound_->groups.begin(),
                     bound_->groups.begin() +
                         static_cast<std::ptrdiff_t>(bound_->jail_groups));
    const uint32_t members =
        bound_->jail_groups == 0 ? 0 : bound_->groups[bound_->jail_groups - 1].end;
    b->group_members.assign(bound_->group_members.begin(),
                            bound_->group_members.begin() + members);
  }
  {
    std::size_t i = reuse_jail ? nj_checks : 0;
    while (i < nj_checks) {
      const uint32_t slot = b->jail_checks[i].slot;
      PcpuGroup g;
      g.target = slot;
      g.begin = static_cast<uint32_t>(b->group_members.size());
      g.quick = std::numeric_limits<int64_t>::max();
      for (; i < nj_checks && b->jail_checks[i].slot == slot; ++i) {
        const Program::CompiledRule& r = program.rules[b->jail_rule[i]];
        if (r.pcpu_deny) {
          b->group_members.push_back({static_cast<uint32_t>(i), r.amount});
          // adj <= 0  ⇔  usage >= amount − shift = PcpuAvailable(amount,
          // amount).
          g.quick = std::min(g.quick, PcpuAvailable(r.amount, r.amount));
        }
      }
      g.end = static_cast<uint32_t>(b->group_members.size());
      if (g.end > g.begin) {
        b->groups.push_back(g);
      }
    }
    b->jail_groups = b->groups.size();
    std::unordered_map<uint32_t, std::vector<uint32_t>> by_proc;
    std::vector<uint32_t> proc_order;
    for (std::size_t k = 0; k < b->proc_checks.size(); ++k) {
      const ProcCheck& c = b->proc_checks[k];
      if (!program.rules[c.rule].pcpu_deny) {
        continue;
      }
      auto [it, fresh] = by_proc.try_emplace(c.proc);
      if (fresh) {
        proc_order.push_back(c.proc);
      }
      it->second.push_back(static_cast<uint32_t>(nj_checks + k));
    }
    for (uint32_t proc : proc_order) {
      const std::vector<uint32_t>& members = by_proc[proc];
      PcpuGroup g;
      g.is_proc = true;
      g.target = members.front() - static_cast<uint32_t>(nj_checks);
      g.begin = static_cast<uint32_t>(b->group_members.size());
      for (uint32_t m : members) {
        b->group_members.push_back(
            {m, program.rules[b->proc_checks[m - nj_checks].rule].amount});
      }
      g.end = static_cast<uint32_t>(b->group_members.size());
      b->groups.push_back(g);
    }
  }

  // Carry latches, counters and throttle state over from the previous
  // binding: by index when only the slow tier changed, else by key.
  if (bound_ != nullptr) {
    const BindState& old = *bound_;
    auto copy = [&](std::size_t to, std::size_t from) {
      b->flags[to].store(old.flags[from].load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
      b->last[to].store(old.last[from].load(std::memory_order_relaxed),
                        std::memory_order_relaxed);
      b->matched[to].store(old.matched[from].load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
      b->over[to].store(old.over[from].load(std::memory_order_relaxed),
                        std::memory_order_relaxed);
    };
    const bool same_jails = old.program == b->program && old.jails == b->jails;
    std::size_t first_keyed = 0;
    if (same_jails) {
      for (std::size_t i = 0; i < nj_checks; ++i) {
        copy(i, i);
      }
      first_keyed = nj_checks;
    }
    std::unordered_map<std::string, std::size_t> old_index;
    const std::size_t old_first = same_jails ? old.jail_checks.size() : 0;
    old_index.reserve(old.n - old_first);
    for (std::size_t i = old_first; i < old.n; ++i) {
      old_index.emplace(old.Key(i), i);
    }
    if (!old_index.empty()) {
      for (std::size_t i = first_keyed; i < b->n; ++i) {
        auto it = old_index.find(b->Key(i));
        if (it != old_index.end()) {
          copy(i, it->second);
        }
      }
    }
    std::unordered_map<std::string, uint8_t> old_groups;
    for (const PcpuGroup& g : old.groups) {
      if (g.throttled) {
        old_groups.emplace(old.GroupKey(g), g.throttled);
      }
    }
    if (!old_groups.empty()) {
      for (PcpuGroup& g : b->groups) {
        auto it = old_groups.find(b->GroupKey(g));
        if (it != old_groups.end()) {
          g.throttled = it->second;
        }
      }
    }
  }

  info_.jail_checks = nj_checks;
  info_.process_checks = b->proc_checks.size();
  info_.dormant = dormant;
  bound_ = b;
  published_.Store(std::move(b));
}

}  // namespace jailwarden::engine
