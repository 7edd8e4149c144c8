#include "jailwarden/base/units.h"

#include <cerrno>

#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"

namespace jailwarden {
namespace {

TEST(ExpandNumberTest, SuffixesMultiplyByPowersOf1024) {
  EXPECT_EQ(*ExpandNumber("0"), 0u);
  EXPECT_EQ(*ExpandNumber("10"), 10u);
  EXPECT_EQ(*ExpandNumber("10b"), 10u);
  EXPECT_EQ(*ExpandNumber("1k"), 1024u);
  EXPECT_EQ(*ExpandNumber("1K"), 1024u);
  EXPECT_EQ(*ExpandNumber("1kb"), 1024u);
  EXPECT_EQ(*ExpandNumber("1KB"), 1024u);
  EXPECT_EQ(*ExpandNumber("512m"), 512ull << 20);
  EXPECT_EQ(*ExpandNumber("2G"), 2ull << 30);
  EXPECT_EQ(*ExpandNumber("1t"), 1ull << 40);
  EXPECT_EQ(*ExpandNumber("1p"), 1ull << 50);
  EXPECT_EQ(*ExpandNumber("1e"), 1ull << 60);
  EXPECT_EQ(*ExpandNumber("15E"), 15ull << 60);
}

TEST(ExpandNumberTest, BaseIsChosenByPrefixAsStrtoumax) {
  EXPECT_EQ(*ExpandNumber("0x10"), 16u);
  EXPECT_EQ(*ExpandNumber("0X1f"), 31u);
  EXPECT_EQ(*ExpandNumber("010"), 8u);
  EXPECT_EQ(*ExpandNumber("0x10k"), 16u * 1024);
  EXPECT_EQ(*ExpandNumber(" 7"), 7u);
  EXPECT_EQ(*ExpandNumber("+7"), 7u);
  EXPECT_EQ(*ExpandNumber("-1"), UINT64_MAX);  // strtoumax wraps
  EXPECT_EQ(*ExpandNumber("18446744073709551615"), UINT64_MAX);
}

TEST(ExpandNumberTest, RejectsJunkWithEinvalAndOverflowWithErange) {
  for (const char* bad : {"", "k", "1x", "1kk", "1bb", "1 k", "1kbb", "0x", "abc"}) {
    SCOPED_TRACE(bad);
    absl::StatusOr<uint64_t> r = ExpandNumber(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(StatusErrno(r.status()), EINVAL);
  }
  for (const char* big : {"16e", "18446744073709551616", "17179869184g"}) {
    SCOPED_TRACE(big);
    absl::StatusOr<uint64_t> r = ExpandNumber(big);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(StatusErrno(r.status()), ERANGE);
  }
}

TEST(HumanizeNumberTest, MatchesLibutilWithSixByteBuffer) {
  EXPECT_EQ(HumanizeNumber(0), "0");
  EXPECT_EQ(HumanizeNumber(1), "1");
  EXPECT_EQ(HumanizeNumber(1023), "1023");
  EXPECT_EQ(HumanizeNumber(1024), "1024");
  EXPECT_EQ(HumanizeNumber(9999), "9999");
  EXPECT_EQ(HumanizeNumber(10000), "9.8K");
  EXPECT_EQ(HumanizeNumber(10240), "10K");
  EXPECT_EQ(HumanizeNumber(536870912), "512M");
  EXPECT_EQ(HumanizeNumber(1073741824), "1024M");
  EXPECT_EQ(HumanizeNumber(10737418240), "10G");
  EXPECT_EQ(HumanizeNumber(-5), "-5");
  EXPECT_EQ(HumanizeNumber(INT64_MAX), "8192P");  // stops below 10000
  EXPECT_EQ(HumanizeNumber(10137), "9.9K");  // remainder 921 < 973: decimal
  EXPECT_EQ(HumanizeNumber(10238), "10K");   // remainder 1022 >= 973: rounds up
}

}  // namespace
}  // namespace jailwarden
