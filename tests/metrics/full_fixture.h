#pragma once

// A MetricsCollector fed with fake but complete data: every family the
// collector renders has samples (three jails, rules of several units,
// engine, sampler and reload health). Used by metrics_render_fixture (for
// `promtool check metrics`) and by the metric-name table test.
// Thread-compatible; test-only.

#include <memory>
#include <string>
#include <vector>

#include "fakes/snapshot_builder.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/rctl/kernel_form.h"
#include "metrics/snapshot_builder.h"

namespace jailwarden::metrics::testing {

class FullFixture {
 public:
  FullFixture() {
    const absl::Time now = absl::Now();
    fakes::SnapshotBuilder builder(now - absl::Milliseconds(900));
    builder.HistoryDepth(10).Ncpu(2).NextSeq(41);
    snap_ = BuildTicks(builder,
                       {MakeJail("web", 1), MakeJail("db", 2), MakeJail("ci-runner.1", 3)}, 10);
    SetIoTotals(*snap_, {{4096, 8192, 3, 5}, {0, 1 << 20, 0, 64}, {7, 9, 1, 1}});
    snap_->health.ticks = 50;
    snap_->health.slow_ticks = 5;
    snap_->health.avg_tick_duration = absl::Microseconds(120);
    snap_->health.max_tick_duration = absl::Microseconds(900);
    snap_->health.last_tick_duration = absl::Microseconds(110);

    rctl::Rule mem;
    mem.subject = rctl::SubjectType::kJail;
    mem.subject_id = "web";
    mem.resource = rctl::Resource::kMemoryuse;
    mem.action = rctl::Action::kDeny;
    mem.amount = int64_t{512} << 20;
    mem.per = rctl::SubjectType::kJail;
    rctl::Rule pcpu = mem;
    pcpu.resource = rctl::Resource::kPcpu;
    pcpu.amount = 20000000;
    rctl::Rule wbps = mem;
    wbps.resource = rctl::Resource::kWritebps;
    wbps.action = rctl::Action::kThrottle;
    wbps.amount = 1 << 20;
    rctl::Rule riops = wbps;
    riops.resource = rctl::Resource::kReadiops;
    riops.amount = 500;
    rctl::Rule cpu = mem;
    cpu.resource = rctl::Resource::kCputime;
    cpu.action = rctl::Action::kSigterm;
    cpu.amount = 3600000000;
    rctl::Rule procs = mem;
    procs.resource = rctl::Resource::kMaxproc;
    procs.amount = 100;
    rctl::Rule user = procs;
    user.subject = rctl::SubjectType::kUser;
    user.subject_id = "1001";
    user.per = rctl::SubjectType::kUser;
    enforcements_ = std::make_shared<std::vector<platform::Enforcement>>();
    enforcements_->push_back({mem, platform::Fidelity::kExact, "memory.max", ""});
    enforcements_->push_back({pcpu, platform::Fidelity::kApproximate, "cpu.max",
                              "CFS bandwidth quota instead of racctd throttling"});
    enforcements_->push_back({wbps, platform::Fidelity::kApproximate, "io.max wbps",
                              "block-device level"});
    enforcements_->push_back({riops, platform::Fidelity::kApproximate, "io.max riops",
                              "block-device level"});
    enforcements_->push_back({cpu, platform::Fidelity::kSampled, "sampler", ""});
    enforcements_->push_back({procs, platform::Fidelity::kExact, "pids.max", ""});
    enforcements_->push_back({user, platform::Fidelity::kSampled, "sampler", ""});

    const std::vector<rctl::Rule> rules = {mem, pcpu, wbps, riops, cpu, procs};
    for (const rctl::Rule& rule : rules) {
      engine::RuleTargetStats st;
      st.rule = rule;
      st.rule_text = rctl::FormatRule(rule);
      st.jail = "web";
      st.matched = 2;
      st.evaluations_over = 17;
      st.headroom = 1000;
      stats_.push_back(st);
    }
    engine::EvaluationResult result;
    result.checks = 3;
    engine_health_.Record(absl::Microseconds(12), result);
    jails_ = {{"web", 1, "running", now - absl::Hours(1), true},
              {"db", 2, "running", now - absl::Minutes(5), true},
              {"ci-runner.1", 3, "running", now, false},
              {"batch", -1, "stopped", std::nullopt, true}};
    jails_[0].main = JailStatus::Main{.running = true, .restarts = 2, .last_exit_code = -1,
                                      .last_exit_signal = 9};
    jails_[0].oom_kills = 1;    // one of web's processes was OOM-killed
    jails_[0].healthy = true;   // web has a healthcheck that passes
    jails_[1].healthy = false;  // db's is starting or failing
    // Issue 13: web runs with every layer, allow.mount, linux.seccomp and a
    // disk quota; db with the default filter and no quota.
    platform::IsolationStatus iso;
    for (const char* layer : platform::kIsolationLayers) iso.layers.push_back({layer, true});
    iso.seccomp_relaxed = {"mount"};
    iso.seccomp_allow = {"unshare"};
    iso.seccomp_deny = {"ptrace"};
    iso.disk_quota = platform::DiskQuotaStatus{
        .mechanism = "ext4_project", .limit_bytes = uint64_t{2} << 30, .used_bytes = 1 << 20};
    jails_[0].isolation = iso;
    iso.seccomp_relaxed.clear();
    iso.seccomp_allow.clear();
    iso.seccomp_deny.clear();
    iso.disk_quota.reset();
    iso.layers.back().on = false;
    jails_[1].isolation = iso;
    reloads_.generation = 3;
    reloads_.last_attempt = now - absl::Minutes(2);
    reloads_.last_ok = true;
  }

  // The sources; the fixture must outlive a collector built on them.
  MetricsSources Sources() {
    return {.snapshot = [this] { return snap_; },
            .rule_stats = [this] { return stats_; },
            .jails = [this] { return jails_; },
            .enforcements = [this] { return enforcements_; },
            .engine_health = [this] { return engine_health_.Read(); },
            .limit_drift = [] { return std::vector<LimitDriftCount>{{"web", "memoryuse", 2}}; },
            .api_rejected =
                [] {
                  return std::vector<std::pair<std::string, uint64_t>>{
                      {"peer_connections", 4}, {"unauthenticated", 1}};
                },
            .reloads = [this] { return reloads_; }};
  }

 private:
  std::shared_ptr<racct::Snapshot> snap_;
  std::shared_ptr<std::vector<platform::Enforcement>> enforcements_;
  std::vector<engine::RuleTargetStats> stats_;
  EngineHealthRecorder engine_health_;
  std::vector<JailStatus> jails_;
  ReloadHealth reloads_;
};

}  // namespace jailwarden::metrics::testing
