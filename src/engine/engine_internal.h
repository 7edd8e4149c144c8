#pragma once

// The engine's private data shared by its two halves: engine.cc (Compile,
// Bind: rules and a jail table into flat check arrays) and
// engine_evaluate.cc (Evaluate and Stats over those arrays). Private to
// the engine layer.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/base/strings.h"
#include "jailwarden/engine/engine.h"
#include "engine/threshold_scan.h"

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
  uint32_t begin = 0;   // into the owner's group_members (JailPart or
                        // BindState)
  uint32_t end = 0;
  bool is_proc = false;
  uint8_t throttled = 0;
};

struct GroupMember {
  uint32_t check;
  int64_t amount;
};

// Latches and counters of a run of checks. Written by the Evaluate thread,
// read by Stats() from any thread (hence relaxed atomics).
struct CheckState {
  std::unique_ptr<std::atomic<uint8_t>[]> flags;
  std::unique_ptr<std::atomic<uint8_t>[]> last;
  std::unique_ptr<std::atomic<uint64_t>[]> matched;
  std::unique_ptr<std::atomic<uint64_t>[]> over;

  // n checks with clear flags, no decision and zero counters.
  void Init(std::size_t n);
  // Copies check `from` of `old` over check `to`.
  void CopyFrom(std::size_t to, const CheckState& old, std::size_t from);
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
  std::vector<uint32_t> process_rules;  // indices of Scope::kProcess rules
};

// The fast path, bound to one (Program, JailTable): the (rule, jail) checks,
// their thresholds and their state. Built once per rule change or
// jail-table change and shared, not copied, by the bindings that only take
// new slow-tier data.
//
// Thresholds (threshold_scan.h): slot s's row holds, per resource, the
// least trigger of its checks on that resource (INT64_MAX if none; for
// pcpu, also below the slot's pcpu-deny group's quick reject), in blocks
// of eight slots with identical blocks sharing one pattern. A slot whose
// usage is at or under its row, and whose force mask is clear, needs no
// work. force[slot] bit r is set while any check of (slot, r) has state
// bits set (it must be revisited to re-arm) or, for pcpu, the slot's group
// is throttled. force, hits and pending are the Evaluate thread's.
struct Engine::JailPart {
  // Sorted by (slot, resource, rule): the checks of (slot, resource r) are
  // jail_checks[group_begin[g], group_begin[g + 1]) with
  // g = slot * k + column_of[r].
  std::vector<internal::JailCheck> jail_checks;
  std::vector<uint32_t> jail_rule;  // parallel to jail_checks
  std::size_t jail_dormant = 0;     // jail-scope rules without a jail now
  internal::CheckState state;       // by jail check
  // pcpu deny groups of jails, by slot; slot_group[slot] indexes it or -1.
  std::vector<internal::PcpuGroup> groups;
  std::vector<internal::GroupMember> group_members;
  std::vector<int32_t> slot_group;

  std::size_t slots = 0;
  std::size_t k = 0;  // resources any check uses
  std::array<int8_t, rctl::kResourceCount> column_of{};  // or -1
  std::vector<uint32_t> group_begin;  // slots × k + 1
  std::vector<internal::ThresholdPattern> patterns;
  std::vector<uint32_t> block_pattern;  // by block of kBlockSlots slots
  uint32_t live = 0;                    // LiveVectors(patterns)
  std::vector<uint32_t> force;          // by slot, resource bits
  std::vector<internal::ScanHit> hits;  // scratch, slots entries
  std::vector<uint32_t> pending;        // scratch: jail groups to visit

  // Recomputes force[slot] bit `res` from the checks' state and the pcpu
  // group.
  void RefreshForce(uint32_t slot, std::size_t res);
};

struct Engine::BindState {
  std::shared_ptr<const Program> program;
  std::shared_ptr<const racct::JailTable> jails;
  std::shared_ptr<const racct::SlowData> slow;
  std::shared_ptr<JailPart> jail;  // never null once bound
  std::vector<internal::ProcCheck> proc_checks;
  internal::CheckState proc_state;  // by process check
  std::size_t n = 0;  // jail checks then process checks
  // pcpu deny groups of processes (jail groups are in `jail`).
  std::vector<internal::PcpuGroup> groups;
  std::vector<internal::GroupMember> group_members;
  racct::SharedSlot<const racct::TickData> last_tick;

  std::size_t nj() const { return jail->jail_checks.size(); }
  const internal::CheckState& StateOf(std::size_t i, std::size_t& at) const {
    if (i < nj()) {
      at = i;
      return jail->state;
    }
    at = i - nj();
    return proc_state;
  }
  internal::CheckState& StateOf(std::size_t i, std::size_t& at) {
    if (i < nj()) {
      at = i;
      return jail->state;
    }
    at = i - nj();
    return proc_state;
  }
  uint32_t RuleOf(std::size_t i) const {
    return i < nj() ? jail->jail_rule[i] : proc_checks[i - nj()].rule;
  }
  std::string Key(std::size_t i) const {
    const std::string& text = program->rules[RuleOf(i)].text;
    if (i < nj()) {
      return internal::CheckKey(text, 'j',
                                jails->jails[jail->jail_checks[i].slot].name);
    }
    const internal::ProcCheck& p = proc_checks[i - nj()];
    return internal::CheckKey(text, 'p', StrCat(slow->processes[p.proc].pid));
  }
  std::string JailGroupKey(const internal::PcpuGroup& g) const {
    return StrCat("j", jails->jails[g.target].name);
  }
  std::string ProcGroupKey(const internal::PcpuGroup& g) const {
    return StrCat("p", slow->processes[proc_checks[g.target].proc].pid);
  }
};

}  // namespace jailwarden::engine
