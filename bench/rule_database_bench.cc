// The cost of one `rctl -a` in a daemon holding N running jails × 8 rules:
// RuleDatabase::Mutate through the real JailRegistry (the backend's Apply
// is a no-op that reports one Enforcement per rule, so what is measured is
// the service layer's own work: draft, validation, change set, apply
// routing, publishing the snapshot).
//
// BM_RuleDatabase_AddRule/N reports `ratio`: its time over the same
// benchmark's time at N = 1 in the same run (the baseline runs first).
// Goal (issue 12): flat in N — the cost follows the changed jail's rules.
// BM_RuleSet_CopyAndRederive/N is what the daemon did before the rule
// database (copy the whole rule set, derive every registered jail's rules
// before and after), for comparison. BM_RuleSnapshot_Flat/N is the
// one-off work the tick thread does after a change (the engine compiles
// the whole rule list; that stays proportional to all rules).

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "fakes/fake_usage_reader.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/rule_set.h"
#include "jailwarden/rctl/user_form.h"
#include "jailwarden/service/jail_registry.h"
#include "jailwarden/service/rule_database.h"

namespace jailwarden::service {
namespace {

constexpr int kRulesPerJail = 8;
const char* const kTails[kRulesPerJail] = {
    "memoryuse:deny=64M", "maxproc:deny=20",    "openfiles:deny=1024", "pcpu:deny=50",
    "vmemoryuse:deny=1G", "nthr:devctl=100",    "memoryuse:devctl=48M", "readbps:throttle=10M"};

class NoopEnforcer : public platform::LimitEnforcer {
 public:
  absl::StatusOr<std::vector<platform::Enforcement>> Apply(
      const platform::JailRef&, const std::vector<rctl::Rule>& rules) override {
    std::vector<platform::Enforcement> out;
    out.reserve(rules.size());
    for (const rctl::Rule& r : rules) out.push_back(Describe(r));
    return out;
  }
  platform::Enforcement Describe(const rctl::Rule& rule) const override {
    platform::Enforcement e;
    e.rule = rule;
    e.mechanism = "bench";
    return e;
  }
};

class BenchBackend : public HostBackend {
 public:
  std::string_view name() const override { return "bench"; }
  std::unique_ptr<platform::JailRuntime> TakeRuntime() override { return nullptr; }
  platform::UsageReader& reader() override { return reader_; }
  platform::LimitEnforcer& enforcer() override { return enforcer_; }
  absl::StatusOr<platform::JailRef> AddJail(const platform::JailInstance& i) override {
    return i.ref;
  }
  void RemoveJail(std::string_view) override {}
  bool DenyIsSampled(const rctl::Rule&) const override { return false; }

 private:
  fakes::FakeUsageReader reader_;
  NoopEnforcer enforcer_;
};

rctl::Rule Rule(const std::string& text) {
  return *rctl::ParseRuleForAdd(*rctl::ExpandRule(text));
}

// Time per iteration over the same benchmark's at N = 1 (run first).
void RecordRatio(benchmark::State& state, const std::string& key, int n,
                 absl::Duration elapsed) {
  static std::map<std::string, double> baselines;
  if (state.iterations() == 0) return;
  const double per = absl::ToDoubleNanoseconds(elapsed) / static_cast<double>(state.iterations());
  if (n == 1) baselines[key] = per;
  if (baselines.count(key) > 0) state.counters["ratio"] = per / baselines[key];
}

void BM_RuleDatabase_AddRule(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  BenchBackend backend;
  RuleDatabase db([&](const rctl::Rule& r) { return backend.enforcer().Describe(r); },
                  [](const rctl::Rule&) { return false; });
  JailRegistry registry(backend, db);
  // The jails' rules come from the policy, as in a daemon serving one; the
  // rule added below is a runtime addition (recorded in memory; no record
  // file is opened here, so no fsync is timed).
  std::vector<rctl::Rule> policy;
  for (int j = 0; j < jails; ++j) {
    for (const char* tail : kTails) policy.push_back(Rule(StrCat("jail:j", j, ":", tail)));
  }
  if (absl::Status s = db.ApplyPolicy(policy, PolicyMode::kStartUp); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  for (int j = 0; j < jails; ++j) {
    platform::JailInstance instance;
    instance.ref.name = StrCat("j", j);
    instance.ref.jid = j + 1;
    instance.init_pid = 1000 + j;
    (void)registry.OnKernelJailCreated(instance);
  }
  // One deny whose amount alternates: each add replaces the previous one,
  // so the jail keeps 9 rules and every iteration is the same change.
  const rctl::Rule add[2] = {Rule("jail:j0:nthr:deny=500"), Rule("jail:j0:nthr:deny=600")};
  int k = 0;
  const absl::Time t0 = absl::Now();
  for (auto _ : state) {
    absl::Status s = db.Mutate([&](RuleDraft& d) { return d.Add(add[k]); });
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    k ^= 1;
  }
  RecordRatio(state, "add", jails, absl::Now() - t0);
  state.counters["rules"] = static_cast<double>(db.Current()->size());
}

void BM_RuleSet_CopyAndRederive(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  rctl::RuleSet rules;
  std::vector<std::string> names;
  for (int j = 0; j < jails; ++j) {
    names.push_back(StrCat("j", j));
    for (const char* tail : kTails) (void)rules.Add(Rule(StrCat("jail:j", j, ":", tail)));
  }
  auto jail_rules = [](const rctl::RuleSet& set, const std::string& name) {
    std::vector<rctl::Rule> out;
    for (const rctl::Rule& r : set.rules()) {
      if (r.subject == rctl::SubjectType::kJail && r.subject_id == name) out.push_back(r);
    }
    return out;
  };
  const rctl::Rule add[2] = {Rule("jail:j0:nthr:deny=500"), Rule("jail:j0:nthr:deny=600")};
  int k = 0;
  const absl::Time t0 = absl::Now();
  for (auto _ : state) {
    rctl::RuleSet next = rules;
    (void)next.Add(add[k]);
    std::size_t changed = 0;
    for (const std::string& name : names) {
      changed += jail_rules(rules, name) != jail_rules(next, name) ? 1 : 0;
    }
    benchmark::DoNotOptimize(changed);
    rules = std::move(next);
    k ^= 1;
  }
  RecordRatio(state, "rederive", jails, absl::Now() - t0);
}

void BM_RuleSnapshot_Flat(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  NoopEnforcer enforcer;
  RuleDatabase db([&](const rctl::Rule& r) { return enforcer.Describe(r); },
                  [](const rctl::Rule&) { return false; });
  (void)db.Mutate([&](RuleDraft& d) -> absl::Status {
    for (int j = 0; j < jails; ++j) {
      for (const char* tail : kTails) (void)d.Add(Rule(StrCat("jail:j", j, ":", tail)));
    }
    return absl::OkStatus();
  });
  const rctl::Rule add[2] = {Rule("jail:j0:nthr:deny=500"), Rule("jail:j0:nthr:deny=600")};
  int k = 0;
  for (auto _ : state) {
    state.PauseTiming();
    (void)db.Mutate([&](RuleDraft& d) { return d.Add(add[k]); });
    k ^= 1;
    state.ResumeTiming();
    benchmark::DoNotOptimize(db.Current()->Flat().rules.size());
  }
}

BENCHMARK(BM_RuleDatabase_AddRule)->ArgName("jails")->Arg(1)->Arg(10)->Arg(100)->Arg(1000)
    ->Arg(10000);
BENCHMARK(BM_RuleSet_CopyAndRederive)->ArgName("jails")->Arg(1)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_RuleSnapshot_Flat)->ArgName("jails")->Arg(1)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace jailwarden::service

BENCHMARK_MAIN();
