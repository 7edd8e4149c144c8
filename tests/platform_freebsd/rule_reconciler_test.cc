#include "jailwarden/platform/freebsd/rule_reconciler.h"

#include <cerrno>
#include <string>

#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/platform/freebsd/limit_enforcer.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::platform {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

rctl::Rule R(const std::string& text) {
  absl::StatusOr<rctl::Rule> r = rctl::ParseRuleText(text);
  EXPECT_TRUE(r.ok()) << text;
  return *r;
}

std::vector<std::string> Texts(const std::vector<rctl::Rule>& rules) {
  std::vector<std::string> out;
  for (const rctl::Rule& r : rules) out.push_back(rctl::FormatRule(r));
  return out;
}

void KernelAdd(FakeFreeBsdKernel& k, const std::string& rule) {
  ASSERT_EQ(k.RctlAddRule(rule.c_str(), rule.size() + 1, nullptr, 0), 0) << rule;
}

const rctl::Rule kScope = R("jail:www:");

TEST(FreeBsdRuleReconcilerTest, AddsMissingKeepsPresentLeavesForeign) {
  FakeFreeBsdKernel k;
  KernelAdd(k, "jail:www:openfiles:deny=5000");   // an admin's, also wanted
  KernelAdd(k, "jail:www:nthr:log=500");          // an admin's, not wanted
  KernelAdd(k, "jail:db:maxproc:deny=10");        // out of scope
  FreeBsdRuleReconciler rec(k);
  absl::StatusOr<ReconcileResult> r = rec.Reconcile(
      kScope, {R("jail:www:memoryuse:deny=1073741824"), R("jail:www:openfiles:deny=5000"),
               R("jail:www:pcpu:deny=50/jail")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Texts(r->added), ElementsAre("jail:www:memoryuse:deny=1073741824",
                                           "jail:www:pcpu:deny=50"));
  EXPECT_THAT(Texts(r->kept), ElementsAre("jail:www:openfiles:deny=5000"));
  EXPECT_THAT(Texts(r->foreign), ElementsAre("jail:www:nthr:log=500"));
  EXPECT_THAT(r->removed, IsEmpty());
  EXPECT_THAT(k.Rules(), UnorderedElementsAre(
                             "jail:www:openfiles:deny=5000", "jail:www:nthr:log=500",
                             "jail:db:maxproc:deny=10",
                             "jail:www:memoryuse:deny=1073741824", "jail:www:pcpu:deny=50"));
  // Ownership: only what jailwarden added.
  EXPECT_THAT(rec.Owned(), ElementsAre("jail:www:memoryuse:deny=1073741824",
                                       "jail:www:pcpu:deny=50"));
}

TEST(FreeBsdRuleReconcilerTest, RemovesOnlyItsOwnRulesWhenNoLongerWanted) {
  FakeFreeBsdKernel k;
  KernelAdd(k, "jail:www:nthr:log=500");
  FreeBsdRuleReconciler rec(k);
  ASSERT_TRUE(rec.Reconcile(kScope, {R("jail:www:maxproc:deny=100"),
                                     R("jail:www:writebps:throttle=1048576")})
                  .ok());
  absl::StatusOr<ReconcileResult> r = rec.Reconcile(kScope, {R("jail:www:maxproc:deny=100")});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Texts(r->removed), ElementsAre("jail:www:writebps:throttle=1048576"));
  EXPECT_THAT(Texts(r->foreign), ElementsAre("jail:www:nthr:log=500"));
  EXPECT_THAT(k.Rules(), UnorderedElementsAre("jail:www:nthr:log=500",
                                              "jail:www:maxproc:deny=100"));
  // Empty policy: jailwarden's rules go, the admin's stays.
  ASSERT_TRUE(rec.Reconcile(kScope, {}).ok());
  EXPECT_THAT(k.Rules(), ElementsAre("jail:www:nthr:log=500"));
  EXPECT_THAT(rec.Owned(), IsEmpty());
}

TEST(FreeBsdRuleReconcilerTest, ChangedDenyAmountIsReplacedInOneStep) {
  FakeFreeBsdKernel k;
  FreeBsdRuleReconciler rec(k);
  ASSERT_TRUE(rec.Reconcile(kScope, {R("jail:www:maxproc:deny=100")}).ok());
  k.ClearCalls();
  absl::StatusOr<ReconcileResult> r = rec.Reconcile(kScope, {R("jail:www:maxproc:deny=200")});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Texts(r->added), ElementsAre("jail:www:maxproc:deny=200"));
  EXPECT_THAT(Texts(r->removed), ElementsAre("jail:www:maxproc:deny=100"));
  EXPECT_THAT(k.Rules(), ElementsAre("jail:www:maxproc:deny=200"));
  // No rctl_remove_rule: the kernel's deny replacement did it, so the
  // limit was never lifted.
  for (const std::string& c : k.calls()) {
    EXPECT_THAT(c, ::testing::Not(::testing::StartsWith("rctl_remove_rule")));
  }
}

TEST(FreeBsdRuleReconcilerTest, ForeignDenyReplacedByPolicyIsReported) {
  FakeFreeBsdKernel k;
  KernelAdd(k, "jail:www:maxproc:deny=10");
  FreeBsdRuleReconciler rec(k);
  absl::StatusOr<ReconcileResult> r = rec.Reconcile(kScope, {R("jail:www:maxproc:deny=20")});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Texts(r->replaced_foreign), ElementsAre("jail:www:maxproc:deny=10"));
}

TEST(FreeBsdRuleReconcilerTest, FailedAddIsRolledBack) {
  FakeFreeBsdKernel k;
  FreeBsdRuleReconciler rec(k);
  ASSERT_TRUE(rec.Reconcile(kScope, {R("jail:www:maxproc:deny=100")}).ok());
  // First add (the deny replacing 100) succeeds, the second fails.
  struct FailSecondAdd : FakeFreeBsdKernel {
    int adds = 0;
    int RctlAddRule(const char* in, std::size_t inlen, char* out,
                    std::size_t outlen) override {
      if (++adds == 2) {
        errno = EOPNOTSUPP;
        return -1;
      }
      return FakeFreeBsdKernel::RctlAddRule(in, inlen, out, outlen);
    }
  };
  FailSecondAdd f;
  KernelAdd(f, "jail:www:maxproc:deny=100");
  f.adds = 0;
  FreeBsdRuleReconciler rec2(f);
  rec2.RestoreOwned({"jail:www:maxproc:deny=100"});
  absl::StatusOr<ReconcileResult> r = rec2.Reconcile(
      kScope, {R("jail:www:maxproc:deny=200"), R("jail:www:openfiles:deny=10")});
  EXPECT_EQ(StatusErrno(r.status()), EOPNOTSUPP);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("rctl_add_rule(jail:www:openfiles:deny=10)"));
  // Back to what was there: the old deny, not the new one.
  EXPECT_THAT(f.Rules(), ElementsAre("jail:www:maxproc:deny=100"));
  EXPECT_THAT(rec2.Owned(), ElementsAre("jail:www:maxproc:deny=100"));
}

TEST(FreeBsdRuleReconcilerTest, OwnershipSurvivesARestartThroughRestoreOwned) {
  FakeFreeBsdKernel k;
  std::vector<std::string> saved;
  {
    FreeBsdRuleReconciler rec(k);
    ASSERT_TRUE(rec.Reconcile(kScope, {R("jail:www:maxproc:deny=100")}).ok());
    saved = rec.Owned();
  }
  FreeBsdRuleReconciler restarted(k);
  restarted.RestoreOwned(saved);
  absl::StatusOr<ReconcileResult> r = restarted.Reconcile(kScope, {});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Texts(r->removed), ElementsAre("jail:www:maxproc:deny=100"));
  EXPECT_THAT(k.Rules(), IsEmpty());
}

TEST(FreeBsdRuleReconcilerTest, RejectsRulesOutsideTheScope) {
  FakeFreeBsdKernel k;
  FreeBsdRuleReconciler rec(k);
  absl::StatusOr<ReconcileResult> r = rec.Reconcile(kScope, {R("jail:db:maxproc:deny=1")});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  k.SetRacct(FakeFreeBsdKernel::RacctSysctl::kBool, false);
  EXPECT_EQ(StatusErrno(rec.Reconcile(kScope, {}).status()), ENOSYS);
}

TEST(FreeBsdLimitEnforcerTest, AppliesExactlyViaRctl) {
  FakeFreeBsdKernel k;
  KernelAdd(k, "jail:www:nthr:log=500");
  FreeBsdLimitEnforcer enforcer(k);
  const JailRef www{"www", 1, "", 1};
  absl::StatusOr<std::vector<Enforcement>> e = enforcer.Apply(
      www, {R("jail:www:memoryuse:deny=536870912"), R("jail:www:pcpu:sigterm=90")});
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 2u);
  for (const Enforcement& x : *e) {
    EXPECT_EQ(x.fidelity, Fidelity::kExact);
    EXPECT_EQ(x.mechanism, "rctl_add_rule");
    EXPECT_EQ(x.rule.per, rctl::SubjectType::kJail);
  }
  EXPECT_THAT(Texts(enforcer.LastResult("www").foreign), ElementsAre("jail:www:nthr:log=500"));
  EXPECT_THAT(k.Rules(), UnorderedElementsAre("jail:www:nthr:log=500",
                                              "jail:www:memoryuse:deny=536870912",
                                              "jail:www:pcpu:sigterm=90"));
  ASSERT_TRUE(enforcer.Apply(www, {}).ok());  // lifted again
  EXPECT_THAT(k.Rules(), ElementsAre("jail:www:nthr:log=500"));
  EXPECT_EQ(enforcer.Apply(www, {R("user:1:maxproc:deny=1")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FidelityName(enforcer.Describe(R("jail:www:wallclock:sigkill=60")).fidelity),
            "exact");
}

}  // namespace
}  // namespace jailwarden::platform
