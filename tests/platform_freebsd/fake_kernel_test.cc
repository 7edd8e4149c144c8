// The fake kernel itself against freebsd-rctl.md: if these semantics are
// wrong, every backend test built on it proves nothing.

#include "fakes/freebsd/fake_kernel.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/platform/freebsd/rctl_backend.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::platform {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using rctl::Resource;

struct RctlOut {
  int rc;
  int err;
  std::string out;
};

// Calls an rctl(2) entry point with inbuflen = strlen+1.
RctlOut Rctl(FakeFreeBsdKernel& k, RctlOutputCall call, const std::string& in,
             std::size_t outlen = 4096) {
  std::vector<char> buf(outlen + 1, '\0');
  errno = 0;
  const int rc = (k.*call)(in.c_str(), in.size() + 1, outlen ? buf.data() : nullptr,
                           outlen);
  const int e = errno;
  return {rc, rc == 0 ? 0 : e, rc == 0 && outlen ? std::string(buf.data()) : ""};
}

constexpr RctlOutputCall kRacct = &FreeBsdKernel::RctlGetRacct;
constexpr RctlOutputCall kRules = &FreeBsdKernel::RctlGetRules;
constexpr RctlOutputCall kLimits = &FreeBsdKernel::RctlGetLimits;
constexpr RctlOutputCall kAdd = &FreeBsdKernel::RctlAddRule;
constexpr RctlOutputCall kRemove = &FreeBsdKernel::RctlRemoveRule;

int Create(FakeFreeBsdKernel& k, const std::string& name, bool persist = true) {
  std::vector<JailParam> p = {{"name", name}, {"path", "/jails/" + name}};
  if (persist) p.push_back({"persist", std::nullopt});
  return k.JailSetv(kJailCreate, p);
}

// --- jail_setv / jail_getv / jail_remove ------------------------------------

TEST(FakeFreeBsdKernelTest, CreateAllocatesJidsFromOneAndNamesAreUnique) {
  FakeFreeBsdKernel k;
  EXPECT_EQ(Create(k, "www"), 1);
  EXPECT_EQ(Create(k, "db"), 2);
  errno = 0;
  EXPECT_EQ(Create(k, "www"), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(k.JailErrmsg(), "jail \"www\" already exists");
}

TEST(FakeFreeBsdKernelTest, JidAllocationWrapsAtJailMax) {
  FakeFreeBsdKernel k;
  k.SetNextJid(kJailMaxJid);
  EXPECT_EQ(Create(k, "last"), 999999);
  EXPECT_EQ(Create(k, "wrapped"), 1);
}

TEST(FakeFreeBsdKernelTest, UpdateWithoutCreateOfMissingJailIsEnoent) {
  FakeFreeBsdKernel k;
  std::vector<JailParam> by_name = {{"name", "ghost"}, {"persist", std::nullopt}};
  EXPECT_EQ(k.JailSetv(kJailUpdate, by_name), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(k.JailErrmsg(), "jail \"ghost\" not found");
  std::vector<JailParam> by_jid = {{"jid", "42"}, {"persist", std::nullopt}};
  EXPECT_EQ(k.JailSetv(kJailUpdate, by_jid), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(k.JailErrmsg(), "jail 42 not found");
  ASSERT_EQ(k.JailSetv(kJailCreate, {{"jid", "42"}, {"name", "x"}, {"persist", std::nullopt}}), 42);
  EXPECT_EQ(k.JailSetv(kJailCreate, by_jid), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(k.JailErrmsg(), "jail 42 already exists");
}

TEST(FakeFreeBsdKernelTest, EinvalCasesCarryErrmsg) {
  FakeFreeBsdKernel k;
  EXPECT_EQ(k.JailSetv(0, {{"name", "a"}}), -1);  // neither CREATE nor UPDATE
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(k.JailSetv(0x100, {{"name", "a"}}), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(k.JailSetv(kJailCreate, {{"name", "a"}, {"securelevel", "high"}}), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(k.JailErrmsg(), "securelevel: non-integer value \"high\"");
  EXPECT_EQ(k.JailSetv(kJailCreate, {{"name", "a"}, {"ip4.addr", "300.1.1.1"}}), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(k.JailErrmsg(), "ip4.addr: not an IPv4 address: 300.1.1.1");
  EXPECT_EQ(k.JailSetv(kJailCreate, {{"name", "17"}, {"persist", std::nullopt}}), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(k.JailErrmsg(), "name cannot be numeric (unless it is the jid)");
  EXPECT_EQ(k.JailSetv(kJailCreate, {{"name", "a"}, {"bogus.param", "1"}}), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(k.JailErrmsg(), "unknown parameter: bogus.param");
}

TEST(FakeFreeBsdKernelTest, NonRootGetsEperm) {
  FakeFreeBsdKernel k;
  k.SetCallerUid(1001);
  EXPECT_EQ(Create(k, "www"), -1);
  EXPECT_EQ(errno, EPERM);
}

TEST(FakeFreeBsdKernelTest, JailWithoutPersistOrProcessesDiesAtOnce) {
  FakeFreeBsdKernel k;
  const int jid = Create(k, "brief", /*persist=*/false);
  EXPECT_EQ(jid, 1);  // jail_set still returns the jid
  EXPECT_FALSE(k.PrisonByName("brief").has_value());

  const int held = Create(k, "held");
  const pid_t pid = k.AddProcess(held, 0, 0, "sh");
  ASSERT_EQ(k.JailSetv(kJailUpdate, {{"jid", std::to_string(held)},
                                      {"nopersist", std::nullopt}}),
            held);
  EXPECT_TRUE(k.PrisonByJid(held).has_value());  // a process holds it
  k.ExitProcess(pid);
  EXPECT_FALSE(k.PrisonByJid(held).has_value());
}

TEST(FakeFreeBsdKernelTest, HierarchicalNamesNeedParentAndChildrenMax) {
  FakeFreeBsdKernel k;
  EXPECT_EQ(Create(k, "a.b"), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(k.JailErrmsg(), "jail \"a\" not found");
  const int a = Create(k, "a");
  EXPECT_EQ(Create(k, "a.b"), -1);  // children.max defaults to 0
  EXPECT_EQ(errno, EPERM);
  ASSERT_EQ(k.JailSetv(kJailUpdate, {{"jid", std::to_string(a)}, {"children.max", "4"}}), a);
  const int b = Create(k, "a.b");
  ASSERT_GT(b, 0);
  EXPECT_EQ(k.PrisonByJid(b)->parent, a);
  // jail_remove of the parent removes the child too.
  EXPECT_EQ(k.JailRemove(a), 0);
  EXPECT_FALSE(k.PrisonByJid(b).has_value());
}

TEST(FakeFreeBsdKernelTest, GetvByNameJidAndLastjid) {
  FakeFreeBsdKernel k;
  Create(k, "www");
  Create(k, "db");
  std::vector<JailParam> p = {{"name", "db"}, {"jid", std::nullopt},
                              {"persist", std::nullopt}, {"allow.mount", std::nullopt},
                              {"allow.set_hostname", std::nullopt}};
  EXPECT_EQ(k.JailGetv(0, p), 2);
  EXPECT_EQ(p[1].value, "2");
  EXPECT_EQ(p[2].value, "true");
  EXPECT_EQ(p[3].value, "false");
  EXPECT_EQ(p[4].value, "true");
  std::vector<JailParam> walk = {{"lastjid", "1"}, {"name", std::nullopt}};
  EXPECT_EQ(k.JailGetv(0, walk), 2);
  EXPECT_EQ(walk[1].value, "db");
  walk[0].value = "2";
  EXPECT_EQ(k.JailGetv(0, walk), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(k.JailErrmsg(), "no jail after 2");
  std::vector<JailParam> missing = {{"jid", "9"}, {"name", std::nullopt}};
  EXPECT_EQ(k.JailGetv(0, missing), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(k.JailErrmsg(), "jail 9 not found");
}

TEST(FakeFreeBsdKernelTest, RemoveAndAttachUnknownJidAreEinval) {
  FakeFreeBsdKernel k;
  EXPECT_EQ(k.JailRemove(5), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(k.JailAttach(5), -1);
  EXPECT_EQ(errno, EINVAL);
  const int jid = Create(k, "www");
  const pid_t p = k.AddProcess(jid, 80, 80, "httpd");
  EXPECT_EQ(k.JailRemove(jid), 0);
  EXPECT_FALSE(k.Process(p).has_value());  // killed
}

// --- rctl(2) errno order (§8.2, §8.3) -----------------------------------------

TEST(FakeFreeBsdKernelTest, RctlIsEnosysWhenRacctDisabledOrAbsent) {
  FakeFreeBsdKernel k;
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kBool, false);
  for (RctlOutputCall c : {kRacct, kRules, kLimits, kAdd, kRemove}) {
    EXPECT_EQ(Rctl(k, c, "::").err, ENOSYS);
  }
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kMissing, true);
  EXPECT_EQ(Rctl(k, kRules, "::").err, ENOSYS);
}

TEST(FakeFreeBsdKernelTest, RctlNeedsHostRoot) {
  FakeFreeBsdKernel k;
  k.SetCallerUid(1001);
  EXPECT_EQ(Rctl(k, kRules, "::").err, EPERM);
  k.SetCallerUid(0);
  k.SetCallerJail(3);  // jailed root has no PRIV_RCTL_*
  EXPECT_EQ(Rctl(k, kRules, "::").err, EPERM);
}

TEST(FakeFreeBsdKernelTest, RctlInputChecks) {
  FakeFreeBsdKernel k;
  char out[64];
  EXPECT_EQ(k.RctlGetRules("::", 0, out, sizeof out), -1);
  EXPECT_EQ(errno, EINVAL);
  std::string big(5000, 'x');
  EXPECT_EQ(k.RctlGetRules(big.c_str(), big.size() + 1, out, sizeof out), -1);
  EXPECT_EQ(errno, E2BIG);
  EXPECT_EQ(k.RctlGetRules("::", 2, out, sizeof out), -1);  // no NUL within 2
  EXPECT_EQ(errno, ENAMETOOLONG);
  EXPECT_EQ(Rctl(k, kAdd, "jail:www:memoryuse:deny=1k").err, EINVAL);  // no suffixes
  EXPECT_EQ(Rctl(k, kAdd, "jail:www:memoryuse:deny=-1").err, ERANGE);
  EXPECT_EQ(Rctl(k, kAdd, std::string("jail:") + std::string(300, 'n') + ":maxproc:deny=1").err,
            ENAMETOOLONG);
}

TEST(FakeFreeBsdKernelTest, OutputTooSmallIsErangeAndAboveMaxbufsizeIsE2big) {
  FakeFreeBsdKernel k;
  ASSERT_EQ(Rctl(k, kAdd, "jail:www:maxproc:deny=10", 0).rc, 0);
  EXPECT_EQ(Rctl(k, kRules, "::", 5).err, ERANGE);
  EXPECT_EQ(Rctl(k, kRules, "::", 24).err, ERANGE);  // 24 chars, no room for NUL
  EXPECT_EQ(Rctl(k, kRules, "::", 25).out, "jail:www:maxproc:deny=10");
  k.SetMaxBufSize(1024);
  EXPECT_EQ(Rctl(k, kRules, "::", 2048).err, E2BIG);
  EXPECT_EQ(Rctl(k, kLimits, "process:100", 2048).err, E2BIG);
  EXPECT_EQ(Rctl(k, kRacct, "jail:www", 2048).rc, 0);  // no bound for get_racct
}

TEST(FakeFreeBsdKernelTest, AddValidatesAndRemoveOfNothingIsEsrch) {
  FakeFreeBsdKernel k;
  EXPECT_EQ(Rctl(k, kAdd, "jail:www:cputime:deny=10", 0).err, EOPNOTSUPP);
  EXPECT_EQ(Rctl(k, kAdd, "jail:www:maxproc:throttle=10", 0).err, EOPNOTSUPP);
  EXPECT_EQ(Rctl(k, kAdd, "jail:www:swapuse:deny=10/process", 0).err, EOPNOTSUPP);
  EXPECT_EQ(Rctl(k, kAdd, "jail:www:maxproc", 0).err, EINVAL);  // not full
  EXPECT_EQ(Rctl(k, kAdd, "process:9999:maxproc:deny=1", 0).err, ESRCH);
  EXPECT_EQ(Rctl(k, kRemove, "jail:www:", 0).err, ESRCH);
  ASSERT_EQ(Rctl(k, kAdd, "jail:www:maxproc:deny=10", 0).rc, 0);
  ASSERT_EQ(Rctl(k, kAdd, "jail:www:maxproc:deny=20", 0).rc, 0);  // replaces
  EXPECT_THAT(k.Rules(), ElementsAre("jail:www:maxproc:deny=20"));
  EXPECT_EQ(Rctl(k, kRemove, "jail:www:", 0).rc, 0);
  EXPECT_THAT(k.Rules(), IsEmpty());
}

TEST(FakeFreeBsdKernelTest, GetRacctNeedsSubjectAndId) {
  FakeFreeBsdKernel k;
  EXPECT_EQ(Rctl(k, kRacct, "::").err, EINVAL);
  EXPECT_EQ(Rctl(k, kRacct, "user:").err, EINVAL);
  EXPECT_EQ(Rctl(k, kRacct, "process:777").err, ESRCH);
  // An unknown jail name reads as zeros (prison_racct_find creates it).
  RctlOut r = Rctl(k, kRacct, "jail:nosuch");
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("cputime=0,datasize=0,"));
}

TEST(FakeFreeBsdKernelTest, GetLimitsIsForProcessesOnly) {
  FakeFreeBsdKernel k;
  const int jid = Create(k, "www");
  const pid_t pid = k.AddProcess(jid, 1001, 1001, "httpd", "daemon");
  ASSERT_EQ(Rctl(k, kAdd, "jail:www:maxproc:deny=10", 0).rc, 0);
  ASSERT_EQ(Rctl(k, kAdd, "user:1001:openfiles:deny=100", 0).rc, 0);
  ASSERT_EQ(Rctl(k, kAdd, "user:1002:openfiles:deny=100", 0).rc, 0);
  ASSERT_EQ(Rctl(k, kAdd, "loginclass:daemon:nthr:log=50", 0).rc, 0);
  ASSERT_EQ(Rctl(k, kAdd, "jail:0:memoryuse:deny=1000000", 0).rc, 0);
  EXPECT_EQ(Rctl(k, kLimits, "jail:www").err, EOPNOTSUPP);
  EXPECT_EQ(Rctl(k, kLimits, "::").err, EINVAL);
  EXPECT_EQ(Rctl(k, kLimits, "process:").err, EINVAL);
  RctlOut r = Rctl(k, kLimits, "process:" + std::to_string(pid));
  ASSERT_EQ(r.rc, 0);
  EXPECT_EQ(r.out,
            "loginclass:daemon:nthr:log=50,user:1001:openfiles:deny=100,"
            "jail:0:memoryuse:deny=1000000,jail:www:maxproc:deny=10");
}

TEST(FakeFreeBsdKernelTest, UsageIsChargedToUserLoginclassJailAndAncestors) {
  FakeFreeBsdKernel k;
  const int a = Create(k, "a");
  ASSERT_EQ(k.JailSetv(kJailUpdate, {{"jid", std::to_string(a)}, {"children.max", "1"}}), a);
  const int b = Create(k, "a.b");
  const pid_t p = k.AddProcess(b, 1001, 0, "worker", "staff");
  k.SetProcessUsage(p, Resource::kMemoryuse, 4096);
  k.SetProcessUsage(p, Resource::kCputime, 5000000);  // 5 s in µs
  for (const char* subject : {"jail:a.b", "jail:a", "jail:0", "user:1001", "loginclass:staff"}) {
    SCOPED_TRACE(subject);
    RctlOut r = Rctl(k, kRacct, subject);
    ASSERT_EQ(r.rc, 0);
    EXPECT_THAT(r.out, HasSubstr("cputime=5,"));
    EXPECT_THAT(r.out, HasSubstr("memoryuse=4096,"));
    EXPECT_THAT(r.out, HasSubstr("maxproc=1,"));
  }
  EXPECT_THAT(Rctl(k, kRacct, "user:0").out, HasSubstr("memoryuse=0,"));  // ruid counts
  // Exit: reclaimable usage goes back, cputime stays.
  k.ExitProcess(p);
  RctlOut r = Rctl(k, kRacct, "jail:a");
  EXPECT_THAT(r.out, HasSubstr("cputime=5,"));
  EXPECT_THAT(r.out, HasSubstr("memoryuse=0,"));
}

TEST(FakeFreeBsdKernelTest, ProcessUsageOmitsSloppyResources) {
  FakeFreeBsdKernel k;
  const pid_t p = k.AddProcess(0, 0, 0, "sshd");
  RctlOut r = Rctl(k, kRacct, "process:" + std::to_string(p));
  ASSERT_EQ(r.rc, 0);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '=') , 17);
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("swapuse")));
}

TEST(FakeFreeBsdKernelTest, ForkDuplicatesProcessRulesAndInheritableUsage) {
  FakeFreeBsdKernel k;
  const pid_t parent = k.AddProcess(0, 0, 0, "sh");
  k.SetProcessUsage(parent, Resource::kOpenfiles, 64);
  ASSERT_EQ(Rctl(k, kAdd, "process:" + std::to_string(parent) + ":openfiles:deny=100", 0).rc, 0);
  const pid_t child = k.Fork(parent);
  EXPECT_EQ(k.Process(child)->usage[rctl::Index(Resource::kOpenfiles)], 64);
  EXPECT_THAT(k.Rules(), UnorderedElementsAre(
                             "process:" + std::to_string(parent) + ":openfiles:deny=100",
                             "process:" + std::to_string(child) + ":openfiles:deny=100"));
  k.ExitProcess(parent);
  EXPECT_THAT(k.Rules(), ElementsAre("process:" + std::to_string(child) + ":openfiles:deny=100"));
}

// --- sysctl, mounts, kill ---------------------------------------------------

TEST(FakeFreeBsdKernelTest, RacctEnableSysctlForms) {
  FakeFreeBsdKernel k;
  unsigned char buf[8];
  std::size_t len = sizeof buf;
  ASSERT_EQ(k.Sysctlbyname("kern.racct.enable", buf, &len, nullptr, 0), 0);
  EXPECT_EQ(len, 1u);  // bool
  EXPECT_EQ(buf[0], 1);
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kInt, false);
  len = 1;  // rctl(8) reads a bool: an int sysctl answers ENOMEM
  EXPECT_EQ(k.Sysctlbyname("kern.racct.enable", buf, &len, nullptr, 0), -1);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(len, sizeof(int));
  int one = 1;
  EXPECT_EQ(k.Sysctlbyname("kern.racct.enable", nullptr, nullptr, &one, sizeof one), -1);
  EXPECT_EQ(errno, EPERM);  // RDTUN
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kMissing, false);
  len = sizeof buf;
  EXPECT_EQ(k.Sysctlbyname("kern.racct.enable", buf, &len, nullptr, 0), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST(FakeFreeBsdKernelTest, NmountAndUnmountBookkeeping) {
  FakeFreeBsdKernel k;
  auto iov = [](std::vector<std::string>& s) {
    std::vector<struct iovec> v;
    for (std::string& x : s) v.push_back({x.data(), x.size() + 1});
    return v;
  };
  std::vector<std::string> devfs = {"fstype", "devfs", "fspath", "/j/dev", "ruleset", "4"};
  std::vector<struct iovec> v = iov(devfs);
  ASSERT_EQ(k.Nmount(v.data(), static_cast<unsigned>(v.size()), 0), 0);
  std::vector<std::string> fd = {"fstype", "fdescfs", "fspath", "/j/dev/fd"};
  v = iov(fd);
  ASSERT_EQ(k.Nmount(v.data(), static_cast<unsigned>(v.size()), 0), 0);
  EXPECT_EQ(k.Unmount("/j/dev", 0), -1);
  EXPECT_EQ(errno, EBUSY);  // fdescfs is mounted below it
  EXPECT_EQ(k.Unmount("/j/dev/fd", 0), 0);
  EXPECT_EQ(k.Unmount("/j/dev", 0), 0);
  EXPECT_EQ(k.Unmount("/j/dev", 0), -1);
  EXPECT_EQ(errno, EINVAL);  // not a mount point
  std::vector<std::string> bad = {"fstype", "nosuchfs", "fspath", "/j/x"};
  v = iov(bad);
  EXPECT_EQ(k.Nmount(v.data(), static_cast<unsigned>(v.size()), 0), -1);
  EXPECT_EQ(errno, ENODEV);
  k.MarkPathMissing("/j/missing");
  std::vector<std::string> missing = {"fstype", "procfs", "fspath", "/j/missing"};
  v = iov(missing);
  EXPECT_EQ(k.Nmount(v.data(), static_cast<unsigned>(v.size()), 0), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST(FakeFreeBsdKernelTest, KillDeliversAndTerminates) {
  FakeFreeBsdKernel k;
  const pid_t stubborn = k.AddProcess(0, 0, 0, "stubborn");
  k.SetIgnoresSigterm(stubborn, true);
  EXPECT_EQ(k.Kill(stubborn, 15), 0);
  EXPECT_TRUE(k.Process(stubborn).has_value());
  EXPECT_EQ(k.Kill(stubborn, 9), 0);
  EXPECT_FALSE(k.Process(stubborn).has_value());
  EXPECT_EQ(k.Kill(stubborn, 9), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(FakeFreeBsdKernelTest, FaultInjectionFailsTheNextCalls) {
  FakeFreeBsdKernel k;
  k.FailNext(FakeFreeBsdKernel::Call::kRctlGetRacct, EIO, "", 2);
  EXPECT_EQ(Rctl(k, kRacct, "jail:x").err, EIO);
  EXPECT_EQ(Rctl(k, kRacct, "jail:x").err, EIO);
  EXPECT_EQ(Rctl(k, kRacct, "jail:x").rc, 0);
}

}  // namespace
}  // namespace jailwarden::platform
