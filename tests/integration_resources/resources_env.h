#pragma once

// Shared fixture of the resource integration tests: one real Linux jail
// (jail::Manager on LinuxJailRuntime, busybox root on /dev/vda under /tmp)
// per test, with the static rctl_probe helper copied in, registered with a
// LinuxUsageReader and a LinuxLimitEnforcer. Root only; CI=true turns the
// skip into a failure. Everything created is removed in TearDown and
// checked with ExpectNothingLeft.

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "gtest/gtest.h"
#include "integration/helpers/jail_env.h"
#include "jailwarden/platform/linux/linux_limit_enforcer.h"
#include "jailwarden/platform/linux/linux_usage_reader.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::testing {

// A probe run in the jail in its own thread, its stdout read line by line.
class ProbeRun {
 public:
  ProbeRun(jail::Manager& m, const std::string& jail, std::vector<std::string> args,
           absl::Duration timeout = absl::Seconds(25)) {
    int out[2], in[2];
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
    out_ = out[0];
    in_ = in[1];
    platform::ExecRequest req;
    req.argv = {"/bin/rctl_probe"};
    req.argv.insert(req.argv.end(), args.begin(), args.end());
    req.stdout_fd = out[1];
    req.stdin_fd = in[0];
    req.timeout = timeout;
    int child_out = out[1], child_in = in[0];
    thread_ = std::thread([this, &m, jail, req, child_out, child_in] {
      result_ = m.Exec(jail, req);
      close(child_out);
      close(child_in);
    });
  }
  ~ProbeRun() {
    Finish();
    close(out_);
    if (in_ >= 0) {
      close(in_);
    }
  }

  // The next line of output ("" at EOF or after `timeout`).
  std::string Line(absl::Duration timeout = absl::Seconds(20)) {
    absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return "";
      }
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) {
        return "";
      }
      char tmp[512];
      ssize_t n = read(out_, tmp, sizeof(tmp));
      if (n <= 0) {
        return "";
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  // The first line starting with `prefix`.
  std::string LineStarting(const std::string& prefix) {
    for (std::string l = Line(); !l.empty(); l = Line()) {
      if (l.rfind(prefix, 0) == 0) {
        return l;
      }
    }
    return "";
  }
  // Lets a --wait probe go on.
  void Go() {
    EXPECT_EQ(write(in_, "g", 1), 1);
  }
  // One command byte to a "hold" probe, and its answer line.
  std::string Command(char c) {
    EXPECT_EQ(write(in_, &c, 1), 1);
    return Line();
  }
  // Waits for the probe; returns 128+signal for a signal, else the exit code.
  int Finish() {
    if (thread_.joinable()) {
      thread_.join();
    }
    if (!result_.ok()) {
      ADD_FAILURE() << result_.status();
      return -1;
    }
    return result_->term_signal != 0 ? 128 + result_->term_signal : result_->exit_code;
  }
  const absl::StatusOr<platform::ExecResult>& result() const { return result_; }

 private:
  int out_ = -1, in_ = -1;
  std::string buf_;
  std::thread thread_;
  absl::StatusOr<platform::ExecResult> result_ = absl::UnknownError("not run");
};

// Records a measured figure (shown in the output and the XML report).
inline void Measured(const std::string& what, double value) {
  std::cout << "[ measured ] " << what << " = " << value << std::endl;
  ::testing::Test::RecordProperty(what, std::to_string(value));
}

// The integer after "key=" in `line`, or -1.
inline int64_t Field(const std::string& line, const std::string& key) {
  size_t p = line.find(" " + key + "=");
  if (p == std::string::npos) {
    return -1;
  }
  return std::strtoll(line.c_str() + p + key.size() + 2, nullptr, 10);
}

class ResourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ws_ = JailWorkspace::Make("res");
    ASSERT_FALSE(BusyboxBase().empty());
    before_ = HostSnapshot::Take(ws_.cgroup_parent);
    manager_ = OpenManager(ws_);
    ASSERT_NE(manager_, nullptr);
    auto reader = platform::LinuxUsageReader::Create();
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = *std::move(reader);
    auto enforcer = platform::LinuxLimitEnforcer::Create();
    ASSERT_TRUE(enforcer.ok()) << enforcer.status();
    enforcer_ = *std::move(enforcer);
  }

  void TearDown() override {
    if (manager_ == nullptr) {
      return;
    }
    if (!name_.empty()) {
      (void)reader_->RemoveJail(name_);
      enforcer_->RemoveJail(name_);
      EXPECT_TRUE(manager_->Stop(name_).ok());
      EXPECT_TRUE(manager_->Destroy(name_).ok());
    }
    manager_.reset();
    ExpectNothingLeft(before_, ws_.cgroup_parent);
    RemoveTree(ws_.top);
  }

  // Creates and starts jail `name` with rctl_probe in /bin, registers it.
  void StartJail(const std::string& name,
                 std::function<void(platform::JailSpec&)> tweak = {}) {
    platform::JailSpec s;
    s.name = name;
    s.path = ws_.CopyRoot(name);
    s.persist = true;
    s.stop_timeout = absl::Seconds(2);
    if (tweak) {
      tweak(s);
    }
    std::string probe = s.path + "/bin/rctl_probe";
    ASSERT_EQ(system(("cp '" JW_RCTL_PROBE "' '" + probe + "'").c_str()), 0);
    ASSERT_TRUE(manager_->Create(s).ok());
    ASSERT_TRUE(manager_->Start(name).ok());
    name_ = name;
    auto rec = manager_->Get(name);
    ASSERT_TRUE(rec.ok());
    instance_ = rec->instance;
    if (instance_.ref.name.empty()) {
      instance_.ref.name = name;
    }
    auto ref = reader_->AddJail(instance_);
    ASSERT_TRUE(ref.ok()) << ref.status();
    ref_ = *ref;
    ASSERT_TRUE(enforcer_->AddJail(instance_).ok());
  }

  // Applies rules written in kernel form ("jail:x:memoryuse:deny=64m"
  // without the subject: `text` starts at the resource).
  std::vector<platform::Enforcement> Apply(const std::vector<std::string>& rules) {
    std::vector<rctl::Rule> parsed;
    for (const std::string& r : rules) {
      std::string text = r.rfind("process:", 0) == 0 || r.rfind("user:", 0) == 0 ||
                                 r.rfind("loginclass:", 0) == 0
                             ? r
                             : "jail:" + name_ + ":" + r;
      auto rule = rctl::ParseRuleForAdd(text);
      EXPECT_TRUE(rule.ok()) << text << ": " << rule.status();
      if (rule.ok()) {
        parsed.push_back(*rule);
      }
    }
    auto out = enforcer_->Apply(ref_, parsed);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : std::vector<platform::Enforcement>{};
  }

  platform::RawUsage Fast() {
    platform::RawUsage u;
    absl::Status st = reader_->ReadFast(ref_, u);
    EXPECT_TRUE(st.ok()) << st;
    return u;
  }
  platform::RawUsage Slow(std::vector<platform::ProcessUsage>* procs = nullptr) {
    platform::RawUsage u;
    absl::Status st = reader_->ReadSlow(ref_, u, procs);
    EXPECT_TRUE(st.ok()) << st;
    return u;
  }
  static int64_t Get(const platform::RawUsage& u, rctl::Resource r) {
    EXPECT_TRUE(u.present[rctl::Index(r)]) << rctl::ResourceName(r) << " not present";
    return u.value[rctl::Index(r)];
  }
  // The probe's entry in a slow-tier process list.
  static const platform::ProcessUsage* Probe(const std::vector<platform::ProcessUsage>& ps) {
    for (const auto& p : ps) {
      if (p.comm == "rctl_probe") {
        return &p;
      }
    }
    return nullptr;
  }

  JailWorkspace ws_;
  HostSnapshot before_;
  std::unique_ptr<jail::Manager> manager_;
  std::unique_ptr<platform::LinuxUsageReader> reader_;
  std::unique_ptr<platform::LinuxLimitEnforcer> enforcer_;
  std::string name_;
  platform::JailInstance instance_;
  platform::JailRef ref_;
};

}  // namespace jailwarden::testing
