// Root-only (issue 13), the real daemon with its default layout:
//  - what isolates each running jail is reported by `jailwarden get NAME
//    isolation --json` (GET /v1/jails/NAME) and by /metrics, the default
//    jail with every layer on, a jail with relaxing keys with those off;
//  - a set-user-ID root program the jail's root makes in its writable
//    layer (<state_dir>/roots/NAME, a state directory made 0755 by an older
//    version) is never usable by host user nobody: the state and roots
//    directories are closed (0700) at start, so the path is refused
//    (EACCES), and through /proc/PID/root of a jail process that runs as
//    the host's uid 65534 the program runs but without its set-user-ID
//    bit (a mount of another mount namespace is nosuid to the caller).
//    Run as nobody with setpriv(1), the way a host user would.

#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/isolation_fixture.h"
#include "helpers/jail_env.h"
#include "helpers/serve.h"
#include "nlohmann/json.hpp"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// As host user nobody, no groups.
// `command` (no single quotes) run by a shell as host user nobody. Through
// sh -c: setpriv keeps root's capabilities until its own execve, so the
// path of a program it runs directly is looked up with CAP_DAC_OVERRIDE.
std::string AsNobody(const std::string& command) {
  return HostShell("setpriv --reuid=65534 --regid=65534 --clear-groups -- /bin/sh -c '" +
                   command + "' 2>&1")
      .out;
}

class JailIsolationDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ASSERT_TRUE(PathExists(kJailwarden)) << kJailwarden;
    ASSERT_TRUE(PathExists(EscapeProbePath())) << "build target escape_probe";
    ASSERT_FALSE(BusyboxBase().empty());
    if (HostShell("command -v setpriv").exit_code != 0) {
      const char* ci = getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") FAIL() << "setpriv(1) missing";
      GTEST_SKIP() << "setpriv(1) (util-linux) is needed to act as host user nobody";
    }
    top_ = MakeTempDir("jw-it-isod");
    ASSERT_EQ(chmod(top_.c_str(), 0755), 0);  // host users may reach the state dir's parent
    state_ = top_ + "/state";
    // A state directory as an older version left it: open to everyone.
    ASSERT_EQ(mkdir(state_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((state_ + "/roots").c_str(), 0755), 0);
    ASSERT_EQ(chmod(state_.c_str(), 0755), 0);
    ASSERT_EQ(chmod((state_ + "/roots").c_str(), 0755), 0);
    config_ = top_ + "/policy.yaml";
    const std::string base = absl::StrCat("    base: ", BusyboxBase(), "\n    persist: true\n",
                                          "    stop.timeout: 2s\n");
    WriteText(config_,
              absl::StrCat("server:\n  api_socket: \"\"\n  state_dir: ", state_, "\n", "jails:\n",
                           "  plain:\n", base,
                           "  relaxed:\n", base, "    allow.mount: true\n",
                           "    linux.seccomp:\n      allow: [keyctl]\n      deny: [ptrace]\n",
                           "  su1:\n", base, "    copy:\n      - source: ", EscapeProbePath(),
                           "\n        target: /bin/escape_probe\n",
                           "    command: \"/bin/escape_probe nobody-sleep 300 jw-it-isod\"\n"));
    serve_ = std::make_unique<Serve>(top_, config_);
    ASSERT_TRUE(serve_->Start("127.0.0.1:0", /*stop_jails_on_exit=*/true)) << serve_->log();
  }
  void TearDown() override {
    serve_.reset();
    if (!top_.empty()) RemoveTree(top_);
  }

  // `jailwarden VERB --config ... --server ... ARGS` (the connection flags
  // before ARGS: exec's command follows "--").
  ShellResult Cli(const std::string& verb, const std::string& args) {
    return HostShell(absl::StrCat(kJailwarden, " ", verb, " --config ", Quote(config_),
                                  " --server http://127.0.0.1:", serve_->port(), " ", args,
                                  " 2>&1"));
  }

  // `get NAME isolation --json`, once the jail runs (at most 30 s).
  nlohmann::json Isolation(const std::string& name) {
    std::string out;
    for (int i = 0; i < 300; ++i) {
      out = Cli("get", name + " isolation --json").out;
      nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
      if (j.is_object() && j.contains("isolation") && j["isolation"].is_object()) {
        return j["isolation"];
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "no isolation report for " << name << ": " << out;
    return nlohmann::json();
  }

  std::string top_, state_, config_;
  std::unique_ptr<Serve> serve_;
};

TEST_F(JailIsolationDaemonTest, IsolationIsReportedByGetAndMetrics) {
  const nlohmann::json plain = Isolation("plain");
  EXPECT_EQ(plain["layers"],
            nlohmann::json::parse(R"({"seccomp":true,"userns":true,"keyring":true,)"
                                  R"("cgroup_ro":true,"masked_paths":true,"disk_quota":false})"))
      << plain;
  EXPECT_EQ(plain["seccomp"],
            nlohmann::json::parse(R"({"relaxed":[],"allow":[],"deny":[]})"));
  EXPECT_TRUE(plain["disk_quota"].is_null());
  const nlohmann::json relaxed = Isolation("relaxed");
  EXPECT_EQ(relaxed["layers"]["seccomp"], true) << relaxed;
  EXPECT_EQ(relaxed["layers"]["keyring"], false);  // keyctl allowed
  EXPECT_EQ(relaxed["layers"]["userns"], true);
  EXPECT_EQ(relaxed["seccomp"],
            nlohmann::json::parse(R"({"relaxed":["mount"],"allow":["keyctl"],"deny":["ptrace"]})"));
  // The kernel agrees: pid 1 of the jail is in filter mode.
  EXPECT_THAT(Cli("exec", "plain -- grep Seccomp: /proc/1/status").out, HasSubstr("Seccomp:\t2"));
  // The plain text form names the key too.
  EXPECT_THAT(Cli("get", "plain isolation").out, HasSubstr("seccomp"));
  const std::string metrics =
      HostShell(absl::StrCat("curl -sS -m 5 http://127.0.0.1:", serve_->port(), "/metrics")).out;
  EXPECT_THAT(metrics, HasSubstr("jailwarden_jail_isolation{name=\"plain\",layer=\"seccomp\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("jailwarden_jail_isolation{name=\"plain\",layer=\"masked_paths\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("jailwarden_jail_isolation{name=\"plain\",layer=\"disk_quota\"} 0"));
  EXPECT_THAT(metrics,
              HasSubstr("jailwarden_jail_isolation{name=\"relaxed\",layer=\"keyring\"} 0"));
  EXPECT_THAT(metrics,
              HasSubstr("jailwarden_jail_seccomp_relaxed{name=\"relaxed\",group=\"mount\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("jailwarden_jail_seccomp_syscall{name=\"relaxed\","
                                 "syscall=\"keyctl\",action=\"allow\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("jailwarden_jail_seccomp_syscall{name=\"relaxed\","
                                 "syscall=\"ptrace\",action=\"deny\"} 1"));
  EXPECT_THAT(metrics, Not(HasSubstr("jailwarden_jail_seccomp_relaxed{name=\"plain\"")));
}

TEST_F(JailIsolationDaemonTest, SetuidBinaryUnderStateDirNotUsableByHostNobody) {
  ASSERT_FALSE(Isolation("su1").is_null());
  // The jail's root makes a set-user-ID root program in its writable layer.
  EXPECT_EQ(Cli("exec", "su1 -- /bin/sh -c 'cp /bin/escape_probe /bin/suid_probe && "
                "chmod 4755 /bin/suid_probe && /bin/suid_probe euid'")
                .out,
            "euid 0\n");
  const std::string in_layer = state_ + "/roots/su1/bin/suid_probe";
  struct stat st;
  ASSERT_EQ(stat(in_layer.c_str(), &st), 0) << in_layer;
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  // Closed at start: the state directory and the roots directory.
  EXPECT_EQ(ModeOf(state_), 0700u);
  EXPECT_EQ(ModeOf(state_ + "/roots"), 0700u);
  EXPECT_EQ(ModeOf(state_ + "/jails"), 0700u);
  // Host user nobody reaches none of it.
  std::string out = AsNobody(in_layer + " euid");
  EXPECT_THAT(out, HasSubstr("Permission denied"));
  EXPECT_THAT(out, Not(HasSubstr("euid")));
  EXPECT_THAT(AsNobody("ls " + state_ + "/roots"), HasSubstr("Permission denied"));
  EXPECT_THAT(AsNobody("cat " + state_ + "/jails/su1/config.json"), HasSubstr("Permission denied"));
  // pid 1 of the jail is not dumpable: its /proc/PID/root is closed.
  const std::string init = Cli("get", "su1 init_pid").out;
  ASSERT_FALSE(init.empty());
  out = AsNobody("/proc/" + Trim(init) + "/root/bin/suid_probe euid");
  EXPECT_THAT(out, HasSubstr("Permission denied"));
  // A jail process running as uid 65534 is host user nobody's own (same
  // uid): its /proc/PID/root may let nobody reach the program (or refuse
  // the walk, as on this kernel), but never with the set-user-ID bit
  // honoured: the jail's mounts are not in the caller's mount namespace.
  std::string pid;
  for (int i = 0; i < 100 && pid.empty(); ++i) {
    pid = HostShell("for p in /proc/[0-9]*; do [ \"$(stat -c %u $p 2>/dev/null)\" = 65534 ] && "
                    "tr '\\0' ' ' < $p/cmdline 2>/dev/null | "
                    "grep -q 'nobody-sleep 300 jw-it-isod' && echo ${p#/proc/}; done | head -1")
              .out;
    if (pid.empty()) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_FALSE(pid.empty()) << "the jail's nobody process did not start";
  pid = Trim(pid);
  out = AsNobody("/proc/" + pid + "/root/bin/suid_probe euid");
  EXPECT_THAT(out, ::testing::AnyOf(::testing::Eq("euid 65534\n"), HasSubstr("Permission denied")));
  EXPECT_THAT(out, Not(HasSubstr("euid 0")));
}

}  // namespace
}  // namespace jailwarden::testing
