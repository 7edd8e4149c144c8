#pragma once

// The shared fixture of the service tests over the scripted platform
// (service_test.cc, events_health_test.cc, health_template_test.cc,
// recovery_test.cc): a temporary state directory and a Daemon over a
// FakeHostBackend (no HTTP, no sampler). TearDown ends the daemon and
// removes the directory. No root. Not thread-safe (a gtest fixture).

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/service/daemon.h"
#include "service/fake_host_backend.h"

namespace jailwarden::service::testing_support {

class ScriptedDaemonTest : public ::testing::Test {
 protected:
  // state_: a new directory /tmp/PREFIX-XXXXXX.
  void MakeStateDir(const std::string& prefix) {
    std::string dir = StrCat("/tmp/", prefix, "-XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    state_ = dir;
  }

  void TearDown() override {
    daemon_.reset();
    if (!state_.empty()) (void)std::system(StrCat("rm -rf '", state_, "'").c_str());
  }

  // Starts daemon_ from the policy text `text` over a new FakeHostBackend
  // (host_, owned by the daemon), its maintenance pass every
  // `maintenance`. Fails the test if the policy or the start fails.
  void StartDaemon(const std::string& text, absl::Duration maintenance) {
    absl::StatusOr<policy::Policy> p = policy::LoadPolicyText(text, "test.yaml");
    ASSERT_TRUE(p.ok()) << p.status();
    auto backend = std::make_unique<FakeHostBackend>();
    host_ = backend.get();
    DaemonOptions o;
    o.serve_http = false;
    o.run_sampler = false;
    o.maintenance_interval = maintenance;
    absl::StatusOr<std::unique_ptr<Daemon>> d =
        Daemon::Start(o, *std::move(p), std::move(backend));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = *std::move(d);
  }

  std::string state_;
  FakeHostBackend* host_ = nullptr;
  std::unique_ptr<Daemon> daemon_;
};

}  // namespace jailwarden::service::testing_support
