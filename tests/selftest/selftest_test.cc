#include "jailwarden/selftest/selftest.h"

#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "cli/selftest_verb.h"
#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/kernel_expectations.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::selftest {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

// Skips without root; CI=true turns the skip into a failure.
#define JW_SELFTEST_REQUIRE_ROOT()                                                   \
  do {                                                                               \
    if (geteuid() != 0) {                                                            \
      const char* ci = std::getenv("CI");                                            \
      if (ci != nullptr && std::string(ci) == "true") {                              \
        FAIL() << "the selftest's throwaway jail needs root, and CI=true forbids "   \
                  "skipping";                                                        \
      }                                                                              \
      GTEST_SKIP() << "the selftest's throwaway jail needs root (run as root)";      \
    }                                                                                \
  } while (false)

FreeBsdSelftestOptions Probe() {
  FreeBsdSelftestOptions o;
  o.jail_name = "probe";
  return o;
}

TEST(FreeBsdSelftestTest, TheFakeAnswersEveryRowOfTheSharedTable) {
  platform::FakeFreeBsdKernel kernel;
  const Report report = RunFreeBsdSelftest(kernel, Probe());
  const auto table = platform::FreeBsdKernelExpectations();
  ASSERT_EQ(report.rows.size(), table.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const Row& row = report.rows[i];
    EXPECT_THAT(row.check, StartsWith(std::string(table[i].id)));
    EXPECT_EQ(row.verdict, Verdict::kMatch)
        << row.check << ": observed " << row.observed << ", expected " << row.expected;
  }
  // Nothing of the selftest's is left in the kernel.
  EXPECT_FALSE(kernel.PrisonByName("probe").has_value());
  EXPECT_TRUE(kernel.Rules().empty());
  EXPECT_EQ(report.Count(Verdict::kDiffers), 0);
}

TEST(FreeBsdSelftestTest, AKernelThatAnswersOtherwiseIsReportedRowByRow) {
  // A kernel that refuses the duplicate name with EPERM instead of EEXIST,
  // and whose rctl_get_racct fails with ENOSYS once.
  class Odd : public platform::FakeFreeBsdKernel {
   public:
    int JailSetv(int flags, const std::vector<platform::JailParam>& params) override {
      if (++setv_ == 2) {
        errno = EPERM;
        return -1;
      }
      return FakeFreeBsdKernel::JailSetv(flags, params);
    }
    int setv_ = 0;
  } odd;
  odd.FailNext(platform::FakeFreeBsdKernel::Call::kRctlGetRacct, ENOSYS);
  const Report report = RunFreeBsdSelftest(odd, Probe());
  int differs = 0;
  for (const Row& row : report.rows) {
    if (row.verdict != Verdict::kDiffers) continue;
    ++differs;
    EXPECT_THAT(row.check, ::testing::AnyOf(StartsWith("jail_setv.create_again"),
                                            StartsWith("rctl_get_racct.jail")));
    if (jailwarden::StartsWith(row.check, "jail_setv.create_again")) {
      EXPECT_THAT(row.observed, StartsWith("EPERM"));
      EXPECT_EQ(row.expected, "EEXIST: \"jail \"probe\" already exists\"");
    }
  }
  EXPECT_EQ(differs, 2);
  EXPECT_FALSE(odd.PrisonByName("probe").has_value());
}

TEST(FreeBsdSelftestTest, EveryExpectationIsProbedAndIdsAreUnique) {
  const auto table = platform::FreeBsdKernelExpectations();
  std::set<std::string_view> ids;
  for (const platform::KernelExpectation& e : table) {
    EXPECT_TRUE(ids.insert(e.id).second) << e.id;
    EXPECT_EQ(platform::FindKernelExpectation(e.id), &e);
  }
  EXPECT_EQ(platform::FindKernelExpectation("no.such.row"), nullptr);
}

#if defined(__linux__)
std::string ExpectedLayout() {
  struct stat st{};
  if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0) return "v2";
  if (stat("/sys/fs/cgroup/unified", &st) == 0) return "hybrid";
  return "v1";
}

const Row* Find(const Report& r, std::string_view area, std::string_view check_prefix) {
  for (const Row& row : r.rows) {
    if (row.area == area && jailwarden::StartsWith(row.check, check_prefix)) return &row;
  }
  return nullptr;
}

TEST(LinuxSelftestTest, ReportsNamespacesCgroupsSeccompOpenat2AndTheResources) {
  LinuxSelftestOptions options;
  options.throwaway_jail = false;
  const Report report = RunLinuxSelftest(options);
  EXPECT_EQ(report.platform, "linux");
  for (const char* ns : {"mnt", "uts", "ipc", "pid", "net", "cgroup", "user", "time"}) {
    const Row* row = Find(report, "namespace", ns);
    ASSERT_NE(row, nullptr) << ns;
    EXPECT_EQ(row->observed, "present") << ns;
  }
  const Row* layout = Find(report, "cgroup", "layout");
  ASSERT_NE(layout, nullptr);
  EXPECT_EQ(layout->observed, ExpectedLayout());
  EXPECT_EQ(layout->verdict, Verdict::kMatch);
  ASSERT_NE(Find(report, "seccomp", ""), nullptr);
  EXPECT_EQ(Find(report, "seccomp", "")->verdict, Verdict::kMatch);
  ASSERT_NE(Find(report, "openat2", ""), nullptr);
  EXPECT_EQ(Find(report, "openat2", "")->verdict, Verdict::kMatch);
  int resources = 0;
  for (const Row& row : report.rows) {
    if (row.area != "resource") continue;
    ++resources;
    EXPECT_THAT(row.observed, MatchesRegex("(exact|approximate|sampled|unsupported) via .+"))
        << row.check;
  }
  EXPECT_EQ(resources, static_cast<int>(rctl::kResourceCount));
  // Facts of the map: cputime has no kernel limit (and FreeBSD takes no
  // deny for it, so the probe is a signal); maxproc is pids.max; the I/O
  // rates only throttle.
  EXPECT_EQ(Find(report, "resource", "cputime")->check, "cputime (sigkill)");
  EXPECT_THAT(Find(report, "resource", "cputime")->observed, StartsWith("sampled"));
  EXPECT_EQ(Find(report, "resource", "maxproc")->check, "maxproc (deny)");
  EXPECT_THAT(Find(report, "resource", "maxproc")->observed, HasSubstr("pids.max"));
  EXPECT_EQ(Find(report, "resource", "readbps")->check, "readbps (throttle)");
  EXPECT_EQ(Find(report, "cgroup", "throwaway")->verdict, Verdict::kInfo);
}

TEST(LinuxSelftestTest, AsRootMakesAndRemovesAThrowawayJailsNamespacesAndCgroups) {
  JW_SELFTEST_REQUIRE_ROOT();
  const Report report = RunLinuxSelftest();
  for (const char* ns : {"mnt", "uts", "ipc", "pid", "net", "cgroup"}) {
    const Row* row = Find(report, "namespace", ns);
    ASSERT_NE(row, nullptr);
    EXPECT_EQ(row->observed, "present, unshare ok") << ns;
    EXPECT_EQ(row->verdict, Verdict::kMatch);
  }
  const Row* cg = Find(report, "cgroup", "throwaway");
  ASSERT_NE(cg, nullptr);
  EXPECT_EQ(cg->verdict, Verdict::kMatch) << cg->observed;
  EXPECT_THAT(cg->observed, HasSubstr("; removed"));
  // Nothing of ours is left below our cgroup in the v2 tree.
  std::ifstream in("/proc/self/cgroup");
  std::string line, own;
  while (std::getline(in, line)) {
    if (jailwarden::StartsWith(line, "0::")) own = line.substr(3);
  }
  const std::string v2 = ExpectedLayout() == "v2" ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
  struct stat st{};
  EXPECT_NE(stat(StrCat(v2, own, "/jwselftest", static_cast<int64_t>(getpid())).c_str(), &st),
            0);
  EXPECT_EQ(report.Count(Verdict::kDiffers), 0);
  EXPECT_EQ(report.Count(Verdict::kMissing), 0);
}

TEST(SelftestVerbTest, PrintsATableAndJson) {
  std::ostringstream out, err;
  cli::CommandContext ctx{out, err};
  const int rc = cli::RunSelftestVerb({}, ctx);
  EXPECT_EQ(rc, EX_OK) << out.str() << err.str();
  const std::string table = out.str();
  EXPECT_THAT(table, StartsWith("jailwarden selftest: linux (Linux "));
  EXPECT_THAT(table, HasSubstr("\nAREA "));
  EXPECT_THAT(table, MatchesRegex("(.|\n)*\n[0-9]+ rows: [0-9]+ match, 0 DIFFERS, 0 MISSING, "
                                  "[0-9]+ info\n$"));

  std::ostringstream jout, jerr;
  cli::CommandContext jctx{jout, jerr};
  EXPECT_EQ(cli::RunSelftestVerb({"--json"}, jctx), EX_OK);
  const nlohmann::json j = nlohmann::json::parse(jout.str());
  EXPECT_EQ(j.at("platform"), "linux");
  EXPECT_GE(j.at("rows").size(), rctl::kResourceCount + 8);
  EXPECT_EQ(j.at("summary").at("DIFFERS"), 0);
  for (const auto& row : j.at("rows")) {
    for (const char* key : {"area", "check", "observed", "expected", "verdict"}) {
      EXPECT_TRUE(row.contains(key)) << row.dump();
    }
  }

  std::ostringstream bout, berr;
  cli::CommandContext bctx{bout, berr};
  EXPECT_EQ(cli::RunSelftestVerb({"--no-such-flag"}, bctx), EX_USAGE);
}
#endif

}  // namespace
}  // namespace jailwarden::selftest
