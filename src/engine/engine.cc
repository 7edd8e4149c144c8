#include "jailwarden/engine/engine.h"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <utility>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::engine {
namespace {

using racct::JailTable;
using racct::SlowData;
using racct::Snapshot;
using racct::TickData;

// Per-check state bits. A check whose bits are all clear and whose usage is
// at or under its trigger needs no work: the hot loop's only test.
enum : uint8_t {
  kOverBit = 1,      // usage > amount at the last evaluation
  kLatchedBit = 2,   // rrl_exceeded: log/devctl/sig already acted this episode
  kAtOrOverBit = 4,  // deny: usage >= amount
};
constexpr uint8_t kNoDecision = 0xff;

enum class Scope : uint8_t { kJail, kProcess, kUnsupported };
enum class Source : uint8_t { kProcess, kUser, kJail };

std::string CheckKey(std::string_view rule_text, char kind,
                     std::string_view target) {
  return StrCat(rule_text, std::string_view("\0", 1), kind, target);
}

}  // namespace

struct Engine::Program {
  struct CompiledRule {
    rctl::Rule rule;
    std::string text;  // FormatRule(rule)
    rctl::Resource resource = rctl::Resource::kCputime;
    rctl::Action action = rctl::Action::kUndefined;
    int64_t amount = 0;
    Scope scope = Scope::kUnsupported;
    bool sampled_deny = false;
    bool pcpu_deny = false;
  };
  std::vector<CompiledRule> rules;
};

// One (rule, jail) pair of the fast path: 16 bytes, sorted by (slot,
// resource) so a pass streams through the tick's usage once.
struct JailCheck {
  uint32_t slot;
  uint8_t res;
  uint8_t pad[3];
  int64_t trigger;  // over when usage > trigger: amount, or amount − 1 for
                    // deny (reports usage >= amount)
};
static_assert(sizeof(JailCheck) == 16);

// One (rule, process) link from the slow tier.
struct ProcCheck {
  uint32_t rule;
  uint32_t proc;     // index into SlowData::processes
  Source source;     // which container `per` names
  int32_t source_index;  // user index, or jail slot in the bound table
  int32_t jail_slot;     // the process's jail slot in the bound table, or -1
};

struct PcpuGroup {
  // Quick reject for jail groups: every member's rctl_pcpu_available is > 0
  // while the jail's pcpu < quick (min over members of amount − shift), so
  // an unthrottled group below it needs no further work.
  int64_t quick = 0;
  uint32_t target = 0;  // jail slot, or index into proc_checks of a member
  uint32_t begin = 0;   // into BindState::group_members
  uint32_t end = 0;
  bool is_proc = false;
  uint8_t throttled = 0;
};

struct GroupMember {
  uint32_t check;
  int64_t amount;
};

struct Engine::BindState {
  std::shared_ptr<const Program> program;
  std::shared_ptr<const JailTable> jails;
  std::shared_ptr<const SlowData> slow;
  std::vector<JailCheck> jail_checks;
  std::vector<uint32_t> jail_rule;  // parallel to jail_checks
  std::vector<ProcCheck> proc_checks;
  std::size_t n = 0;  // jail checks then process checks
  std::size_t jail_dormant = 0;  // jail-scope rules without a jail now
  std::size_t jail_groups = 0;   // groups[0, jail_groups) are jail groups
  std::unique_ptr<std::atomic<uint8_t>[]> flags;
  std::unique_ptr<std::atomic<uint8_t>[]> last;
  std::unique_ptr<std::atomic<uint64_t>[]> matched;
  std::unique_ptr<std::atomic<uint64_t>[]> over;
  std::vector<PcpuGroup> groups;
  std::vector<GroupMember> group_members;
  racct::SharedSlot<const TickData> last_tick;

  uint32_t RuleOf(std::size_t i) const {
    return i < jail_checks.size() ? jail_rule[i]
                                  : proc_checks[i - jail_checks.size()].rule;
  }
  std::string Key(std::size_t i) const {
    const std::string& text = program->rules[RuleOf(i)].text;
    if (i < jail_checks.size()) {
      return CheckKey(text, 'j', jails->jails[jail_checks[i].slot].name);
    }
    const ProcCheck& p = proc_checks[i - jail_checks.size()];
    return CheckKey(text, 'p', StrCat(slow->processes[p.proc].pid));
  }
  std::string GroupKey(const PcpuGroup& g) const {
    if (!g.is_proc) {
      return StrCat("j", jails->jails[g.target].name);
    }
    return StrCat("p", slow->processes[proc_checks[g.target].proc].pid);
  }
};

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
  auto program = std::make_shared<Program>();
  program->rules.reserve(rules.size());
  CompileInfo info;
  for (const rctl::Rule& rule : rules) {
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
    c.sampled_deny = rule.action == rctl::Action::kDeny &&
                     options_.deny_is_sampled && options_.deny_is_sampled(rule);
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

namespace {

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
  std::atomic<uint8_t>* const flags = b.flags.get();

  // The slow path of one pair: everything but "under and nothing to reset".
  auto act = [&](std::size_t i, const Program::CompiledRule& r,
                 const Target& target, int64_t per_usage, int64_t own_usage,
                 bool present, auto&& who_fn) {
    const uint8_t f = flags[i].load(std::memory_order_relaxed);
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
      b.last[i].store(static_cast<uint8_t>(kind), std::memory_order_relaxed);
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
      flags[i].store(nf, std::memory_order_relaxed);
      return;
    }
    if (!(f & kOverBit)) {
      b.matched[i].store(b.matched[i].load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    }
    b.over[i].store(b.over[i].load(std::memory_order_relaxed) + 1,
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
    flags[i].store(nf, std::memory_order_relaxed);
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

  // Hot loop: one compare per (rule, jail) pair.
  const std::size_t nj = b.jail_checks.size();
  const JailCheck* checks = b.jail_checks.data();
  for (std::size_t i = 0; i < nj; ++i) {
    const JailCheck& c = checks[i];
    const int64_t u = usage[c.slot][c.res];
    if (u > c.trigger || flags[i].load(std::memory_order_relaxed) != 0)
        [[unlikely]] {
      const Program::CompiledRule& r = program.rules[b.jail_rule[i]];
      Target t;
      t.kind = TargetKind::kJail;
      t.jail_slot = static_cast<int32_t>(c.slot);
      act(i, r, t, u, u, tick.present[c.slot][c.res],
          [&] { return jail_who(c.slot, c.res); });
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
    if (per_usage <= trigger && flags[i].load(std::memory_order_relaxed) == 0) {
      continue;
    }
    const racct::ProcessInfo& p = slow.processes[c.proc];
    Target t;
    t.kind = TargetKind::kProcess;
    t.jail_slot = c.jail_slot;
    t.pid = p.pid;
    act(i, r, t, per_usage, p.usage[res], present, [&] {
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
  constexpr std::size_t kPcpu = rctl::Index(rctl::Resource::kPcpu);
  for (PcpuGroup& g : b.groups) {
    if (!g.is_proc && !g.throttled && usage[g.target][kPcpu] < g.quick) {
      continue;
    }
    int64_t min_available = std::numeric_limits<int64_t>::max();
    int64_t limit = 0;
    uint32_t limiting = b.group_members[g.begin].check;
    // Newest rule first, as the kernel's rule links are.
    for (uint32_t m = g.end; m-- > g.begin;) {
      const uint32_t i = b.group_members[m].check;
      const int64_t amount = b.group_members[m].amount;
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
      continue;  // no pcpu reading
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
      continue;
    }
    g.throttled = throttle ? 1 : 0;
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
    b.last[limiting].store(static_cast<uint8_t>(d.kind),
                           std::memory_order_relaxed);
  }

  result_.checks = b.n;
  b.last_tick.Store(snapshot.tick);
  return result_;
}

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
  const std::size_t nj = b->jail_checks.size();
  for (std::size_t i = 0; i < b->n; ++i) {
    const Program::CompiledRule& r = b->program->rules[b->RuleOf(i)];
    const std::size_t res = rctl::Index(r.resource);
    RuleTargetStatsView s;
    s.rule_index = b->RuleOf(i);
    s.rule = &r.rule;
    s.rule_text = r.text;
    bool have_usage = false;
    if (i < nj) {
      const JailCheck& c = b->jail_checks[i];
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
    const uint8_t f = b->flags[i].load(std::memory_order_relaxed);
    s.exceeded = (f & kOverBit) != 0;
    s.latched = (f & kLatchedBit) != 0;
    s.matched = b->matched[i].load(std::memory_order_relaxed);
    s.evaluations_over = b->over[i].load(std::memory_order_relaxed);
    const uint8_t last = b->last[i].load(std::memory_order_relaxed);
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
