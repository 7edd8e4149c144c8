#pragma once

// The engine's private data shared by its two halves: engine.cc (Compile,
// Bind: rules and a jail table into flat check arrays) and
// engine_evaluate.cc (Evaluate and Stats over those arrays). Private to
// the engine layer.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/base/strings.h"
#include "jailwarden/engine/engine.h"

namespace jailwarden::engine {
namespace internal {

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

inline std::string CheckKey(std::string_view rule_text, char kind,
                     std::string_view target) {
  return StrCat(rule_text, std::string_view("\0", 1), kind, target);
}

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

}  // namespace internal

struct Engine::Program {
  struct CompiledRule {
    rctl::Rule rule;
    std::string text;  // FormatRule(rule)
    rctl::Resource resource = rctl::Resource::kCputime;
    rctl::Action action = rctl::Action::kUndefined;
    int64_t amount = 0;
    internal::Scope scope = internal::Scope::kUnsupported;
    bool sampled_deny = false;
    bool pcpu_deny = false;
  };
  std::vector<CompiledRule> rules;
};

struct Engine::BindState {
  std::shared_ptr<const Program> program;
  std::shared_ptr<const racct::JailTable> jails;
  std::shared_ptr<const racct::SlowData> slow;
  std::vector<internal::JailCheck> jail_checks;
  std::vector<uint32_t> jail_rule;  // parallel to jail_checks
  std::vector<internal::ProcCheck> proc_checks;
  std::size_t n = 0;  // jail checks then process checks
  std::size_t jail_dormant = 0;  // jail-scope rules without a jail now
  std::size_t jail_groups = 0;   // groups[0, jail_groups) are jail groups
  std::unique_ptr<std::atomic<uint8_t>[]> flags;
  std::unique_ptr<std::atomic<uint8_t>[]> last;
  std::unique_ptr<std::atomic<uint64_t>[]> matched;
  std::unique_ptr<std::atomic<uint64_t>[]> over;
  std::vector<internal::PcpuGroup> groups;
  std::vector<internal::GroupMember> group_members;
  racct::SharedSlot<const racct::TickData> last_tick;

  uint32_t RuleOf(std::size_t i) const {
    return i < jail_checks.size() ? jail_rule[i]
                                  : proc_checks[i - jail_checks.size()].rule;
  }
  std::string Key(std::size_t i) const {
    const std::string& text = program->rules[RuleOf(i)].text;
    if (i < jail_checks.size()) {
      return internal::CheckKey(text, 'j', jails->jails[jail_checks[i].slot].name);
    }
    const internal::ProcCheck& p = proc_checks[i - jail_checks.size()];
    return internal::CheckKey(text, 'p', StrCat(slow->processes[p.proc].pid));
  }
  std::string GroupKey(const internal::PcpuGroup& g) const {
    if (!g.is_proc) {
      return StrCat("j", jails->jails[g.target].name);
    }
    return StrCat("p", slow->processes[proc_checks[g.target].proc].pid);
  }
};

}  // namespace jailwarden::engine
