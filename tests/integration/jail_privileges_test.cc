// Root-only: a Linux jail's root keeps only the capabilities its allow.*
// parameters grant (docs/linux-privileges.md), in pid 1, in commands pid 1
// starts and in commands that enter through the setns helper; /proc's
// host-wide controls are read-only. Every test checks that it left no
// mount, cgroup or process behind.
//
// Nothing here touches the host: mounts are made in the jail's own mount
// namespace, hostnames in its own UTS namespace, and the raw-socket check
// makes a socket and sends nothing (see RawSockets...).

#include <linux/capability.h>
#include <unistd.h>

#include <climits>
#include <cstdio>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"
#include "jailwarden/platform/linux/capabilities.h"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using platform::CapBit;

std::string Hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// What a jail's root keeps by default: the base plus allow.reserved_ports.
uint64_t DefaultCaps() {
  return platform::BaseJailCapabilities() | CapBit(CAP_NET_BIND_SERVICE);
}

// The static rctl_probe of the resource tests (it has an mlock mode).
std::string ProbePath() {
#ifdef JW_RCTL_PROBE
  return JW_RCTL_PROBE;
#else
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) {
    return "";
  }
  std::string dir(exe, static_cast<size_t>(n));
  dir = dir.substr(0, dir.rfind('/'));
  return dir + "/../integration_resources/rctl_probe";
#endif
}

class JailPrivilegesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ws_ = JailWorkspace::Make("priv");
    ASSERT_FALSE(BusyboxBase().empty());
    before_ = HostSnapshot::Take(ws_.cgroup_parent);
    manager_ = OpenManager(ws_);
    ASSERT_NE(manager_, nullptr);
  }
  void TearDown() override {
    if (manager_ != nullptr) {
      EXPECT_TRUE(manager_->StopAll().ok());
      manager_.reset();
      ExpectNothingLeft(before_, ws_.cgroup_parent);
    }
    RemoveTree(ws_.top);
  }

  platform::JailSpec Spec(const std::string& name,
                          std::map<std::string, std::string> params = {}) {
    platform::JailSpec s;
    s.name = name;
    s.path = ws_.CopyRoot(name);
    s.persist = true;
    s.stop_timeout = absl::Seconds(2);
    s.parameters = std::move(params);
    return s;
  }

  void Up(jail::Manager& m, const platform::JailSpec& s) {
    ASSERT_TRUE(m.Create(s).ok());
    absl::Status st = m.Start(s.name);
    ASSERT_TRUE(st.ok()) << st;
  }

  // "CapInh CapPrm CapEff CapBnd CapAmb" of `pid` in the jail, hex.
  std::string Caps(jail::Manager& m, const std::string& jail, const std::string& pid) {
    return JailShell(m, jail,
                     "grep Cap /proc/" + pid + "/status | cut -f2 | tr '\\n' ' '").out;
  }

  static std::string Want(uint64_t caps) {
    return "0000000000000000 " + Hex(caps) + " " + Hex(caps) + " " + Hex(caps) +
           " 0000000000000000 ";
  }

  JailWorkspace ws_;
  HostSnapshot before_;
  std::unique_ptr<jail::Manager> manager_;
};

TEST_F(JailPrivilegesTest, DefaultJailKeepsOnlyTheBaseSet) {
  Up(*manager_, Spec("cap1"));
  // The command (started by pid 1) and pid 1 itself.
  EXPECT_EQ(Caps(*manager_, "cap1", "self"), Want(DefaultCaps()));
  EXPECT_EQ(Caps(*manager_, "cap1", "1"), Want(DefaultCaps()));
  // Set-user-ID programs still work (within the bounding set).
  EXPECT_EQ(JailShell(*manager_, "cap1", "grep NoNewPrivs /proc/self/status | cut -f2").out,
            "0\n");
  // A non-root user in the jail has nothing.
  EXPECT_EQ(JailShell(*manager_, "cap1", "su -s /bin/sh nobody -c 'grep CapEff /proc/self/status' "
                                         "| cut -f2").out,
            "0000000000000000\n");
  ASSERT_TRUE(manager_->Destroy("cap1").ok());
}

// Commands entering through the setns helper (run_dir too long for the
// init socket) drop to the same set before execve.
TEST_F(JailPrivilegesTest, SetnsHelperDropsToTheSameSet) {
  JailWorkspace longws = ws_;
  longws.run_dir = ws_.top + "/run-" + std::string(100, 'x');
  std::unique_ptr<jail::Manager> m = OpenManager(longws);
  ASSERT_NE(m, nullptr);
  platform::JailSpec s = Spec("capfb", {{"allow.mlock", "true"}});
  Up(*m, s);
  ASSERT_EQ(m->Get("capfb")->instance.backend_state.count("init.socket"), 0u);
  EXPECT_EQ(m->Get("capfb")->instance.backend_state.at("capabilities"),
            platform::FormatCapabilityList(DefaultCaps() | CapBit(CAP_IPC_LOCK)));
  EXPECT_EQ(Caps(*m, "capfb", "self"), Want(DefaultCaps() | CapBit(CAP_IPC_LOCK)));
  EXPECT_EQ(Caps(*m, "capfb", "1"), Want(DefaultCaps() | CapBit(CAP_IPC_LOCK)));
  // pid 1 and the entering helper are not dumpable: the jail's root cannot
  // open the host binaries behind /proc/PID/exe.
  ShellResult r = JailShell(*m, "capfb", "cat /proc/1/exe > /dev/null 2>&1; echo $?");
  EXPECT_EQ(r.out, "1\n");
  ASSERT_TRUE(m->Destroy("capfb").ok());
}

TEST_F(JailPrivilegesTest, DefaultJailCannotMount) {
  Up(*manager_, Spec("mnt1"));
  ShellResult r = JailShell(*manager_, "mnt1",
                            "mkdir -p /mnt; mount -t tmpfs none /mnt 2>&1; echo rc=$?; "
                            "grep -c ' /mnt ' /proc/mounts");
  EXPECT_THAT(r.out, HasSubstr("ermission denied"));
  EXPECT_THAT(r.out, HasSubstr("rc=1\n0\n"));
  // Nor remount its /proc/sys writable, nor unmount what protects it.
  r = JailShell(*manager_, "mnt1",
                "mount -o remount,rw /proc/sys 2>/dev/null; echo rc=$?; umount /proc/sys "
                "2>/dev/null; echo rc=$?");
  EXPECT_EQ(r.out, "rc=1\nrc=1\n");
  ASSERT_TRUE(manager_->Destroy("mnt1").ok());
}

TEST_F(JailPrivilegesTest, AllowMountMountsInTheJailsOwnNamespace) {
  Up(*manager_, Spec("mnt2", {{"allow.mount", "true"}}));
  EXPECT_EQ(Caps(*manager_, "mnt2", "self"), Want(DefaultCaps() | CapBit(CAP_SYS_ADMIN)));
  ShellResult r = JailShell(*manager_, "mnt2",
                            "mkdir -p /mnt && mount -t tmpfs none /mnt && "
                            "grep -c ' /mnt tmpfs' /proc/mounts && "
                            "touch /mnt/x && umount /mnt && echo ok");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "1\nok\n");
  // Left mounted on purpose: it goes with the jail's mount namespace (the
  // fixture checks the host's mounts).
  EXPECT_EQ(JailShell(*manager_, "mnt2", "mount -t tmpfs none /mnt && echo ok").out, "ok\n");
  ASSERT_TRUE(manager_->Destroy("mnt2").ok());
}

// memorylocked is enforceable once CAP_IPC_LOCK is gone: RLIMIT_MEMLOCK
// holds for the jail's root (linux-mapping.md row 6); allow.mlock brings
// the capability, and with it the host's bypass, back.
TEST_F(JailPrivilegesTest, MemlockLimitHoldsWithoutAllowMlock) {
  const std::string probe = ProbePath();
  if (!PathExists(probe)) {
    const char* ci = getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << "rctl_probe not built at " << probe;
    }
    GTEST_SKIP() << "rctl_probe not built at " << probe << " (build target rctl_probe)";
  }
  platform::JailSpec plain = Spec("lock1");
  platform::JailSpec allowed = Spec("lock2", {{"allow.mlock", "true"}});
  for (const platform::JailSpec* s : {&plain, &allowed}) {
    ASSERT_EQ(system(("cp '" + probe + "' '" + s->path + "/bin/rctl_probe'").c_str()), 0);
    Up(*manager_, *s);
  }
  const std::string script =
      "ulimit -l 64; rctl_probe mlock 1024; rctl_probe mlock 32";
  EXPECT_EQ(JailShell(*manager_, "lock1", script).out,
            "mlock kb=1024 errno=12\nmlock kb=32 errno=0\n")
      << "1 MiB over a 64 KiB RLIMIT_MEMLOCK: ENOMEM";
  EXPECT_EQ(JailShell(*manager_, "lock2", script).out,
            "mlock kb=1024 errno=0\nmlock kb=32 errno=0\n")
      << "allow.mlock = CAP_IPC_LOCK, which bypasses RLIMIT_MEMLOCK";
  ASSERT_TRUE(manager_->Destroy("lock1").ok());
  ASSERT_TRUE(manager_->Destroy("lock2").ok());
}

// Raw sockets on the host's stack only with allow.raw_sockets; a jail with
// a stack of its own has them (as a FreeBSD vnet jail). ping makes its raw
// socket, then fails at once because the source address it is given is not
// local (IP_MULTICAST_IF): nothing is sent.
TEST_F(JailPrivilegesTest, RawSocketsOnHostStackOnlyWithAllowRawSockets) {
  ASSERT_EQ(HostShell("ip -4 -o addr | grep -c 'inet 198\\.51\\.100\\.77/'").out, "0\n")
      << "198.51.100.77 (TEST-NET-2) must not be a local address";
  platform::JailSpec plain = Spec("raw1");
  platform::JailSpec allowed = Spec("raw2", {{"allow.raw_sockets", "true"}});
  platform::JailSpec own = Spec("raw3");
  own.network.mode = platform::NetworkMode::kNew;
  for (const platform::JailSpec* s : {&plain, &allowed, &own}) {
    Up(*manager_, *s);
  }
  const std::string script = "ping -c 1 -W 1 -I 198.51.100.77 127.0.0.1 2>&1; echo rc=$?";
  const std::string made = "ping: can't set multicast source interface\nrc=1\n";
  ShellResult r = JailShell(*manager_, "raw1", script);
  EXPECT_THAT(r.out, HasSubstr("ping: permission denied (are you root?)\nrc=1\n")) << r.out;
  EXPECT_THAT(JailShell(*manager_, "raw2", script).out, HasSubstr(made));
  EXPECT_THAT(JailShell(*manager_, "raw3", script).out, HasSubstr(made));
  EXPECT_EQ(Caps(*manager_, "raw2", "self"), Want(DefaultCaps() | CapBit(CAP_NET_RAW)));
  EXPECT_EQ(Caps(*manager_, "raw3", "self"), Want(DefaultCaps() | CapBit(CAP_NET_RAW)));
  for (const char* name : {"raw1", "raw2", "raw3"}) {
    ASSERT_TRUE(manager_->Destroy(name).ok());
  }
}

// /proc/sys and the other host-wide /proc controls are read-only (uid 0
// needs no capability to write them); the jail's own hostname stays
// writable there with allow.set_hostname (the default), while
// sethostname(2) needs CAP_SYS_ADMIN.
TEST_F(JailPrivilegesTest, ProcSysIsReadOnlyButTheHostnameFollowsAllowSetHostname) {
  platform::JailSpec s = Spec("host1");
  s.hostname = "before";
  Up(*manager_, s);
  ShellResult r = JailShell(*manager_, "host1",
                            "grep -E ' /proc/(sys|sysrq-trigger|irq|bus|fs) ' /proc/self/mountinfo"
                            " | grep -vc ' ro,'");
  EXPECT_EQ(r.out, "0\n") << "every protected /proc path is a read-only mount";
  r = JailShell(*manager_, "host1",
                "grep -c ' /proc/sys ' /proc/self/mountinfo; "
                "echo d > /proc/sys/kernel/domainname 2>/dev/null; echo rc=$?; "
                "hostname denied 2>/dev/null; echo rc=$?; "
                "echo after > /proc/sys/kernel/hostname; echo rc=$?; hostname");
  EXPECT_EQ(r.out, "1\nrc=1\nrc=1\nrc=0\nafter\n");
  ASSERT_TRUE(manager_->Destroy("host1").ok());

  platform::JailSpec fixed = Spec("host2", {{"allow.set_hostname", "false"}});
  fixed.hostname = "fixed";
  Up(*manager_, fixed);
  r = JailShell(*manager_, "host2",
                "echo other > /proc/sys/kernel/hostname 2>/dev/null; echo rc=$?; hostname");
  EXPECT_EQ(r.out, "rc=1\nfixed\n");
  ASSERT_TRUE(manager_->Destroy("host2").ok());
}

TEST_F(JailPrivilegesTest, SuserOffAndLinuxCapabilities) {
  Up(*manager_, Spec("su0", {{"allow.suser", "false"}}));
  EXPECT_EQ(Caps(*manager_, "su0", "self"), Want(0));
  EXPECT_EQ(JailShell(*manager_, "su0", "chown nobody /tmp 2>/dev/null; echo rc=$?").out,
            "rc=1\n")
      << "root without CAP_CHOWN";
  Up(*manager_, Spec("extra", {{"linux.capabilities", "sys_ptrace, CAP_SYS_NICE"}}));
  EXPECT_EQ(Caps(*manager_, "extra", "self"),
            Want(DefaultCaps() | CapBit(CAP_SYS_PTRACE) | CapBit(CAP_SYS_NICE)));
  ASSERT_TRUE(manager_->Destroy("su0").ok());
  ASSERT_TRUE(manager_->Destroy("extra").ok());
}

TEST_F(JailPrivilegesTest, BadCapabilityNameStartsNothing) {
  platform::JailSpec s = Spec("bad1", {{"linux.capabilities", "net_raw,CAP_FOO"}});
  ASSERT_TRUE(manager_->Create(s).ok());
  absl::Status st = manager_->Start("bad1");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("jail bad1: linux.capabilities: 'CAP_FOO' (item 2) is not a Linux "
                        "capability name"));
  EXPECT_NE(manager_->Get("bad1")->state, jail::JailState::kRunning);
  EXPECT_TRUE(ListDir(ws_.run_dir).empty()) << "no run dir made";
  ASSERT_TRUE(manager_->Destroy("bad1").ok());
}

}  // namespace
}  // namespace jailwarden::testing
