#include "jailwarden/policy/diff.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/rctl/kernel_form.h"
#include "policy/test_util.h"

namespace jailwarden::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Policy Load(const std::string& text) {
  testing::FakeResolver resolver;
  absl::StatusOr<Policy> p = LoadPolicyText(text, "t.yaml", {&resolver});
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : Policy{};
}

std::vector<std::string> Texts(const std::vector<rctl::Rule>& rules) {
  std::vector<std::string> out;
  for (const rctl::Rule& r : rules) {
    out.push_back(rctl::FormatRule(r));
  }
  return out;
}

constexpr char kBase[] = R"(
templates:
  t:
    persist: true
    exec.start: /bin/sh /etc/rc
    limits:
      maxproc: deny=100
jails:
  db:
    template: t
  web:
    template: t
    depend: db
    limits:
      memoryuse: [deny=1G, log=900M]
  cache:
    template: t
rules:
  - user:1001:maxproc:deny=50
)";

std::string Edit(std::string text, const std::string& from,
                 const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST(DiffTest, SamePolicyIsEmpty) {
  const PolicyDiff d = Diff(Load(kBase), Load(kBase));
  EXPECT_TRUE(d.empty());
  EXPECT_FALSE(d.rules_changed);
  EXPECT_EQ(DescribeDiff(d), "");
}

TEST(DiffTest, FromNothingAddsEverythingInStartOrder) {
  const PolicyDiff d = Diff(Policy{}, Load(kBase));
  EXPECT_THAT(d.jails_to_add, ElementsAre("db", "web", "cache"));
  EXPECT_THAT(d.jails_to_remove, IsEmpty());
  EXPECT_TRUE(d.rules_changed);
  EXPECT_EQ(d.rules_to_add.size(), 6u);  // 3 maxproc + 2 memoryuse + 1 raw
  EXPECT_THAT(d.rules_to_remove, IsEmpty());
}

TEST(DiffTest, ToNothingRemovesDependentsFirst) {
  const PolicyDiff d = Diff(Load(kBase), Policy{});
  EXPECT_THAT(d.jails_to_remove, ElementsAre("cache", "web", "db"));
  EXPECT_EQ(d.rules_to_remove.size(), 6u);
  EXPECT_THAT(d.rules_to_add, IsEmpty());
}

TEST(DiffTest, AddedJailWithItsDependencyOrder) {
  const std::string next = std::string(kBase) + "";
  const Policy a = Load(kBase);
  const Policy b = Load(Edit(kBase, "  cache:\n    template: t\n",
                             "  cache:\n    template: t\n    depend: queue\n"
                             "  queue:\n    template: t\n"));
  const PolicyDiff d = Diff(a, b);
  EXPECT_THAT(d.jails_to_add, ElementsAre("queue"));
  EXPECT_THAT(d.jails_to_restart, ElementsAre("cache"));  // depend changed
  EXPECT_THAT(Texts(d.rules_to_add),
              ElementsAre("jail:queue:maxproc:deny=100"));
}

TEST(DiffTest, RenamedJailIsRemoveAndAdd) {
  const PolicyDiff d =
      Diff(Load(kBase), Load(Edit(kBase, "  cache:\n", "  memcache:\n")));
  EXPECT_THAT(d.jails_to_add, ElementsAre("memcache"));
  EXPECT_THAT(d.jails_to_remove, ElementsAre("cache"));
  EXPECT_THAT(Texts(d.rules_to_add),
              ElementsAre("jail:memcache:maxproc:deny=100"));
  EXPECT_THAT(Texts(d.rules_to_remove),
              ElementsAre("jail:cache:maxproc:deny=100"));
}

TEST(DiffTest, DefinitionChangeRestarts) {
  const PolicyDiff d =
      Diff(Load(kBase),
           Load(Edit(kBase, "    depend: db\n",
                     "    depend: db\n    host.hostname: www.example.org\n")));
  EXPECT_THAT(d.jails_to_restart, ElementsAre("web"));
  EXPECT_THAT(d.jails_with_only_limits_changed, IsEmpty());
  EXPECT_FALSE(d.rules_changed);
}

TEST(DiffTest, TemplateChangeRestartsEveryJailUsingIt) {
  const PolicyDiff d =
      Diff(Load(kBase), Load(Edit(kBase, "exec.start: /bin/sh /etc/rc",
                                  "exec.start: /bin/sh /etc/rc.local")));
  EXPECT_THAT(d.jails_to_restart, ElementsAre("db", "web", "cache"));
}

TEST(DiffTest, TemplateLimitChangeIsLimitsOnly) {
  const PolicyDiff d = Diff(
      Load(kBase), Load(Edit(kBase, "maxproc: deny=100", "maxproc: deny=200")));
  EXPECT_THAT(d.jails_to_restart, IsEmpty());
  EXPECT_THAT(d.jails_with_only_limits_changed,
              ElementsAre("db", "web", "cache"));
  EXPECT_TRUE(d.rules_changed);
  EXPECT_THAT(
      Texts(d.rules_to_add),
      ElementsAre("jail:db:maxproc:deny=200", "jail:web:maxproc:deny=200",
                  "jail:cache:maxproc:deny=200"));
  // rctl_rule_add replaces a deny differing only in amount: nothing to
  // remove, and no moment without a limit.
  EXPECT_THAT(d.rules_to_remove, IsEmpty());
}

TEST(DiffTest, ChangedLogThresholdIsRemovedAndAdded) {
  const PolicyDiff d =
      Diff(Load(kBase), Load(Edit(kBase, "log=900M", "log=950M")));
  EXPECT_THAT(d.jails_with_only_limits_changed, ElementsAre("web"));
  EXPECT_THAT(Texts(d.rules_to_add),
              ElementsAre("jail:web:memoryuse:log=996147200"));
  EXPECT_THAT(Texts(d.rules_to_remove),
              ElementsAre("jail:web:memoryuse:log=943718400"));
}

TEST(DiffTest, DroppedDenyIsRemoved) {
  const PolicyDiff d =
      Diff(Load(kBase), Load(Edit(kBase, "[deny=1G, log=900M]", "log=900M")));
  EXPECT_THAT(d.jails_with_only_limits_changed, ElementsAre("web"));
  EXPECT_THAT(d.rules_to_add, IsEmpty());
  EXPECT_THAT(Texts(d.rules_to_remove),
              ElementsAre("jail:web:memoryuse:deny=1073741824"));
}

TEST(DiffTest, RawRuleChangeTouchesNoJail) {
  const PolicyDiff d =
      Diff(Load(kBase), Load(Edit(kBase, "user:1001:maxproc:deny=50",
                                  "user:1001:maxproc:deny=60")));
  EXPECT_THAT(d.jails_to_restart, IsEmpty());
  EXPECT_THAT(d.jails_with_only_limits_changed, IsEmpty());
  EXPECT_TRUE(d.rules_changed);
  EXPECT_THAT(Texts(d.rules_to_add), ElementsAre("user:1001:maxproc:deny=60"));
  EXPECT_THAT(d.rules_to_remove, IsEmpty());
}

TEST(DiffTest, RuleOrderDoesNotMatter) {
  const Policy a =
      Load("rules:\n  - user:1:maxproc:deny=5\n  - user:2:maxproc:deny=6\n");
  const Policy b =
      Load("rules:\n  - user:2:maxproc:deny=6\n  - user:1:maxproc:deny=5\n");
  EXPECT_TRUE(Diff(a, b).empty());
}

TEST(DiffTest, SwitchingTemplateWithSameResultChangesNothing) {
  const Policy a = Load(
      "templates:\n  t1: {persist: true}\n  t2: {persist: true}\n"
      "jails:\n  a: {template: t1}\n");
  const Policy b = Load(
      "templates:\n  t1: {persist: true}\n  t2: {persist: true}\n"
      "jails:\n  a: {template: t2}\n");
  EXPECT_TRUE(Diff(a, b).empty());
}

TEST(DiffTest, ServerChangesAreNamed) {
  const Policy a = Load("server:\n  sample_interval: 100ms\n");
  const Policy b = Load(
      "server:\n  sample_interval: 50ms\n  throttle: {pct: 50}\n"
      "  listen: 127.0.0.1:9999\n");
  const PolicyDiff d = Diff(a, b);
  EXPECT_THAT(d.server_changes,
              ElementsAre("listen", "sample_interval", "throttle"));
  EXPECT_FALSE(d.empty());
  EXPECT_FALSE(d.rules_changed);
}

TEST(DiffTest, StateDirChangeMovesDefaultedPathsAndToken) {
  const Policy a = Load("jails:\n  a: {persist: true}\n");
  const Policy b =
      Load("server: {state_dir: /srv/jw}\njails:\n  a: {persist: true}\n");
  const PolicyDiff d = Diff(a, b);
  EXPECT_THAT(d.server_changes, ElementsAre("state_dir", "token_file"));
  EXPECT_THAT(d.jails_to_restart, ElementsAre("a"));  // its path moved
}

TEST(DiffTest, DescribeDiff) {
  const PolicyDiff d = Diff(Load("jails:\n  a: {persist: true}\n  b: {persist: "
                                 "true, limits: {maxproc: deny=5}}\n"),
                            Load("server: {history: 2m}\njails:\n  b: "
                                 "{persist: true, limits: {maxproc: deny=6}}\n"
                                 "  c: {persist: true}\n"));
  EXPECT_EQ(DescribeDiff(d),
            "remove jail a\n"
            "add jail c\n"
            "limits jail b\n"
            "rule +jail:b:maxproc:deny=6\n"
            "server history\n");
}

TEST(DiffTest, AHealthcheckOnlyChangeIsADifference) {
  const std::string before = R"(templates:
  svc:
    persist: true
    healthcheck: {command: "test -e /ok", interval: 10s}
jails:
  web:
    persist: true
    healthcheck: {command: "test -e /ok", interval: 10s}
  db: {persist: true}
)";
  std::string after = before;
  after.replace(after.rfind("10s"), 3, "20s");  // web's interval
  PolicyDiff d = Diff(Load(before), Load(after));
  EXPECT_FALSE(d.empty());
  EXPECT_THAT(d.healthchecks_changed, ElementsAre("jail web"));
  EXPECT_THAT(d.jails_to_restart, IsEmpty());  // a check changes nothing running
  EXPECT_EQ(DescribeDiff(d), "healthcheck jail web\n");
  // Added to a jail that had none, and changed in a template.
  after = before;
  after.replace(after.find("10s"), 3, "15s");  // the template's
  after.replace(after.find("db: {persist: true}"), 19,
                "db: {persist: true, healthcheck: {command: [/bin/true]}}");
  d = Diff(Load(before), Load(after));
  EXPECT_THAT(d.healthchecks_changed, ElementsAre("jail db", "template svc"));
  EXPECT_EQ(DescribeDiff(d), "healthcheck jail db\nhealthcheck template svc\n");
  EXPECT_TRUE(Diff(Load(before), Load(before)).empty());
}

}  // namespace
}  // namespace jailwarden::policy
