// service::RuleDatabase and RuleSnapshot: rctl_rule_add/remove semantics on
// grouped rules, all-or-nothing changes through a scripted LimitApplier,
// and rctl_get_rules order checked against rctl::RuleSet.

#include "jailwarden/service/rule_database.h"

#include <random>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/rule_set.h"
#include "jailwarden/rctl/user_form.h"

namespace jailwarden::service {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

rctl::Rule R(std::string_view text) {
  absl::StatusOr<std::string> kernel = rctl::ExpandRule(text);  // "1M" → 1048576
  EXPECT_TRUE(kernel.ok()) << text;
  absl::StatusOr<rctl::Rule> r = rctl::ParseRuleForAdd(*kernel);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return *r;
}

platform::Enforcement Described(const rctl::Rule& r) {
  platform::Enforcement e;
  e.rule = r;
  e.fidelity = r.resource == rctl::Resource::kOpenfiles ? platform::Fidelity::kSampled
                                                         : platform::Fidelity::kExact;
  e.mechanism = "described";
  return e;
}

// Running jails and what they were given; fails a chosen jail on demand.
class ScriptedApplier : public LimitApplier {
 public:
  absl::StatusOr<AppliedEnforcements> ApplyChanges(
      const std::vector<JailRulesChange>& changes) override {
    ++calls;
    AppliedEnforcements out;
    std::map<std::string, std::vector<std::string>> before = kernel;
    for (const JailRulesChange& c : changes) {
      if (running.count(c.jail) == 0) continue;
      seen.push_back(c.jail);
      if (c.jail == fail_jail) {
        kernel = before;  // what was done is put back
        return absl::InternalError(ToAbsl(StrCat("cannot write ", c.jail)));
      }
      std::vector<std::string>& k = kernel[c.jail];
      k.clear();
      for (const rctl::Rule& r : c.after) {
        k.push_back(rctl::FormatRule(r));
        platform::Enforcement e = Described(r);
        e.mechanism = "applied";
        out[c.jail].push_back(e);
      }
    }
    return out;
  }

  std::set<std::string> running;
  std::string fail_jail;
  std::map<std::string, std::vector<std::string>> kernel;
  std::vector<std::string> seen;
  int calls = 0;
};

class RuleDatabaseTest : public ::testing::Test {
 protected:
  RuleDatabaseTest()
      : db_(Described, [](const rctl::Rule& r) {
          return r.resource == rctl::Resource::kOpenfiles;
        }) {
    db_.SetApplier(&applier_);
  }
  absl::Status Add(std::string_view text) {
    return db_.Mutate([&](RuleDraft& d) { return d.Add(R(text)); });
  }
  std::string List(std::string_view filter = "::") {
    absl::StatusOr<rctl::Rule> f = rctl::ParseRuleText(filter);
    EXPECT_TRUE(f.ok());
    return db_.Current()->ListText(*f);
  }

  ScriptedApplier applier_;
  RuleDatabase db_;
};

TEST_F(RuleDatabaseTest, AddFollowsRctlRuleAddReplacement) {
  ASSERT_TRUE(Add("jail:web:memoryuse:deny=1M").ok());
  ASSERT_TRUE(Add("jail:web:memoryuse:deny=2M").ok());      // replaces the deny
  ASSERT_TRUE(Add("jail:web:memoryuse:devctl=1M").ok());
  ASSERT_TRUE(Add("jail:web:memoryuse:devctl=1M").ok());    // identical: once
  ASSERT_TRUE(Add("jail:web:memoryuse:devctl=3M").ok());    // another amount: kept
  EXPECT_EQ(List("jail:web"),
            "jail:web:memoryuse:devctl=3145728,jail:web:memoryuse:devctl=1048576,"
            "jail:web:memoryuse:deny=2097152");
  EXPECT_EQ(db_.Current()->size(), 3u);
}

TEST_F(RuleDatabaseTest, RefusesWhatTheKernelRefusesAndChangesNothing) {
  ASSERT_TRUE(Add("jail:web:memoryuse:deny=1M").ok());
  std::shared_ptr<const RuleSnapshot> before = db_.Current();
  rctl::Rule bad;
  bad.subject = rctl::SubjectType::kJail;
  bad.subject_id = "web";
  absl::Status s = db_.Mutate([&](RuleDraft& d) { return d.Add(bad); });
  EXPECT_EQ(StatusErrno(s), EINVAL);
  EXPECT_EQ(db_.Current(), before);
  absl::Status none = db_.Mutate([&](RuleDraft& d) -> absl::Status {
    return d.Remove(R("jail:db:maxproc:deny=1")).status();
  });
  EXPECT_EQ(none.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db_.Current(), before);
}

TEST_F(RuleDatabaseTest, RemoveReachesEveryGroupTheFilterNames) {
  ASSERT_TRUE(Add("jail:web:memoryuse:deny=1M").ok());
  ASSERT_TRUE(Add("jail:db:memoryuse:deny=1M").ok());
  ASSERT_TRUE(Add("jail:db:maxproc:deny=10").ok());
  ASSERT_TRUE(Add("user:1001:maxproc:deny=10").ok());
  int removed = 0;
  ASSERT_TRUE(db_.Mutate([&](RuleDraft& d) -> absl::Status {
                  absl::StatusOr<int> n = d.Remove(*rctl::ParseRuleText("jail::memoryuse"));
                  if (!n.ok()) return n.status();
                  removed = *n;
                  return absl::OkStatus();
                }).ok());
  EXPECT_EQ(removed, 2);
  EXPECT_EQ(List(), "user:1001:maxproc:deny=10,jail:db:maxproc:deny=10");
  EXPECT_EQ(db_.Current()->FindJail("web"), nullptr);  // empty groups go
}

TEST_F(RuleDatabaseTest, ListAndFlatOrderMatchRctlRuleSet) {
  // The same random adds and removes on a RuleSet and on the database give
  // the same rctl_get_rules text and the same oldest-first rule list.
  std::mt19937 rng(7);
  const std::vector<std::string> subjects = {"jail:a", "jail:b", "jail:c", "user:1001",
                                             "process:1"};
  const std::vector<std::string> tails = {"memoryuse:deny=1M", "memoryuse:deny=2M",
                                          "maxproc:deny=5", "maxproc:log=3",
                                          "openfiles:devctl=9", "nthr:sigterm=4"};
  rctl::RuleSet reference;
  for (int i = 0; i < 400; ++i) {
    const std::string text = StrCat(subjects[rng() % subjects.size()], ":",
                                    tails[rng() % tails.size()]);
    if (rng() % 4 == 0) {
      const rctl::Rule filter = *rctl::ParseRuleText(text.substr(0, text.find('=')));
      const absl::StatusOr<int> want = reference.Remove(filter);
      absl::Status got = db_.Mutate([&](RuleDraft& d) { return d.Remove(filter).status(); });
      EXPECT_EQ(want.ok(), got.ok()) << text;
    } else {
      ASSERT_TRUE(reference.Add(R(text)).ok());
      ASSERT_TRUE(Add(text).ok()) << text;
    }
    ASSERT_EQ(List(), reference.ListText(rctl::Rule{})) << "after step " << i;
  }
  EXPECT_EQ(db_.Current()->Flat().rules, reference.rules());
}

TEST_F(RuleDatabaseTest, AChangeReachesOnlyTheRunningJailsItAlters) {
  applier_.running = {"web", "db"};
  ASSERT_TRUE(Add("jail:web:memoryuse:deny=1M").ok());
  ASSERT_TRUE(Add("jail:db:maxproc:deny=10").ok());
  ASSERT_TRUE(Add("jail:stopped:maxproc:deny=10").ok());
  EXPECT_THAT(applier_.seen, ElementsAre("web", "db"));
  EXPECT_THAT(applier_.kernel["web"], ElementsAre("jail:web:memoryuse:deny=1048576"));
  // Enforcements: applied for running jails, described for the others.
  const RuleSnapshot& snap = *db_.Current();
  EXPECT_EQ(snap.FindJail("web")->entries[0].enforcement.mechanism, "applied");
  EXPECT_EQ(snap.FindJail("stopped")->entries[0].enforcement.mechanism, "described");
}

TEST_F(RuleDatabaseTest, FailedApplyLeavesDatabaseSnapshotAndKernelAsTheyWere) {
  applier_.running = {"web", "db"};
  ASSERT_TRUE(Add("jail:web:memoryuse:deny=1M").ok());
  ASSERT_TRUE(Add("jail:db:memoryuse:deny=1M").ok());
  const std::shared_ptr<const RuleSnapshot> before = db_.Current();
  const auto kernel_before = applier_.kernel;
  applier_.fail_jail = "web";
  absl::Status s = db_.Mutate([&](RuleDraft& d) -> absl::Status {
    JW_RETURN_IF_ERROR(d.Add(R("jail:db:memoryuse:deny=2M")));
    return d.Add(R("jail:web:memoryuse:deny=2M"));
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "cannot write web");
  EXPECT_EQ(db_.Current(), before);
  EXPECT_EQ(db_.Current()->generation(), before->generation());
  EXPECT_EQ(applier_.kernel, kernel_before);
  applier_.fail_jail.clear();
  ASSERT_TRUE(Add("jail:web:memoryuse:deny=3M").ok());
  EXPECT_THAT(applier_.kernel["web"], ElementsAre("jail:web:memoryuse:deny=3145728"));
}

TEST_F(RuleDatabaseTest, SampledBitIsComputedOnceWhenTheRuleEnters) {
  ASSERT_TRUE(Add("jail:web:openfiles:deny=100").ok());
  ASSERT_TRUE(Add("jail:web:openfiles:devctl=50").ok());
  ASSERT_TRUE(Add("jail:web:memoryuse:deny=1M").ok());
  const FlatRules& flat = db_.Current()->Flat();
  EXPECT_THAT(flat.sampled, ElementsAre(1, 0, 0));
  ASSERT_EQ(flat.enforcements->size(), 3u);
  EXPECT_EQ((*flat.enforcements)[0].fidelity, platform::Fidelity::kSampled);
}

TEST_F(RuleDatabaseTest, AttachAndDetachPublishWhatTheBackendDoes) {
  ASSERT_TRUE(Add("jail:web:memoryuse:deny=1M").ok());
  const uint64_t gen = db_.Current()->generation();
  ASSERT_TRUE(db_.AttachJail("web", [](const std::vector<rctl::Rule>& rules) {
                   std::vector<platform::Enforcement> out;
                   for (const rctl::Rule& r : rules) {
                     platform::Enforcement e = Described(r);
                     e.mechanism = "memory.max";
                     out.push_back(e);
                   }
                   return absl::StatusOr<std::vector<platform::Enforcement>>(out);
                 }).ok());
  EXPECT_EQ(db_.Current()->generation(), gen + 1);
  EXPECT_EQ(db_.Current()->FindJail("web")->entries[0].enforcement.mechanism, "memory.max");
  absl::Status refused = db_.AttachJail("web", [](const std::vector<rctl::Rule>&) {
    return absl::StatusOr<std::vector<platform::Enforcement>>(
        absl::InternalError("cgroup write failed"));
  });
  EXPECT_EQ(refused.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(db_.Current()->generation(), gen + 1);
  db_.DetachJail("web");
  EXPECT_EQ(db_.Current()->FindJail("web")->entries[0].enforcement.mechanism, "described");
  db_.DetachJail("web");  // nothing differs: nothing published
  EXPECT_EQ(db_.Current()->generation(), gen + 2);
}

TEST(RuleSnapshotTest, ManyJailsStayFindableAndCounted) {
  std::shared_ptr<const RuleSnapshot> snap = std::make_shared<const RuleSnapshot>();
  for (int i = 0; i < 500; ++i) {
    auto g = std::make_shared<RuleGroup>();
    g->jail = StrCat("j", i);
    RuleEntry e;
    e.rule = R(StrCat("jail:j", i, ":maxproc:deny=5"));
    e.seq = 1u + static_cast<uint64_t>(i);
    g->entries.push_back(std::move(e));
    snap = snap->With({g});
  }
  EXPECT_EQ(snap->size(), 500u);
  EXPECT_EQ(snap->generation(), 500u);
  ASSERT_NE(snap->FindJail("j321"), nullptr);
  EXPECT_EQ(snap->FindJail("j321")->entries[0].seq, 322u);
  EXPECT_EQ(snap->FindJail("j500"), nullptr);
  auto empty = std::make_shared<RuleGroup>();
  empty->jail = "j321";
  std::shared_ptr<const RuleSnapshot> fewer = snap->With({empty});
  EXPECT_EQ(fewer->size(), 499u);
  EXPECT_EQ(fewer->FindJail("j321"), nullptr);
  EXPECT_NE(snap->FindJail("j321"), nullptr);  // the old snapshot is untouched
  EXPECT_THAT(fewer->JailRules("j321"), IsEmpty());
}

}  // namespace
}  // namespace jailwarden::service
