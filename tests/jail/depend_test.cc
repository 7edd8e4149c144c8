#include "jailwarden/jail/depend.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace jailwarden::jail
