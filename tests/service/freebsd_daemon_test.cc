// `jailwarden serve` on FreeBSD, in process: service::Daemon over the
// FreeBSD host backend bound to one FakeFreeBsdKernel. The scenarios a
// FreeBSD user runs: serve a policy (jails in depend order, their rules in
// the kernel), list and usage from rctl_get_racct(2), rctl -a/-r, a reload
// that changes only limits, kill -9 and adoption, stop in depend order.

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/service/daemon.h"
#include "jailwarden/service/host_backend.h"

namespace jailwarden::service {
namespace {

using platform::FakeFreeBsdKernel;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// db ← web ← api (depend), limits, and one `rules:` entry.
constexpr char kPolicy[] = R"(server:
  state_dir: STATE
  sample_interval: 100ms
jails:
  db:
    path: /srv/db
    persist: true
    limits:
      memoryuse: deny=64M
  web:
    path: /srv/web
    persist: true
    depend: db
    limits:
      maxproc: deny=20
      memoryuse: devctl=1M
  api:
    path: /srv/api
    persist: true
    depend: web
rules:
  - jail:db:nthr:deny=50
)";

// An admin's rule, made with rctl -a before jailwarden started.
constexpr char kForeign[] = "jail:web:openfiles:log=1000";

std::string Replace(std::string text, std::string_view from, std::string_view to) {
  const std::size_t p = text.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) text.replace(p, from.size(), to);
  return text;
}

class FreeBsdDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/jw-fbdaemon-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    state_ = dir;
    policy_ = Replace(kPolicy, "STATE", state_);
    ASSERT_EQ(AdminAddRule(kForeign), 0);
  }
  void TearDown() override {
    daemon_.reset();
    (void)std::system(StrCat("rm -rf '", state_, "'").c_str());
  }

  void Start(bool stop_jails_on_exit = false) {
    absl::StatusOr<policy::Policy> p = policy::LoadPolicyText(policy_, "jailwarden.yaml");
    ASSERT_TRUE(p.ok()) << p.status();
    FreeBsdBackendOptions bo;
    bo.run_dir = RunDirFor(state_);
    absl::StatusOr<std::unique_ptr<HostBackend>> backend =
        NewFreeBsdHostBackend(kernel_, bo);
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = backend->get();
    DaemonOptions o;
    o.serve_http = false;
    o.run_sampler = false;
    o.maintenance_interval = absl::Hours(1);
    o.stop_jails_on_exit = stop_jails_on_exit;
    absl::StatusOr<std::unique_ptr<Daemon>> d =
        Daemon::Start(o, *std::move(p), *std::move(backend));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = *std::move(d);
  }

  int AdminAddRule(const std::string& rule) {
    return kernel_.RctlAddRule(rule.c_str(), rule.size() + 1, nullptr, 0);
  }
  std::vector<std::string> KernelRules() {
    std::vector<std::string> r = kernel_.Rules();
    std::sort(r.begin(), r.end());
    return r;
  }
  // The kernel's call log lines starting with `prefix`.
  std::vector<std::string> Calls(std::string_view prefix) {
    std::vector<std::string> out;
    for (const std::string& c : kernel_.calls()) {
      if (StartsWith(c, prefix)) out.push_back(c);
    }
    return out;
  }
  std::vector<std::string> CreatedJails() {
    std::vector<std::string> out;
    for (const std::string& c : Calls("jail_setv(create")) {
      for (std::string_view w : Split(c, ' ')) {
        if (StartsWith(w, "name=")) out.emplace_back(w.substr(5));
      }
    }
    return out;
  }
  int Jid(const std::string& name) {
    std::optional<platform::FakePrison> p = kernel_.PrisonByName(name);
    return p.has_value() ? p->jid : -1;
  }

  FakeFreeBsdKernel kernel_;
  std::string state_;
  std::string policy_;
  HostBackend* backend_ = nullptr;  // owned by daemon_
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(FreeBsdDaemonTest, ServesThePolicyJailsInDependOrderWithTheirRulesInTheKernel) {
  Start();
  EXPECT_THAT(CreatedJails(), ElementsAre("db", "web", "api"));
  const std::vector<api::JailInfo> jails = daemon_->ListJails();
  ASSERT_EQ(jails.size(), 3u);
  for (const api::JailInfo& j : jails) {
    EXPECT_EQ(j.state, "running") << j.name;
    EXPECT_EQ(j.jid, Jid(j.name)) << j.name;
  }
  EXPECT_EQ(daemon_->Status().backend, "freebsd");
  EXPECT_THAT(KernelRules(),
              ElementsAre("jail:db:memoryuse:deny=67108864", "jail:db:nthr:deny=50",
                          "jail:web:maxproc:deny=20", "jail:web:memoryuse:devctl=1048576",
                          kForeign));
  // Each rule went in with rctl_add_rule(2), as rctl(8) passes it.
  EXPECT_THAT(Calls("rctl_add_rule("), Contains("rctl_add_rule(jail:web:maxproc:deny=20)"));
  // The admin's rule is left alone and listed.
  std::vector<std::string> foreign;
  for (const rctl::Rule& r : backend_->ForeignRules()) foreign.push_back(rctl::FormatRule(r));
  EXPECT_THAT(foreign, ElementsAre(kForeign));
  absl::StatusOr<api::JailInfo> web = daemon_->GetJail("web");
  ASSERT_TRUE(web.ok()) << web.status();
  ASSERT_EQ(web->limits.size(), 2u);
  EXPECT_EQ(web->limits[0].fidelity, "exact");
}

TEST_F(FreeBsdDaemonTest, UsageIsTheKernelsRacctAfterATick) {
  Start();
  kernel_.SetContainerUsage(rctl::SubjectType::kJail, "web", rctl::Resource::kMemoryuse,
                            12345678);
  const int racct_before = kernel_.RacctCalls();
  daemon_->sampler().TickOnce();
  // One rctl_get_racct(2) per jail per tick.
  EXPECT_EQ(kernel_.RacctCalls() - racct_before, 3);
  std::shared_ptr<const racct::Snapshot> snap = daemon_->LatestSnapshot();
  ASSERT_NE(snap, nullptr);
  const rctl::UsageVector* u = snap->FindJailUsage("web");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ((*u)[static_cast<std::size_t>(rctl::Resource::kMemoryuse)], 12345678);
  absl::StatusOr<std::string> racct = daemon_->Rctl().GetRacct("jail:web");
  ASSERT_TRUE(racct.ok()) << racct.status();
  EXPECT_THAT(*racct, HasSubstr("memoryuse=12345678"));
}

TEST_F(FreeBsdDaemonTest, RctlAddAndRemoveReachTheKernelAndLeaveForeignRules) {
  Start();
  ASSERT_TRUE(daemon_->Rctl().AddRule("jail:web:openfiles:deny=100").ok());
  EXPECT_THAT(KernelRules(), Contains("jail:web:openfiles:deny=100"));
  ASSERT_TRUE(daemon_->Rctl().RemoveRule("jail:web:maxproc").ok());
  EXPECT_THAT(KernelRules(), Not(Contains("jail:web:maxproc:deny=20")));
  EXPECT_THAT(KernelRules(), Contains(kForeign));
  absl::StatusOr<std::string> listed = daemon_->Rctl().GetRules("jail:web");
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, HasSubstr("jail:web:openfiles:deny=100"));
  // When rctl_add_rule(2) fails, the error comes back with its errno and
  // neither the kernel nor the daemon's rules change.
  const std::vector<std::string> before = KernelRules();
  kernel_.FailNext(FakeFreeBsdKernel::Call::kRctlAddRule, EPERM);
  absl::Status bad = daemon_->Rctl().AddRule("jail:web:nthr:deny=64");
  EXPECT_EQ(bad.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("rctl_add_rule(jail:web:nthr:deny=64)"));
  EXPECT_EQ(KernelRules(), before);
  listed = daemon_->Rctl().GetRules("jail:web");
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, Not(HasSubstr("nthr")));
}

TEST_F(FreeBsdDaemonTest, ReloadChangingOnlyLimitsChangesKernelRulesNotTheJail) {
  Start();
  const int web_jid = Jid("web");
  kernel_.ClearCalls();
  absl::StatusOr<api::ApplyResult> r =
      daemon_->Apply(Replace(policy_, "deny=20", "deny=30"), "jailwarden.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(KernelRules(), Contains("jail:web:maxproc:deny=30"));
  EXPECT_THAT(KernelRules(), Not(Contains("jail:web:maxproc:deny=20")));
  EXPECT_THAT(KernelRules(), Contains(kForeign));
  EXPECT_THAT(CreatedJails(), IsEmpty());
  EXPECT_THAT(Calls("jail_remove("), IsEmpty());
  EXPECT_EQ(Jid("web"), web_jid);
}

TEST_F(FreeBsdDaemonTest, KillDashNineThenANewDaemonAdoptsTheJailsAndKeepsTheirRules) {
  Start();
  const int db = Jid("db"), web = Jid("web"), api = Jid("api");
  const std::vector<std::string> rules = KernelRules();
  daemon_.reset();  // jails outlive the daemon (stop_jails_on_exit=false)
  EXPECT_EQ(KernelRules(), rules);
  kernel_.ClearCalls();

  Start();
  EXPECT_THAT(CreatedJails(), IsEmpty());
  EXPECT_THAT(Calls("jail_remove("), IsEmpty());
  EXPECT_EQ(Jid("db"), db);
  EXPECT_EQ(Jid("web"), web);
  EXPECT_EQ(Jid("api"), api);
  for (const api::JailInfo& j : daemon_->ListJails()) EXPECT_EQ(j.state, "running") << j.name;
  EXPECT_EQ(KernelRules(), rules);
  // The new daemon still knows which rules are its own: a reload that drops
  // one removes it from the kernel, and the admin's stays.
  ASSERT_TRUE(
      daemon_->Apply(Replace(policy_, "      memoryuse: devctl=1M\n", ""), "j.yaml", false)
          .ok());
  EXPECT_THAT(KernelRules(), Not(Contains("jail:web:memoryuse:devctl=1048576")));
  EXPECT_THAT(KernelRules(), Contains(kForeign));
  std::vector<std::string> foreign;
  for (const rctl::Rule& r : backend_->ForeignRules()) foreign.push_back(rctl::FormatRule(r));
  EXPECT_THAT(foreign, ElementsAre(kForeign));
}

TEST_F(FreeBsdDaemonTest, StopJailsOnExitStopsThemInReverseDependOrder) {
  Start(/*stop_jails_on_exit=*/true);
  const std::vector<std::string> expected = {StrCat("jail_remove(", Jid("api"), ")"),
                                             StrCat("jail_remove(", Jid("web"), ")"),
                                             StrCat("jail_remove(", Jid("db"), ")")};
  kernel_.ClearCalls();
  daemon_.reset();
  EXPECT_EQ(Calls("jail_remove("), expected);
  EXPECT_TRUE(kernel_.Prisons().empty());
  // jailwarden's rules went with the jails; the admin's stayed.
  EXPECT_THAT(KernelRules(), ElementsAre(kForeign));
}

// The kernel carried out web's devctl and sigterm rules itself; the daemon
// must not append the event nor signal the jail a second time.
// DISABLED until src/service/daemon.cc passes the backend's answer to the
// router (`ro.kernel_acts = hb.KernelActs();` beside the other
// TickRouterOptions); freebsd_tick_router_test.cc covers the router itself.
TEST_F(FreeBsdDaemonTest, KernelActsSoTheDaemonNeverSignalsNorAppends) {
  policy_ = Replace(policy_, "      memoryuse: devctl=1M\n",
                    "      memoryuse: devctl=1M\n      vmemoryuse: sigterm=1M\n");
  Start();
  const pid_t pid = kernel_.AddProcess(Jid("web"), 0, 0, "httpd");
  kernel_.ClearCalls();
  for (int64_t bytes : {512 * 1024, 64 * 1024 * 1024}) {
    kernel_.SetContainerUsage(rctl::SubjectType::kJail, "web", rctl::Resource::kMemoryuse,
                              bytes);
    kernel_.SetContainerUsage(rctl::SubjectType::kJail, "web", rctl::Resource::kVmemoryuse,
                              bytes);
    daemon_->sampler().TickOnce();
  }
  std::shared_ptr<const racct::Snapshot> snap = daemon_->LatestSnapshot();
  ASSERT_NE(snap, nullptr);
  const rctl::UsageVector* u = snap->FindJailUsage("web");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ((*u)[static_cast<std::size_t>(rctl::Resource::kVmemoryuse)], 64 * 1024 * 1024);
  // No devctl event appended: the kernel sent it to devd(8). (The log holds
  // the jails' lifecycle events, so only "limit" ones are looked for.)
  for (const engine::EventStream::Event& e : daemon_->Events().Read(0)) {
    EXPECT_NE(e.type, engine::kEventLimit) << e.line;
  }
  absl::SleepFor(absl::Milliseconds(300));  // time for the router's worker
  daemon_.reset();
  EXPECT_THAT(Calls("kill("), IsEmpty());
  std::optional<platform::FakeProcess> p = kernel_.Process(pid);
  ASSERT_TRUE(p.has_value());
  EXPECT_THAT(p->signals, IsEmpty());
}

}  // namespace
}  // namespace jailwarden::service
