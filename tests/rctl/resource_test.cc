#include "jailwarden/rctl/resource.h"

#include "gtest/gtest.h"

namespace jailwarden::rctl {
namespace {

// racct_types[] from sys/kern/kern_racct.c, as the reference table lists it.
struct ExpectedFlags {
  std::string_view name;
  int index;
  uint8_t racct_types;
};

constexpr ExpectedFlags kExpected[] = {
    {"cputime", 0, 0x01},      {"datasize", 1, 0x0e},   {"stacksize", 2, 0x0e},
    {"coredumpsize", 3, 0x08}, {"memoryuse", 4, 0x02},  {"memorylocked", 5, 0x0a},
    {"maxproc", 6, 0x0a},      {"openfiles", 7, 0x0e},  {"vmemoryuse", 8, 0x0e},
    {"pseudoterminals", 9, 0x1a}, {"swapuse", 10, 0x1a}, {"nthr", 11, 0x0a},
    {"msgqqueued", 12, 0x1a},  {"msgqsize", 13, 0x1a},  {"nmsgq", 14, 0x1a},
    {"nsem", 15, 0x1a},        {"nsemop", 16, 0x0e},    {"nshm", 17, 0x1a},
    {"shmsize", 18, 0x1a},     {"wallclock", 19, 0x01}, {"pcpu", 20, 0x29},
    {"readbps", 21, 0x20},     {"writebps", 22, 0x20},  {"readiops", 23, 0x20},
    {"writeiops", 24, 0x20},
};

TEST(ResourceTest, TableMatchesKernelRacctTypes) {
  ASSERT_EQ(std::size(kExpected), kResourceCount);
  for (const ExpectedFlags& e : kExpected) {
    SCOPED_TRACE(e.name);
    const ResourceInfo& info = ResourceTable()[static_cast<std::size_t>(e.index)];
    EXPECT_EQ(info.name, e.name);
    EXPECT_EQ(Index(info.resource), static_cast<std::size_t>(e.index));
    EXPECT_EQ(info.flags, e.racct_types);
    EXPECT_EQ(ParseResourceName(e.name), info.resource);
  }
}

TEST(ResourceTest, NamesAreCaseInsensitive) {
  EXPECT_EQ(ParseResourceName("MemoryUse"), Resource::kMemoryuse);
  EXPECT_EQ(ParseResourceName("PCPU"), Resource::kPcpu);
  EXPECT_EQ(ParseResourceName("memory"), std::nullopt);
  EXPECT_EQ(ParseResourceName(""), std::nullopt);
  EXPECT_EQ(ParseResourceName("memoryuse "), std::nullopt);
}

TEST(ResourceTest, FlagPredicatesFollowTheBits) {
  EXPECT_TRUE(IsInMillions(Resource::kCputime));
  EXPECT_TRUE(IsInMillions(Resource::kWallclock));
  EXPECT_TRUE(IsInMillions(Resource::kPcpu));
  EXPECT_FALSE(IsDeniable(Resource::kMemoryuse));
  EXPECT_TRUE(IsSloppy(Resource::kSwapuse));
  EXPECT_TRUE(IsDecaying(Resource::kWriteiops));
  EXPECT_TRUE(IsInheritable(Resource::kNsemop));
  EXPECT_FALSE(IsReclaimable(Resource::kCoredumpsize));
  int sloppy = 0;
  for (const ResourceInfo& info : ResourceTable()) sloppy += IsSloppy(info.resource);
  EXPECT_EQ(sloppy, 8);
}

}  // namespace
}  // namespace jailwarden::rctl
