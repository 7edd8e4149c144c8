// rctl(8) (rctl::RunRctl) over the seam against the fake kernel, and the
// start-up RACCT check.

#include "jailwarden/platform/freebsd/rctl_backend.h"

#include <cerrno>
#include <sstream>
#include <string>

#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"

namespace jailwarden::platform {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class NoNames : public rctl::NameResolver {
 public:
  std::optional<int64_t> UidForName(std::string_view name) const override {
    if (name == "www") return 80;
    return std::nullopt;
  }
  std::optional<std::string> NameForUid(int64_t uid) const override {
    if (uid == 80) return "www";
    return std::nullopt;
  }
  std::optional<int64_t> GidForName(std::string_view) const override {
    return std::nullopt;
  }
  std::optional<std::string> NameForGid(int64_t) const override { return std::nullopt; }
};

struct RctlRun {
  int status;
  std::string out, err;
};

class FreeBsdRctlBackendTest : public ::testing::Test {
 protected:
  RctlRun Rctl(std::vector<std::string> args) {
    FreeBsdRctlBackend backend(kernel_);
    rctl::RctlInvocation inv;
    inv.args = std::move(args);
    inv.resolver = &names_;
    std::ostringstream out, err;
    const int status = rctl::RunRctl(inv, backend, out, err);
    return {status, out.str(), err.str()};
  }
  FakeFreeBsdKernel kernel_;
  NoNames names_;
};

TEST_F(FreeBsdRctlBackendTest, AddListUsageRemoveAsRctl8) {
  ASSERT_GT(kernel_.JailSetv(kJailCreate, {{"name", "www"}, {"persist", std::nullopt}}), 0);
  EXPECT_EQ(Rctl({"-a", "jail:www:memoryuse:deny=1g", "u:www:maxproc:deny=100"}).status, 0);
  EXPECT_THAT(kernel_.Rules(), ::testing::UnorderedElementsAre(
                                   "jail:www:memoryuse:deny=1073741824",
                                   "user:80:maxproc:deny=100"));
  RctlRun list = Rctl({});
  EXPECT_EQ(list.status, 0);
  EXPECT_EQ(list.out, "user:www:maxproc:deny=100\njail:www:memoryuse:deny=1073741824\n");
  EXPECT_EQ(Rctl({"-n"}).out,
            "user:80:maxproc:deny=100\njail:www:memoryuse:deny=1073741824\n");
  EXPECT_EQ(Rctl({"-h", "jail:"}).out, "jail:www:memoryuse:deny=1024M\n");
  RctlRun usage = Rctl({"-u", "jail:www"});
  EXPECT_EQ(usage.status, 0);
  EXPECT_THAT(usage.out, StartsWith("cputime=0\ndatasize=0\n"));
  EXPECT_EQ(std::count(usage.out.begin(), usage.out.end(), '\n'), 25);
  EXPECT_EQ(Rctl({"-r", "jail:www"}).status, 0);
  EXPECT_EQ(Rctl({"jail:"}).out, "");
}

TEST_F(FreeBsdRctlBackendTest, LimitsOfAProcess) {
  const pid_t pid = kernel_.AddProcess(0, 80, 80, "httpd");
  Rctl({"-a", "user:80:openfiles:deny=1000"});
  RctlRun r = Rctl({"-l", "process:" + std::to_string(pid)});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "user:www:openfiles:deny=1000\n");
  RctlRun bad = Rctl({"-l", "jail:www"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(bad.err, "rctl: failed to get limits for 'jail:www': Operation not supported\n");
}

TEST_F(FreeBsdRctlBackendTest, KernelErrorsAreWarnedPerArgument) {
  RctlRun r = Rctl({"-a", "jail:www:cputime:deny=10", "jail:www:maxproc:deny=5"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "rctl: failed to add rule 'jail:www:cputime:deny=10': Operation not supported\n");
  RctlRun rm = Rctl({"-r", "user:1234"});
  EXPECT_EQ(rm.err, "rctl: failed to remove rule 'user:1234': No such process\n");
  RctlRun u = Rctl({"-u", "user:"});
  EXPECT_EQ(u.err,
            "rctl: failed to show resource consumption for 'user:': Invalid argument\n");
  kernel_.SetCallerUid(1001);
  RctlRun perm = Rctl({"-u", "jail:www"});
  EXPECT_EQ(perm.err,
            "rctl: failed to show resource consumption for 'jail:www': "
            "Operation not permitted\n");
}

TEST_F(FreeBsdRctlBackendTest, EnosysPrintsRctl8TextsAndExitsOne) {
  kernel_.SetRacct(FakeFreeBsdKernel::RacctSysctl::kBool, false);
  RctlRun disabled = Rctl({"-a", "jail:www:maxproc:deny=1"});
  EXPECT_EQ(disabled.status, 1);
  EXPECT_EQ(disabled.err,
            "rctl: RACCT/RCTL present, but disabled; enable using "
            "kern.racct.enable=1 tunable\n");
  kernel_.SetRacct(FakeFreeBsdKernel::RacctSysctl::kInt, false);  // older kernels
  EXPECT_EQ(Rctl({}).err,
            "rctl: RACCT/RCTL present, but disabled; enable using "
            "kern.racct.enable=1 tunable\n");
  kernel_.SetRacct(FakeFreeBsdKernel::RacctSysctl::kMissing, false);
  RctlRun absent = Rctl({"-u", "jail:www"});
  EXPECT_EQ(absent.status, 1);
  EXPECT_EQ(absent.err,
            "rctl: RACCT/RCTL support not present in kernel; see rctl(8) for details\n");
}

TEST_F(FreeBsdRctlBackendTest, GetRulesGrowsItsBufferFromTheStart) {
  for (int uid = 0; uid < 8000; ++uid) {  // ~230 KiB of rules: > 128 KiB
    const std::string rule = "user:" + std::to_string(100000 + uid) + ":maxproc:deny=100";
    ASSERT_EQ(kernel_.RctlAddRule(rule.c_str(), rule.size() + 1, nullptr, 0), 0);
  }
  FreeBsdRctlBackend backend(kernel_);
  absl::StatusOr<std::string> all = backend.GetRules("::");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(std::count(all->begin(), all->end(), ',') + 1, 8000);
  kernel_.SetMaxBufSize(256 * 1024);  // 128 KiB -> 512 KiB passes it
  absl::StatusOr<std::string> capped = backend.GetRules("::");
  EXPECT_EQ(StatusErrno(capped.status()), E2BIG);
}

TEST(FreeBsdRacctCheckTest, ReadsTheSysctlAsBoolOrInt) {
  FakeFreeBsdKernel k;
  EXPECT_EQ(*ReadRacctState(k), RacctState::kEnabled);
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kInt, true);
  EXPECT_EQ(*ReadRacctState(k), RacctState::kEnabled);
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kInt, false);
  EXPECT_EQ(*ReadRacctState(k), RacctState::kDisabled);
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kBool, false);
  EXPECT_EQ(*ReadRacctState(k), RacctState::kDisabled);
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kMissing, false);
  EXPECT_EQ(*ReadRacctState(k), RacctState::kAbsent);
  k.FailNext(FakeFreeBsdKernel::Call::kSysctlbyname, EFAULT);
  EXPECT_EQ(StatusErrno(ReadRacctState(k).status()), EFAULT);
}

TEST(FreeBsdRacctCheckTest, StartupErrorsSayWhatAndHowToFix) {
  FakeFreeBsdKernel k;
  EXPECT_TRUE(CheckRacctAvailable(k).ok());
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kBool, false);
  absl::Status s = CheckRacctAvailable(k);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("RACCT/RCTL present, but disabled; enable using "
                         "kern.racct.enable=1 tunable. "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("/boot/loader.conf"));
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kMissing, false);
  s = CheckRacctAvailable(k);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("RACCT/RCTL support not present in kernel; see rctl(8) "
                         "for details. "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("options RACCT"));
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kBool, true);
  k.FailNext(FakeFreeBsdKernel::Call::kRctlGetRules, ENOSYS);  // RACCT without RCTL
  s = CheckRacctAvailable(k);
  EXPECT_THAT(std::string(s.message()), HasSubstr("options RCTL"));
  k.SetCallerJail(4);
  s = CheckRacctAvailable(k);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusErrno(s), EPERM);
}

}  // namespace
}  // namespace jailwarden::platform
