// Where an rctl signal action on a sampled jail-wide resource goes
// (platform/linux/signal_target.h): a memory resource's biggest consumer,
// chosen from real /proc/PID/status texts. No root.

#include "platform/linux/signal_target.h"

#include <unistd.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jailwarden/base/files.h"

namespace jailwarden::platform {
namespace {

std::string Status(int rss_kb, int size_kb, int swap_kb) {
  return absl::StrCat("Name:\tdd\nState:\tR (running)\nVmPeak:\t", size_kb, " kB\nVmSize:\t",
                      size_kb, " kB\nVmRSS:\t", rss_kb, " kB\nVmSwap:\t", swap_kb,
                      " kB\nThreads:\t1\n");
}

TEST(SignalTargetTest, MemoryResourcesPickAFieldOthersSignalEveryProcess) {
  EXPECT_EQ(SignalMemoryField(rctl::Resource::kMemoryuse), "VmRSS");
  EXPECT_EQ(SignalMemoryField(rctl::Resource::kVmemoryuse), "VmSize");
  EXPECT_EQ(SignalMemoryField(rctl::Resource::kSwapuse), "VmSwap");
  for (rctl::Resource r : {rctl::Resource::kCputime, rctl::Resource::kMaxproc,
                           rctl::Resource::kWallclock, rctl::Resource::kPcpu}) {
    EXPECT_FALSE(SignalMemoryField(r).has_value()) << rctl::ResourceName(r);
  }
}

TEST(SignalTargetTest, StatusFieldBytesReadsKilobytes) {
  const std::string s = Status(2048, 65536, 0);
  EXPECT_EQ(StatusFieldBytes(s, "VmRSS"), uint64_t{2048} * 1024);
  EXPECT_EQ(StatusFieldBytes(s, "VmSize"), uint64_t{65536} * 1024);
  EXPECT_EQ(StatusFieldBytes(s, "VmSwap"), uint64_t{0});
  // VmRSS is not VmRSSx, and a kernel thread has no Vm lines.
  EXPECT_FALSE(StatusFieldBytes("VmRSSx:\t1 kB\n", "VmRSS").has_value());
  EXPECT_FALSE(StatusFieldBytes("Name:\tkworker/0:1\nState:\tI (idle)\n", "VmRSS").has_value());
  EXPECT_FALSE(StatusFieldBytes("VmRSS:\tlots kB\n", "VmRSS").has_value());
}

TEST(SignalTargetTest, BiggestConsumerOfTheResourcesMemory) {
  const std::map<int64_t, std::string> procs = {
      {10, Status(1000, 900000, 0)},   // small resident, huge virtual
      {11, Status(65536, 70000, 5)},   // the hog
      {12, "Name:\tzombie\nState:\tZ (zombie)\n"},
  };
  const auto read = [&](int64_t pid) -> std::optional<std::string> {
    auto it = procs.find(pid);
    return it == procs.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  EXPECT_EQ(BiggestConsumer({10, 11, 12, 13}, "VmRSS", read), 11);
  EXPECT_EQ(BiggestConsumer({10, 11, 12, 13}, "VmSize", read), 10);
  EXPECT_EQ(BiggestConsumer({10, 11}, "VmSwap", read), 11);
  EXPECT_EQ(BiggestConsumer({12, 13}, "VmRSS", read), std::nullopt);  // none readable
  EXPECT_EQ(BiggestConsumer({}, "VmRSS", read), std::nullopt);
  // At equal bytes the lower pid.
  const auto same = [&](int64_t) -> std::optional<std::string> { return Status(5, 5, 5); };
  EXPECT_EQ(BiggestConsumer({31, 30, 32}, "VmRSS", same), 30);
}

TEST(SignalTargetTest, ThisProcessStatusHasItsResidentSet) {
  absl::StatusOr<std::string> self = ReadFile("/proc/self/status");
  ASSERT_TRUE(self.ok()) << self.status();
  std::optional<uint64_t> rss = StatusFieldBytes(*self, "VmRSS");
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*rss, 0u);
}

}  // namespace
}  // namespace jailwarden::platform
