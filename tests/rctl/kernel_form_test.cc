#include "jailwarden/rctl/kernel_form.h"

#include <cerrno>
#include <string>

#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::rctl {
namespace {

int ErrnoOf(const absl::Status& s) { return StatusErrno(s).value_or(0); }

// ---- Parsing: field splitting, case, ids, amounts (freebsd-rctl.md §6.1).

struct ParseCase {
  std::string text;
  std::string formatted;  // FormatRule of the parsed filter ("" = error)
  int error;              // expected errno when formatted is empty
};

void PrintTo(const ParseCase& c, std::ostream* os) {
  *os << '"';
  for (char ch : c.text.substr(0, 60)) *os << (ch >= 0x20 && ch < 0x7f ? ch : '?');
  *os << '"';
}

class ParseRuleTextTest : public testing::TestWithParam<ParseCase> {};

TEST_P(ParseRuleTextTest, ParsesAsKernel) {
  const ParseCase& c = GetParam();
  absl::StatusOr<Rule> r = ParseRuleText(c.text);
  if (c.error != 0) {
    ASSERT_FALSE(r.ok()) << FormatRule(*r);
    EXPECT_EQ(ErrnoOf(r.status()), c.error)
        << ErrnoName(ErrnoOf(r.status())) << " " << r.status();
  } else {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(FormatRule(*r), c.formatted);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kernel, ParseRuleTextTest,
    testing::Values(
        // Complete rules; per omitted when equal to the subject.
        ParseCase{"user:1001:maxproc:deny=100", "user:1001:maxproc:deny=100", 0},
        ParseCase{"user:1001:openfiles:deny=50/process",
                  "user:1001:openfiles:deny=50/process", 0},
        ParseCase{"jail:www:memoryuse:deny=536870912/jail",
                  "jail:www:memoryuse:deny=536870912", 0},
        // Case-insensitive names, lowercase output; ids keep their case.
        ParseCase{"JAIL:WWW:MemoryUse:DENY=1/Jail", "jail:WWW:memoryuse:deny=1", 0},
        ParseCase{"LoginClass:Staff:nthr:SigTerm=5",
                  "loginclass:Staff:nthr:sigterm=5", 0},
        // In-millions scaling survives a round trip (stored ×10^6).
        ParseCase{"jail:a:pcpu:deny=50", "jail:a:pcpu:deny=50", 0},
        ParseCase{"jail:a:cputime:log=9223372036854", "jail:a:cputime:log=9223372036854", 0},
        ParseCase{"jail:a:cputime:log=9223372036855", "", ERANGE},
        ParseCase{"jail:a:wallclock:log=9223372036855", "", ERANGE},
        ParseCase{"jail:a:memoryuse:log=9223372036855", "jail:a:memoryuse:log=9223372036855", 0},
        // Amounts: base 10, whole string, strtoul's whitespace and sign.
        ParseCase{"jail:a:maxproc:deny= 10", "jail:a:maxproc:deny=10", 0},
        ParseCase{"jail:a:maxproc:deny=+10", "jail:a:maxproc:deny=10", 0},
        ParseCase{"jail:a:maxproc:deny=-0", "jail:a:maxproc:deny=0", 0},
        ParseCase{"jail:a:maxproc:deny=010", "jail:a:maxproc:deny=10", 0},
        ParseCase{"jail:a:maxproc:deny=-1", "", ERANGE},
        ParseCase{"jail:a:maxproc:deny=9223372036854775807",
                  "jail:a:maxproc:deny=9223372036854775807", 0},
        ParseCase{"jail:a:maxproc:deny=9223372036854775808", "", ERANGE},
        ParseCase{"jail:a:maxproc:deny=99999999999999999999", "", ERANGE},
        ParseCase{"jail:a:maxproc:deny=1k", "", EINVAL},
        ParseCase{"jail:a:maxproc:deny=0x10", "", EINVAL},
        ParseCase{"jail:a:maxproc:deny=10 ", "", EINVAL},
        ParseCase{"jail:a:maxproc:deny=+", "", EINVAL},
        // Unknown names.
        ParseCase{"group:0:maxproc:deny=1", "", EINVAL},
        ParseCase{"jail:a:memory:deny=1", "", EINVAL},
        ParseCase{"jail:a:maxproc:sigcont=1", "", EINVAL},
        ParseCase{"jail:a:maxproc:deny=1/group", "", EINVAL},
        ParseCase{"jail:a:maxproc:deny=1/jail/jail", "", EINVAL},
        // A subject-id without a subject.
        ParseCase{":1:maxproc:deny=1", "", EINVAL},
        // Numeric-only ids for process and user; printed as 32-bit %d.
        ParseCase{"user:root:maxproc:deny=1", "", EINVAL},
        ParseCase{"user:12x:maxproc:deny=1", "", EINVAL},
        ParseCase{"user:0010:maxproc:deny=1", "user:10:maxproc:deny=1", 0},
        ParseCase{"user:4294967295:maxproc:deny=1", "user:-1:maxproc:deny=1", 0},
        ParseCase{"process:1:maxproc:deny=1", "process:1:maxproc:deny=1", 0},
        ParseCase{"process:abc:maxproc:deny=1", "", EINVAL},
        // Name length bounds: MAXLOGNAME 33, MAXHOSTNAMELEN 256.
        ParseCase{"loginclass:" + std::string(32, 'c') + ":nthr:log=1",
                  "loginclass:" + std::string(32, 'c') + ":nthr:log=1", 0},
        ParseCase{"loginclass:" + std::string(33, 'c') + ":nthr:log=1", "",
                  ENAMETOOLONG},
        ParseCase{"jail:" + std::string(255, 'j') + ":nthr:log=1",
                  "jail:" + std::string(255, 'j') + ":nthr:log=1", 0},
        ParseCase{"jail:" + std::string(256, 'j') + ":nthr:log=1", "",
                  ENAMETOOLONG},
        // Filters: empty or missing fields are wildcards.
        ParseCase{"", ":::=", 0}, ParseCase{":", ":::=", 0},
        ParseCase{"::", ":::=", 0}, ParseCase{":::=/", ":::=", 0},
        ParseCase{"loginclass:", "loginclass:::=", 0},
        ParseCase{"::maxproc", "::maxproc:=", 0},
        ParseCase{"user:1001::=/process", "user:1001::=/process", 0},
        ParseCase{"jail:www", "jail:www::=", 0},
        ParseCase{"::maxproc:=10", "::maxproc:=10", 0},
        // "user:1001:::/process": the action field becomes ":" (EINVAL).
        ParseCase{"user:1001:::/process", "", EINVAL},
        // The action ends at '=' or '/': "deny/user" leaves "user" as the
        // amount.
        ParseCase{"user:1:maxproc:deny/user", "", EINVAL},
        // Text after a NUL is not seen (copyinstr).
        ParseCase{std::string("jail:a:maxproc:deny=5\0junk", 26),
                  "jail:a:maxproc:deny=5", 0}));

TEST(ParseRuleTextTest, ProcessLookupFailureIsEsrch) {
  ProcessExists only_42 = [](int64_t pid) { return pid == 42; };
  EXPECT_TRUE(ParseRuleText("process:42:maxproc:deny=1", only_42).ok());
  absl::StatusOr<Rule> r = ParseRuleText("process:43:maxproc:deny=1", only_42);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrnoOf(r.status()), ESRCH);
  // The id is parsed before the lookup: junk is EINVAL, not ESRCH.
  r = ParseRuleText("process:4x:maxproc:deny=1", only_42);
  EXPECT_EQ(ErrnoOf(r.status()), EINVAL);
  // A filter without a pid does not look anything up.
  EXPECT_TRUE(ParseRuleText("process::maxproc", only_42).ok());
}

TEST(ParseRuleTextTest, FieldsAreStoredInKernelScale) {
  absl::StatusOr<Rule> r = ParseRuleText("jail:www:pcpu:deny=25/user");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subject, SubjectType::kJail);
  EXPECT_EQ(r->subject_id, "www");
  EXPECT_EQ(r->resource, Resource::kPcpu);
  EXPECT_EQ(r->action, Action::kDeny);
  EXPECT_EQ(r->amount, 25000000);
  EXPECT_EQ(r->UserAmount(), 25);
  EXPECT_EQ(r->per, SubjectType::kUser);
  // A filter amount without a resource is not scaled.
  r = ParseRuleText(":::=7");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->amount, 7);
  r = ParseRuleText("::cputime:=7");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->amount, 7000000);
}

// ---- rctl_add_rule: per defaulting, fully specified, §6.5 validation.

TEST(ParseRuleForAddTest, DefaultsPerAndRequiresFullRule) {
  absl::StatusOr<Rule> r = ParseRuleForAdd("jail:www:maxproc:deny=10");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->per, SubjectType::kJail);
  for (const char* partial :
       {"jail:www:maxproc:deny", "jail:www:maxproc:deny=", "jail:www:maxproc",
        "jail::maxproc:deny=1", ":www:maxproc:deny=1", "jail:www::deny=1",
        "jail:www:maxproc:=1", "::", ""}) {
    SCOPED_TRACE(partial);
    absl::StatusOr<Rule> bad = ParseRuleForAdd(partial);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(ErrnoOf(bad.status()), EINVAL);
  }
}

TEST(ParseRuleForAddTest, InputLongerThanInbufIsE2big) {
  // 4096 bytes including the NUL is allowed; one more is E2BIG.
  std::string ok = "jail:" + std::string(200, 'j') + ":maxproc:log=";
  ok += std::string(4095 - ok.size(), '1');
  ASSERT_EQ(ok.size(), 4095u);
  EXPECT_NE(ErrnoOf(ParseRuleForAdd(ok).status()), E2BIG);
  EXPECT_EQ(ErrnoOf(ParseRuleForAdd(ok + "1").status()), E2BIG);
}

// An oracle written from the man page wording and §6.5, independent of the
// implementation's flag tests.
int ExpectedAddErrno(Resource r, Action a, SubjectType per) {
  const std::string_view name = ResourceName(r);
  const bool no_deny = name == "cputime" || name == "wallclock" ||
                       name == "readbps" || name == "writebps" ||
                       name == "readiops" || name == "writeiops";
  const bool io = name == "readbps" || name == "writebps" ||
                  name == "readiops" || name == "writeiops";
  const bool sloppy = name == "pseudoterminals" || name == "swapuse" ||
                      name == "msgqqueued" || name == "msgqsize" ||
                      name == "nmsgq" || name == "nsem" || name == "nshm" ||
                      name == "shmsize";
  if (a == Action::kDeny && no_deny) return EOPNOTSUPP;
  if (a == Action::kThrottle && !io) return EOPNOTSUPP;
  if (per == SubjectType::kProcess && sloppy) return EOPNOTSUPP;
  return 0;
}

TEST(ValidateForAddTest, FullActionResourcePerMatrix) {
  int checked = 0, rejected = 0;
  for (const ResourceInfo& info : ResourceTable()) {
    for (Action action : AllActions()) {
      for (SubjectType per : kAllSubjectTypes) {
        const std::string text =
            StrCat("user:1001:", info.name, ":", ActionName(action), "=1/",
                   SubjectTypeName(per));
        SCOPED_TRACE(text);
        absl::StatusOr<Rule> r = ParseRuleForAdd(text);
        const int want = ExpectedAddErrno(info.resource, action, per);
        if (want == 0) {
          EXPECT_TRUE(r.ok()) << r.status();
        } else {
          ASSERT_FALSE(r.ok());
          EXPECT_EQ(ErrnoOf(r.status()), want);
          ++rejected;
        }
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 25 * 35 * 4);
  // deny: 6 resources × 4 per; throttle: 21 non-IO resources × 4 per;
  // per=process on the 8 sloppy resources for the 34 other actions.
  EXPECT_EQ(rejected, 6 * 4 + 21 * 4 + 8 * 34);
}

TEST(ValidateForAddTest, ProcessSubjectDefaultsPerToProcess) {
  // "process:N:swapuse:..." fails: per defaults to process.
  absl::StatusOr<Rule> r = ParseRuleForAdd("process:1:swapuse:log=1");
  EXPECT_EQ(ErrnoOf(r.status()), EOPNOTSUPP);
  r = ParseRuleForAdd("user:1:swapuse:log=1/process");
  EXPECT_EQ(ErrnoOf(r.status()), EOPNOTSUPP);
  // No other subject/per combination is restricted.
  EXPECT_TRUE(ParseRuleForAdd("process:1:maxproc:deny=10/user").ok());
  EXPECT_TRUE(ParseRuleForAdd("user:1:maxproc:deny=10/jail").ok());
  // memoryuse and pcpu deny are accepted (not deniable / decaying).
  EXPECT_TRUE(ParseRuleForAdd("jail:a:memoryuse:deny=1").ok());
  EXPECT_TRUE(ParseRuleForAdd("jail:a:pcpu:deny=1").ok());
  EXPECT_EQ(ErrnoOf(ParseRuleForAdd("jail:a:pcpu:throttle=1").status()),
            EOPNOTSUPP);
}

// ---- Filters (§6.9).

TEST(RuleMatchesFilterTest, EveryFilterForm) {
  const Rule rule = *ParseRuleForAdd("user:1001:maxproc:deny=100/process");
  const Rule jail_rule = *ParseRuleForAdd("jail:www:cputime:log=10");
  struct Case {
    const char* filter;
    bool matches_user_rule;
    bool matches_jail_rule;
  };
  const Case cases[] = {
      {":", true, true},
      {"::", true, true},
      {":::=/", true, true},
      {"", true, true},
      {"user:", true, false},
      {"user:1001", true, false},
      {"user:1002", false, false},
      {"loginclass:", false, false},
      {"jail:", false, true},
      {"jail:www", false, true},
      {"jail:WWW", false, false},
      {"::maxproc", true, false},
      {"::cputime", false, true},
      {"user:1001::=/process", true, false},
      {"user:1001::=/user", false, false},
      {":::deny", true, false},
      {":::log", false, true},
      {":::deny=100", true, false},
      {":::deny=101", false, false},
      // In-millions filter amounts are scaled with the resource...
      {"::cputime:log=10", false, true},
      // ...but without a resource they are compared raw.
      {":::log=10", false, false},
      {":::log=10000000", false, true},
      {":::=/process", true, false},
      {":::=/jail", false, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.filter);
    absl::StatusOr<Rule> f = ParseRuleText(c.filter);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(RuleMatchesFilter(rule, *f), c.matches_user_rule);
    EXPECT_EQ(RuleMatchesFilter(jail_rule, *f), c.matches_jail_rule);
  }
}

// ---- Usage text (§8.5).

TEST(FormatUsageTest, ProcessOmitsSloppyResources) {
  UsageVector u{};
  for (std::size_t i = 0; i < kResourceCount; ++i) u[i] = static_cast<int64_t>(i);
  u[Index(Resource::kCputime)] = 12999999;  // µs -> 12 s (truncates)
  u[Index(Resource::kPcpu)] = 150000000;    // 150 %
  const std::string proc = FormatUsage(u, SubjectType::kProcess);
  EXPECT_EQ(proc,
            "cputime=12,datasize=1,stacksize=2,coredumpsize=3,memoryuse=4,"
            "memorylocked=5,maxproc=6,openfiles=7,vmemoryuse=8,nthr=11,"
            "nsemop=16,wallclock=0,pcpu=150,readbps=21,writebps=22,"
            "readiops=23,writeiops=24");
  EXPECT_EQ(Split(proc, ',').size(), 17u);
  const std::string jail = FormatUsage(u, SubjectType::kJail);
  EXPECT_EQ(Split(jail, ',').size(), 25u);
  EXPECT_NE(jail.find("pseudoterminals=9,swapuse=10,nthr=11"), std::string::npos);
}

TEST(ParseUsageTest, RoundTripsKernelOutput) {
  const std::string text =
      "cputime=2,datasize=1048576,stacksize=0,coredumpsize=0,"
      "memoryuse=9854976,memorylocked=0,maxproc=3,openfiles=2048,"
      "vmemoryuse=41943040,pseudoterminals=1,swapuse=0,nthr=4,msgqqueued=0,"
      "msgqsize=0,nmsgq=0,nsem=0,nsemop=0,nshm=0,shmsize=0,wallclock=351,"
      "pcpu=3,readbps=4096,writebps=0,readiops=1,writeiops=0";
  absl::StatusOr<std::array<std::optional<int64_t>, kResourceCount>> parsed =
      ParseUsage(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  UsageVector u{};
  for (std::size_t i = 0; i < kResourceCount; ++i) {
    ASSERT_TRUE((*parsed)[i].has_value()) << i;
    u[i] = *(*parsed)[i];
  }
  EXPECT_EQ(u[Index(Resource::kCputime)], 2000000);
  EXPECT_EQ(u[Index(Resource::kWallclock)], 351000000);
  EXPECT_EQ(FormatUsage(u, SubjectType::kJail), text);
}

TEST(ParseUsageTest, RejectsUnknownNamesAndJunk) {
  EXPECT_EQ(ErrnoOf(ParseUsage("cputime=1,bogus=2").status()), EINVAL);
  EXPECT_EQ(ErrnoOf(ParseUsage("cputime=1x").status()), EINVAL);
  EXPECT_EQ(ErrnoOf(ParseUsage("cputime").status()), EINVAL);
  EXPECT_TRUE(ParseUsage("").ok());
}

TEST(ParseRuleListTest, SplitsKernelRuleLists) {
  absl::StatusOr<std::vector<Rule>> rules = ParseRuleList(
      "user:1001:maxproc:deny=100,jail:www:memoryuse:deny=1/process");
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[0].per, SubjectType::kUser);
  EXPECT_EQ((*rules)[1].per, SubjectType::kProcess);
  EXPECT_TRUE(ParseRuleList("")->empty());
}

}  // namespace
}  // namespace jailwarden::rctl
