// Rule parser and formatter benchmarks. Each reports against a baseline in
// the same binary: a plain pass over the same strings (counting field
// separators), the least any parser must do.

#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/rule_set.h"
#include "jailwarden/rctl/user_form.h"

namespace jailwarden::rctl {
namespace {

// A realistic mix: jail, user, process and loginclass rules, all actions,
// per suffixes, in-millions resources.
std::vector<std::string> KernelRules(int n) {
  static const char* kTemplates[] = {
      "jail:web%d:memoryuse:deny=536870912",
      "jail:web%d:pcpu:deny=50",
      "user:%d:maxproc:deny=100",
      "user:%d:openfiles:deny=1024/process",
      "jail:db%d:readbps:throttle=10485760",
      "process:%d:vmemoryuse:sigterm=1073741824",
      "loginclass:class%d:cputime:log=3600",
      "jail:batch%d:wallclock:devctl=86400/jail",
  };
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(n));
  char buf[128];
  for (int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof(buf), kTemplates[i % 8], i);
    out.emplace_back(buf);
  }
  return out;
}

std::vector<std::string> UserRules(int n) {
  static const char* kTemplates[] = {
      "j:web%d:memoryuse:deny=512m",   "j:web%d:pcpu:deny=50",
      "u:%d:maxproc:deny=100",         "u:%d:openfiles:deny=1k/process",
      "j:db%d:readbps:throttle=10M",   "p:%d:vmemoryuse:sigterm=1g",
      "c:class%d:cputime:log=3600",    "jail:batch%d:wallclock:devctl=86400/jail",
  };
  std::vector<std::string> out;
  char buf[128];
  for (int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof(buf), kTemplates[i % 8], i);
    out.emplace_back(buf);
  }
  return out;
}

void BM_Rctl_ScanBaseline(benchmark::State& state) {
  const std::vector<std::string> rules = KernelRules(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::size_t seps = 0;
    for (const std::string& r : rules) {
      for (char c : r) seps += (c == ':' || c == '=' || c == '/');
    }
    benchmark::DoNotOptimize(seps);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Rctl_ScanBaseline)->Arg(1000);

void BM_Rctl_ParseKernelForm(benchmark::State& state) {
  const std::vector<std::string> rules = KernelRules(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const std::string& r : rules) {
      absl::StatusOr<Rule> parsed = ParseRuleForAdd(r);
      benchmark::DoNotOptimize(parsed);
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Rctl_ParseKernelForm)->Arg(1000);

void BM_Rctl_FormatKernelForm(benchmark::State& state) {
  std::vector<Rule> parsed;
  for (const std::string& r : KernelRules(static_cast<int>(state.range(0)))) {
    parsed.push_back(*ParseRuleForAdd(r));
  }
  for (auto _ : state) {
    for (const Rule& r : parsed) {
      std::string text = FormatRule(r);
      benchmark::DoNotOptimize(text);
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Rctl_FormatKernelForm)->Arg(1000);

void BM_Rctl_ExpandAndParseUserForm(benchmark::State& state) {
  // -n: no passwd lookups, so this measures the text work only.
  const std::vector<std::string> rules = UserRules(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const std::string& r : rules) {
      absl::StatusOr<std::string> expanded = ExpandRule(r, {false, nullptr});
      absl::StatusOr<Rule> parsed = ParseRuleForAdd(*expanded);
      benchmark::DoNotOptimize(parsed);
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Rctl_ExpandAndParseUserForm)->Arg(1000);

void BM_Rctl_RuleSetListAll(benchmark::State& state) {
  RuleSet set;
  for (const std::string& r : KernelRules(static_cast<int>(state.range(0)))) {
    (void)set.Add(*ParseRuleForAdd(r));
  }
  for (auto _ : state) {
    std::string text = set.ListText(Rule{});
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Rctl_RuleSetListAll)->Arg(1000);

// Loading a policy's rules into the kernel-like DB: 5 distinct rules per
// jail. Baseline: copying the same parsed rules into a vector.
void BM_Rctl_RuleSetBulkAddBaseline(benchmark::State& state) {
  std::vector<Rule> parsed;
  for (const std::string& r : KernelRules(static_cast<int>(state.range(0)))) {
    parsed.push_back(*ParseRuleForAdd(r));
  }
  for (auto _ : state) {
    std::vector<Rule> copy;
    for (const Rule& r : parsed) copy.push_back(r);
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Rctl_RuleSetBulkAddBaseline)->Arg(1000)->Arg(50000);

void BM_Rctl_RuleSetBulkAdd(benchmark::State& state) {
  std::vector<Rule> parsed;
  for (const std::string& r : KernelRules(static_cast<int>(state.range(0)))) {
    parsed.push_back(*ParseRuleForAdd(r));
  }
  for (auto _ : state) {
    RuleSet set;
    for (const Rule& r : parsed) (void)set.Add(r);
    benchmark::DoNotOptimize(set);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Rctl_RuleSetBulkAdd)->Arg(1000)->Arg(50000);

}  // namespace
}  // namespace jailwarden::rctl

BENCHMARK_MAIN();
