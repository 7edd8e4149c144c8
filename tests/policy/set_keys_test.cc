// policy::SetJailKeysInText: one jail's keys changed in a policy text,
// the rest of the policy read back the same by the loader.

#include <string>
#include <utility>
#include <vector>

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

// Issue 19: a set changes only the lines of the keys it sets; the admin's
// comments, blank lines and quoting elsewhere stay byte for byte.
constexpr char kCommented[] = R"(# Production policy: edit with care.
server:
  state_dir: /var/db/jw   # where state lives

jails:
  # the database first
  db:
    path: /srv/db         # its root
    host.hostname: 'db.old'  # renamed in 2025
    persist: true
    # limits below are reviewed quarterly
    limits:
      memoryuse: deny=64M   # 64M is plenty

  # the front end
  web:
    path: /srv/web
    exec.start:
    - /bin/sh /etc/rc
    persist: true
# rules last
rules:
  - jail:db:nthr:deny=50  # threads
)";

// `text` with each `from` (which must stand in it once) replaced by `to`.
std::string WithLinesReplaced(std::string text,
                              const std::vector<std::pair<std::string, std::string>>& edits) {
  for (const auto& [from, to] : edits) {
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    EXPECT_EQ(text.find(from, at + 1), std::string::npos) << from << " stands twice";
    if (at != std::string::npos) text.replace(at, from.size(), to);
  }
  return text;
}

TEST(SetJailKeysInTextTest, KeepsCommentsAndLayoutOfUntouchedLines) {
  absl::StatusOr<std::string> out = SetJailKeysInText(
      kCommented, "p.yaml", "db", {{"host.hostname", "db.new"}, {"limits", "{pcpu: deny=50}"}});
  ASSERT_TRUE(out.ok()) << out.status();
  // The input with those two lines changed, to the letter.
  const std::string expected =
      WithLinesReplaced(kCommented, {{"host.hostname: 'db.old'  #", "host.hostname: db.new  #"},
                                     {"memoryuse: deny=64M   # 64M is plenty", "pcpu: deny=50"}});
  EXPECT_EQ(*out, expected);
  absl::StatusOr<Policy> after = LoadPolicyText(*out, "set");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->jails[0].spec.hostname, "db.new");
}

TEST(SetJailKeysInTextTest, AddsAfterTheLastKeyAndRemovesOnlyTheKeysLines) {
  absl::StatusOr<std::string> out = SetJailKeysInText(
      kCommented, "p.yaml", "web",
      {{"exec.start", ""}, {"host.hostname", "web.example"}, {"persist", "true"}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("  web:\n    path: /srv/web\n    persist: true\n"
                              "    host.hostname: web.example\n# rules last\n"));
  EXPECT_THAT(*out, ::testing::Not(HasSubstr("/etc/rc")));
  // Everything before the web jail is the original text.
  const std::string before(kCommented);
  const std::size_t web = before.find("  web:");
  EXPECT_EQ(out->substr(0, web), before.substr(0, web));
  EXPECT_TRUE(LoadPolicyText(*out, "set").ok());
}

TEST(SetJailKeysInTextTest, FlowStyleJailIsRewrittenAloneInBlockStyle) {
  constexpr char kFlow[] = "# top\njails:\n  a: {path: /a, persist: true}  # flow\n"
                           "  b:\n    path: /b  # b's root\n    persist: true\n";
  absl::StatusOr<std::string> out = SetJailKeysInText(kFlow, "p.yaml", "a", {{"path", "/a2"}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "# top\njails:\n  a:\n    path: /a2\n    persist: true\n"
                  "  b:\n    path: /b  # b's root\n    persist: true\n");
}

// A jail created through the API: its spec written as a policy jail, the
// key set, the loader's reading of the result returned; nothing else moves.
platform::JailSpec ApiSpec() {
  platform::JailSpec spec;
  spec.name = "api1";
  spec.path = "/srv/api1";
  spec.hostname = "api1.old";
  spec.network.mode = platform::NetworkMode::kNew;
  spec.network.ip4_addresses = {"127.0.0.5"};
  spec.exec.start = {"/bin/sh /etc/rc"};
  spec.exec.timeout = absl::Seconds(30);
  spec.stop_timeout = absl::Seconds(20);
  spec.mounts.push_back({"/data", "/data", "nullfs", true, ""});
  spec.depend = {"db"};
  spec.template_name = "small";
  spec.persist = true;
  return spec;
}

TEST(SetJailSpecKeysTest, ChangesOnlyTheKeysSet) {
  const platform::JailSpec before = ApiSpec();
  absl::StatusOr<platform::JailSpec> after =
      SetJailSpecKeys(before, {{"host.hostname", "api1.new"}, {"exec.start", ""}});
  ASSERT_TRUE(after.ok()) << after.status();
  platform::JailSpec expected = before;
  expected.hostname = "api1.new";
  expected.exec.start.clear();
  EXPECT_EQ(*after, expected);
  // Unchanged keys: the same spec.
  absl::StatusOr<platform::JailSpec> same = SetJailSpecKeys(before, {{"persist", "true"}});
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, before);
}

TEST(SetJailSpecKeysTest, RefusesWithTheLoadersWordsAndWhatCreateFixed) {
  const platform::JailSpec spec = ApiSpec();
  absl::StatusOr<platform::JailSpec> r = SetJailSpecKeys(spec, {{"persist", "maybe"}});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("set api1:"));
  r = SetJailSpecKeys(spec, {{"hostname", "x"}});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("did you mean 'host.hostname'?"));
  r = SetJailSpecKeys(spec, {{"limits", "{pcpu: deny=50}"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("rctl -a"));
  r = SetJailSpecKeys(spec, {{"depend", "[x]"}});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("fixed at create"));
  // A definition the policy keys cannot express is refused, not changed.
  platform::JailSpec odd = spec;
  odd.main.argv = {"/bin/sleep", "1000"};
  odd.main.restart = platform::RestartPolicy::kAlways;
  odd.log.max_files = 2;
  r = SetJailSpecKeys(odd, {{"host.hostname", "x"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("command or restart, log"));
}

}  // namespace
}  // namespace jailwarden::policy
