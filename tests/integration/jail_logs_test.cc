// Root-only (issue 17): a jail's captured output in real Linux jails. The
// main process's and the hooks' stdout/stderr reach the jail's log writer
// (jailwarden-logd, a host process of its own) as records with stream and
// source; the writer keeps going while no manager (daemon) exists; files
// rotate at log.max_size and never exceed max_size * max_files; a flood is
// dropped with a counted marker; exec.consolelog gets the hooks' output.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"
#include "jailwarden/jail/log_sink.h"
#include "jailwarden/jail/logs.h"

namespace jailwarden::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

class JailLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ws_ = JailWorkspace::Make("logs");
    ASSERT_FALSE(BusyboxBase().empty());
    before_ = HostSnapshot::Take(ws_.cgroup_parent);
    sink_ = std::make_unique<jail::JailLogSink>(ws_.state_dir,
                                                std::string(JW_BINARY_DIR) + "/src/jailwarden-logd");
    Open();
  }
  void Open() {
    auto rt = platform::NewLinuxJailRuntime(RuntimeOptions(ws_));
    ASSERT_TRUE(rt.ok()) << rt.status();
    jail::ManagerOptions o;
    o.state_dir = ws_.state_dir;
    o.log_sink = sink_.get();
    auto m = jail::Manager::Open(o, *std::move(rt));
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = *std::move(m);
  }
  void TearDown() override {
    if (manager_ != nullptr) {
      EXPECT_TRUE(manager_->StopAll().ok());
      manager_.reset();
      sink_.reset();
      ExpectNothingLeft(before_, ws_.cgroup_parent);
    }
    RemoveTree(ws_.top);
  }

  platform::JailSpec Spec(const std::string& name, std::vector<std::string> argv) {
    platform::JailSpec s;
    s.name = name;
    s.path = ws_.CopyRoot(name);
    s.stop_timeout = absl::Seconds(2);
    s.main.argv = std::move(argv);
    return s;
  }

  std::string Dir(const std::string& name) const { return jail::LogDirFor(ws_.state_dir, name); }

  // The records of `name` until one has `text` (at most 10 s).
  std::vector<jail::LogRecord> WaitForText(const std::string& name, const std::string& text) {
    std::vector<jail::LogRecord> last;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      absl::StatusOr<std::vector<jail::LogRecord>> r = jail::ReadLogs(Dir(name), {});
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return last;
      last = *r;
      for (const jail::LogRecord& rec : last) {
        if (rec.text.find(text) != std::string::npos) return last;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "no record with '" << text << "' in " << Dir(name);
    return last;
  }

  JailWorkspace ws_;
  HostSnapshot before_;
  std::unique_ptr<jail::JailLogSink> sink_;
  std::unique_ptr<jail::Manager> manager_;
};

bool Has(const std::vector<jail::LogRecord>& rs, std::string_view stream, std::string_view source,
         std::string_view text) {
  for (const jail::LogRecord& r : rs) {
    if (r.stream == stream && r.source == source && r.text == text) return true;
  }
  return false;
}

TEST_F(JailLogsTest, MainAndHookOutputAreRecordsWithStreamAndSource) {
  platform::JailSpec s = Spec("log1", {"/bin/sh", "-c", "echo out-1; echo err-1 >&2; exec sleep 1000"});
  s.exec.start = {"echo from-start; echo start-err >&2"};
  s.exec.prestart = {"echo from-prestart"};
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("log1").ok());
  std::vector<jail::LogRecord> rs = WaitForText("log1", "err-1");
  rs = WaitForText("log1", "out-1");
  EXPECT_TRUE(Has(rs, "stdout", "main", "out-1"));
  EXPECT_TRUE(Has(rs, "stderr", "main", "err-1"));
  EXPECT_TRUE(Has(rs, "stdout", "exec.start", "from-start"));
  EXPECT_TRUE(Has(rs, "stderr", "exec.start", "start-err"));
  EXPECT_TRUE(Has(rs, "stdout", "exec.prestart", "from-prestart"));
  struct stat st;
  ASSERT_EQ(stat(Dir("log1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((Dir("log1") + "/current.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(JailLogsTest, OutputKeepsBeingWrittenWhileNoDaemonExists) {
  platform::JailSpec s = Spec(
      "log2", {"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.05; done"});
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("log2").ok());
  WaitForText("log2", "tick-2");
  // The daemon goes (as after a kill -9: nothing is stopped, nothing told).
  manager_.reset();
  std::vector<jail::LogRecord> rs = WaitForText("log2", "tick-30");
  Open();
  ASSERT_NE(manager_, nullptr);
  rs = WaitForText("log2", "tick-40");
  // Nothing lost: every tick from 1 to 40 once, in order.
  int next = 1;
  for (const jail::LogRecord& r : rs) {
    if (r.source != "main" || next > 40) continue;
    EXPECT_EQ(r.text, "tick-" + std::to_string(next));
    ++next;
  }
  EXPECT_GT(next, 40);
}

TEST_F(JailLogsTest, RotationKeepsAtMostMaxFilesOfMaxSize) {
  platform::JailSpec s = Spec(
      "log3", {"/bin/sh", "-c",
               "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
               "done; echo all-done; exec sleep 1000"});
  s.log.max_size = 4096;
  s.log.max_files = 3;
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("log3").ok());
  std::vector<jail::LogRecord> rs = WaitForText("log3", "all-done");
  const std::set<std::string> files = ListDir(Dir("log3"));
  EXPECT_THAT(files, Contains("current.log"));
  EXPECT_THAT(files, Contains("1.log"));
  EXPECT_THAT(files, Contains("2.log"));
  EXPECT_FALSE(files.count("3.log"));
  int64_t total = 0;
  for (const std::string& f : files) {
    struct stat st;
    if (f.size() > 4 && f.substr(f.size() - 4) == ".log" &&
        stat((Dir("log3") + "/" + f).c_str(), &st) == 0) {
      EXPECT_LE(st.st_size, 4096) << f;
      total += st.st_size;
    }
  }
  EXPECT_LE(total, 3 * 4096);
  // The oldest lines are gone, the newest kept.
  EXPECT_FALSE(Has(rs, "stdout", "main", "line-1-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
  EXPECT_TRUE(Has(rs, "stdout", "main", "line-600-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
}

TEST_F(JailLogsTest, AFloodIsDroppedWithACountedMarkerAndBoundedOnDisk) {
  platform::JailSpec s = Spec(
      "log6", {"/bin/sh", "-c", "yes flood-line | head -n 1000000; exec sleep 1000"});
  s.log.max_size = 64 * 1024;
  s.log.max_files = 2;
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("log6").ok());
  std::vector<jail::LogRecord> rs = WaitForText("log6", "lines dropped");
  bool marker = false;
  for (const jail::LogRecord& r : rs) {
    marker = marker || (r.stream == "meta" && r.source == "main" &&
                        r.text.find(" lines dropped") != std::string::npos);
  }
  EXPECT_TRUE(marker);
  int64_t total = 0;
  for (const std::string& f : ListDir(Dir("log6"))) {
    struct stat st;
    if (f.size() > 4 && f.substr(f.size() - 4) == ".log" &&
        stat((Dir("log6") + "/" + f).c_str(), &st) == 0) {
      total += st.st_size;
    }
  }
  EXPECT_LE(total, 2 * 64 * 1024);
}

// Issue 16: an idle log writer sleeps until something happens (it used to
// wake every second: 200 wake-ups a second on a host of 200 jails). Its
// context switches over 3 s of a quiet jail stay at most one.
TEST_F(JailLogsTest, IdleWriterDoesNotWakeUp) {
  platform::JailSpec s = Spec("log7", {"/bin/sleep", "1000"});
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("log7").ok());
  const std::string want = "--dir=" + Dir("log7");
  std::string status_path;
  for (const std::string& pid : ListDir("/proc")) {
    if (pid.empty() || pid[0] < '1' || pid[0] > '9') continue;
    std::string cmdline = ReadText("/proc/" + pid + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find("jailwarden-logd") != std::string::npos &&
        cmdline.find(want + " ") != std::string::npos) {
      status_path = "/proc/" + pid + "/status";
    }
  }
  ASSERT_FALSE(status_path.empty()) << "no jailwarden-logd with " << want;
  auto switches = [&status_path]() -> int64_t {
    int64_t total = 0;
    std::istringstream in(ReadText(status_path));
    for (std::string line; std::getline(in, line);) {
      for (const char* key : {"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"}) {
        if (line.rfind(key, 0) == 0) total += std::stoll(line.substr(strlen(key)));
      }
    }
    return total;
  };
  const int64_t before = switches();
  ASSERT_GT(before, 0);
  absl::SleepFor(absl::Seconds(3));  // the window measured, not a wait
  EXPECT_LE(switches() - before, 1);  // 3 with the 1 s poll
}

TEST_F(JailLogsTest, ConsolelogGetsTheHooksOutput) {
  platform::JailSpec s = Spec("log4", {"/bin/sleep", "1000"});
  const std::string console = ws_.top + "/console.log";
  s.parameters["exec.consolelog"] = console;
  s.exec.start = {"echo hook-says-hi"};
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("log4").ok());
  WaitForText("log4", "hook-says-hi");
  EXPECT_THAT(ReadText(console), HasSubstr("hook-says-hi\n"));
  struct stat st;
  ASSERT_EQ(lstat(console.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(JailLogsTest, ConsolelogRefusesASymlink) {
  platform::JailSpec s = Spec("log5", {"/bin/sleep", "1000"});
  const std::string console = ws_.top + "/console-link.log";
  ASSERT_EQ(symlink("/etc/jailwarden-must-not-exist", console.c_str()), 0);
  s.parameters["exec.consolelog"] = console;
  s.exec.start = {"echo hi"};
  ASSERT_TRUE(manager_->Create(s).ok());
  // The writer does not start; output is not captured, the jail starts.
  EXPECT_TRUE(manager_->Start("log5").ok());
  EXPECT_FALSE(PathExists("/etc/jailwarden-must-not-exist"));
}

}  // namespace
}  // namespace jailwarden::testing
