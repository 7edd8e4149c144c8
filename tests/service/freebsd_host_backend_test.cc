// The FreeBSD host backend over FakeFreeBsdKernel: what it is made of and
// the start-up checks a FreeBSD user meets (jailed, RACCT absent or
// disabled, not root).

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>

#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/service/host_backend.h"

namespace jailwarden::service {
namespace {

using platform::FakeFreeBsdKernel;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(FreeBsdHostBackendTest, BuildsTheFreeBsdPiecesAndLetsTheKernelAct) {
  FakeFreeBsdKernel kernel;
  absl::StatusOr<std::unique_ptr<HostBackend>> b =
      NewFreeBsdHostBackend(kernel, FreeBsdBackendOptions{});
  ASSERT_TRUE(b.ok()) << b.status();
  HostBackend& backend = **b;
  EXPECT_EQ(backend.name(), "freebsd");
  EXPECT_TRUE(backend.KernelActs());
  absl::StatusOr<rctl::Rule> deny = rctl::ParseRuleText("jail:web:openfiles:deny=10");
  ASSERT_TRUE(deny.ok());
  EXPECT_FALSE(backend.DenyIsSampled(*deny));
  EXPECT_EQ(backend.enforcer().Describe(*deny).mechanism, "rctl_add_rule");
  EXPECT_EQ(backend.reader().Supported().count(), rctl::kResourceCount);
  EXPECT_NE(backend.TakeRuntime(), nullptr);
  EXPECT_EQ(backend.TakeRuntime(), nullptr);  // handed over once
}

TEST(FreeBsdHostBackendTest, AddJailNeedsTheKernelJailsJid) {
  FakeFreeBsdKernel kernel;
  absl::StatusOr<std::unique_ptr<HostBackend>> b =
      NewFreeBsdHostBackend(kernel, FreeBsdBackendOptions{});
  ASSERT_TRUE(b.ok()) << b.status();
  platform::JailInstance i;
  i.ref.name = "web";
  EXPECT_EQ((*b)->AddJail(i).status().code(), absl::StatusCode::kFailedPrecondition);
  i.ref.jid = 7;
  absl::StatusOr<platform::JailRef> ref = (*b)->AddJail(i);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->jid, 7);
  EXPECT_EQ(ref->handle, 7u);
}

TEST(FreeBsdHostBackendTest, RefusesToRunInsideAJail) {
  FakeFreeBsdKernel kernel;
  kernel.SetCallerJail(3);
  absl::StatusOr<std::unique_ptr<HostBackend>> b =
      NewFreeBsdHostBackend(kernel, FreeBsdBackendOptions{});
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(b.status().message()),
              StartsWith("jailwarden is running inside a jail (security.jail.jailed=1)"));
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("run it on the host as root"));
}

TEST(FreeBsdHostBackendTest, RefusesAKernelWithoutRacctAndSaysWhichOptions) {
  FakeFreeBsdKernel kernel;
  kernel.SetRacct(FakeFreeBsdKernel::RacctSysctl::kMissing, false);
  absl::Status s = CheckFreeBsdHost(kernel);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("RACCT/RCTL support not present in kernel; see rctl(8) for details"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'options RACCT' and 'options RCTL'"));
}

TEST(FreeBsdHostBackendTest, RefusesRacctDisabledWithTheLoaderConfRemedy) {
  for (FakeFreeBsdKernel::RacctSysctl form :
       {FakeFreeBsdKernel::RacctSysctl::kBool, FakeFreeBsdKernel::RacctSysctl::kInt}) {
    FakeFreeBsdKernel kernel;
    kernel.SetRacct(form, false);
    absl::StatusOr<std::unique_ptr<HostBackend>> b =
        NewFreeBsdHostBackend(kernel, FreeBsdBackendOptions{});
    EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(b.status().message()),
                StartsWith("RACCT/RCTL present, but disabled; enable using "
                           "kern.racct.enable=1 tunable"));
    EXPECT_THAT(std::string(b.status().message()),
                HasSubstr("add 'kern.racct.enable=1' to /boot/loader.conf and reboot"));
  }
}

TEST(FreeBsdHostBackendTest, RefusesToRunAsAnotherUserThanRoot) {
  FakeFreeBsdKernel kernel;
  kernel.SetCallerUid(1001);
  absl::StatusOr<std::unique_ptr<HostBackend>> b =
      NewFreeBsdHostBackend(kernel, FreeBsdBackendOptions{});
  EXPECT_EQ(b.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusErrno(b.status()), EPERM);
  EXPECT_THAT(std::string(b.status().message()),
              StartsWith("jailwarden must run as root on the host"));
}

TEST(FreeBsdHostBackendTest, ASysctlErrorIsReportedWithItsErrno) {
  FakeFreeBsdKernel kernel;
  kernel.FailNext(FakeFreeBsdKernel::Call::kSysctlbyname, EIO);
  absl::Status s = CheckFreeBsdHost(kernel);
  EXPECT_EQ(StatusErrno(s), EIO);
  EXPECT_THAT(std::string(s.message()), StartsWith("sysctlbyname(security.jail.jailed)"));
}

TEST(FreeBsdHostBackendTest, MakesItsRunDir) {
  char dir[] = "/tmp/jw-fbhb-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  FakeFreeBsdKernel kernel;
  FreeBsdBackendOptions o;
  o.run_dir = StrCat(dir, "/run/a");
  absl::StatusOr<std::unique_ptr<HostBackend>> b = NewFreeBsdHostBackend(kernel, o);
  ASSERT_TRUE(b.ok()) << b.status();
  struct stat st {};
  EXPECT_EQ(stat(o.run_dir.c_str(), &st), 0);
  (void)std::system(StrCat("rm -rf '", dir, "'").c_str());
}

// Rules applied by one backend; `run_dir` "" = not recorded.
std::unique_ptr<HostBackend> BackendWithWebRule(FakeFreeBsdKernel& kernel,
                                                const std::string& run_dir) {
  FreeBsdBackendOptions o;
  o.run_dir = run_dir;
  absl::StatusOr<std::unique_ptr<HostBackend>> b = NewFreeBsdHostBackend(kernel, o);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *std::move(b) : nullptr;
}

TEST(FreeBsdHostBackendTest, ANewBackendOverTheSameRunDirKnowsItsOwnRules) {
  char dir[] = "/tmp/jw-fbhb-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  for (const bool recorded : {true, false}) {
    SCOPED_TRACE(recorded ? "recorded" : "not recorded");
    FakeFreeBsdKernel kernel;
    const std::string run_dir = recorded ? StrCat(dir, "/run") : "";
    const std::string admin = "jail:web:openfiles:log=1000";
    ASSERT_EQ(kernel.RctlAddRule(admin.c_str(), admin.size() + 1, nullptr, 0), 0);
    platform::JailInstance i;
    i.ref.name = "web";
    i.ref.jid = 1;
    absl::StatusOr<rctl::Rule> own = rctl::ParseRuleForAdd("jail:web:maxproc:deny=20");
    ASSERT_TRUE(own.ok());
    {
      std::unique_ptr<HostBackend> first = BackendWithWebRule(kernel, run_dir);
      ASSERT_NE(first, nullptr);
      absl::StatusOr<platform::JailRef> ref = first->AddJail(i);
      ASSERT_TRUE(ref.ok());
      ASSERT_TRUE(first->enforcer().Apply(*ref, {*own}).ok());
    }  // gone without removing anything, as after kill -9
    std::unique_ptr<HostBackend> second = BackendWithWebRule(kernel, run_dir);
    ASSERT_NE(second, nullptr);
    absl::StatusOr<platform::JailRef> ref = second->AddJail(i);
    ASSERT_TRUE(ref.ok());
    ASSERT_TRUE(second->enforcer().Apply(*ref, {}).ok());
    if (recorded) {
      EXPECT_THAT(kernel.Rules(), ::testing::ElementsAre(admin));
    } else {  // without the record, its own rule looks like an admin's
      EXPECT_THAT(kernel.Rules(), ::testing::UnorderedElementsAre(
                                      admin, "jail:web:maxproc:deny=20"));
    }
  }
  (void)std::system(StrCat("rm -rf '", dir, "'").c_str());
}

TEST(FreeBsdHostBackendTest, NewHostBackendRefusesFreeBsdOnThisLinuxHost) {
#if defined(__linux__)
  absl::StatusOr<std::unique_ptr<HostBackend>> b =
      NewHostBackend(policy::Backend::kFreeBsd, LinuxBackendOptions{"/tmp/x", "/tmp/x-state"});
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
#else
  GTEST_SKIP() << "Linux only";
#endif
}

}  // namespace
}  // namespace jailwarden::service
