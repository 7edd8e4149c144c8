// The event log: ids in order, resume from an id, gaps when the ring
// dropped what a reader had not read, and ids that never repeat across a
// restart (the high-water mark file).

#include "jailwarden/engine/event_stream.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/files.h"

namespace jailwarden::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<uint64_t> Ids(const std::vector<EventStream::Event>& events) {
  std::vector<uint64_t> out;
  for (const auto& e : events) out.push_back(e.seq);
  return out;
}

class EventStateDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-events-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    mark_ = dir_ + "/event-id";
  }
  void TearDown() override {
    unlink(mark_.c_str());
    unlink((mark_ + ".tmp").c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
  std::string mark_;
};

TEST(EventStreamTest, IdsAscendWithTimesAndTypedDetails) {
  EventStream log(100);
  EXPECT_EQ(log.Publish(kEventCreated, "web", {{"by", std::string("api")}}), 1u);
  EXPECT_EQ(log.Publish(kEventMainExited, "web", {{"code", int64_t{3}}}), 2u);
  EXPECT_EQ(log.Append("!system=RCTL subsystem=rule type=matched rule=x pid=1 jail=db"), 3u);
  const std::vector<EventStream::Event> all = log.Read(0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].type, "created");
  EXPECT_EQ(all[1].type, "main_exited");
  EXPECT_EQ(std::get<int64_t>(all[1].details[0].value), 3);
  EXPECT_EQ(all[2].type, "limit");
  EXPECT_EQ(all[2].jail, "db");  // from the line's jail= field
  EXPECT_THAT(all[2].line, HasSubstr("rule=x"));
  EXPECT_LE(all[0].time, all[1].time);
  EXPECT_LE(all[1].time, all[2].time);
  EXPECT_EQ(log.last_seq(), 3u);
}

TEST(EventStreamTest, ResumesAfterAnIdWithoutLossOrDuplicates) {
  EventStream log(100);
  for (int i = 0; i < 10; ++i) log.Publish(kEventStarted, "j", {});
  uint64_t dropped = 99;
  EXPECT_THAT(Ids(log.Read(7, &dropped)), ElementsAre(8, 9, 10));
  EXPECT_EQ(dropped, 0u);
  EXPECT_TRUE(log.Read(10, &dropped).empty());
  EXPECT_EQ(dropped, 0u);
}

TEST(EventStreamTest, ARingThatDroppedTheResumePointSaysHowManyAreGone) {
  EventStream log(4);
  for (int i = 0; i < 10; ++i) log.Publish(kEventStarted, "j", {});
  uint64_t dropped = 0;
  EXPECT_THAT(Ids(log.Read(2, &dropped)), ElementsAre(7, 8, 9, 10));
  EXPECT_EQ(dropped, 4u);  // ids 3..6
  EXPECT_THAT(Ids(log.Read(6, &dropped)), ElementsAre(7, 8, 9, 10));
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(log.dropped_total(), 6u);
}

TEST(EventStreamTest, WaitForWakesOnANewEvent) {
  EventStream log(10);
  EXPECT_FALSE(log.WaitFor(0, absl::Milliseconds(10)));
  std::thread later([&] { log.Publish(kEventStopped, "j", {}); });
  EXPECT_TRUE(log.WaitFor(0, absl::Seconds(10)));
  later.join();
}

TEST(EventStreamTest, Rfc3339WithNanoseconds) {
  EXPECT_EQ(Rfc3339Nanos(absl::FromUnixNanos(1796634062123456789)),
            "2026-12-07T09:01:02.123456789Z");
}

TEST(EventStreamTest, EveryTypeIsKnown) {
  EXPECT_EQ(EventTypes().size(), 10u);
  EXPECT_TRUE(IsEventType("oom_killed"));
  EXPECT_FALSE(IsEventType("gap"));
}

TEST_F(EventStateDir, IdsNeverRepeatAcrossARestart) {
  uint64_t last = 0;
  {
    EventStream first(100);
    ASSERT_TRUE(first.OpenHighWater(mark_, 8).ok());
    for (int i = 0; i < 20; ++i) last = first.Publish(kEventStarted, "j", {});
    EXPECT_EQ(last, 20u);
  }
  // As after a kill -9: the mark is all the next run has.
  EventStream second(100);
  ASSERT_TRUE(second.OpenHighWater(mark_, 8).ok());
  const uint64_t next = second.Publish(kEventStarted, "j", {});
  EXPECT_GT(next, last);
  // A reader resuming from the first run's last id hears of the skipped ids.
  uint64_t dropped = 0;
  EXPECT_THAT(Ids(second.Read(last, &dropped)), ElementsAre(next));
  EXPECT_EQ(dropped, next - last - 1);
  // And a third run goes on after the second's.
  EventStream third(100);
  ASSERT_TRUE(third.OpenHighWater(mark_, 8).ok());
  EXPECT_GT(third.Publish(kEventStarted, "j", {}), next);
}

TEST_F(EventStateDir, TheMarkIsWrittenBeforeAnIdBeyondItIsUsed) {
  EventStream log(100);
  ASSERT_TRUE(log.OpenHighWater(mark_, 4).ok());
  for (int i = 0; i < 9; ++i) {
    const uint64_t id = log.Publish(kEventStarted, "j", {});
    absl::StatusOr<std::string> text = ReadFile(mark_);
    ASSERT_TRUE(text.ok());
    EXPECT_GE(std::stoull(*text), id);
  }
}

TEST_F(EventStateDir, AMarkThatIsNoNumberIsRefusedNamingTheFile) {
  ASSERT_TRUE(WriteFileAtomically(mark_, "twelve\n").ok());
  EventStream log(10);
  absl::Status s = log.OpenHighWater(mark_);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr(mark_));
  EXPECT_THAT(std::string(s.message()), HasSubstr("twelve"));
}

}  // namespace
}  // namespace jailwarden::engine
