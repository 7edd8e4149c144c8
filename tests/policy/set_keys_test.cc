// policy::SetJailKeysInText: one jail's keys changed in a policy text,
// the rest of the policy read back the same by the loader.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/policy/policy.h"

namespace jailwarden::policy {
namespace {

using ::testing::HasSubstr;

constexpr char kPolicy[] = R"(# comment
server:
  state_dir: /var/db/jw
templates:
  small: &small
    persist: true
    exec.start: |
      echo "a \ quoted" line
      second	line
jails:
  db:
    template: small
    path: /srv/db
    host.hostname: 'db.old'
    limits:
      memoryuse: deny=64M
  web:
    path: /srv/web
    persist: true
    ip4.addr: [127.0.0.2, "127.0.0.3"]
    depend: [db]
rules:
  - jail:db:nthr:deny=50
)";

TEST(SetJailKeysInTextTest, ChangesOneKeyAndKeepsEverythingElse) {
  absl::StatusOr<std::string> out =
      SetJailKeysInText(kPolicy, "p.yaml", "db", {{"host.hostname", "db.new"}});
  ASSERT_TRUE(out.ok()) << out.status();
  absl::StatusOr<Policy> before = LoadPolicyText(kPolicy, "p.yaml");
  absl::StatusOr<Policy> after = LoadPolicyText(*out, "set");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(after.ok()) << after.status() << "\n" << *out;
  ASSERT_EQ(after->jails.size(), 2u);
  EXPECT_EQ(after->jails[0].spec.hostname, "db.new");
  // Everything else reads back the same: the template's multi-line
  // command, the other jail, the rules.
  EXPECT_EQ(after->jails[1].spec, before->jails[1].spec);
  EXPECT_EQ(after->rule_texts, before->rule_texts);
  EXPECT_EQ(after->jails[0].spec.exec, before->jails[0].spec.exec);
  ASSERT_FALSE(after->jails[0].spec.exec.start.empty());
  EXPECT_THAT(after->jails[0].spec.exec.start[0], HasSubstr("\\ quoted"));
  EXPECT_EQ(after->jails[0].limit_texts, before->jails[0].limit_texts);
}

TEST(SetJailKeysInTextTest, AddsRemovesAndTakesYamlValues) {
  absl::StatusOr<std::string> out = SetJailKeysInText(
      kPolicy, "p.yaml", "web",
      {{"ip4.addr", "[127.0.0.9]"}, {"depend", ""}, {"exec.start", "\"echo w: 1\""}});
  ASSERT_TRUE(out.ok()) << out.status();
  absl::StatusOr<Policy> after = LoadPolicyText(*out, "set");
  ASSERT_TRUE(after.ok()) << after.status() << "\n" << *out;
  ASSERT_EQ(after->jails[1].spec.exec.start.size(), 1u);
  EXPECT_EQ(after->jails[1].spec.exec.start[0], "echo w: 1");  // quoted: ': ' kept
  EXPECT_THAT(*out, HasSubstr("127.0.0.9"));
  EXPECT_THAT(*out, ::testing::Not(HasSubstr("depend")));
}

TEST(SetJailKeysInTextTest, RefusesUnknownKeysJailsAndBadYaml) {
  absl::StatusOr<std::string> r = SetJailKeysInText(kPolicy, "p.yaml", "db", {{"hostname", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("did you mean 'host.hostname'?"));
  r = SetJailKeysInText(kPolicy, "p.yaml", "nosuch", {{"persist", "true"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  r = SetJailKeysInText(kPolicy, "p.yaml", "db", {{"path", "[open"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("is not YAML"));
  r = SetJailKeysInText("jails: [\n", "p.yaml", "db", {{"persist", "true"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("p.yaml:"));
  r = SetJailKeysInText(kPolicy, "p.yaml", "db", {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jailwarden::policy
