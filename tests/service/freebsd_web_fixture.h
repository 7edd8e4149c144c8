#pragma once

// The shared fixture of the FreeBSD supervised-main-process tests
// (freebsd_command_test.cc, freebsd_main_host_test.cc): the whole serve
// path in process over FakeFreeBsdKernel (no HTTP, no sampler,
// maintenance every 20 ms) on a temporary state directory, with a policy
// that has a jail "web". Runs on every OS, no root. TearDown stops web (so
// its log writer, a real jailwarden-logd, ends too), ends the daemon, then
// drops the launcher, and removes the state directory. Not thread-safe (a
// gtest fixture).

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "fakes/freebsd/fake_kernel.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/main_host.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/service/daemon.h"
#include "jailwarden/service/host_backend.h"

namespace jailwarden::service {

class FreeBsdWebDaemonTest : public ::testing::Test {
 protected:
  // state_: a new directory /tmp/PREFIX-XXXXXX.
  void MakeStateDir(const std::string& prefix) {
    std::string dir = StrCat("/tmp/", prefix, "-XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    state_ = dir;
  }

  // Starts daemon_ over kernel_ with `policy` (its first STATE replaced by
  // state_) and, if launcher_ is set, that launcher of main process hosts.
  void StartDaemon(const std::string& policy) {
    std::string text = policy;
    text.replace(text.find("STATE"), 5, state_);
    absl::StatusOr<policy::Policy> p = policy::LoadPolicyText(text, "jailwarden.yaml");
    ASSERT_TRUE(p.ok()) << p.status();
    FreeBsdBackendOptions bo;
    bo.run_dir = RunDirFor(state_);
    if (launcher_ != nullptr) bo.runtime.main_launcher = launcher_;
    absl::StatusOr<std::unique_ptr<HostBackend>> backend = NewFreeBsdHostBackend(kernel_, bo);
    ASSERT_TRUE(backend.ok()) << backend.status();
    DaemonOptions o;
    o.serve_http = false;
    o.run_sampler = false;
    o.maintenance_interval = absl::Milliseconds(20);
    absl::StatusOr<std::unique_ptr<Daemon>> d =
        Daemon::Start(o, *std::move(p), *std::move(backend));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = *std::move(d);
  }

  void TearDown() override {
    // Stopped, so the jail's log writer (a real process) ends too.
    if (daemon_ != nullptr) (void)daemon_->StopJail("web");
    daemon_.reset();
    launcher_.reset();
    if (!state_.empty()) (void)std::system(StrCat("rm -rf '", state_, "'").c_str());
  }

  // Web's main process record, if the daemon has one.
  std::optional<platform::MainProcessStatus> WebMain() {
    absl::StatusOr<api::JailInfo> info = daemon_->GetJail("web");
    return info.ok() ? info->main : std::nullopt;
  }

  platform::FakeFreeBsdKernel kernel_;
  std::string state_;
  std::shared_ptr<platform::InProcessMainLauncher> launcher_;  // null: the backend's own
  std::unique_ptr<Daemon> daemon_;
};

}  // namespace jailwarden::service
