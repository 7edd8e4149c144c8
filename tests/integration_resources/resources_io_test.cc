// readbps, writebps, readiops, writeiops: blkio throttles on the disk
// holding the jail's root (/dev/vda here), O_DIRECT I/O of at most 4 MiB at
// low rates, and the sampler's cumulative counters.

#include "resources_env.h"

namespace jailwarden::testing {
namespace {

using platform::Fidelity;
using rctl::Resource;

constexpr int64_t kMiB = 1 << 20;

class IoTest : public ResourceTest {
 protected:
  // Runs the probe and returns its elapsed ms and the counter delta.
  std::pair<int64_t, int64_t> Run(const std::vector<std::string>& args, Resource counter) {
    int64_t before = Get(Fast(), counter);
    ProbeRun p(*manager_, name_, args);
    std::string line = p.LineStarting("direct");
    EXPECT_EQ(Field(line, "errno"), 0) << line;
    EXPECT_EQ(p.Finish(), 0);
    return {Field(line, "ms"), Get(Fast(), counter) - before};
  }
};

TEST_F(IoTest, ReadbpsThrottle) {
  StartJail("rrbps");
  Run({"dwrite", "1048576", "4", "/probe.dat"}, Resource::kWritebps);
  auto e = Apply({"readbps:throttle=2097152"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kExact);
  auto [ms, bytes] = Run({"dread", "1048576", "4", "/probe.dat"}, Resource::kReadbps);
  Measured("readbps_4MiB_at_2MiBps_ms", ms);
  Measured("readbps_counted_bytes", bytes);
  EXPECT_GE(ms, 1400) << "4 MiB at 2 MiB/s: about 2 s (±30 %)";
  EXPECT_LE(ms, 2600);
  EXPECT_EQ(bytes, 4 * kMiB) << "O_DIRECT reads are counted exactly";
  Apply({});
  auto [fast_ms, fast_bytes] = Run({"dread", "1048576", "4", "/probe.dat"}, Resource::kReadbps);
  EXPECT_LT(fast_ms, 1000) << "lifted on the running jail";
  EXPECT_EQ(fast_bytes, 4 * kMiB);
}

TEST_F(IoTest, WritebpsThrottle) {
  StartJail("rwbps");
  auto e = Apply({"writebps:throttle=2097152"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kApproximate) << "v1: buffered writeback not covered";
  auto [ms, bytes] = Run({"dwrite", "1048576", "4", "/probe.dat"}, Resource::kWritebps);
  Measured("writebps_4MiB_at_2MiBps_ms", ms);
  Measured("writebps_counted_bytes", bytes);
  EXPECT_GE(ms, 1400);
  EXPECT_LE(ms, 2600);
  EXPECT_GE(bytes, 4 * kMiB);
  EXPECT_LE(bytes, 4 * kMiB + 256 * 1024) << "tolerance: metadata written by the fsync";
}

TEST_F(IoTest, ReadiopsThrottle) {
  StartJail("rriops");
  Run({"dwrite", "4096", "100", "/probe.dat"}, Resource::kWriteiops);
  auto e = Apply({"readiops:throttle=50"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kExact);
  auto [ms, ops] = Run({"dread", "4096", "100", "/probe.dat"}, Resource::kReadiops);
  Measured("readiops_100_at_50ps_ms", ms);
  Measured("readiops_counted_ops", ops);
  EXPECT_GE(ms, 1400) << "100 reads at 50/s: about 2 s";
  EXPECT_LE(ms, 2600);
  EXPECT_EQ(ops, 100);
}

TEST_F(IoTest, WriteiopsThrottle) {
  StartJail("rwiops");
  auto e = Apply({"writeiops:throttle=50"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kApproximate);
  auto [ms, ops] = Run({"dwrite", "4096", "100", "/probe.dat"}, Resource::kWriteiops);
  Measured("writeiops_100_at_50ps_ms", ms);
  Measured("writeiops_counted_ops", ops);
  EXPECT_GE(ms, 1400);
  EXPECT_LE(ms, 2600);
  EXPECT_GE(ops, 100);
  EXPECT_LE(ops, 110) << "tolerance: the fsync's metadata writes";
}

}  // namespace
}  // namespace jailwarden::testing
