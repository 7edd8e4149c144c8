#pragma once

// What the manager tests share: a JailRuntime forwarding to a
// FakeJailRuntime, two JailSpecs, and the ManagerTest fixture (a Manager
// over a temporary state directory, its lifecycle events recorded).

#include <stdlib.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_jail_runtime.h"
#include "gtest/gtest.h"
#include "jailwarden/jail/manager.h"

namespace jailwarden::jail::testing {

// The fake runtime outlives the Manager that owns a forwarding wrapper, so
// one fake can serve a "restarted" manager too.
class Forwarding : public platform::JailRuntime {
 public:
  explicit Forwarding(::jailwarden::testing::FakeJailRuntime* f) : f_(f) {}
  absl::Status Prepare(const platform::JailSpec& s, platform::JailInstance& i) override {
    return f_->Prepare(s, i);
  }
  absl::Status Create(const platform::JailSpec& s, platform::JailInstance& i) override {
    return f_->Create(s, i);
  }
  absl::Status AttachNetwork(const platform::JailSpec& s, platform::JailInstance& i) override {
    return f_->AttachNetwork(s, i);
  }
  absl::StatusOr<platform::ExecResult> Exec(const platform::JailInstance& i,
                                            platform::ExecWhere w,
                                            const platform::ExecRequest& r) override {
    return f_->Exec(i, w, r);
  }
  absl::StatusOr<int64_t> Spawn(const platform::JailInstance& i,
                                const platform::ExecRequest& r) override {
    return f_->Spawn(i, r);
  }
  absl::Status SignalAll(const platform::JailInstance& i, int s) override {
    return f_->SignalAll(i, s);
  }
  absl::StatusOr<int> CountProcesses(const platform::JailInstance& i) override {
    return f_->CountProcesses(i);
  }
  absl::Status ClearPersist(platform::JailInstance& i) override { return f_->ClearPersist(i); }
  absl::Status Remove(platform::JailInstance& i) override { return f_->Remove(i); }
  absl::Status Teardown(const platform::JailSpec& s, platform::JailInstance& i) override {
    return f_->Teardown(s, i);
  }
  absl::StatusOr<bool> Adopt(platform::JailInstance& i) override { return f_->Adopt(i); }

 private:
  ::jailwarden::testing::FakeJailRuntime* f_;
};

inline platform::JailSpec HookSpec(const std::string& name) {
  platform::JailSpec s;
  s.name = name;
  s.path = "/jails/" + name;
  s.exec.prepare = {"prepare1"};
  s.exec.prestart = {"prestart1", "prestart2"};
  s.exec.created = {"created1"};
  s.exec.start = {"rc.start"};
  s.exec.poststart = {"poststart1"};
  s.exec.prestop = {"prestop1"};
  s.exec.stop = {"rc.stop"};
  s.exec.poststop = {"poststop1"};
  s.exec.release = {"release1"};
  s.stop_timeout = absl::Milliseconds(100);
  return s;
}

inline platform::JailSpec Plain(const std::string& name, std::vector<std::string> depend = {}) {
  platform::JailSpec s;
  s.name = name;
  s.path = "/jails/" + name;
  s.depend = std::move(depend);
  return s;
}

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-manager-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    manager_ = OpenManager();
  }
  void TearDown() override {
    manager_.reset();
    (void)!system(("rm -rf " + dir_).c_str());
  }
  std::unique_ptr<Manager> OpenManager() {
    ManagerOptions o;
    o.state_dir = dir_ + "/state";
    o.fsync = false;
    o.observer = [this](const LifecycleEvent& e) { events_.push_back(e); };
    o.on_kernel_jail_created = on_created_;
    o.on_kernel_jail_removed = on_removed_;
    auto m = Manager::Open(o, std::make_unique<Forwarding>(&rt_));
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *std::move(m) : nullptr;
  }

  // Reopens the manager with the hooks set.
  void SetHooks(std::function<absl::Status(const platform::JailInstance&)> on_created,
                std::function<void(const std::string&)> on_removed) {
    on_created_ = std::move(on_created);
    on_removed_ = std::move(on_removed);
    manager_.reset();
    manager_ = OpenManager();
  }

  std::string dir_;
  ::jailwarden::testing::FakeJailRuntime rt_;
  std::function<absl::Status(const platform::JailInstance&)> on_created_;
  std::function<void(const std::string&)> on_removed_;
  std::vector<LifecycleEvent> events_;
  std::unique_ptr<Manager> manager_;
};

}  // namespace jailwarden::jail::testing
