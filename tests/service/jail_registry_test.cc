// service::JailRegistry's maintenance pass: the drift check walks the jails
// round-robin, a bounded slice per pass, and still reaches every jail
// within JailRegistry::kDriftSweepPasses passes.

#include "jailwarden/service/jail_registry.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "service/fake_host_backend.h"

namespace jailwarden::service {
namespace {

class JailRegistryDriftTest : public ::testing::Test {
 protected:
  JailRegistryDriftTest()
      : db_([this](const rctl::Rule& r) { return host_.enforcer_.Describe(r); },
            [](const rctl::Rule&) { return false; }),
        registry_(host_, db_) {
    registry_.SetDriftListener(
        [this](const std::string& jail, const platform::LimitDrift&) { ++repaired_[jail]; });
  }

  void Register(int n) {
    for (int i = 0; i < n; ++i) {
      platform::JailInstance in;
      in.ref.name = StrCat("j", i < 10 ? "0" : "", i);
      in.ref.jid = i + 1;
      in.init_pid = 1000 + i;
      ASSERT_TRUE(registry_.OnKernelJailCreated(in).ok()) << in.ref.name;
    }
  }
  void DriftOn(const std::string& jail) {
    host_.enforcer_.Drift(jail, platform::LimitDrift{"nthr", "/cg/" + jail + "/pids.max",
                                                     "max", "32", true});
  }

  testing_support::FakeHostBackend host_;
  RuleDatabase db_;
  JailRegistry registry_;
  std::map<std::string, int> repaired_;
};

TEST(JailRegistrySliceTest, EveryJailWithinTheSweepBound) {
  EXPECT_EQ(JailRegistry::DriftChecksPerPass(0), 0u);
  EXPECT_EQ(JailRegistry::DriftChecksPerPass(3), 3u);
  EXPECT_EQ(JailRegistry::DriftChecksPerPass(16), 16u);
  EXPECT_EQ(JailRegistry::DriftChecksPerPass(40), 16u);
  EXPECT_EQ(JailRegistry::DriftChecksPerPass(200), 50u);
  EXPECT_EQ(JailRegistry::DriftChecksPerPass(201), 51u);
  for (std::size_t n = 1; n <= 1200; ++n) {
    EXPECT_GE(JailRegistry::DriftChecksPerPass(n) * JailRegistry::kDriftSweepPasses, n) << n;
    EXPECT_LE(JailRegistry::DriftChecksPerPass(n), n) << n;
  }
}

// A few jails: all checked at every pass, as before the slicing.
TEST_F(JailRegistryDriftTest, FewJailsAreAllCheckedAtEveryPass) {
  Register(5);
  for (int i = 0; i < 5; ++i) DriftOn(StrCat("j0", i));
  registry_.ReconcileLimits();
  EXPECT_EQ(repaired_.size(), 5u);
}

// 40 jails, 16 a pass: one pass repairs 16, the sweep bound repairs all,
// each once; a drift made later is repaired within the bound too.
TEST_F(JailRegistryDriftTest, ADriftedKnobIsRepairedWithinTheSweepBound) {
  constexpr int kJails = 40;
  Register(kJails);
  for (int i = 0; i < kJails; ++i) DriftOn(StrCat("j", i < 10 ? "0" : "", i));
  registry_.ReconcileLimits();
  EXPECT_EQ(repaired_.size(), JailRegistry::DriftChecksPerPass(kJails));
  for (std::size_t pass = 1; pass < JailRegistry::kDriftSweepPasses; ++pass) {
    registry_.ReconcileLimits();
  }
  ASSERT_EQ(repaired_.size(), static_cast<std::size_t>(kJails));
  for (const auto& [jail, count] : repaired_) EXPECT_EQ(count, 1) << jail;

  // Whichever jail the cursor just passed: the longest wait.
  repaired_.clear();
  for (int i = 0; i < kJails; ++i) {
    const std::string jail = StrCat("j", i < 10 ? "0" : "", i);
    DriftOn(jail);
    std::size_t passes = 0;
    while (repaired_.count(jail) == 0 && passes < JailRegistry::kDriftSweepPasses) {
      registry_.ReconcileLimits();
      ++passes;
    }
    EXPECT_EQ(repaired_[jail], 1) << jail << " not repaired within "
                                  << JailRegistry::kDriftSweepPasses << " passes";
  }
  for (const metrics::LimitDriftCount& c : registry_.DriftCounts()) {
    EXPECT_EQ(c.resource, "nthr");
  }
}

}  // namespace
}  // namespace jailwarden::service
