#pragma once

// An api::Daemon that keeps jails and rules in memory, for api and cli
// tests. Thread-safe.

#include <unistd.h>

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/engine/event_stream.h"
#include "jailwarden/jail/logs.h"
#include "jailwarden/rctl/rctl_command.h"
#include "jailwarden/rctl/rule_set.h"

namespace jailwarden::testing {

class FakeDaemon : public api::Daemon {
 public:
  FakeDaemon() : backend_(&rules_) {}

  void AddJail(std::string name, std::string state = "running", int64_t jid = 1) {
    absl::MutexLock l(&mu_);
    api::JailInfo j;
    j.name = name;
    j.state = state;
    j.jid = state == "running" ? jid : -1;
    j.path = StrCat("/var/lib/jailwarden/roots/", name);
    j.base_root = "/var/lib/jailwarden/base/busybox";
    jails_[name] = j;
  }
  // Issue 13: the isolation GET /v1/jails/NAME reports for `name`.
  void SetIsolation(const std::string& name, platform::IsolationStatus iso) {
    absl::MutexLock l(&mu_);
    jails_[name].isolation = std::move(iso);
  }
  void SetReady(bool r) {
    absl::MutexLock l(&mu_);
    ready_ = r;
  }
  std::vector<std::string> calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }
  rctl::RuleSet rules() {
    absl::MutexLock l(&mu_);
    return rules_;
  }

  std::vector<api::JailInfo> ListJails() override {
    absl::MutexLock l(&mu_);
    std::vector<api::JailInfo> out;
    for (const auto& [n, j] : jails_) out.push_back(j);
    return out;
  }
  // Issue 17: logs of the known jails under `log_root` (jail::LogDirFor).
  absl::StatusOr<std::string> JailLogDir(std::string_view name) override {
    absl::MutexLock l(&mu_);
    if (jails_.find(std::string(name)) == jails_.end()) return absl::NotFoundError("no such jail");
    if (log_root.empty()) return absl::UnimplementedError("no logs");
    return jail::LogDirFor(log_root, name);
  }
  std::string log_root;

  absl::StatusOr<api::JailInfo> GetJail(std::string_view name) override {
    absl::MutexLock l(&mu_);
    auto it = jails_.find(std::string(name));
    if (it == jails_.end()) return absl::NotFoundError("no such jail");
    return it->second;
  }
  absl::Status CreateJail(const api::CreateJailRequest& r) override {
    absl::MutexLock l(&mu_);
    calls_.push_back(StrCat("create ", r.spec.name, " path=", r.spec.path,
                            " limits=", Join(r.limits, ";")));
    if (jails_.count(r.spec.name)) return absl::AlreadyExistsError("exists");
    api::JailInfo j;
    j.name = r.spec.name;
    j.state = r.start ? "running" : "stopped";
    j.path = r.spec.path;
    jails_[j.name] = j;
    return absl::OkStatus();
  }
  absl::StatusOr<api::JailChange> DestroyJail(std::string_view name) override {
    return Action("destroy", name);
  }
  absl::StatusOr<api::JailChange> StartJail(std::string_view name) override {
    return Action("start", name);
  }
  absl::StatusOr<api::JailChange> StopJail(std::string_view name) override {
    return Action("stop", name);
  }
  absl::StatusOr<api::JailChange> RestartJail(std::string_view name) override {
    return Action("restart", name);
  }
  absl::StatusOr<platform::ExecResult> Exec(
      std::string_view name, const platform::ExecRequest& request) override {
    {
      absl::MutexLock l(&mu_);
      calls_.push_back(StrCat("exec ", name, " ", Join(request.argv, " ")));
    }
    // "echo" writes its arguments to stdout, "fail" to stderr and exits 3.
    const std::string text = Join(std::vector<std::string>(request.argv.begin() + 1,
                                                           request.argv.end()),
                                  " ") + "\n";
    platform::ExecResult r;
    if (request.argv[0] == "fail") {
      (void)!write(request.stderr_fd, text.data(), text.size());
      r.exit_code = 3;
    } else {
      (void)!write(request.stdout_fd, text.data(), text.size());
      r.exit_code = 0;
    }
    return r;
  }
  absl::StatusOr<platform::ExecResult> Run(
      const api::RunRequest& run, const platform::ExecRequest& request) override {
    {
      absl::MutexLock l(&mu_);
      calls_.push_back(StrCat("run ", run.template_name));
    }
    return Exec("oneshot", request);
  }
  rctl::RctlBackend& Rctl() override { return backend_; }
  absl::StatusOr<std::vector<api::RuleInfo>> DescribeRules(
      std::string_view filter) override {
    absl::StatusOr<std::string> text = backend_.GetRules(filter);
    if (!text.ok()) return text.status();
    std::vector<api::RuleInfo> out;
    for (std::string_view r : Split(*text, ',')) {
      if (!r.empty()) out.push_back({std::string(r), "exact", "fake", ""});
    }
    return out;
  }
  absl::StatusOr<api::ApplyResult> Apply(std::string_view text,
                                         std::string_view filename,
                                         bool dry_run) override {
    if (text.find("bad") != std::string_view::npos) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat(filename, ":3:7: unknown key 'bad'\n", filename,
                        ":9:1: another problem")));
    }
    api::ApplyResult r;
    r.changed = !dry_run;
    r.diff = "add jail db\n";
    return r;
  }
  api::DaemonStatus Status() override {
    absl::MutexLock l(&mu_);
    api::DaemonStatus s;
    s.ready = ready_;
    s.backend = "fake";
    s.jails = jails_.size();
    return s;
  }
  // What LatestSnapshot returns (nullptr, as before the first tick, unless
  // a test sets one).
  void SetSnapshot(std::shared_ptr<const racct::Snapshot> snap) {
    absl::MutexLock l(&mu_);
    snapshot_ = std::move(snap);
  }
  std::shared_ptr<const racct::Snapshot> LatestSnapshot() override {
    absl::MutexLock l(&mu_);
    return snapshot_;
  }
  engine::EventStream& Events() override { return events_; }

 private:
  // As the service's Lifecycle answers: start of a running jail and stop
  // of a stopped one change nothing.
  absl::StatusOr<api::JailChange> Action(std::string_view what, std::string_view name) {
    absl::MutexLock l(&mu_);
    calls_.push_back(StrCat(what, " ", name));
    auto it = jails_.find(std::string(name));
    if (it == jails_.end()) return absl::NotFoundError(ToAbsl(StrCat("no jail named '", name, "'")));
    const std::string previous = it->second.state;
    if (what == "destroy") {
      jails_.erase(it);
      return api::JailChange{true, "destroyed", previous};
    }
    const std::string want = what == "stop" ? "stopped" : "running";
    const bool changed = what == "restart" || previous != want;
    it->second.state = want;
    return api::JailChange{changed, want, previous};
  }

  absl::Mutex mu_;
  std::map<std::string, api::JailInfo> jails_;
  std::vector<std::string> calls_;
  bool ready_ = true;
  std::shared_ptr<const racct::Snapshot> snapshot_;
  rctl::RuleSet rules_;
  rctl::RuleSetBackend backend_;
  engine::EventStream events_;
};

}  // namespace jailwarden::testing
