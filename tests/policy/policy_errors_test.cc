// Reporting a bad policy (positions, one error per place, files) and the
// YAML and jail-name rules every section shares.

#include "jailwarden/policy/policy.h"

#include <cerrno>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/rctl/kernel_form.h"
#include "policy/test_util.h"

namespace jailwarden::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Errors;
using testing::MustLoad;
using testing::MustLoadFile;
using testing::RuleTexts;

TEST(PolicyTest, StatusHoldsEveryErrorOnePerLine) {
  absl::StatusOr<Policy> p = LoadPolicyText(
      "jails:\n  a:\n    path: rel\n    persist: true\n  b:\n    bogus: 1\n    "
      "persist: true\n",
      "conf.yaml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      std::string(p.status().message()),
      "conf.yaml:3:11: 'path' in jail 'a': expected an absolute path, got "
      "'rel'\n"
      "conf.yaml:6:5: unknown key 'bogus' in jail 'b'; expected one of: "
      "template, "
      "path, host.hostname, base, ip4, ip4.addr, ip6, ip6.addr, interface, "
      "vnet, "
      "vnet.interface, vnet.host_ip4, mount, copy, exec.prepare, "
      "exec.prestart, "
      "exec.created, exec.start, exec.poststart, exec.prestop, exec.stop, "
      "exec.poststop, exec.release, exec.clean, exec.timeout, stop.timeout, "
      "persist, depend, limits, command, restart, restart_backoff, "
      "restart_limit, log, healthcheck, or a jail(8) parameter listed in "
      "docs/policy.md");
}

TEST(PolicyTest, ErrorsAreSortedByPosition) {
  // Jails are read after rules would be in the file; output is still in
  // file order.
  EXPECT_THAT(
      Errors("rules:\n  - bad\njails:\n  a:\n    path: x\n    persist: true\n"),
      ElementsAre(StartsWith("t.yaml:2:5: malformed rule 'bad'"),
                  StartsWith("t.yaml:5:11: 'path'")));
}

TEST(PolicyTest, FormatErrors) {
  const std::vector<PolicyError> errors = {{"a.yaml", 3, 7, "bad thing"},
                                           {"a.yaml", 0, 0, "No such file"}};
  EXPECT_EQ(errors[0].ToString(), "a.yaml:3:7: bad thing");
  EXPECT_EQ(errors[1].ToString(), "a.yaml: No such file");
  EXPECT_EQ(FormatErrors(errors),
            "a.yaml:3:7: bad thing\na.yaml: No such file\n");
  EXPECT_EQ(FormatErrors({}), "");
}

TEST(PolicyTest, MissingFile) {
  const std::string path = testing::TestdataPath("does-not-exist.yaml");
  absl::StatusOr<Policy> p = LoadPolicyFile(path);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusErrno(p.status()), ENOENT);
  EXPECT_THAT(std::string(p.status().message()), StartsWith(path + ": "));
  const std::vector<PolicyError> errors = ValidatePolicyFile(path);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 0);
  EXPECT_EQ(errors[0].file, path);
  EXPECT_EQ(errors[0].message, "No such file or directory");
}

TEST(PolicyTest, AliasExpansionIsBounded) {
  // "Billion laughs": 10^7 nodes after alias expansion.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 6; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) {
      text += (k ? ", " : "") + prev;
    }
    text += "]\n";
  }
  const std::vector<std::string> errors = Errors(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("document too large"));
}

TEST(PolicyTest, AnchorsAndAliasesWork) {
  const Policy p = MustLoad(
      "jails:\n"
      "  a:\n    persist: true\n    limits: &lim\n      maxproc: deny=10\n"
      "  b:\n    persist: true\n    limits: *lim\n");
  ASSERT_EQ(p.jails.size(), 2u);
  EXPECT_THAT(RuleTexts(p.jails[1].limits),
              ElementsAre("jail:b:maxproc:deny=10"));
}

TEST(PolicyTest, TemplateErrorsAreReportedOnceAtTheTemplate) {
  // Three jails share a template with a bad value: one error.
  EXPECT_THAT(
      Errors("templates:\n  t:\n    persist: true\n    stop.timeout: soon\n"
             "jails:\n  a: {template: t}\n  b: {template: t}\n  c: {template: "
             "t}\n"),
      ElementsAre(StartsWith("t.yaml:4:19: 'stop.timeout' in template 't'")));
}

TEST(PolicyTest, JailCanOverrideABadTemplateValueButTheTemplateIsStillWrong) {
  EXPECT_THAT(Errors("templates:\n  t:\n    path: rel\njails:\n"
                     "  a: {template: t, path: /jails/a, persist: true}\n"),
              ElementsAre(StartsWith("t.yaml:3:11: 'path' in template 't'")));
}

// Every ```yaml block of docs/policy.md that is a whole policy (starts
// with a top-level key) must validate, so the reference cannot drift.
TEST(PolicyTest, DocsExamplesValidate) {
  std::ifstream in(std::string(JW_TESTDATA_DIR) + "/../../docs/policy.md");
  ASSERT_TRUE(in.good());
  std::string line, block;
  bool in_block = false;
  int checked = 0;
  while (std::getline(in, line)) {
    if (!in_block && line == "```yaml") {
      in_block = true;
      block.clear();
    } else if (in_block && line == "```") {
      in_block = false;
      for (const char* top : {"server:", "templates:", "jails:", "rules:"}) {
        if (block.rfind(top, 0) == 0) {
          EXPECT_THAT(Errors(block), ::testing::IsEmpty()) << block;
          ++checked;
          break;
        }
      }
    } else if (in_block) {
      block += line + "\n";
    }
  }
  EXPECT_GE(checked, 3);
}

struct NameCase {
  const char* name;
  bool ok;
};

// Keeps ctest's test names readable (no byte dumps).
void PrintTo(const NameCase& c, std::ostream* os) { *os << '"' << c.name << '"'; }

class JailNameTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(JailNameTest, AsJail8WouldAccept) {
  EXPECT_EQ(!JailNameProblem(GetParam().name).has_value(), GetParam().ok)
      << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Names, JailNameTest,
    ::testing::Values(NameCase{"web", true}, NameCase{"web-1", true},
                      NameCase{"_x", true}, NameCase{"1web", true},
                      NameCase{"A_b-C9", true}, NameCase{"", false},
                      NameCase{"42", false}, NameCase{"0", false},
                      NameCase{"web.1", false}, NameCase{"-web", false},
                      NameCase{"we b", false}, NameCase{"wéb", false},
                      NameCase{"a:b", false}, NameCase{"a/b", false},
                      NameCase{"a,b", false}),
    [](const ::testing::TestParamInfo<NameCase>& param_info) {
      return std::to_string(param_info.index) +
             (param_info.param.ok ? "_ok" : "_bad");
    });

TEST(JailNameTest, LengthLimit) {
  // The manager's limit (cgroup, hostname and state-file names), shared by
  // the loader, the API and the manager (checks.h kMaxJailNameLength).
  EXPECT_FALSE(JailNameProblem(std::string(64, 'a')).has_value());
  EXPECT_EQ(JailNameProblem(std::string(65, 'a')).value_or(""),
            "is 65 characters long; at most 64 are allowed");
  EXPECT_TRUE(JailNameProblem(std::string(100, 'a')).has_value());
}

// linux.seccomp (docs/security.md): a map of allow/deny lists of system
// call names, each checked at its own position.
TEST(PolicyTest, LinuxSeccompIsStoredInTheParameterForm) {
  Policy p = MustLoad(
      "jails:\n  a:\n    persist: true\n    linux.seccomp:\n"
      "      allow: [keyctl, add_key]\n      deny: ptrace\n");
  ASSERT_EQ(p.jails.size(), 1u);
  EXPECT_EQ(p.jails[0].spec.parameters.at("linux.seccomp"),
            "allow:keyctl,add_key deny:ptrace");
}

TEST(PolicyTest, LinuxSeccompRefusesUnknownNamesAndKeys) {
  EXPECT_THAT(
      Errors("jails:\n  a:\n    persist: true\n    linux.seccomp:\n"
             "      allow: [keyctl, kyectl]\n"),
      ElementsAre("t.yaml:5:23: 'linux.seccomp' in jail 'a' allow: 'kyectl' "
                  "is not a system call name"));
  EXPECT_THAT(Errors("jails:\n  a:\n    persist: true\n    linux.seccomp:\n"
                     "      permit: [keyctl]\n"),
              ElementsAre(StartsWith("t.yaml:5:7: unknown key 'permit' in "
                                     "'linux.seccomp' in jail 'a'")));
  EXPECT_THAT(Errors("jails:\n  a:\n    persist: true\n    linux.seccomp: keyctl\n"),
              ElementsAre(StartsWith("t.yaml:4:20: 'linux.seccomp' in jail 'a': "
                                     "expected a map")));
  EXPECT_THAT(Errors("jails:\n  a:\n    persist: true\n    linux.seccomp:\n"
                     "      allow: [keyctl]\n      deny: [keyctl]\n"),
              ElementsAre(HasSubstr("'keyctl' is both allowed and denied")));
}

}  // namespace
}  // namespace jailwarden::policy
