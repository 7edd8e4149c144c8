// ProcessScanCache on real processes: a child that sleeps is reused from
// its last reading, one that ran is read in full, a multi-threaded one is
// always read in full, and a gone one is NotFound.

#include "platform/linux/process_scan_cache.h"

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

using rctl::Index;
using rctl::Resource;

// A child that waits for a byte on `cmd`, then touches `kGrow` more bytes
// of memory and answers with a byte on `ack`, forever.
class Child {
 public:
  static constexpr std::size_t kGrow = 8 << 20;

  Child() {
    EXPECT_EQ(pipe(cmd_), 0);
    EXPECT_EQ(pipe(ack_), 0);
    pid_ = fork();
    if (pid_ == 0) {
      close(cmd_[1]);
      close(ack_[0]);
      char c;
      while (read(cmd_[0], &c, 1) == 1) {
        void* p = mmap(nullptr, kGrow, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
          std::memset(p, 1, kGrow);
        }
        if (write(ack_[1], &c, 1) != 1) {
          _exit(1);
        }
      }
      _exit(0);
    }
    close(cmd_[0]);
    close(ack_[1]);
  }
  ~Child() {
    close(cmd_[1]);
    close(ack_[0]);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // Makes the child run and grow; returns once it has.
  void Grow() {
    char c = 'g';
    ASSERT_EQ(write(cmd_[1], &c, 1), 1);
    ASSERT_EQ(read(ack_[0], &c, 1), 1);
  }
  // Waits until the child is blocked in read (state S), bounded.
  void WaitAsleep() {
    for (int i = 0; i < 2000; ++i) {
      char path[64], buf[512];
      std::snprintf(path, sizeof(path), "/proc/%d/stat", pid_);
      FILE* f = std::fopen(path, "r");
      ASSERT_NE(f, nullptr);
      const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
      std::fclose(f);
      buf[n] = '\0';
      const char* close_paren = std::strrchr(buf, ')');
      if (close_paren != nullptr && close_paren[1] == ' ' && close_paren[2] == 'S') {
        return;
      }
      usleep(1000);
    }
    FAIL() << "child never slept";
  }
  pid_t pid() const { return pid_; }
  void Reap() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  int cmd_[2];
  int ack_[2];
  pid_t pid_ = -1;
};

absl::StatusOr<ProcessUsage> OnePass(ProcessScanCache& cache, int64_t pid) {
  cache.BeginPass();
  absl::StatusOr<ProcessUsage> p = cache.Read(pid);
  cache.EndPass();
  return p;
}

TEST(ProcessScanCacheTest, SleepingProcessIsReusedAndARunIsSeen) {
  Child child;
  child.WaitAsleep();
  ProcessScanCache cache;
  absl::StatusOr<ProcessUsage> a = OnePass(cache, child.pid());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(cache.stats().full_reads, 1u);
  absl::StatusOr<ProcessUsage> b = OnePass(cache, child.pid());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(cache.stats().reused, 1u);
  EXPECT_EQ(b->usage.value[Index(Resource::kMemoryuse)],
            a->usage.value[Index(Resource::kMemoryuse)]);
  EXPECT_GE(b->usage.value[Index(Resource::kWallclock)],
            a->usage.value[Index(Resource::kWallclock)]);
  EXPECT_EQ(b->comm, a->comm);

  child.Grow();
  child.WaitAsleep();
  absl::StatusOr<ProcessUsage> c = OnePass(cache, child.pid());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(cache.stats().full_reads, 2u);
  EXPECT_GE(c->usage.value[Index(Resource::kMemoryuse)],
            a->usage.value[Index(Resource::kMemoryuse)] + int64_t{Child::kGrow} / 2);
}

TEST(ProcessScanCacheTest, FullReadAtLeastEveryKPasses) {
  Child child;
  child.WaitAsleep();
  ProcessScanCache cache;
  for (uint32_t i = 0; i < 3 * ProcessScanCache::kFullReadEvery; ++i) {
    ASSERT_TRUE(OnePass(cache, child.pid()).ok());
  }
  EXPECT_EQ(cache.stats().full_reads, 3u);
  EXPECT_EQ(cache.stats().reused, 3u * (ProcessScanCache::kFullReadEvery - 1));
}

TEST(ProcessScanCacheTest, ProcessNotReadInAPassIsForgotten) {
  Child child;
  child.WaitAsleep();
  ProcessScanCache cache;
  ASSERT_TRUE(OnePass(cache, child.pid()).ok());
  cache.BeginPass();  // a pass without it
  cache.EndPass();
  ASSERT_TRUE(OnePass(cache, child.pid()).ok());
  EXPECT_EQ(cache.stats().full_reads, 2u);
  EXPECT_EQ(cache.stats().reused, 0u);
}

TEST(ProcessScanCacheTest, MultiThreadedProcessIsAlwaysReadInFull) {
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    while (!stop.load()) {
      usleep(1000);
    }
  });
  ProcessScanCache cache;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<ProcessUsage> p = OnePass(cache, getpid());
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_GE(p->usage.value[Index(Resource::kNthr)], 2);
  }
  stop = true;
  worker.join();
  EXPECT_EQ(cache.stats().full_reads, 3u);
  EXPECT_EQ(cache.stats().reused, 0u);
}

TEST(ProcessScanCacheTest, GoneProcessIsNotFound) {
  Child child;
  child.WaitAsleep();
  const pid_t pid = child.pid();
  ProcessScanCache cache;
  ASSERT_TRUE(OnePass(cache, pid).ok());
  child.Reap();
  EXPECT_TRUE(absl::IsNotFound(OnePass(cache, pid).status()));
}

int OpenFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

// Issue 16: schedstat is opened once per process and re-read with pread;
// the descriptor goes when the process drops out of a pass (and with the
// cache), and a process gone under a held descriptor is NotFound.
TEST(ProcessScanCacheTest, SchedstatIsHeldOnceAndClosedWhenForgotten) {
  Child child;
  child.WaitAsleep();
  const pid_t pid = child.pid();
  const int before = OpenFds();
  {
    ProcessScanCache cache;
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(OnePass(cache, pid).ok());
    }
    EXPECT_EQ(cache.stats().schedstat_opens, 1u);
    EXPECT_EQ(OpenFds(), before + 1);
    cache.BeginPass();  // a pass without it: its descriptor is closed
    cache.EndPass();
    EXPECT_EQ(OpenFds(), before);
    ASSERT_TRUE(OnePass(cache, pid).ok());
    EXPECT_EQ(cache.stats().schedstat_opens, 2u);
    EXPECT_EQ(OpenFds(), before + 1);
    child.Reap();
    EXPECT_TRUE(absl::IsNotFound(OnePass(cache, pid).status()));
  }
  EXPECT_EQ(OpenFds(), before);
}

}  // namespace
}  // namespace jailwarden::platform
