#include "jailwarden/rctl/rule_set.h"

#include <cerrno>

#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::rctl {
namespace {

Rule R(std::string_view text) {
  absl::StatusOr<Rule> r = ParseRuleForAdd(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return *r;
}

Rule F(std::string_view text) {
  absl::StatusOr<Rule> r = ParseRuleText(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return *r;
}

TEST(RuleSetTest, DenyReplacesDenyDifferingOnlyInAmount) {
  RuleSet set;
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:deny=100")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:deny=200")).ok());
  EXPECT_EQ(set.ListText(F("::")), "jail:www:memoryuse:deny=200");
  // Different per, subject id or action: both stay.
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:deny=300/process")).ok());
  ASSERT_TRUE(set.Add(R("jail:db:memoryuse:deny=300")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:log=300")).ok());
  EXPECT_EQ(set.size(), 4u);
}

TEST(RuleSetTest, IdenticalNonDenyRuleIsNotAddedTwice) {
  RuleSet set;
  ASSERT_TRUE(set.Add(R("jail:www:pcpu:log=50")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:pcpu:log=50")).ok());
  EXPECT_EQ(set.size(), 1u);
  // Two log thresholds coexist.
  ASSERT_TRUE(set.Add(R("jail:www:pcpu:log=80")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:pcpu:sigterm=80")).ok());
  EXPECT_EQ(set.size(), 3u);
  // Re-adding makes the rule the newest.
  ASSERT_TRUE(set.Add(R("jail:www:pcpu:log=50")).ok());
  EXPECT_EQ(set.ListText(F("::")),
            "jail:www:pcpu:log=50,jail:www:pcpu:sigterm=80,jail:www:pcpu:log=80");
}

TEST(RuleSetTest, AddValidatesLikeTheKernel) {
  RuleSet set;
  Rule partial = F("jail:www:maxproc:deny");
  absl::Status s = set.Add(partial);
  EXPECT_EQ(StatusErrno(s), EINVAL);
  Rule bad = F("jail:www:cputime:deny=1");
  bad.per = SubjectType::kJail;
  s = set.Add(bad);
  EXPECT_EQ(StatusErrno(s), EOPNOTSUPP);
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.generation(), 0u);
}

TEST(RuleSetTest, RemoveByFilterAndEsrchWhenNothingMatched) {
  RuleSet set;
  for (const char* r :
       {"user:1001:maxproc:deny=100", "user:1001:openfiles:deny=50/process",
        "user:1002:maxproc:deny=10", "loginclass:staff:nthr:log=5",
        "jail:www:cputime:log=10", "jail:db:maxproc:deny=20",
        "process:1:maxproc:deny=5"}) {
    ASSERT_TRUE(set.Add(R(r)).ok());
  }
  EXPECT_EQ(*set.Remove(F("user:1001::=/process")), 1);
  EXPECT_EQ(*set.Remove(F("::maxproc")), 4);
  absl::StatusOr<int> none = set.Remove(F("::maxproc"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(StatusErrno(none.status()), ESRCH);
  EXPECT_EQ(*set.Remove(F("loginclass:")), 1);
  EXPECT_EQ(*set.Remove(F("::cputime:log=10")), 1);  // scaled filter amount
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(StatusErrno(set.Remove(F(":")).status()), ESRCH);
}

TEST(RuleSetTest, ListOrderIsProcessLoginclassUserJailNewestFirst) {
  RuleSet set;
  for (const char* r :
       {"jail:a:maxproc:deny=1", "user:1:maxproc:deny=1",
        "loginclass:c:maxproc:deny=1", "process:7:maxproc:deny=1",
        "jail:b:maxproc:deny=1", "user:2:maxproc:deny=1"}) {
    ASSERT_TRUE(set.Add(R(r)).ok());
  }
  EXPECT_EQ(set.ListText(F("::")),
            "process:7:maxproc:deny=1,loginclass:c:maxproc:deny=1,"
            "user:2:maxproc:deny=1,user:1:maxproc:deny=1,"
            "jail:b:maxproc:deny=1,jail:a:maxproc:deny=1");
  EXPECT_EQ(set.ListText(F("jail:")), "jail:b:maxproc:deny=1,jail:a:maxproc:deny=1");
  EXPECT_EQ(set.ListText(F("user:3")), "");
}

TEST(RuleSetTest, ReplacementStillWorksAfterRemovals) {
  RuleSet set;
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:deny=100")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:log=100")).ok());
  ASSERT_TRUE(set.Remove(F("jail:www:memoryuse:deny")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:deny=300")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:deny=400")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:log=100")).ok());
  EXPECT_EQ(set.ListText(F("::")),
            "jail:www:memoryuse:log=100,jail:www:memoryuse:deny=400");
  ASSERT_TRUE(set.Remove(F(":")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:deny=1")).ok());
  ASSERT_TRUE(set.Add(R("jail:www:memoryuse:deny=2")).ok());
  EXPECT_EQ(set.ListText(F("::")), "jail:www:memoryuse:deny=2");
}

TEST(RuleSetTest, GenerationMovesOnEveryChange) {
  RuleSet set;
  const uint64_t g0 = set.generation();
  ASSERT_TRUE(set.Add(R("jail:a:maxproc:deny=1")).ok());
  const uint64_t g1 = set.generation();
  EXPECT_GT(g1, g0);
  ASSERT_TRUE(set.Remove(F(":")).ok());
  EXPECT_GT(set.generation(), g1);
}

}  // namespace
}  // namespace jailwarden::rctl
