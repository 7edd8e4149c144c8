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
    if (c.scope == Scope::kProcess) {
      program->process_rules.push_back(static_cast<uint32_t>(ri));
    }
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

  // Only the slow tier changed (the usual re-bind, once per slow pass): the
  // fast path depends on rules and jails alone, so share it.
  const bool reuse_jail = bound_ != nullptr && bound_->program == b->program &&
                          bound_->jails == b->jails;
  b->jail = reuse_jail ? bound_->jail : BindJails(table);
  const std::size_t nj_checks = b->jail->jail_checks.size();

  auto in_subtree = [&](int32_t slot, uint32_t root) {
    for (int32_t s = slot; s >= 0; s = table.jails[s].parent_slot) {
      if (static_cast<uint32_t>(s) == root) {
        return true;
      }
    }
    return false;
  };
  // Jail slot (in `table`) of each slow-tier process: the slow tier's own
  // slot when it read this very table, else by name. Only process-scope
  // rules need it.
  const bool same_table = slow.jails == b->jails;
  std::vector<int32_t>& proc_slot = proc_slot_;  // reused: no allocation
  proc_slot.assign(program.process_rules.empty() ? 0 : slow.processes.size(), -1);
  for (std::size_t i = 0; i < proc_slot.size(); ++i) {
    const racct::ProcessInfo& p = slow.processes[i];
    if (same_table && p.jail_slot >= 0 &&
        static_cast<std::size_t>(p.jail_slot) < table.size() &&
        table.jails[p.jail_slot].name == p.jail) {
      proc_slot[i] = p.jail_slot;
    } else if (auto s = table.Find(p.jail)) {
      proc_slot[i] = static_cast<int32_t>(*s);
    }
  }

  std::size_t dormant = b->jail->jail_dormant;
  for (uint32_t ri : program.process_rules) {
    const Program::CompiledRule& r = program.rules[ri];
    const std::size_t before = b->proc_checks.size();
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
    if (b->proc_checks.size() == before) {
      ++dormant;
    }
  }
  b->n = nj_checks + b->proc_checks.size();
  b->proc_state.Init(b->proc_checks.size());

  // pcpu deny groups of processes: one per process with such links (§7.6).
  {
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
  // binding by key (rule text and target). A shared fast path keeps its own.
  if (bound_ != nullptr) {
    const BindState& old = *bound_;
    const std::size_t old_first = reuse_jail ? old.nj() : 0;
    const std::size_t first = reuse_jail ? nj_checks : 0;
    std::unordered_map<std::string, std::size_t> old_index;
    if (old.n > old_first) {
      old_index.reserve(old.n - old_first);
    }
    for (std::size_t i = old_first; i < old.n; ++i) {
      old_index.emplace(old.Key(i), i);
    }
    if (!old_index.empty()) {
      for (std::size_t i = first; i < b->n; ++i) {
        auto it = old_index.find(b->Key(i));
        if (it != old_index.end()) {
          std::size_t to = 0;
          std::size_t from = 0;
          internal::CheckState& to_state = b->StateOf(i, to);
          const internal::CheckState& from_state = old.StateOf(it->second, from);
          to_state.CopyFrom(to, from_state, from);
        }
      }
    }
    std::unordered_map<std::string, uint8_t> old_groups;
    if (!reuse_jail) {
      for (const PcpuGroup& g : old.jail->groups) {
        if (g.throttled) {
          old_groups.emplace(old.JailGroupKey(g), g.throttled);
        }
      }
    }
    for (const PcpuGroup& g : old.groups) {
      if (g.throttled) {
        old_groups.emplace(old.ProcGroupKey(g), g.throttled);
      }
    }
    if (!old_groups.empty()) {
      if (!reuse_jail) {
        for (PcpuGroup& g : b->jail->groups) {
          auto it = old_groups.find(b->JailGroupKey(g));
          if (it != old_groups.end()) {
            g.throttled = it->second;
          }
        }
      }
      for (PcpuGroup& g : b->groups) {
        auto it = old_groups.find(b->ProcGroupKey(g));
        if (it != old_groups.end()) {
          g.throttled = it->second;
        }
      }
    }
  }
  if (!reuse_jail) {
    // Carried-over state must be revisited like any other set bits.
    JailPart& jp = *b->jail;
    for (uint32_t slot = 0; slot < jp.slots; ++slot) {
      for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
        jp.RefreshForce(slot, r);
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
