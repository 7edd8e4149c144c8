#pragma once

// A scripted platform::JailRuntime for jail-layer and service tests. It
// records every call (and every hook command with where it ran) in one
// ordered log, keeps "running" jails in memory, and can fail a chosen step
// or make a command exit non-zero. Header-only. Thread-safe.
//
//   FakeJailRuntime rt;
//   rt.FailCommandContaining("boom", 3);          // sh -c "...boom..." exits 3
//   rt.FailStep("create", absl::InternalError("no"));
//   ... run the Manager ...
//   EXPECT_THAT(rt.Log(), ElementsAre("prepare web", "host web: echo a", ...));

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::testing {

class FakeJailRuntime : public platform::JailRuntime {
 public:
  // Log lines: "<step> <jail>" for backend calls ("prepare web",
  // "create web", "attach-network web", "clear-persist web",
  // "signal web 15", "remove web", "teardown web", "adopt web"), and
  // "host <jail>: <cmd>" / "jail <jail>: <cmd>" for commands run through
  // Exec with argv {"/bin/sh", "-c", cmd} (other argv: joined by spaces).
  std::vector<std::string> Log() {
    absl::MutexLock l(&mu_);
    return log_;
  }
  void ClearLog() {
    absl::MutexLock l(&mu_);
    log_.clear();
  }
  // Environment of the last command run.
  std::map<std::string, std::string> LastEnv() {
    absl::MutexLock l(&mu_);
    return last_env_;
  }
  bool LastCleanEnv() {
    absl::MutexLock l(&mu_);
    return last_clean_;
  }

  // Commands containing `needle` exit with `code` (until cleared).
  void FailCommandContaining(std::string needle, int code) {
    absl::MutexLock l(&mu_);
    failing_commands_[std::move(needle)] = code;
  }
  // Commands containing `needle` time out.
  void TimeOutCommandContaining(std::string needle) {
    absl::MutexLock l(&mu_);
    timing_out_.insert(std::move(needle));
  }
  // The backend step ("prepare", "create", "attach-network", "remove",
  // "teardown") fails with `status` (every time, until cleared).
  void FailStep(std::string step, absl::Status status) {
    absl::MutexLock l(&mu_);
    failing_steps_[std::move(step)] = std::move(status);
  }
  void ClearFailures() {
    absl::MutexLock l(&mu_);
    failing_commands_.clear();
    failing_steps_.clear();
    timing_out_.clear();
  }
  // Processes that count as running in `jail` (default 0).
  void SetProcesses(const std::string& jail, int n) {
    absl::MutexLock l(&mu_);
    processes_[jail] = n;
  }
  // Makes a running jail end by itself (Adopt then reports false).
  void EndJail(const std::string& jail) {
    absl::MutexLock l(&mu_);
    running_.erase(jail);
  }
  bool IsRunning(const std::string& jail) {
    absl::MutexLock l(&mu_);
    return running_.count(jail) != 0;
  }
  // command: (issue 17). A scripted supervisor: StartMain records
  // "start-main <jail>" and the main process runs until SetMain changes
  // its record; MainStatus answers the record and counts the round trip.
  void SetMain(const std::string& jail, platform::MainProcessStatus status) {
    absl::MutexLock l(&mu_);
    mains_[jail] = status;
  }
  int MainStatusCalls() {
    absl::MutexLock l(&mu_);
    return main_status_calls_;
  }
  // Isolation (issue 13): every layer on, and the calls counted.
  std::optional<platform::IsolationStatus> Isolation(const platform::JailInstance&) override {
    absl::MutexLock l(&mu_);
    ++isolation_calls_;
    platform::IsolationStatus st;
    for (const char* layer : platform::kIsolationLayers) {
      st.layers.push_back(platform::IsolationLayer{.layer = layer, .on = true});
    }
    return st;
  }
  int IsolationCalls() {
    absl::MutexLock l(&mu_);
    return isolation_calls_;
  }
  absl::StatusOr<platform::MainProcessStatus> StartMain(const platform::JailInstance& inst,
                                                        const platform::ExecRequest&,
                                                        const platform::MainSpec&,
                                                        const std::string&) override {
    absl::MutexLock l(&mu_);
    Record("start-main " + inst.ref.name);
    platform::MainProcessStatus st;
    st.configured = true;
    st.running = true;
    st.pid = next_pid_++;
    st.starts = 1;
    mains_[inst.ref.name] = st;
    return st;
  }
  absl::StatusOr<platform::MainProcessStatus> MainStatus(
      const platform::JailInstance& inst) override {
    absl::MutexLock l(&mu_);
    ++main_status_calls_;
    auto it = mains_.find(inst.ref.name);
    if (it == mains_.end()) return absl::FailedPreconditionError("no main process");
    return it->second;
  }
  absl::StatusOr<platform::MainProcessStatus> StopMain(const platform::JailInstance& inst,
                                                       absl::Duration) override {
    absl::MutexLock l(&mu_);
    Record("stop-main " + inst.ref.name);
    platform::MainProcessStatus& st = mains_[inst.ref.name];
    st.running = false;
    st.stopped = true;
    return st;
  }

  // Jails whose Prepare ran and Teardown did not.
  std::set<std::string> Prepared() {
    absl::MutexLock l(&mu_);
    return prepared_;
  }

  absl::Status Prepare(const platform::JailSpec& spec,
                       platform::JailInstance& inst) override {
    absl::MutexLock l(&mu_);
    Record("prepare " + spec.name);
    if (auto st = StepStatus("prepare"); !st.ok()) {
      return st;
    }
    prepared_.insert(spec.name);
    inst.backend_state["fake.prepared"] = "1";
    return absl::OkStatus();
  }
  absl::Status Create(const platform::JailSpec& spec, platform::JailInstance& inst) override {
    absl::MutexLock l(&mu_);
    Record("create " + spec.name);
    if (auto st = StepStatus("create"); !st.ok()) {
      return st;
    }
    running_.insert(spec.name);
    inst.init_pid = next_pid_++;
    inst.backend_state["fake.pid"] = std::to_string(inst.init_pid);
    return absl::OkStatus();
  }
  absl::Status AttachNetwork(const platform::JailSpec& spec,
                             platform::JailInstance&) override {
    absl::MutexLock l(&mu_);
    Record("attach-network " + spec.name);
    return StepStatus("attach-network");
  }
  absl::StatusOr<platform::ExecResult> Exec(const platform::JailInstance& inst,
                                            platform::ExecWhere where,
                                            const platform::ExecRequest& req) override {
    absl::MutexLock l(&mu_);
    std::string cmd;
    if (req.argv.size() == 3 && req.argv[0] == "/bin/sh" && req.argv[1] == "-c") {
      cmd = req.argv[2];
    } else {
      for (const std::string& a : req.argv) {
        cmd += (cmd.empty() ? "" : " ") + a;
      }
    }
    Record((where == platform::ExecWhere::kHost ? "host " : "jail ") + inst.ref.name + ": " +
           cmd);
    last_env_ = req.env;
    last_clean_ = req.clean_env;
    platform::ExecResult r;
    r.exit_code = 0;
    if (where == platform::ExecWhere::kJail && running_.count(inst.ref.name) == 0) {
      return absl::FailedPreconditionError("jail not running");
    }
    for (const auto& [needle, code] : failing_commands_) {
      if (cmd.find(needle) != std::string::npos) {
        r.exit_code = code;
      }
    }
    for (const std::string& needle : timing_out_) {
      if (cmd.find(needle) != std::string::npos) {
        r.timed_out = true;
        r.term_signal = 9;
      }
    }
    return r;
  }
  absl::StatusOr<int64_t> Spawn(const platform::JailInstance& inst,
                                const platform::ExecRequest&) override {
    absl::MutexLock l(&mu_);
    Record("spawn " + inst.ref.name);
    return next_pid_++;
  }
  absl::Status SignalAll(const platform::JailInstance& inst, int sig) override {
    absl::MutexLock l(&mu_);
    Record("signal " + inst.ref.name + " " + std::to_string(sig));
    processes_[inst.ref.name] = 0;  // everything obeys SIGTERM
    return absl::OkStatus();
  }
  absl::StatusOr<int> CountProcesses(const platform::JailInstance& inst) override {
    absl::MutexLock l(&mu_);
    return processes_[inst.ref.name];
  }
  absl::Status ClearPersist(platform::JailInstance& inst) override {
    absl::MutexLock l(&mu_);
    Record("clear-persist " + inst.ref.name);
    return StepStatus("clear-persist");
  }
  absl::Status Remove(platform::JailInstance& inst) override {
    absl::MutexLock l(&mu_);
    Record("remove " + inst.ref.name);
    running_.erase(inst.ref.name);
    return StepStatus("remove");
  }
  absl::Status Teardown(const platform::JailSpec& spec, platform::JailInstance&) override {
    absl::MutexLock l(&mu_);
    Record("teardown " + spec.name);
    prepared_.erase(spec.name);
    return StepStatus("teardown");
  }
  absl::StatusOr<bool> Adopt(platform::JailInstance& inst) override {
    absl::MutexLock l(&mu_);
    return running_.count(inst.ref.name) != 0;
  }

 private:
  void Record(std::string line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    log_.push_back(std::move(line));
  }
  absl::Status StepStatus(const std::string& step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = failing_steps_.find(step);
    return it == failing_steps_.end() ? absl::OkStatus() : it->second;
  }

  absl::Mutex mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> failing_commands_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> timing_out_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> failing_steps_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> running_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> prepared_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> processes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> last_env_ ABSL_GUARDED_BY(mu_);
  bool last_clean_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_pid_ ABSL_GUARDED_BY(mu_) = 1000;
  std::map<std::string, platform::MainProcessStatus> mains_ ABSL_GUARDED_BY(mu_);
  int main_status_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int isolation_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jailwarden::testing
