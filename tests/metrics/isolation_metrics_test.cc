// Issue 13: the isolation families as a scrape shows them, from the full
// fixture (web: every layer, allow.mount, linux.seccomp allow unshare and
// deny ptrace, a 2 GiB ext4 project quota using 1 MiB; db: the default
// filter, no quota; the other jails report nothing).

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/metrics/collector.h"
#include "metrics/full_fixture.h"

namespace jailwarden::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(IsolationMetricsTest, LayersSeccompAndDiskQuotaPerJail) {
  testing::FullFixture fixture;
  MetricsCollector collector(fixture.Sources(), {.backend = "fake"});
  const std::string text = collector.RenderText();
  for (const char* layer :
       {"seccomp", "userns", "keyring", "cgroup_ro", "masked_paths", "disk_quota"}) {
    EXPECT_THAT(text, HasSubstr(std::string("jailwarden_jail_isolation{name=\"web\",layer=\"") +
                                layer + "\"} 1\n"));
  }
  EXPECT_THAT(text, HasSubstr("jailwarden_jail_isolation{name=\"db\",layer=\"seccomp\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("jailwarden_jail_isolation{name=\"db\",layer=\"disk_quota\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("jailwarden_jail_seccomp_relaxed{name=\"web\",group=\"mount\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("jailwarden_jail_seccomp_syscall{name=\"web\",syscall=\"unshare\","
                              "action=\"allow\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("jailwarden_jail_seccomp_syscall{name=\"web\",syscall=\"ptrace\","
                              "action=\"deny\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("jailwarden_jail_disk_quota_bytes{name=\"web\","
                              "mechanism=\"ext4_project\"} 2147483648\n"));
  EXPECT_THAT(text, HasSubstr("jailwarden_jail_disk_quota_used_bytes{name=\"web\","
                              "mechanism=\"ext4_project\"} 1048576\n"));
  // Nothing for jails without a report, no relaxation or quota for db.
  EXPECT_THAT(text, Not(HasSubstr("jailwarden_jail_isolation{name=\"batch\"")));
  EXPECT_THAT(text, Not(HasSubstr("jailwarden_jail_isolation{name=\"ci-runner.1\"")));
  EXPECT_THAT(text, Not(HasSubstr("jailwarden_jail_seccomp_relaxed{name=\"db\"")));
  EXPECT_THAT(text, Not(HasSubstr("jailwarden_jail_disk_quota_bytes{name=\"db\"")));
}

}  // namespace
}  // namespace jailwarden::metrics
