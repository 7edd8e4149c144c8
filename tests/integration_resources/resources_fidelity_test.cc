// Fidelity reporting on a live jail, unsupported rules, and the fast tier's
// no-allocation promise.

#include <atomic>
#include <cstdlib>
#include <new>

#include "resources_env.h"

namespace {
std::atomic<bool> g_count_allocs{false};
std::atomic<int64_t> g_allocs{0};
}  // namespace

// Counting replacement of the global operator new (pairs with free in the
// replaced deletes, which GCC cannot see through).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_count_allocs.load(std::memory_order_relaxed)) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
  }
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace jailwarden::testing {
namespace {

using platform::Fidelity;
using rctl::Resource;

TEST_F(ResourceTest, EveryRuleReportsItsFidelity) {
  StartJail("rfid");
  auto e = Apply({"memoryuse:deny=1073741824", "nthr:deny=1000", "openfiles:deny=100000",
                  "cputime:log=3600", "loginclass:daemon:memoryuse:deny=1"});
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].fidelity, Fidelity::kApproximate);
  EXPECT_FALSE(e[0].detail.empty());
  EXPECT_EQ(e[1].fidelity, Fidelity::kExact);
  EXPECT_EQ(e[2].fidelity, Fidelity::kSampled);
  EXPECT_EQ(e[3].fidelity, Fidelity::kSampled);
  EXPECT_EQ(e[4].fidelity, Fidelity::kUnsupported);
  EXPECT_NE(e[4].detail.find("login classes"), std::string::npos);
  for (const auto& x : e) {
    EXPECT_EQ(enforcer_->Describe(x.rule).fidelity, x.fidelity == Fidelity::kSampled &&
                                                            x.rule.resource == Resource::kSwapuse
                                                        ? Fidelity::kApproximate
                                                        : x.fidelity);
  }
  EXPECT_EQ(enforcer_->cgroup_version(), "v1");
  Apply({});
}

TEST_F(ResourceTest, FastTierDoesNotAllocateOnceWarm) {
  StartJail("ralloc");
  platform::RawUsage u;
  ASSERT_TRUE(reader_->ReadFast(ref_, u).ok());
  g_allocs = 0;
  g_count_allocs = true;
  for (int i = 0; i < 1000; ++i) {
    (void)reader_->ReadFast(ref_, u);
  }
  g_count_allocs = false;
  EXPECT_EQ(g_allocs.load(), 0);
  EXPECT_EQ(u.present.count(), 9u) << "cputime memoryuse swapuse nthr 4×io wallclock";
}

TEST_F(ResourceTest, ExecRlimitsAndRemovedJail) {
  StartJail("rexec");
  Apply({"datasize:deny=268435456/process", "openfiles:deny=64/process"});
  std::vector<platform::LinuxRlimit> r = enforcer_->ExecRlimits(name_);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(enforcer_->ExecRlimits("nope").empty());
  ASSERT_TRUE(reader_->RemoveJail(name_).ok());
  platform::RawUsage u;
  EXPECT_TRUE(absl::IsNotFound(reader_->ReadFast(ref_, u)));
}

}  // namespace
}  // namespace jailwarden::testing
