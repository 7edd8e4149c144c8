// policy/checks.h: the checks every entry point shares, and the warning
// channel for keys that relax isolation.

#include "jailwarden/policy/checks.h"

#include <cerrno>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/policy/policy.h"

namespace jailwarden::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ErrorOf(std::string_view text, RuleUse use) {
  absl::StatusOr<rctl::Rule> r = CheckRule(text, {use, true, nullptr});
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(CheckRuleTest, AcceptsWhatThePolicyAccepts) {
  absl::StatusOr<rctl::Rule> r = CheckRule("jail:web:memoryuse:deny=64M");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->subject_id, "web");
  EXPECT_EQ(r->amount, int64_t{64} << 20);
}

TEST(CheckRuleTest, RefusesProcessRulesEverywhereWithOneText) {
  const std::string want =
      "rule 'process:1:maxproc:deny=10': process rules are refused (a pid does not survive "
      "a restart, and the daemon keeps its rules across restarts); use a jail, user or "
      "loginclass subject with /process";
  EXPECT_EQ(ErrorOf("process:1:maxproc:deny=10", RuleUse::kRuntimeRule), want);
  EXPECT_EQ(ErrorOf("process:1:maxproc:deny=10", RuleUse::kPolicyRule), want);
  absl::StatusOr<rctl::Rule> r = CheckRule("process:1:maxproc:deny=10");
  EXPECT_EQ(StatusErrno(r.status()), EOPNOTSUPP);
}

TEST(CheckRuleTest, WordsAreRctlsWithTheErrno) {
  absl::StatusOr<rctl::Rule> r = CheckRule("jail:web:memoryuse:throttle=1M");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "failed to add rule 'jail:web:memoryuse:throttle=1M': Operation not supported");
  EXPECT_EQ(StatusErrno(r.status()), EOPNOTSUPP);
  r = CheckRule("user:no-such-user-jw:maxproc:deny=1");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("malformed rule 'user:no-such-user-jw:maxproc:deny=1': "));
  EXPECT_EQ(StatusErrno(r.status()), EINVAL);
  r = CheckRule("jail:web:nosuch:deny=1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "failed to add rule 'jail:web:nosuch:deny=1': Invalid argument");
  EXPECT_EQ(StatusErrno(r.status()), EINVAL);
}

TEST(CheckRuleTest, AJailLimitMustBeAboutAJail) {
  EXPECT_EQ(ErrorOf("user:0:maxproc:deny=10", RuleUse::kJailLimit),
            "limit 'user:0:maxproc:deny=10': a jail's limit must have the subject jail:NAME");
  EXPECT_EQ(ErrorOf("user:0:maxproc:deny=10", RuleUse::kRuntimeRule), "");
}

TEST(DuplicateRuleTest, TwoDeniesForOneResourceAreRefused) {
  std::vector<rctl::Rule> rules;
  std::vector<std::string> texts = {"jail:x:memoryuse:deny=1M", "jail:x:memoryuse:deny=2M"};
  for (const std::string& t : texts) rules.push_back(*CheckRule(t));
  EXPECT_EQ(DuplicateRuleProblem(rules, texts).value_or(""),
            "duplicate limit 'jail:x:memoryuse:deny=2M': a deny for memoryuse is already given "
            "as 'jail:x:memoryuse:deny=1M' and the kernel keeps only the last one");
  // Different actions, or a deny per process and one per jail, coexist.
  texts = {"jail:x:memoryuse:deny=1M", "jail:x:memoryuse:log=1M",
           "jail:x:memoryuse:deny=2M/process"};
  rules.clear();
  for (const std::string& t : texts) rules.push_back(*CheckRule(t));
  EXPECT_FALSE(DuplicateRuleProblem(rules, texts).has_value());
}

TEST(CapabilityNameTest, KnownNamesInAnySpelling) {
  EXPECT_FALSE(CapabilityNameProblem("cap_sys_nice").has_value());
  EXPECT_FALSE(CapabilityNameProblem("CAP_NET_RAW").has_value());
  EXPECT_FALSE(CapabilityNameProblem("net_raw").has_value());
  EXPECT_EQ(CapabilityNameProblem("cap_foo").value_or(""),
            "unknown capability 'cap_foo' (capabilities(7) names such as cap_sys_nice or "
            "CAP_NET_RAW)");
  EXPECT_TRUE(CapabilityNameProblem("").has_value());
}

TEST(PolicySizeTest, TheBoundIsOneNumberWithOneMessage) {
  EXPECT_EQ(kMaxPolicyBytes, std::size_t{4} << 20);
  EXPECT_EQ(PolicyTooLargeMessage("p.yaml"),
            "p.yaml: File too large (a policy is limited to 4194304 bytes, 4 MiB)");
  absl::StatusOr<std::string> r = ReadPolicyFileBounded("/dev/zero");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), PolicyTooLargeMessage("/dev/zero"));
  EXPECT_EQ(StatusErrno(r.status()), EFBIG);
  const std::vector<PolicyError> errors =
      ValidatePolicyText(std::string(kMaxPolicyBytes + 1, '#'), "p.yaml");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].ToString(), PolicyTooLargeMessage("p.yaml"));
  EXPECT_THAT(ValidatePolicyText(std::string(kMaxPolicyBytes, '#'), "p.yaml"), IsEmpty());
}

// ---- warnings ----

std::vector<std::string> Warnings(const std::string& text) {
  std::vector<PolicyError> warnings;
  LoadOptions options;
  options.warnings = &warnings;
  const std::vector<PolicyError> errors = ValidatePolicyText(text, "w.yaml", options);
  EXPECT_THAT(errors, IsEmpty()) << FormatErrors(errors);
  std::vector<std::string> out;
  for (const PolicyError& w : warnings) out.push_back(w.ToString());
  return out;
}

TEST(WarningsTest, EveryRelaxingKeyIsWarnedAtItsPosition) {
  EXPECT_THAT(
      Warnings("jails:\n  x:\n    persist: true\n    allow.mount: true\n"
               "    allow.raw_sockets: yes\n    linux.capabilities: sys_ptrace\n"
               "    linux.seccomp:\n      allow: [keyctl]\n"),
      ElementsAre(
          "w.yaml:4:18: warning: 'allow.mount' in jail 'x' relaxes isolation: grants "
          "CAP_SYS_ADMIN, which is root-equivalent on Linux (the jail's root can mount the "
          "host's disks and escape)",
          "w.yaml:5:24: warning: 'allow.raw_sockets' in jail 'x' relaxes isolation: grants "
          "CAP_NET_RAW (raw packets on the host's network with ip4: inherit)",
          "w.yaml:6:25: warning: 'linux.capabilities' in jail 'x' relaxes isolation: the "
          "jail's root keeps sys_ptrace beyond what allow.* grants",
          "w.yaml:8:14: warning: 'linux.seccomp' in jail 'x' relaxes isolation: allows "
          "keyctl, which the default seccomp filter refuses"));
}

TEST(WarningsTest, NothingRelaxedNothingSaid) {
  EXPECT_THAT(Warnings("jails:\n  x:\n    persist: true\n    allow.mount: false\n"
                       "    linux.seccomp:\n      deny: [ptrace]\n"),
              IsEmpty());
}

TEST(WarningsTest, AllCapabilities) {
  EXPECT_THAT(Warnings("jails:\n  x:\n    persist: true\n    linux.capabilities: all\n"),
              ElementsAre(HasSubstr("w.yaml:4:25: warning: 'linux.capabilities' in jail 'x' "
                                    "relaxes isolation: nothing is dropped")));
}

TEST(WarningsTest, AKeyInATemplateIsWarnedOnceAtTheTemplate) {
  EXPECT_THAT(Warnings("templates:\n  t:\n    persist: true\n    allow.mlock: true\n"
                       "jails:\n  a:\n    template: t\n  b:\n    template: t\n"),
              ElementsAre(HasSubstr("w.yaml:4:18: warning: 'allow.mlock' in template 't'")));
}

TEST(WarningsTest, SharedNetworkWithTheApiOffLoopback) {
  EXPECT_THAT(Warnings("server:\n  listen: 0.0.0.0:9814\njails:\n  x:\n    persist: true\n"),
              ElementsAre("w.yaml:4:3: warning: jail 'x' relaxes isolation: ip4: inherit "
                          "shares the host's network, and the API listens on '0.0.0.0:9814', "
                          "which processes in the jail can reach; give the jail its own stack "
                          "(ip4: new, vnet: true) or listen on loopback only"));
  EXPECT_THAT(Warnings("server:\n  listen: 127.0.0.1:9814\njails:\n  x:\n    persist: true\n"),
              IsEmpty());
  EXPECT_THAT(Warnings("server:\n  listen: 0.0.0.0:9814\njails:\n  x:\n    persist: true\n"
                       "    ip4: new\n"),
              IsEmpty());
}

}  // namespace
}  // namespace jailwarden::policy
