#include "jailwarden/rctl/user_form.h"

#include <cerrno>
#include <sstream>

#include "fakes/fake_name_resolver.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/rctl/rctl_command.h"

namespace jailwarden::rctl {
namespace {

const testing_fakes::FakeNameResolver kNames;

struct ExpandCase {
  const char* arg;
  const char* expanded;  // nullptr: error
  const char* error;     // message after "malformed rule '<arg>': "
};

void PrintTo(const ExpandCase& c, std::ostream* os) { *os << '"' << c.arg << '"'; }

class ExpandRuleTest : public testing::TestWithParam<ExpandCase> {};

TEST_P(ExpandRuleTest, ExpandsAsRctl8) {
  const ExpandCase& c = GetParam();
  absl::StatusOr<std::string> r = ExpandRule(c.arg, {true, &kNames});
  if (c.expanded != nullptr) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, c.expanded);
  } else {
    ASSERT_FALSE(r.ok()) << *r;
    EXPECT_EQ(std::string(r.status().message()), c.error);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rctl8, ExpandRuleTest,
    testing::Values(
        // Subject aliases, case-insensitive.
        ExpandCase{"u:joe:maxproc:deny=10", "user:1001:maxproc:deny=10", nullptr},
        ExpandCase{"U:joe:maxproc:deny=10", "user:1001:maxproc:deny=10", nullptr},
        ExpandCase{"g:staff:maxproc:deny=1", "group:20:maxproc:deny=1", nullptr},
        ExpandCase{"p:1:maxproc:deny=1", "process:1:maxproc:deny=1", nullptr},
        ExpandCase{"l:users:nthr:log=1", "loginclass:users:nthr:log=1", nullptr},
        ExpandCase{"c:users:nthr:log=1", "loginclass:users:nthr:log=1", nullptr},
        ExpandCase{"class:users:nthr:log=1", "loginclass:users:nthr:log=1", nullptr},
        ExpandCase{"j:www:nthr:log=1", "jail:www:nthr:log=1", nullptr},
        // Not an alias: left as typed for the kernel to judge.
        ExpandCase{"JAIL:www:nthr:log=1", "JAIL:www:nthr:log=1", nullptr},
        // User ids: names, numbers via strtod, errors.
        ExpandCase{"user:root:maxproc:deny=1", "user:0:maxproc:deny=1", nullptr},
        ExpandCase{"user:1001:maxproc:deny=1", "user:1001:maxproc:deny=1", nullptr},
        ExpandCase{"user:1e3:maxproc:deny=1", "user:1000:maxproc:deny=1", nullptr},
        ExpandCase{"user:7.9:maxproc:deny=1", "user:7:maxproc:deny=1", nullptr},
        ExpandCase{"user:nobody2:maxproc:deny=1", nullptr, "unknown user 'nobody2'"},
        ExpandCase{"group:nogroup2:maxproc:deny=1", nullptr, "unknown group 'nogroup2'"},
        ExpandCase{"user:12ab:maxproc:deny=1", nullptr,
                   "trailing characters after numerical id"},
        // Amounts: expand_number.
        ExpandCase{"jail:www:memoryuse:deny=512m", "jail:www:memoryuse:deny=536870912", nullptr},
        ExpandCase{"jail:www:memoryuse:deny=1G/process",
                   "jail:www:memoryuse:deny=1073741824/process", nullptr},
        ExpandCase{"jail:www:memoryuse:deny=1kb", "jail:www:memoryuse:deny=1024", nullptr},
        ExpandCase{"jail:www:memoryuse:deny=0x100", "jail:www:memoryuse:deny=256", nullptr},
        ExpandCase{"jail:www:maxproc:deny=-1", "jail:www:maxproc:deny=18446744073709551615",
                   nullptr},
        ExpandCase{"jail:www:memoryuse:deny=12q", nullptr, "invalid numeric value '12q'"},
        ExpandCase{"jail:www:memoryuse:deny=16e", nullptr, "invalid numeric value '16e'"},
        // Filters pass through (a trailing ':' is added after the id).
        ExpandCase{"u:joe", "user:1001:", nullptr},
        ExpandCase{"user:", "user::", nullptr},
        ExpandCase{":", "::", nullptr},
        ExpandCase{"::maxproc", "::maxproc", nullptr},
        ExpandCase{"user:1001::=/process", "user:1001::=/process", nullptr},
        // Missing subject.
        ExpandCase{"www", nullptr, "missing subject"},
        ExpandCase{"", nullptr, "missing subject"}));

TEST(ExpandRuleTest, NumericModeSkipsNameResolution) {
  absl::StatusOr<std::string> r = ExpandRule("u:joe:maxproc:deny=1", {false, &kNames});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "user:joe:maxproc:deny=1");
}

TEST(DisplayRuleTest, NamesAndHumanizedAmounts) {
  DisplayOptions names{false, false, &kNames};
  EXPECT_EQ(DisplayRule("user:1001:maxproc:deny=100", names), "user:joe:maxproc:deny=100");
  EXPECT_EQ(DisplayRule("user:4242:maxproc:deny=100", names), "user:4242:maxproc:deny=100");
  EXPECT_EQ(DisplayRule("group:20:maxproc:deny=100", names), "group:staff:maxproc:deny=100");
  DisplayOptions numeric{false, true, &kNames};
  EXPECT_EQ(DisplayRule("user:1001:maxproc:deny=100", numeric), "user:1001:maxproc:deny=100");
  DisplayOptions human{true, false, &kNames};
  EXPECT_EQ(DisplayRule("jail:www:memoryuse:deny=536870912/process", human),
            "jail:www:memoryuse:deny=512M/process");
  EXPECT_EQ(DisplayRule("user:1001:vmemoryuse:deny=1073741824", human),
            "user:joe:vmemoryuse:deny=1024M");
  EXPECT_EQ(DisplayUsagePair("memoryuse=10485760", true), "memoryuse=10M");
  EXPECT_EQ(DisplayUsagePair("memoryuse=10485760", false), "memoryuse=10485760");
  EXPECT_EQ(DisplayUsagePair("pcpu=3", true), "pcpu=3");
}

// ---- rctl(8) end to end over an in-memory kernel.

struct RctlRun {
  int status;
  std::string out, err;
};

RctlRun RunWith(RuleSet& rules, std::vector<std::string> args) {
  RuleSetBackend backend(&rules, [](int64_t pid) { return pid == 1 || pid == 42; });
  std::ostringstream out, err;
  const int status = RunRctl({std::move(args), "rctl", &kNames}, backend, out, err);
  return {status, out.str(), err.str()};
}

TEST(RunRctlTest, AddListRemoveRoundTrip) {
  RuleSet rules;
  RctlRun r = RunWith(rules, {"-a", "u:joe:maxproc:deny=100", "j:www:memoryuse:deny=1g"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  r = RunWith(rules, {});
  EXPECT_EQ(r.out, "user:joe:maxproc:deny=100\njail:www:memoryuse:deny=1073741824\n");
  r = RunWith(rules, {"-h", "jail:"});
  EXPECT_EQ(r.out, "jail:www:memoryuse:deny=1024M\n");
  r = RunWith(rules, {"-n", "user:"});
  EXPECT_EQ(r.out, "user:1001:maxproc:deny=100\n");
  r = RunWith(rules, {"-r", "u:joe"});
  EXPECT_EQ(r.status, 0);
  r = RunWith(rules, {"-r", "u:joe"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "rctl: failed to remove rule 'u:joe': No such process\n");
}

TEST(RunRctlTest, ErrorTextsAndExitStatusCountsFailures) {
  RuleSet rules;
  RctlRun r = RunWith(rules, {"-a", "jail:www:cputime:deny=10", "jail:www:nthr:deny=1q",
                          "www", "user:nosuch:nthr:log=1", "jail:www:nthr:log=1"});
  EXPECT_EQ(r.status, 4);
  EXPECT_EQ(r.err,
            "rctl: failed to add rule 'jail:www:cputime:deny=10': Operation not supported\n"
            "rctl: malformed rule 'jail:www:nthr:deny=1q': invalid numeric value '1q'\n"
            "rctl: malformed rule 'www': missing subject\n"
            "rctl: malformed rule 'user:nosuch:nthr:log=1': unknown user 'nosuch'\n");
  EXPECT_EQ(rules.size(), 1u);
  r = RunWith(rules, {"-a", "process:7:maxproc:deny=1"});
  EXPECT_EQ(r.err, "rctl: failed to add rule 'process:7:maxproc:deny=1': No such process\n");
  r = RunWith(rules, {"-a", "jail:www:maxproc:deny"});
  EXPECT_EQ(r.err, "rctl: failed to add rule 'jail:www:maxproc:deny': Invalid argument\n");
  r = RunWith(rules, {"-a", "jail:www:maxproc:deny=99999999999999999999"});
  EXPECT_EQ(r.err,
            "rctl: malformed rule 'jail:www:maxproc:deny=99999999999999999999': "
            "invalid numeric value '99999999999999999999'\n");
  r = RunWith(rules, {"-a", "jail:www:pcpu:deny=9223372036855"});
  EXPECT_EQ(r.err,
            "rctl: failed to add rule 'jail:www:pcpu:deny=9223372036855': Result too large\n");
  r = RunWith(rules, {"-a", "loginclass:" + std::string(40, 'x') + ":nthr:log=1"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("File name too long"), std::string::npos);
}

TEST(RunRctlTest, OptionErrorsAndUsage) {
  RuleSet rules;
  RctlRun r = RunWith(rules, {"-a", "-r", "::"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "rctl: at most one of -a, -l, -r, or -u may be specified\n");
  r = RunWith(rules, {"-u"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "usage: rctl [ -h ] [-a rule | -l filter | -r filter | -u filter | filter]\n");
  r = RunWith(rules, {"-x"});
  EXPECT_EQ(r.status, 1);
}

TEST(RunRctlTest, UsageAndLimits) {
  RuleSet rules;
  RctlRun r = RunWith(rules, {"-u", "jail:www"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 25);
  r = RunWith(rules, {"-u", "user:"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "rctl: failed to show resource consumption for 'user:': Invalid argument\n");
  r = RunWith(rules, {"-l", "jail:www"});
  EXPECT_EQ(r.err, "rctl: failed to get limits for 'jail:www': Operation not supported\n");
  ASSERT_EQ(RunWith(rules, {"-a", "process:42:openfiles:deny=64"}).status, 0);
  r = RunWith(rules, {"-l", "process:42"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "process:42:openfiles:deny=64\n");
}

TEST(RunRctlTest, EnosysPrintsTheKernelTextAndExitsOne) {
  class NoRacct : public RctlBackend {
   public:
    absl::Status AddRule(std::string_view) override { return Enosys(); }
    absl::Status RemoveRule(std::string_view) override { return Enosys(); }
    absl::StatusOr<std::string> GetRules(std::string_view) override { return Enosys(); }
    absl::StatusOr<std::string> GetLimits(std::string_view) override { return Enosys(); }
    absl::StatusOr<std::string> GetRacct(std::string_view) override { return Enosys(); }
    std::string EnosysMessage() const override {
      return "RACCT/RCTL present, but disabled; enable using kern.racct.enable=1 tunable";
    }
    static absl::Status Enosys() { return ErrnoStatus(ENOSYS, "rctl"); }
  } backend;
  std::ostringstream out, err;
  const int status = RunRctl({{"-a", "jail:a:maxproc:deny=1", "jail:b:maxproc:deny=1"}, "rctl", &kNames},
                             backend, out, err);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(err.str(),
            "rctl: RACCT/RCTL present, but disabled; enable using kern.racct.enable=1 tunable\n");
}

TEST(RunRctlCheckTest, PrintsStorageFormOrRctlError) {
  std::ostringstream out, err;
  const int failed = RunRctlCheck(
      {"j:www:memoryuse:deny=512M", "u:joe:pcpu:deny=50/jail", "jail:www:readbps:throttle=1m",
       "jail:www:wallclock:deny=10", "jail:www:nthr:log=x"},
      "jailwarden rctl", &kNames, out, err);
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(out.str(),
            "jail:www:memoryuse:deny=536870912\n"
            "user:1001:pcpu:deny=50/jail\n"
            "jail:www:readbps:throttle=1048576\n");
  EXPECT_EQ(err.str(),
            "jailwarden rctl: failed to add rule 'jail:www:wallclock:deny=10': "
            "Operation not supported\n"
            "jailwarden rctl: malformed rule 'jail:www:nthr:log=x': invalid numeric value 'x'\n");
}

}  // namespace
}  // namespace jailwarden::rctl
