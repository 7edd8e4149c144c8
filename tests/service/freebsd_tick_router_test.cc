// On FreeBSD the kernel carries out every RCTL action; the engine only
// counts. TickRouter over the FreeBSD host backend (FakeFreeBsdKernel), a
// jail over a sigterm rule and a devctl rule: with kernel_acts nothing is
// signalled, logged or appended, and the engine's match counts still rise;
// without it the same ticks signal the jail (the contrast shows the flag
// is what holds the actions back).

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/engine/event_stream.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/racct/sampler.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/service/host_backend.h"
#include "jailwarden/service/rule_database.h"
#include "jailwarden/service/tick_router.h"

namespace jailwarden::service {
namespace {

using platform::FakeFreeBsdKernel;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kSigterm[] = "jail:web:memoryuse:sigterm=1048576";
constexpr char kDevctl[] = "jail:web:memoryuse:devctl=2097152";

class FreeBsdTickRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<HostBackend>> b =
        NewFreeBsdHostBackend(kernel_, FreeBsdBackendOptions{});
    ASSERT_TRUE(b.ok()) << b.status();
    backend_ = *std::move(b);
    jid_ = kernel_.JailSetv(platform::kJailCreate,
                            {{"name", "web"}, {"path", "/"}, {"persist", std::nullopt}});
    ASSERT_GT(jid_, 0);
    pid_ = kernel_.AddProcess(jid_, 0, 0, "httpd");
    db_ = std::make_unique<RuleDatabase>(
        [this](const rctl::Rule& r) { return backend_->enforcer().Describe(r); },
        [this](const rctl::Rule& r) { return backend_->DenyIsSampled(r); });
    absl::Status added = db_->Mutate([](RuleDraft& d) -> absl::Status {
                      for (const char* text : {kSigterm, kDevctl}) {
                        absl::StatusOr<rctl::Rule> r = rctl::ParseRuleForAdd(text);
                        if (!r.ok()) return r.status();
                        if (absl::Status s = d.Add(*r); !s.ok()) return s;
                      }
                      return absl::OkStatus();
                    });
    ASSERT_TRUE(added.ok()) << added;
  }

  void MakeRouter(bool kernel_acts) {
    TickRouterOptions o;
    o.kernel_acts = kernel_acts;
    o.maintenance_interval = absl::Hours(1);
    o.signal_jail = [this](const std::string& jail, int sig, rctl::Resource) {
      absl::MutexLock l(&mu_);
      signalled_.push_back(StrCat(jail, ":", sig));
    };
    router_ = std::make_unique<TickRouter>(*db_, backend_->enforcer(), events_, health_,
                                           std::move(o));
    router_->Start();
    racct::SamplerOptions so;
    sampler_ = std::make_unique<racct::Sampler>(backend_->reader(), MonotonicClock::Get(), so);
    sampler_->SetTickCallback(
        [this](const std::shared_ptr<const racct::Snapshot>& s) { router_->OnTick(s); });
  }

  // Usage of web's memoryuse in the kernel's racct, then one tick.
  void TickWithMemoryuse(int64_t bytes) {
    kernel_.SetContainerUsage(rctl::SubjectType::kJail, "web", rctl::Resource::kMemoryuse,
                              bytes);
    sampler_->TickOnce();
  }

  uint64_t Matched(const std::string& rule) const {
    uint64_t n = 0;
    for (const engine::RuleTargetStats& s : router_->engine().Stats()) {
      if (s.rule_text == rule && s.jail == "web") n += s.matched;
    }
    return n;
  }

  std::vector<std::string> Signalled() {
    absl::MutexLock l(&mu_);
    return signalled_;
  }

  FakeFreeBsdKernel kernel_;
  std::unique_ptr<HostBackend> backend_;
  int jid_ = -1;
  pid_t pid_ = 0;
  std::unique_ptr<RuleDatabase> db_;
  engine::EventStream events_{64};
  metrics::EngineHealthRecorder health_;
  std::unique_ptr<TickRouter> router_;
  std::unique_ptr<racct::Sampler> sampler_;
  absl::Mutex mu_;
  std::vector<std::string> signalled_;
};

TEST_F(FreeBsdTickRouterTest, KernelActsMeansTheEngineOnlyCounts) {
  MakeRouter(/*kernel_acts=*/true);
  kernel_.ClearCalls();
  TickWithMemoryuse(512 * 1024);      // under both
  TickWithMemoryuse(64 * 1024 * 1024);  // over both: one episode each
  TickWithMemoryuse(512 * 1024);
  TickWithMemoryuse(64 * 1024 * 1024);  // a second episode
  absl::SleepFor(absl::Milliseconds(100));  // time for a worker to deliver
  router_->Stop();
  EXPECT_EQ(Matched(kSigterm), 2u);
  EXPECT_EQ(Matched(kDevctl), 2u);
  EXPECT_EQ(router_->left_to_kernel(), 4u);
  EXPECT_THAT(Signalled(), IsEmpty());
  EXPECT_EQ(events_.last_seq(), 0u);
  for (const std::string& c : kernel_.calls()) EXPECT_THAT(c, Not(HasSubstr("kill(")));
  std::optional<platform::FakeProcess> p = kernel_.Process(pid_);
  ASSERT_TRUE(p.has_value());
  EXPECT_THAT(p->signals, IsEmpty());
}

TEST_F(FreeBsdTickRouterTest, WithoutKernelActsTheSameTicksSignalAndAppend) {
  MakeRouter(/*kernel_acts=*/false);
  TickWithMemoryuse(512 * 1024);
  TickWithMemoryuse(64 * 1024 * 1024);
  for (int i = 0; i < 200 && Signalled().empty(); ++i) absl::SleepFor(absl::Milliseconds(10));
  router_->Stop();
  EXPECT_EQ(Matched(kSigterm), 1u);
  EXPECT_EQ(router_->left_to_kernel(), 0u);
  EXPECT_THAT(Signalled(), ::testing::ElementsAre("web:15"));
  EXPECT_EQ(events_.last_seq(), 1u);
}

}  // namespace
}  // namespace jailwarden::service
