#include "jailwarden/platform/freebsd/racct_parser.h"

#include <cerrno>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/resource.h"
#include "platform_freebsd/test_util.h"

namespace jailwarden::platform {
namespace {

using rctl::Index;
using rctl::Resource;
using testing::AllocationCounter;
using testing::ReadFreeBsdTestdata;

// Every capture must parse exactly as the rctl layer's ParseUsage does.
void ExpectAgreesWithParseUsage(const std::string& text, const RawUsage& got) {
  auto want = rctl::ParseUsage(text);
  ASSERT_TRUE(want.ok()) << want.status();
  for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
    SCOPED_TRACE(rctl::ResourceName(rctl::ResourceAt(i)));
    EXPECT_EQ(got.present.test(i), (*want)[i].has_value());
    if ((*want)[i].has_value()) {
      EXPECT_EQ(got.value[i], *(*want)[i]);
    }
  }
}

TEST(FreeBsdRacctParserTest, JailCaptureHasAll25Resources) {
  const std::string text = ReadFreeBsdTestdata("racct_jail_www.txt");
  ASSERT_FALSE(text.empty());
  RawUsage u;
  ASSERT_TRUE(ParseRacctOutput(text, u).ok());
  EXPECT_EQ(u.present.count(), 25u);
  EXPECT_EQ(u.cumulative.count(), 0u);  // the kernel gives rates already
  EXPECT_EQ(u.value[Index(Resource::kCputime)], 1832LL * 1000000);  // µs
  EXPECT_EQ(u.value[Index(Resource::kDatasize)], 48656384);
  EXPECT_EQ(u.value[Index(Resource::kStacksize)], 7864320);
  EXPECT_EQ(u.value[Index(Resource::kCoredumpsize)], 0);
  EXPECT_EQ(u.value[Index(Resource::kMemoryuse)], 402653184);
  EXPECT_EQ(u.value[Index(Resource::kMemorylocked)], 0);
  EXPECT_EQ(u.value[Index(Resource::kMaxproc)], 23);
  EXPECT_EQ(u.value[Index(Resource::kOpenfiles)], 1744);
  EXPECT_EQ(u.value[Index(Resource::kVmemoryuse)], 2147483648);
  EXPECT_EQ(u.value[Index(Resource::kPseudoterminals)], 1);
  EXPECT_EQ(u.value[Index(Resource::kSwapuse)], 0);
  EXPECT_EQ(u.value[Index(Resource::kNthr)], 57);
  EXPECT_EQ(u.value[Index(Resource::kMsgqqueued)], 0);
  EXPECT_EQ(u.value[Index(Resource::kMsgqsize)], 0);
  EXPECT_EQ(u.value[Index(Resource::kNmsgq)], 0);
  EXPECT_EQ(u.value[Index(Resource::kNsem)], 0);
  EXPECT_EQ(u.value[Index(Resource::kNsemop)], 0);
  EXPECT_EQ(u.value[Index(Resource::kNshm)], 2);
  EXPECT_EQ(u.value[Index(Resource::kShmsize)], 16777216);
  EXPECT_EQ(u.value[Index(Resource::kWallclock)], 864230LL * 1000000);
  EXPECT_EQ(u.value[Index(Resource::kPcpu)], 12LL * 1000000);
  EXPECT_EQ(u.value[Index(Resource::kReadbps)], 0);
  EXPECT_EQ(u.value[Index(Resource::kWritebps)], 40960);
  EXPECT_EQ(u.value[Index(Resource::kReadiops)], 0);
  EXPECT_EQ(u.value[Index(Resource::kWriteiops)], 10);
  ExpectAgreesWithParseUsage(text, u);
}

TEST(FreeBsdRacctParserTest, ProcessCaptureHas17PairsAndNoSloppyResource) {
  const std::string text = ReadFreeBsdTestdata("racct_process_sshd.txt");
  RawUsage u;
  ASSERT_TRUE(ParseRacctOutput(text, u).ok());
  EXPECT_EQ(u.present.count(), 17u);
  for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
    EXPECT_EQ(u.present.test(i), !rctl::IsSloppy(rctl::ResourceAt(i)))
        << rctl::ResourceName(rctl::ResourceAt(i));
  }
  EXPECT_EQ(u.value[Index(Resource::kMemoryuse)], 10203136);
  EXPECT_EQ(u.value[Index(Resource::kNthr)], 1);
  EXPECT_EQ(u.value[Index(Resource::kWallclock)], 86402LL * 1000000);
  ExpectAgreesWithParseUsage(text, u);
}

TEST(FreeBsdRacctParserTest, UserAndEmptyAndBigCapturesAgreeWithParseUsage) {
  for (const char* name :
       {"racct_user_1001.txt", "racct_jail_empty.txt", "racct_jail_big.txt"}) {
    SCOPED_TRACE(name);
    const std::string text = ReadFreeBsdTestdata(name);
    ASSERT_FALSE(text.empty());
    RawUsage u;
    ASSERT_TRUE(ParseRacctOutput(text, u).ok());
    EXPECT_EQ(u.present.count(), 25u);
    ExpectAgreesWithParseUsage(text, u);
  }
}

TEST(FreeBsdRacctParserTest, BigValuesKeepFullInt64Range) {
  RawUsage u;
  ASSERT_TRUE(ParseRacctOutput(ReadFreeBsdTestdata("racct_jail_big.txt"), u).ok());
  EXPECT_EQ(u.value[Index(Resource::kDatasize)], INT64_MAX);
  EXPECT_EQ(u.value[Index(Resource::kReadiops)], INT64_MAX);
  // INT64_MAX / 10^6 seconds scales back without overflow.
  EXPECT_EQ(u.value[Index(Resource::kCputime)], 9223372036854LL * 1000000);
  EXPECT_EQ(u.value[Index(Resource::kPcpu)], 12800LL * 1000000);
}

TEST(FreeBsdRacctParserTest, StopsAtNulAndResetsPreviousValues) {
  RawUsage u;
  u.value.fill(7);
  u.present.set();
  const std::string text = std::string("maxproc=3,nthr=4") + '\0' + "garbage";
  ASSERT_TRUE(ParseRacctOutput(text, u).ok());
  EXPECT_EQ(u.present.count(), 2u);
  EXPECT_EQ(u.value[Index(Resource::kMaxproc)], 3);
  EXPECT_EQ(u.value[Index(Resource::kCputime)], 0);
  ASSERT_TRUE(ParseRacctOutput("", u).ok());
  EXPECT_EQ(u.present.count(), 0u);
}

TEST(FreeBsdRacctParserTest, RejectsMalformedOutputWithEinval) {
  RawUsage u;
  absl::Status s = ParseRacctOutput("cputime=1,bogus=2", u);
  EXPECT_EQ(StatusErrno(s), EINVAL);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("unknown resource 'bogus'"));
  s = ParseRacctOutput("cputime", u);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("without '='"));
  s = ParseRacctOutput("maxproc=1x", u);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("invalid value '1x' for maxproc"));
  s = ParseRacctOutput("maxproc=", u);
  EXPECT_EQ(StatusErrno(s), EINVAL);
}

TEST(FreeBsdRacctParserTest, OutOfRangeMillionsIsErange) {
  RawUsage u;
  absl::Status s = ParseRacctOutput("cputime=9223372036855", u);
  EXPECT_EQ(StatusErrno(s), ERANGE);
}

TEST(FreeBsdRacctParserTest, DoesNotAllocateOnSuccess) {
  const std::string text = ReadFreeBsdTestdata("racct_jail_www.txt");
  RawUsage u;
  AllocationCounter counter;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(ParseRacctOutput(text, u).ok());
  EXPECT_EQ(counter.count(), 0u);
}

}  // namespace
}  // namespace jailwarden::platform
