#pragma once

// Test-only host backend for the service tests: a FakeJailRuntime, a
// FakeUsageReader and an enforcer that records what each jail was given
// (and can be told to fail). Shared by service_test.cc, recovery_test.cc and
// the bad-input suite (tests/badinput).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "fakes/fake_jail_runtime.h"
#include "fakes/fake_usage_reader.h"
#include "jailwarden/rctl/kernel_form.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/service/daemon.h"
#include "jailwarden/service/host_backend.h"

namespace jailwarden::service::testing_support {

class RecordingEnforcer : public platform::LimitEnforcer {
 public:
  absl::StatusOr<std::vector<platform::Enforcement>> Apply(
      const platform::JailRef& jail, const std::vector<rctl::Rule>& rules) override {
    absl::MutexLock l(&mu_);
    if (fail_ || jail.name == fail_jail_) return absl::InternalError("cgroup write failed");
    std::vector<std::string> texts;
    std::vector<platform::Enforcement> out;
    for (const rctl::Rule& r : rules) {
      texts.push_back(rctl::FormatRule(r));
      out.push_back(Describe(r));
    }
    applied_[jail.name] = texts;
    ++applies_[jail.name];
    return out;
  }
  platform::Enforcement Describe(const rctl::Rule& rule) const override {
    platform::Enforcement e;
    e.rule = rule;
    e.fidelity = platform::Fidelity::kExact;
    e.mechanism = "fake";
    return e;
  }
  std::vector<std::string> Applied(const std::string& jail) {
    absl::MutexLock l(&mu_);
    return applied_[jail];
  }
  // Every jail's last applied rules, by jail.
  std::map<std::string, std::vector<std::string>> AppliedAll() {
    absl::MutexLock l(&mu_);
    return applied_;
  }
  int Applies(const std::string& jail) {
    absl::MutexLock l(&mu_);
    return applies_[jail];
  }
  void Fail(bool f) {
    absl::MutexLock l(&mu_);
    fail_ = f;
  }
  // Only this jail's applies fail ("" = none).
  void FailFor(std::string jail) {
    absl::MutexLock l(&mu_);
    fail_jail_ = std::move(jail);
  }
  // The next CheckAndRepair of `jail` finds `drift` (once).
  void Drift(const std::string& jail, platform::LimitDrift drift) {
    absl::MutexLock l(&mu_);
    drift_[jail].push_back(std::move(drift));
  }
  absl::StatusOr<std::vector<platform::LimitDrift>> CheckAndRepair(
      const platform::JailRef& jail) override {
    absl::MutexLock l(&mu_);
    std::vector<platform::LimitDrift> out = std::move(drift_[jail.name]);
    drift_.erase(jail.name);
    return out;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<std::string>> applied_;
  std::map<std::string, int> applies_;
  std::map<std::string, std::vector<platform::LimitDrift>> drift_;
  bool fail_ = false;
  std::string fail_jail_;
};

class FakeHostBackend : public HostBackend {
 public:
  FakeHostBackend() : runtime_(std::make_unique<::jailwarden::testing::FakeJailRuntime>()) {
    runtime_ptr_ = runtime_.get();
  }
  std::string_view name() const override { return "fake"; }
  std::unique_ptr<platform::JailRuntime> TakeRuntime() override {
    return std::move(runtime_);
  }
  platform::UsageReader& reader() override { return reader_; }
  platform::LimitEnforcer& enforcer() override { return enforcer_; }
  absl::StatusOr<platform::JailRef> AddJail(const platform::JailInstance& i) override {
    reader_.AddJail(i.ref.name, i.ref.jid);
    platform::JailRef ref = i.ref;
    ref.handle = static_cast<uint64_t>(i.ref.jid);
    return ref;
  }
  void RemoveJail(std::string_view name) override { reader_.RemoveJail(name); }
  bool DenyIsSampled(const rctl::Rule&) const override { return false; }

  ::jailwarden::testing::FakeJailRuntime* runtime_ptr_;
  fakes::FakeUsageReader reader_;
  RecordingEnforcer enforcer_;

 private:
  std::unique_ptr<::jailwarden::testing::FakeJailRuntime> runtime_;
};

// A Daemon over a FakeHostBackend from `policy`, as `serve` makes it when
// the policy was read from `config_path` ("" for policy text): no HTTP, no
// sampler, no maintenance pass within a test.
inline absl::StatusOr<std::unique_ptr<Daemon>> StartScriptedDaemon(policy::Policy policy,
                                                                   std::string config_path = "") {
  DaemonOptions o;
  o.config_path = std::move(config_path);
  o.serve_http = false;
  o.run_sampler = false;
  o.maintenance_interval = absl::Hours(1);
  return Daemon::Start(o, std::move(policy), std::make_unique<FakeHostBackend>());
}

}  // namespace jailwarden::service::testing_support
