// `command`, `restart`, `restart_backoff`, `restart_limit` and `log`
// (issue 17): what lands in the spec, the defaults, and every bad value
// refused at its own position.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/jail/spec_codec.h"
#include "jailwarden/policy/policy.h"
#include "policy/test_util.h"

namespace jailwarden::policy {
namespace {

using ::testing::ElementsAre;
using testing::Errors;
using testing::MustLoad;

TEST(CommandPolicyTest, StringCommandRunsWithShellAndDefaults) {
  const Policy p = MustLoad(
      "jails:\n"
      "  web:\n"
      "    command: httpd -f -p 8080\n");
  ASSERT_EQ(p.jails.size(), 1u);
  const platform::JailSpec& s = p.jails[0].spec;
  EXPECT_THAT(s.main.argv, ElementsAre("/bin/sh", "-c", "httpd -f -p 8080"));
  EXPECT_EQ(s.main.restart, platform::RestartPolicy::kOnFailure);
  EXPECT_EQ(s.main.backoff_initial, absl::Seconds(1));
  EXPECT_EQ(s.main.backoff_max, absl::Seconds(60));
  EXPECT_EQ(s.main.limit_count, 5);
  EXPECT_EQ(s.main.limit_window, absl::Seconds(60));
  EXPECT_EQ(s.log.max_size, 10 * 1024 * 1024);
  EXPECT_EQ(s.log.max_files, 5);
}

TEST(CommandPolicyTest, ListCommandIsArgvAndEveryKeyLands) {
  const Policy p = MustLoad(
      "jails:\n"
      "  web:\n"
      "    command: [httpd, -f, -p, '8080']\n"
      "    restart: always\n"
      "    restart_backoff: {initial: 200ms, max: 5s}\n"
      "    restart_limit: {count: 3, window: 30s}\n"
      "    log: {max_size: 64K, max_files: 2}\n");
  ASSERT_EQ(p.jails.size(), 1u);
  const platform::JailSpec& s = p.jails[0].spec;
  EXPECT_THAT(s.main.argv, ElementsAre("httpd", "-f", "-p", "8080"));
  EXPECT_EQ(s.main.restart, platform::RestartPolicy::kAlways);
  EXPECT_EQ(s.main.backoff_initial, absl::Milliseconds(200));
  EXPECT_EQ(s.main.backoff_max, absl::Seconds(5));
  EXPECT_EQ(s.main.limit_count, 3);
  EXPECT_EQ(s.main.limit_window, absl::Seconds(30));
  EXPECT_EQ(s.log.max_size, 64 * 1024);
  EXPECT_EQ(s.log.max_files, 2);

  // The state store keeps all of it.
  absl::StatusOr<platform::JailSpec> back = jail::SpecFromJson(jail::SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
}

TEST(CommandPolicyTest, RestartNoAndTemplatesInherit) {
  const Policy p = MustLoad(
      "templates:\n"
      "  svc:\n"
      "    command: sleep 1000\n"
      "    restart: 'no'\n"
      "jails:\n"
      "  a:\n"
      "    template: svc\n");
  ASSERT_EQ(p.jails.size(), 1u);
  EXPECT_EQ(p.jails[0].spec.main.restart, platform::RestartPolicy::kNo);
  EXPECT_THAT(p.jails[0].spec.main.argv, ElementsAre("/bin/sh", "-c", "sleep 1000"));
}

TEST(CommandPolicyTest, ACommandKeepsTheJailAlive) {
  // No exec.start, no persist: the command is what the jail runs.
  EXPECT_THAT(Errors("jails:\n  web:\n    command: [sleep, '100']\n"), ::testing::IsEmpty());
}

TEST(CommandPolicyTest, BadValuesAreRefusedAtTheirPosition) {
  EXPECT_THAT(Errors("jails:\n  web:\n    command: []\n    persist: true\n"),
              ElementsAre("t.yaml:3:14: 'command' in jail 'web': expected a command line or a "
                          "non-empty list (argv), got an empty list"));
  EXPECT_THAT(Errors("jails:\n  web:\n    command: '  '\n    persist: true\n"),
              ElementsAre("t.yaml:3:14: 'command' in jail 'web': empty command"));
  EXPECT_THAT(Errors("jails:\n  web:\n    command: {a: b}\n    persist: true\n"),
              ElementsAre("t.yaml:3:14: 'command' in jail 'web': expected a command line (run "
                          "with /bin/sh -c) or a list (argv), got a map"));
  EXPECT_THAT(Errors("jails:\n  web:\n    command: x\n    restart: sometimes\n"),
              ElementsAre("t.yaml:4:14: 'restart' in jail 'web': expected no, on-failure or "
                          "always, got 'sometimes'"));
  EXPECT_THAT(
      Errors("jails:\n  web:\n    command: x\n    restart_backoff: {initial: -1s}\n"),
      ElementsAre(::testing::StartsWith(
          "t.yaml:4:32: 'restart_backoff' in jail 'web' initial: expected a duration")));
  EXPECT_THAT(
      Errors("jails:\n  web:\n    command: x\n    restart_backoff: {initial: 10s, max: 1s}\n"),
      ElementsAre("t.yaml:4:42: 'restart_backoff' in jail 'web': max (1s) is below "
                  "initial (10s)"));
  EXPECT_THAT(Errors("jails:\n  web:\n    command: x\n    restart_limit: {count: 0}\n"),
              ElementsAre(::testing::StartsWith(
                  "t.yaml:4:28: 'restart_limit' in jail 'web' count: expected")));
  EXPECT_THAT(Errors("jails:\n  web:\n    command: x\n    restart_limit: {cuont: 3}\n"),
              ElementsAre(::testing::StartsWith("t.yaml:4:21: ")));
  EXPECT_THAT(Errors("jails:\n  web:\n    command: x\n    log: {max_size: 0}\n"),
              ElementsAre("t.yaml:4:21: 'log' in jail 'web' max_size: expected a size from "
                          "4K to 1G (e.g. 10M), got '0'"));
  EXPECT_THAT(Errors("jails:\n  web:\n    command: x\n    log: {max_size: -10M}\n"),
              ElementsAre(::testing::StartsWith("t.yaml:4:21: 'log' in jail 'web' max_size")));
  EXPECT_THAT(Errors("jails:\n  web:\n    command: x\n    log: {max_files: 0}\n"),
              ElementsAre(::testing::StartsWith(
                  "t.yaml:4:22: 'log' in jail 'web' max_files: expected")));
}

TEST(CommandPolicyTest, NothingIsAppliedFromABadPolicy) {
  testing::FakeResolver resolver;
  absl::StatusOr<Policy> p = LoadPolicyText(
      "jails:\n  web:\n    command: x\n    restart: sometimes\n", "t.yaml", {&resolver});
  EXPECT_FALSE(p.ok());
}

}  // namespace
}  // namespace jailwarden::policy
