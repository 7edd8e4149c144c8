#pragma once

// engine::Engine: applies every RCTL rule to each racct::Snapshot with
// FreeBSD's rctl_enforce semantics (../shared/reference/freebsd-rctl.md
// §6.7, §6.8, §7). The benchmarked hot path.
//
// What it does per Evaluate():
// - every rule is compared with the usage of its `per` container; limits
//   are inclusive (usage == amount is not exceeded); every matching rule is
//   processed;
// - log, devctl and sig* fire once per exceedance episode per (rule,
//   target) and re-arm when usage falls back to or under the amount
//   (rrl_exceeded); log and devctl share global per-second rate limits
//   (ppsratecheck), and a rate-limited action does not latch, so it is
//   retried at the next evaluation;
// - throttle (I/O resources) recomputes the §7.5 sleep at every
//   evaluation while over, no latch;
// - pcpu deny becomes throttling as racctd does (§7.6): throttle until woken
//   while rctl_pcpu_available <= 0 and the target's pcpu >
//   pcpu_threshold, wake once it is > 0;
// - any other deny is installed in the kernel by the backend once per rule
//   change; the engine only reports where a deny limit is at or over
//   (usage >= amount: the kernel refuses the next charge), and for rules
//   the backend enforces only by sampling, the sampled decision.
//
// Targets (what the kernel's process-rule links become when usage is
// sampled per jail):
// - jail:<J> rules with per=jail are evaluated on the jail-level tick data,
//   once for J and once for each descendant jail D of J, each compared with
//   its OWN container (which includes its descendants). This is §6.8: a
//   process in D is compared with D's immediate prison container. One latch
//   per (rule, jail) stands for the links of all the jail's processes.
// - every other rule is evaluated per process from the slow tier, one
//   target per (rule, process) link as the kernel links them (§6.7):
//   process:<pid> → that process; user:<uid> → processes whose real or
//   effective uid is uid; jail:<J> with per≠jail → processes of J and its
//   descendants. The compared usage is the per container: the process, its
//   real-uid container, or its immediate jail's container.
// - loginclass subjects and per=loginclass are never evaluated (no backend
//   reports login classes); they are counted in CompileInfo::unsupported.
//
// Attribution of jail targets (log/devctl pid, comm, uid, ruid): the jail's
// representative process from the latest slow-tier pass: the process of that
// jail (not of a descendant) with the highest usage of the rule's resource,
// lowest pid on ties. If the slow tier knows no process of that jail, pid
// -1, comm "", uid -1, ruid -1 (the kernel would never fire there: there is
// no process to charge). The jail name is always the target jail's.
//
// Thread-safety: Compile and Evaluate are for one owning thread (the
// sampler's tick callback). Stats() may be called from any thread,
// concurrently with Evaluate, and never waits on it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "jailwarden/racct/shared_slot.h"
#include "jailwarden/racct/snapshot.h"
#include "jailwarden/rctl/rule.h"
#include "jailwarden/rctl/rule_set.h"

namespace jailwarden::engine {

// The kernel's tunables (freebsd-rctl.md §10) and host facts.
struct EngineOptions {
  // kern.racct.rctl.log_rate_limit / devctl_rate_limit: messages per
  // second, global across rules. 0 = never, negative = unlimited
  // (ppsratecheck).
  int log_rate_limit = 10;
  int devctl_rate_limit = 10;
  // Kernel tick rate: throttle durations are in ticks of 1/hz s.
  int hz = 1000;
  // kern.racct.rctl.throttle_{min,max,pct,pct2}. throttle_max <= 0 means
  // 2·hz (rctl_init). Valid: 1 <= min <= max, pct >= 0, pct2 >= 0.
  int64_t throttle_min = 1;
  int64_t throttle_max = 0;
  int64_t throttle_pct = 100;
  int64_t throttle_pct2 = 100;
  // kern.racct.pcpu_threshold, compared with raw pcpu (percent × 10^6).
  int64_t pcpu_threshold = 1;
  // True for a deny rule the backend enforces only by sampling
  // (platform::Fidelity::kSampled); the engine then reports the sampled
  // enforcement decision for it. Unset: no rule is sampled.
  std::function<bool(const rctl::Rule&)> deny_is_sampled;
};

// InvalidArgument naming the field, as the sysctl handlers refuse writes.
absl::Status ValidateEngineOptions(const EngineOptions& options);

// rctl(2)'s RCTL_LOG_BUFSIZE: the log rule text and the devctl data are
// built in a fixed 128-byte sbuf, so at most 127 characters survive.
inline constexpr std::size_t kLogBufferSize = 128;

enum class TargetKind : uint8_t { kJail, kProcess };

// What a (rule, target) pair acts on.
struct Target {
  TargetKind kind = TargetKind::kJail;
  int32_t jail_slot = -1;  // kJail: slot in the compiled JailTable;
                           // kProcess: slot of the process's jail or -1
  int64_t pid = -1;        // kProcess: the pid; kJail: -1
};

// A signal the platform sends: to every process of the jail (kJail; the
// jail's own processes and its descendants', as jail_remove would reach
// them) or to one process.
struct SignalRequest {
  Target target;
  std::string_view jail;  // target jail's name
  int64_t pid = -1;       // kProcess target's pid
  rctl::Action signal = rctl::Action::kUndefined;  // a signal action
  uint32_t rule = 0;      // index into CompiledRules order (Stats().rule_index)
};

// A throttle the platform applies (racct_proc_throttle).
struct ThrottleRequest {
  Target target;
  std::string_view jail;
  int64_t pid = -1;
  // > 0: sleep this many kernel ticks (1/hz s; `duration` is the same in
  // time); -1: until woken (pcpu deny); 0: wake a target throttled until
  // woken.
  int64_t ticks = 0;
  absl::Duration duration;
  rctl::Resource resource = rctl::Resource::kPcpu;
  uint32_t rule = 0;
};

// Where actions go; the platform implements it. Called on the Evaluate
// thread, synchronously; implementations must be quick (queue, do not
// block). Lines have no trailing newline (the kernel's printf and
// devctl_notify add "\n").
class ActionSink {
 public:
  virtual ~ActionSink() = default;
  // Exactly: rctl: rule "<rule>" matched by pid <pid> (<comm>), uid <euid>, jail <name>
  virtual void OnLog(std::string_view line) = 0;
  // Exactly: !system=RCTL subsystem=rule type=matched rule=<rule> pid=<pid> ruid=<ruid> jail=<name>
  // (the part from "rule=" on is at most 127 characters).
  virtual void OnDevctl(std::string_view line) = 0;
  virtual void OnSignal(const SignalRequest& request) = 0;
  virtual void OnThrottle(const ThrottleRequest& request) = 0;
};

enum class DecisionKind : uint8_t {
  kDenyAtOrOver,   // deny rule, usage >= amount (the kernel refuses the next
                   // charge; for a sampled deny the backend should act)
  kLogged,         // log line emitted
  kDevctlSent,     // devctl line emitted
  kSignalled,      // signal requested
  kRateLimited,    // log/devctl suppressed by its rate limit (not latched)
  kAlreadyReported,// log/devctl/sig over but latched this episode
  kThrottled,      // throttle requested (§7.5 ticks, or -1 for pcpu deny)
  kWoken,          // pcpu throttle lifted
};
std::string_view DecisionKindName(DecisionKind kind);

// One thing the engine decided this evaluation. Only exceeded or acted-on
// pairs produce decisions; under-limit pairs produce none.
struct Decision {
  uint32_t check = 0;  // (rule, target) pair index, valid until re-bind
  uint32_t rule = 0;   // index into the compiled rules
  DecisionKind kind = DecisionKind::kDenyAtOrOver;
  rctl::Action action = rctl::Action::kUndefined;
  rctl::Resource resource = rctl::Resource::kCputime;
  Target target;
  int64_t usage = 0;   // the per container's usage compared
  int64_t amount = 0;  // kernel scale
  int64_t throttle_ticks = 0;  // kThrottled only
};

// One Evaluate()'s outcome. Owned by the engine; valid until the next
// Evaluate() or Compile().
struct EvaluationResult {
  uint64_t snapshot_seq = 0;
  std::vector<Decision> decisions;
  uint64_t checks = 0;          // (rule, target) pairs evaluated
  uint64_t exceeded = 0;        // pairs with usage > amount
  uint64_t deny_at_or_over = 0; // deny pairs with usage >= amount
  bool rebound = false;         // jail table or slow tier changed: re-bound
};

// What Compile() made of the rules.
struct CompileInfo {
  std::size_t rules = 0;
  std::size_t jail_checks = 0;     // (rule, jail) pairs on the fast path
  std::size_t process_checks = 0;  // (rule, process) pairs from the slow tier
  std::size_t dormant = 0;         // rules with no target now (jail or
                                   // process absent)
  std::size_t unsupported = 0;     // loginclass subject or per
};

// Per (rule, target) statistics, for the metrics layer and the API.
struct RuleTargetStats {
  uint32_t rule_index = 0;
  rctl::Rule rule;
  std::string rule_text;  // FormatRule(rule)
  Target target;
  std::string jail;       // target jail's name ("" for a process without one)
  uint64_t matched = 0;   // exceedance episodes (under → over transitions)
  uint64_t evaluations_over = 0;  // evaluations with usage > amount
  int64_t usage = 0;      // at the last evaluation
  int64_t headroom = 0;   // amount − usage at the last evaluation (kernel
                          // scale; negative when over)
  bool exceeded = false;  // usage > amount at the last evaluation
  bool latched = false;   // rrl_exceeded: action already taken this episode
  bool has_decision = false;
  DecisionKind last_decision = DecisionKind::kDenyAtOrOver;  // if has_decision
  // Deny rules the backend enforces only by sampling: whether the sampled
  // enforcement says deny now (usage >= amount).
  bool sampled_deny = false;
  bool sampled_deny_active = false;
};

// The same as RuleTargetStats, borrowed: the pointers and views are valid
// only during the ForEachStats callback. Costs no allocation per pair.
struct RuleTargetStatsView {
  uint32_t rule_index = 0;
  const rctl::Rule* rule = nullptr;
  std::string_view rule_text;
  Target target;
  std::string_view jail;
  uint64_t matched = 0;
  uint64_t evaluations_over = 0;
  int64_t usage = 0;
  int64_t headroom = 0;
  bool exceeded = false;
  bool latched = false;
  bool has_decision = false;
  DecisionKind last_decision = DecisionKind::kDenyAtOrOver;
  bool sampled_deny = false;
  bool sampled_deny_active = false;
};

class Engine {
 public:
  // `sink` must outlive the engine. Options must pass ValidateEngineOptions.
  explicit Engine(ActionSink& sink, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Compiles `rules` into flat arrays for `jails` (the jail table of the
  // snapshots to come; Evaluate re-binds by itself when a snapshot carries
  // another table or new slow-tier data). Latches, counters and throttle
  // state of (rule, target) pairs that exist before and after are kept,
  // matched by rule text and target jail name or pid. InvalidArgument if a
  // rule is not fully specified.
  absl::Status Compile(const rctl::RuleSet& rules,
                       std::shared_ptr<const racct::JailTable> jails);
  // The same for rules already in rctl_rule_add form (fully specified and
  // validated, e.g. RuleSet::rules()), in RuleSet order (oldest first).
  absl::Status Compile(std::span<const rctl::Rule> rules,
                       std::shared_ptr<const racct::JailTable> jails);
  // The same with the sampled bits already known: `sampled_denies[i]` != 0
  // says rules[i] is a deny the backend enforces only by sampling (in place
  // of EngineOptions::deny_is_sampled; the service layer's rule snapshot
  // computes it once per rule). InvalidArgument if the sizes differ.
  absl::Status Compile(std::span<const rctl::Rule> rules,
                       std::span<const uint8_t> sampled_denies,
                       std::shared_ptr<const racct::JailTable> jails);

  // Applies every compiled rule to `snapshot`, calls the sink for every
  // action, and returns the decisions. Time for the rate limits is the
  // snapshot's time. No allocation and no strings on the hot path once
  // warmed up, except when a rule acts (log/devctl lines) or the jail
  // table/slow tier changed (re-bind).
  const EvaluationResult& Evaluate(const racct::Snapshot& snapshot);

  // Statistics of every (rule, target) pair as of the last Evaluate, in
  // check order (jail pairs by jail slot, then process links). Thread-safe;
  // copies every rule text (a scrape over many pairs should prefer
  // ForEachStats).
  std::vector<RuleTargetStats> Stats() const;
  // Calls `fn` for every pair, without copying. Thread-safe like Stats();
  // `fn` runs on the caller's thread and must not call into the engine.
  void ForEachStats(
      const std::function<void(const RuleTargetStatsView&)>& fn) const;

  // What the latest binding made of the rules. Process links exist only
  // once a snapshot with slow-tier data was bound, so process_checks and
  // dormant are refreshed by every re-binding Evaluate, not only Compile.
  // Owning thread only.
  const CompileInfo& compile_info() const { return info_; }
  const EngineOptions& options() const { return options_; }

 private:
  struct Program;
  struct JailPart;
  struct BindState;

  absl::Status CompileWith(std::span<const rctl::Rule> rules,
                           const std::function<bool(std::size_t)>& sampled,
                           std::shared_ptr<const racct::JailTable> jails);
  void Bind(const racct::Snapshot* snapshot,
            std::shared_ptr<const racct::JailTable> jails);
  std::shared_ptr<JailPart> BindJails(const racct::JailTable& table) const;

  ActionSink& sink_;
  EngineOptions options_;
  std::shared_ptr<const Program> program_;  // rules, compiled per rule
  std::shared_ptr<BindState> bound_;        // checks bound to jails/processes
  racct::SharedSlot<BindState> published_;
  EvaluationResult result_;
  CompileInfo info_;
  // ppsratecheck state (absl::InfinitePast() = never).
  absl::Time log_lasttime_ = absl::InfinitePast();
  int log_curpps_ = 0;
  absl::Time devctl_lasttime_ = absl::InfinitePast();
  int devctl_curpps_ = 0;
  std::string line_;  // scratch for log/devctl lines
  std::vector<int32_t> proc_slot_;  // scratch for Bind
};

// ppsratecheck(9): true if one more event is allowed now. The window
// restarts at the first event one second or more after the previous window
// start; `max_pps` 0 allows none, negative allows all. Counts every call.
bool PpsRateCheck(absl::Time now, absl::Time& lasttime, int& curpps,
                  int max_pps);

// The §7.5 throttle duration in kernel ticks: `process_usage` U, `amount`
// A, `available` = A − per-container usage. Saturating uint64 maths.
int64_t ThrottleTicks(int64_t process_usage, int64_t amount, int64_t available,
                      const EngineOptions& options);

// rctl_pcpu_available's adjustment (§7.6) of `available` for the rule with
// `limit` as its amount.
int64_t PcpuAvailable(int64_t available, int64_t limit);

// The log line and devctl line for `rule` (already formatted), each with
// the kernel's 127-character sbuf truncation.
std::string FormatLogLine(std::string_view rule_text, int64_t pid,
                          std::string_view comm, int64_t euid,
                          std::string_view jail);
std::string FormatDevctlLine(std::string_view rule_text, int64_t pid,
                             int64_t ruid, std::string_view jail);

}  // namespace jailwarden::engine
