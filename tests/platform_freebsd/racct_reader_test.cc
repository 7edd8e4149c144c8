#include "jailwarden/platform/freebsd/racct_reader.h"

#include <cerrno>
#include <string>

#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/platform/freebsd/rctl_backend.h"
#include "platform_freebsd/test_util.h"

namespace jailwarden::platform {
namespace {

using rctl::Index;
using rctl::Resource;
using rctl::SubjectType;
using testing::AllocationCounter;

class FreeBsdRacctReaderTest : public ::testing::Test {
 protected:
  int CreateJail(const std::string& name) {
    return kernel_.JailSetv(kJailCreate, {{"name", name},
                                          {"path", "/jails/" + name},
                                          {"children.max", "2"},
                                          {"persist", std::nullopt}});
  }
  FakeFreeBsdKernel kernel_;
};

TEST_F(FreeBsdRacctReaderTest, ListJailsWalksLastjidWithHierarchy) {
  CreateJail("www");
  CreateJail("db");
  CreateJail("db.replica");
  FreeBsdRacctReader reader(kernel_);
  absl::StatusOr<std::vector<JailRef>> jails = reader.ListJails();
  ASSERT_TRUE(jails.ok()) << jails.status();
  ASSERT_EQ(jails->size(), 3u);
  EXPECT_EQ((*jails)[0], (JailRef{"www", 1, "", 1}));
  EXPECT_EQ((*jails)[1], (JailRef{"db", 2, "", 2}));
  EXPECT_EQ((*jails)[2], (JailRef{"db.replica", 3, "db", 3}));
}

TEST_F(FreeBsdRacctReaderTest, ReadFastGivesAll25ResourcesInOneCallPerJail) {
  const int jid = CreateJail("www");
  const pid_t p = kernel_.AddProcess(jid, 80, 80, "httpd");
  // Every resource gets a distinct value: processes carry the 17
  // per-process ones, the container the sloppy ones and the rates.
  for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
    const Resource r = rctl::ResourceAt(i);
    const int64_t user_value = 1000 + static_cast<int64_t>(i);
    const int64_t kernel_value = rctl::IsInMillions(r) ? user_value * 1000000 : user_value;
    if (r == Resource::kMaxproc || r == Resource::kNthr) continue;  // fork charged 1
    kernel_.SetContainerUsage(SubjectType::kJail, "www", r, kernel_value);
  }
  kernel_.SetProcessUsage(p, Resource::kMemoryuse, 1 << 20);  // moves the container
  FreeBsdRacctReader reader(kernel_);
  RawUsage u;
  const JailRef ref{"www", jid, "", static_cast<uint64_t>(jid)};
  const int before = kernel_.RacctCalls();
  ASSERT_TRUE(reader.ReadFast(ref, u).ok());
  EXPECT_EQ(kernel_.RacctCalls() - before, 1);
  EXPECT_EQ(u.present.count(), 25u);
  EXPECT_EQ(u.cumulative.count(), 0u);
  for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
    const Resource r = rctl::ResourceAt(i);
    SCOPED_TRACE(rctl::ResourceName(r));
    int64_t want = 1000 + static_cast<int64_t>(i);
    if (rctl::IsInMillions(r)) want *= 1000000;
    if (r == Resource::kMaxproc || r == Resource::kNthr) want = 1;
    if (r == Resource::kMemoryuse) want += 1 << 20;
    EXPECT_EQ(u.value[i], want);
  }
}

TEST_F(FreeBsdRacctReaderTest, BufferGrowsTimesFourOnErangeAndIsReused) {
  const int jid = CreateJail("www");
  kernel_.SetContainerUsage(SubjectType::kJail, "www", Resource::kVmemoryuse,
                            INT64_MAX);
  FreeBsdRacctReader reader(kernel_, {.initial_buffer_bytes = 16,
                                      .max_buffer_bytes = 1 << 20});
  const JailRef ref{"www", jid, "", 0};
  RawUsage u;
  int before = kernel_.RacctCalls();
  ASSERT_TRUE(reader.ReadFast(ref, u).ok());
  // 16 -> 64 -> 256 -> 1024: three ERANGE answers, then success.
  EXPECT_EQ(reader.buffer_bytes(), 1024u);
  EXPECT_EQ(kernel_.RacctCalls() - before, 4);
  EXPECT_EQ(u.value[Index(Resource::kVmemoryuse)], INT64_MAX);
  before = kernel_.RacctCalls();
  ASSERT_TRUE(reader.ReadFast(ref, u).ok());
  EXPECT_EQ(kernel_.RacctCalls() - before, 1);  // warm: one call per tick
  EXPECT_EQ(reader.buffer_bytes(), 1024u);
}

TEST_F(FreeBsdRacctReaderTest, GrowthStopsAtTheMaximumWithErange) {
  const int jid = CreateJail("www");
  FreeBsdRacctReader reader(kernel_, {.initial_buffer_bytes = 8,
                                      .max_buffer_bytes = 64});
  RawUsage u;
  absl::Status s = reader.ReadFast({"www", jid, "", 0}, u);
  EXPECT_EQ(StatusErrno(s), ERANGE);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
}

TEST_F(FreeBsdRacctReaderTest, WarmReadFastDoesNotAllocate) {
  const int jid = CreateJail("a-rather-long-jail-name-for-the-filter");
  FreeBsdRacctReader reader(kernel_);
  const JailRef ref{"a-rather-long-jail-name-for-the-filter", jid, "", 0};
  RawUsage u;
  ASSERT_TRUE(reader.ReadFast(ref, u).ok());  // warm up
  // The fake kernel itself allocates (it formats with the rctl layer), so
  // measure the reader around a kernel that answers from a fixed string.
  struct FixedKernel : FakeFreeBsdKernel {
    int RctlGetRacct(const char*, std::size_t, char* out, std::size_t outlen) override {
      static constexpr char kText[] =
          "cputime=1832,datasize=48656384,stacksize=7864320,coredumpsize=0,"
          "memoryuse=402653184,memorylocked=0,maxproc=23,openfiles=1744,"
          "vmemoryuse=2147483648,pseudoterminals=1,swapuse=0,nthr=57,"
          "msgqqueued=0,msgqsize=0,nmsgq=0,nsem=0,nsemop=0,nshm=2,"
          "shmsize=16777216,wallclock=864230,pcpu=12,readbps=0,writebps=40960,"
          "readiops=0,writeiops=10";
      if (outlen < sizeof kText) {
        errno = ERANGE;
        return -1;
      }
      std::memcpy(out, kText, sizeof kText);
      return 0;
    }
  };
  FixedKernel fixed;
  FreeBsdRacctReader fast(fixed);
  ASSERT_TRUE(fast.ReadFast(ref, u).ok());
  std::size_t allocations = 0;
  {
    AllocationCounter counter;
    for (int i = 0; i < 1000; ++i) {
      if (!fast.ReadFast(ref, u).ok()) break;
    }
    allocations = counter.count();
  }
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(u.value[Index(Resource::kNthr)], 57);
  {
    AllocationCounter counter;  // the counter does count
    std::string s(100, 'x');
    EXPECT_GT(counter.count(), 0u);
  }
}

TEST_F(FreeBsdRacctReaderTest, EnosysCarriesRctl8Texts) {
  const int jid = CreateJail("www");
  FreeBsdRacctReader reader(kernel_);
  RawUsage u;
  kernel_.SetRacct(FakeFreeBsdKernel::RacctSysctl::kBool, false);
  absl::Status s = reader.ReadFast({"www", jid, "", 0}, u);
  EXPECT_EQ(StatusErrno(s), ENOSYS);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(s.message(),
            "RACCT/RCTL present, but disabled; enable using kern.racct.enable=1 tunable");
  kernel_.SetRacct(FakeFreeBsdKernel::RacctSysctl::kMissing, false);
  s = reader.ReadFast({"www", jid, "", 0}, u);
  EXPECT_EQ(s.message(),
            "RACCT/RCTL support not present in kernel; see rctl(8) for details");
}

TEST_F(FreeBsdRacctReaderTest, PermissionAndParseErrors) {
  const int jid = CreateJail("www");
  FreeBsdRacctReader reader(kernel_);
  RawUsage u;
  kernel_.SetCallerUid(1001);
  EXPECT_EQ(reader.ReadFast({"www", jid, "", 0}, u).code(),
            absl::StatusCode::kPermissionDenied);
  kernel_.SetCallerUid(0);
  struct GarbageKernel : FakeFreeBsdKernel {
    int RctlGetRacct(const char*, std::size_t, char* out, std::size_t) override {
      std::strcpy(out, "cputime=1,newresource=5");
      return 0;
    }
  };
  GarbageKernel garbage;
  FreeBsdRacctReader bad(garbage);
  absl::Status s = bad.ReadFast({"www", 1, "", 0}, u);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("newresource"));
}

TEST_F(FreeBsdRacctReaderTest, ReadSlowListsTheJailsProcessesWith17Resources) {
  const int jid = CreateJail("www");
  const int other = CreateJail("db");
  const pid_t a = kernel_.AddProcess(jid, 80, 0, "httpd");
  const pid_t b = kernel_.AddProcess(jid, 1001, 1001, "php-fpm");
  kernel_.AddProcess(other, 88, 88, "postgres");
  kernel_.SetProcessUsage(b, Resource::kMemoryuse, 123456);
  FreeBsdRacctReader reader(kernel_);
  RawUsage u;
  std::vector<ProcessUsage> procs;
  ASSERT_TRUE(reader.ReadSlow({"www", jid, "", 0}, u, &procs).ok());
  ASSERT_EQ(procs.size(), 2u);
  EXPECT_EQ(procs[0].pid, a);
  EXPECT_EQ(procs[0].ruid, 80);
  EXPECT_EQ(procs[0].euid, 0);
  EXPECT_EQ(procs[0].comm, "httpd");
  EXPECT_EQ(procs[0].jail, "www");
  EXPECT_EQ(procs[1].usage.value[Index(Resource::kMemoryuse)], 123456);
  EXPECT_EQ(procs[1].usage.present.count(), 17u);
  EXPECT_FALSE(procs[1].usage.present.test(Index(Resource::kSwapuse)));
}

TEST_F(FreeBsdRacctReaderTest, ReadSlowSkipsAProcessThatExitedMeanwhile) {
  const int jid = CreateJail("www");
  kernel_.AddProcess(jid, 80, 80, "short");
  const pid_t stays = kernel_.AddProcess(jid, 80, 80, "long");
  // The first process read answers ESRCH, as if it exited after listing.
  kernel_.FailNext(FakeFreeBsdKernel::Call::kRctlGetRacct, ESRCH);
  FreeBsdRacctReader reader(kernel_);
  RawUsage u;
  std::vector<ProcessUsage> procs;
  ASSERT_TRUE(reader.ReadSlow({"www", jid, "", 0}, u, &procs).ok());
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_EQ(procs[0].pid, stays);
}

TEST_F(FreeBsdRacctReaderTest, SupportsAll25) {
  FreeBsdRacctReader reader(kernel_);
  EXPECT_EQ(reader.Supported().count(), 25u);
}

}  // namespace
}  // namespace jailwarden::platform
