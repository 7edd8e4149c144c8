#include "jailwarden/jail/depend.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::jail {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(DependTest, DependenciesStartFirst) {
  DependGraph g = {{"web", {"db", "cache"}}, {"db", {"net"}}, {"cache", {"net"}}, {"net", {}}};
  auto order = DependStartOrder(g, "web");
  ASSERT_TRUE(order.ok()) << order.status();
  // A diamond: net once, before both; web last.
  EXPECT_THAT(*order, ElementsAre("net", "db", "cache", "web"));
}

TEST(DependTest, LoneJailIsItsOwnOrder) {
  DependGraph g = {{"a", {}}};
  EXPECT_THAT(*DependStartOrder(g, "a"), ElementsAre("a"));
}

TEST(DependTest, CycleIsSpelledOut) {
  DependGraph g = {{"a", {"b"}}, {"b", {"c"}}, {"c", {"a"}}};
  auto order = DependStartOrder(g, "a");
  ASSERT_EQ(order.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(order.status().message(), "dependency cycle: a -> b -> c -> a");
}

TEST(DependTest, CycleBelowTheStartIsFound) {
  DependGraph g = {{"web", {"a"}}, {"a", {"b"}}, {"b", {"a"}}};
  auto order = DependStartOrder(g, "web");
  ASSERT_EQ(order.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(order.status().message(), "dependency cycle: a -> b -> a");
}

TEST(DependTest, MissingDependencyIsNamed) {
  DependGraph g = {{"web", {"db"}}};
  auto order = DependStartOrder(g, "web");
  ASSERT_EQ(order.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(order.status().message(), "jail web depends on db, which is not defined");
}

TEST(DependTest, UnknownJailIsNotFound) {
  EXPECT_EQ(DependStartOrder({}, "x").status().code(), absl::StatusCode::kNotFound);
}

TEST(DependTest, DependentsStopBeforeTheirDependencies) {
  DependGraph g = {{"web", {"db"}}, {"db", {"net"}}, {"net", {}}, {"mon", {"web"}},
                   {"other", {}}};
  EXPECT_THAT(DependentsStopOrder(g, "net"), ElementsAre("mon", "web", "db"));
  EXPECT_THAT(DependentsStopOrder(g, "web"), ElementsAre("mon"));
  EXPECT_TRUE(DependentsStopOrder(g, "other").empty());
}

TEST(DependTest, StopAllIsReverseStartOrder) {
  DependGraph g = {{"web", {"db"}}, {"db", {}}, {"zed", {"web"}}};
  EXPECT_THAT(StopAllOrder(g), ElementsAre("zed", "web", "db"));
}

TEST(DependTest, StopAllSurvivesCycles) {
  DependGraph g = {{"a", {"b"}}, {"b", {"a"}}};
  auto order = StopAllOrder(g);
  EXPECT_EQ(order.size(), 2u);
}

TEST(DependTest, WalkGoesOnAfterProblemsAndSaysWhere) {
  // c closes a cycle (entry 0 of c), web names a missing jail (entry 1).
  DependGraph g = {{"a", {"b"}}, {"b", {"c"}}, {"c", {"a"}}, {"web", {"a", "ghost"}}};
  std::vector<std::string> seen;
  auto order = DependWalk(g, {"web", "nope", "a"}, [&](const DependProblem& p) {
    seen.push_back(StrCat(p.jail, "#", p.index, ": ", std::string(p.status.message())));
    EXPECT_EQ(p.status.code(), absl::StatusCode::kFailedPrecondition);
    return absl::OkStatus();
  });
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_THAT(*order, ElementsAre("c", "b", "a", "web"));
  EXPECT_THAT(seen, ElementsAre("c#0: dependency cycle: a -> b -> c -> a",
                                "web#1: jail web depends on ghost, which is not defined"));
}

TEST(DependTest, WalkStopsWhenTheHandlerSaysSo) {
  DependGraph g = {{"a", {"ghost", "b"}}, {"b", {}}};
  auto order = DependWalk(g, {"a"}, [](const DependProblem& p) { return p.status; });
  EXPECT_EQ(order.status().message(), "jail a depends on ghost, which is not defined");
}

}  // namespace
}  // namespace jailwarden::jail
