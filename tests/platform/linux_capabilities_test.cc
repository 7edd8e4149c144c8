// A Linux jail's privileges from its jail(8) parameters
// (jailwarden/platform/linux/capabilities.h, docs/linux-privileges.md), the
// capability-name parser, the init config carrying the set, and the raw
// drop (src/platform/linux/cap_drop.h) in a forked child.

#include "jailwarden/platform/linux/capabilities.h"

#include <linux/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/linux/cap_drop.h"
#include "platform/linux/init_config.h"

namespace jailwarden::platform {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

JailSpec Spec(std::map<std::string, std::string> params,
              NetworkMode mode = NetworkMode::kInherit) {
  JailSpec s;
  s.name = "j";
  s.path = "/tmp/j";
  s.network.mode = mode;
  s.parameters = std::move(params);
  return s;
}

JailPrivileges Privileges(std::map<std::string, std::string> params,
                          NetworkMode mode = NetworkMode::kInherit) {
  absl::StatusOr<JailPrivileges> p = JailPrivilegesFor(Spec(std::move(params), mode));
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : JailPrivileges{};
}

std::string Error(std::map<std::string, std::string> params) {
  absl::StatusOr<JailPrivileges> p = JailPrivilegesFor(Spec(std::move(params)));
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(p.status().message());
}

bool Has(CapabilitySet set, int cap) { return (set & CapBit(cap)) != 0; }

TEST(JailPrivilegesTest, DefaultIsTheContainerBaseAndReservedPorts) {
  JailPrivileges p = Privileges({});
  EXPECT_EQ(p.capabilities, BaseJailCapabilities() | CapBit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(FormatCapabilityList(p.capabilities),
            "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_SETGID,"
            "CAP_SETUID,CAP_SETPCAP,CAP_NET_BIND_SERVICE,CAP_SYS_CHROOT,CAP_AUDIT_WRITE,"
            "CAP_SETFCAP");
  EXPECT_FALSE(p.unrestricted);
  EXPECT_TRUE(p.set_hostname) << "allow.set_hostname is on by default";
  EXPECT_FALSE(p.net_sysctls);
  EXPECT_THAT(p.warnings, IsEmpty());
  // What makes the host's root the host's root stays out.
  for (int cap : {CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_BOOT, CAP_SYS_PTRACE,
                  CAP_SYS_RESOURCE, CAP_DAC_READ_SEARCH, CAP_MKNOD, CAP_NET_ADMIN, CAP_NET_RAW,
                  CAP_IPC_LOCK, CAP_SYS_TIME, CAP_SYSLOG, CAP_BPF, CAP_LINUX_IMMUTABLE}) {
    EXPECT_FALSE(Has(p.capabilities, cap)) << CapabilityName(cap);
  }
}

TEST(JailPrivilegesTest, EachAllowParameterGrantsItsCapability) {
  const std::pair<const char*, int> kCases[] = {
      {"allow.raw_sockets", CAP_NET_RAW},      {"allow.mlock", CAP_IPC_LOCK},
      {"allow.chflags", CAP_LINUX_IMMUTABLE},  {"allow.settime", CAP_SYS_TIME},
      {"allow.adjtime", CAP_SYS_TIME},         {"allow.read_msgbuf", CAP_SYSLOG},
      {"allow.routing", CAP_NET_ADMIN},        {"allow.mount", CAP_SYS_ADMIN},
  };
  const CapabilitySet def = Privileges({}).capabilities;
  for (const auto& [param, cap] : kCases) {
    JailPrivileges on = Privileges({{param, "true"}});
    EXPECT_EQ(on.capabilities, def | CapBit(cap)) << param;
    JailPrivileges off = Privileges({{param, "false"}});
    EXPECT_EQ(off.capabilities, def) << param;
  }
}

TEST(JailPrivilegesTest, ReservedPortsOffDropsNetBindService) {
  EXPECT_EQ(Privileges({{"allow.reserved_ports", "false"}}).capabilities,
            BaseJailCapabilities());
}

TEST(JailPrivilegesTest, VnetConfiguresItsOwnStack) {
  const CapabilitySet def = Privileges({}).capabilities;
  JailPrivileges vnet = Privileges({}, NetworkMode::kVnet);
  EXPECT_EQ(vnet.capabilities, def | CapBit(CAP_NET_ADMIN) | CapBit(CAP_NET_RAW));
  EXPECT_TRUE(vnet.net_sysctls);
  EXPECT_THAT(vnet.warnings, IsEmpty());
  // FreeBSD: raw sockets in a vnet jail whatever allow.raw_sockets says.
  EXPECT_TRUE(Has(Privileges({{"allow.raw_sockets", "false"}}, NetworkMode::kVnet).capabilities,
                  CAP_NET_RAW));
}

TEST(JailPrivilegesTest, OwnLoopbackOnlyStackHasRawSocketsButNoNetAdmin) {
  JailPrivileges own = Privileges({}, NetworkMode::kNew);
  EXPECT_EQ(own.capabilities, Privileges({}).capabilities | CapBit(CAP_NET_RAW));
  EXPECT_FALSE(own.net_sysctls) << "ip4: new is not a vnet jail";
}

TEST(JailPrivilegesTest, RoutingOnTheHostStackIsWarnedAbout) {
  JailPrivileges inherit = Privileges({{"allow.routing", "true"}});
  ASSERT_EQ(inherit.warnings.size(), 1u);
  EXPECT_THAT(inherit.warnings[0], HasSubstr("host's network stack"));
  EXPECT_THAT(Privileges({{"allow.routing", "true"}}, NetworkMode::kVnet).warnings, IsEmpty());
}

TEST(JailPrivilegesTest, MountIsSysAdminAndSaysSo) {
  JailPrivileges p = Privileges({{"allow.mount", "true"}, {"allow.mount.tmpfs", "true"}});
  EXPECT_TRUE(Has(p.capabilities, CAP_SYS_ADMIN));
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_THAT(p.warnings[0], HasSubstr("root-equivalent"));
  // FreeBSD: allow.mount.<fs> is effective only together with allow.mount.
  JailPrivileges fs_only = Privileges({{"allow.mount.tmpfs", "true"}});
  EXPECT_FALSE(Has(fs_only.capabilities, CAP_SYS_ADMIN));
  ASSERT_EQ(fs_only.warnings.size(), 1u);
  EXPECT_THAT(fs_only.warnings[0], HasSubstr("allow.mount.tmpfs: no effect without allow.mount"));
}

TEST(JailPrivilegesTest, AdjtimeAloneWarnsThatItCanSetTheClock) {
  EXPECT_THAT(Privileges({{"allow.adjtime", "true"}}).warnings,
              ::testing::ElementsAre(HasSubstr("also lets the jail set the clock")));
  EXPECT_THAT(Privileges({{"allow.settime", "true"}}).warnings, IsEmpty());
}

TEST(JailPrivilegesTest, SetHostnameOff) {
  JailPrivileges p = Privileges({{"allow.set_hostname", "false"}});
  EXPECT_FALSE(p.set_hostname);
  EXPECT_EQ(p.capabilities, Privileges({}).capabilities);
}

TEST(JailPrivilegesTest, UnhonouredParametersAreWarnedAbout) {
  JailPrivileges p = Privileges({{"allow.quotas", "true"}, {"allow.setaudit", "false"}});
  EXPECT_EQ(p.capabilities, Privileges({}).capabilities);
  EXPECT_THAT(p.warnings, ::testing::ElementsAre(HasSubstr("allow.quotas: quotactl(2)")));
}

TEST(JailPrivilegesTest, SuserOffLeavesRootWithoutPrivileges) {
  JailPrivileges p = Privileges({{"allow.suser", "false"}, {"allow.mlock", "true"}},
                                NetworkMode::kVnet);
  EXPECT_EQ(p.capabilities, 0u);
  EXPECT_FALSE(p.unrestricted);
  EXPECT_FALSE(p.set_hostname);
  EXPECT_FALSE(p.net_sysctls);
  EXPECT_THAT(p.warnings, ::testing::ElementsAre(HasSubstr("allow.mlock: ignored")));
  EXPECT_EQ(Error({{"allow.suser", "false"}, {"linux.capabilities", "net_raw"}}),
            "linux.capabilities conflicts with allow.suser: false (a jail whose root has no "
            "privileges)");
}

TEST(JailPrivilegesTest, BooleanSpellings) {
  for (const char* yes : {"true", "1", "yes", "on", "TRUE", ""}) {
    EXPECT_TRUE(Has(Privileges({{"allow.raw_sockets", yes}}).capabilities, CAP_NET_RAW)) << yes;
  }
  for (const char* no : {"false", "0", "no", "off"}) {
    EXPECT_FALSE(Has(Privileges({{"allow.raw_sockets", no}}).capabilities, CAP_NET_RAW)) << no;
  }
  EXPECT_EQ(Error({{"allow.mlock", "maybe"}}), "allow.mlock: expected true or false, got 'maybe'");
  EXPECT_EQ(Error({{"allow.suser", "2"}}), "allow.suser: expected true or false, got '2'");
  EXPECT_EQ(Error({{"allow.mount.zfs", "x"}}), "allow.mount.zfs: expected true or false, got 'x'");
  EXPECT_EQ(Error({{"allow.quotas", "t"}}), "allow.quotas: expected true or false, got 't'");
}

TEST(JailPrivilegesTest, LinuxCapabilitiesAddsNamedOnes) {
  JailPrivileges p =
      Privileges({{"linux.capabilities", " CAP_SYS_PTRACE, net_admin  Sys_Nice,chown "}});
  EXPECT_EQ(p.capabilities, Privileges({}).capabilities | CapBit(CAP_SYS_PTRACE) |
                                CapBit(CAP_NET_ADMIN) | CapBit(CAP_SYS_NICE));
  EXPECT_THAT(p.warnings,
              ::testing::ElementsAre(
                  "linux.capabilities: adds CAP_NET_ADMIN,CAP_SYS_PTRACE,CAP_SYS_NICE beyond "
                  "what the allow.* parameters grant"));
  EXPECT_EQ(Privileges({{"linux.capabilities", ""}}).capabilities, Privileges({}).capabilities);
}

TEST(JailPrivilegesTest, LinuxCapabilitiesAllDropsNothing) {
  JailPrivileges p = Privileges({{"linux.capabilities", "All"}});
  EXPECT_TRUE(p.unrestricted);
  EXPECT_THAT(p.warnings, ::testing::ElementsAre(HasSubstr("every capability")));
}

TEST(JailPrivilegesTest, LinuxCapabilitiesBadNameIsPrecise) {
  EXPECT_EQ(Error({{"linux.capabilities", "net_raw,CAP_FOO"}}),
            "linux.capabilities: 'CAP_FOO' (item 2) is not a Linux capability name "
            "(capabilities(7), e.g. CAP_NET_ADMIN or net_admin)");
  EXPECT_THAT(Error({{"linux.capabilities", "all,net_raw"}}), HasSubstr("'all' (item 1)"));
  EXPECT_THAT(Error({{"linux.capabilities", "sys admin"}}), HasSubstr("'sys' (item 1)"));
}

TEST(CapabilityNamesTest, EveryKnownNameRoundTrips) {
  for (int cap = 0; cap <= kLastKnownCapability; ++cap) {
    std::string name = CapabilityName(cap);
    EXPECT_EQ(CapabilityFromName(name), cap) << name;
    EXPECT_EQ(CapabilityFromName(name.substr(4)), cap) << name;
  }
  EXPECT_EQ(CapabilityName(CAP_NET_RAW), "CAP_NET_RAW");
  EXPECT_EQ(CapabilityName(CAP_CHECKPOINT_RESTORE), "CAP_CHECKPOINT_RESTORE");
  EXPECT_EQ(CapabilityName(41), "CAP_41");
  EXPECT_EQ(CapabilityFromName("cap_net_raw"), CAP_NET_RAW);
  EXPECT_EQ(CapabilityFromName("CAP_41"), std::nullopt);
  EXPECT_EQ(CapabilityFromName("13"), std::nullopt);
  EXPECT_EQ(CapabilityFromName("CAP_"), std::nullopt);
  EXPECT_EQ(CapabilityFromName(""), std::nullopt);
}

TEST(CapabilityNamesTest, ListFormatAndParseAreInverse) {
  for (CapabilitySet set : {CapabilitySet{0}, BaseJailCapabilities(),
                            CapBit(0) | CapBit(kLastKnownCapability)}) {
    absl::StatusOr<CapabilitySet> back = ParseCapabilityList(FormatCapabilityList(set));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, set);
  }
  EXPECT_EQ(FormatCapabilityList(0), "");
}

TEST(InitConfigTest, CarriesThePrivileges) {
  InitConfig c;
  c.root = "/r";
  c.capabilities = BaseJailCapabilities() | CapBit(40);
  c.caps_unrestricted = false;
  c.hostname_writable = true;
  c.net_sysctls_writable = true;
  InitConfig back;
  std::string error;
  ASSERT_TRUE(InitConfigFromJson(InitConfigToJson(c), &back, &error)) << error;
  EXPECT_EQ(back.capabilities, c.capabilities);
  EXPECT_FALSE(back.caps_unrestricted);
  EXPECT_TRUE(back.hostname_writable);
  EXPECT_TRUE(back.net_sysctls_writable);
  // Absent: no capabilities, nothing writable (fails closed).
  ASSERT_TRUE(InitConfigFromJson(R"({"root": "/r"})", &back, &error)) << error;
  EXPECT_EQ(back.capabilities, 0u);
  EXPECT_FALSE(back.caps_unrestricted);
  EXPECT_FALSE(back.hostname_writable);
}

std::string StatusField(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return line.substr(line.find_first_not_of(" \t", key.size() + 1));
    }
  }
  return "";
}

// The drop in a forked child, which reports its /proc/self/status Cap*
// lines (or the failed step) through a pipe. With CAP_SETPCAP (root) the
// sets are reduced; without it the bounding-set drop is refused (EPERM).
TEST(DropToCapabilitiesTest, ReducesEverySetInAForkedChild) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const uint64_t keep = CapBit(CAP_CHOWN) | CapBit(CAP_KILL) | CapBit(CAP_SETPCAP);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    const char* step = "";
    int err = DropToCapabilities(keep, &step);
    std::string out;
    if (err != 0) {
      out = std::string("error ") + step + " " + std::to_string(err) + "\n";
    } else {
      std::ifstream in("/proc/self/status");
      std::stringstream ss;
      ss << in.rdbuf();
      out = ss.str();
    }
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {};
  ASSERT_EQ(syscall(SYS_capget, &h, d), 0);
  const bool have_setpcap = (d[0].effective & (1u << CAP_SETPCAP)) != 0;
  if (!have_setpcap) {
    EXPECT_EQ(text, "error prctl(PR_CAPBSET_DROP) " + std::to_string(EPERM) + "\n");
    return;
  }
  const uint64_t had = d[0].permitted | (uint64_t{d[1].permitted} << 32);
  char want[32];
  snprintf(want, sizeof(want), "%016llx", static_cast<unsigned long long>(keep));
  char want_eff[32];
  snprintf(want_eff, sizeof(want_eff), "%016llx",
           static_cast<unsigned long long>(keep & had));
  EXPECT_EQ(StatusField(text, "CapBnd"), want) << text;
  EXPECT_EQ(StatusField(text, "CapPrm"), want_eff) << text;
  EXPECT_EQ(StatusField(text, "CapEff"), want_eff) << text;
  EXPECT_EQ(StatusField(text, "CapInh"), "0000000000000000") << text;
  EXPECT_EQ(StatusField(text, "CapAmb"), "0000000000000000") << text;
}

}  // namespace
}  // namespace jailwarden::platform
