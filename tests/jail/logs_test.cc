// jail/logs.h (issue 17): the record format, size-based rotation with its
// bound, and reading back with since/tail/stream and across a rotation.

#include "jailwarden/jail/logs.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jailwarden::jail {
namespace {

using ::testing::ElementsAre;

class LogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-logs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    dir_ = LogDirFor(top_, "web");
  }
  void TearDown() override { (void)!system(("rm -rf '" + top_ + "'").c_str()); }

  std::set<std::string> Files() const {
    std::set<std::string> out;
    if (DIR* d = opendir(dir_.c_str())) {
      while (auto* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.insert(n);
      }
      closedir(d);
    }
    return out;
  }

  static LogRecord Rec(int i, std::string stream = "stdout") {
    return {absl::FromUnixSeconds(1700000000 + i), std::move(stream), "main",
            "line " + std::to_string(i) + " with  two spaces"};
  }

  std::string top_, dir_;
};

TEST_F(LogsTest, RecordRoundTripsAndTornLinesAreSkipped) {
  LogRecord r{absl::FromUnixNanos(1700000000123456789), "stderr", "exec.start", "a b  c"};
  const std::string line = FormatLogRecord(r);
  EXPECT_EQ(line, "2023-11-14T22:13:20.123456789Z stderr exec.start a b  c\n");
  std::optional<LogRecord> back = ParseLogRecord(line.substr(0, line.size() - 1));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
  EXPECT_FALSE(ParseLogRecord("2023-11-14T22:13").has_value());
  EXPECT_FALSE(ParseLogRecord("not-a-time stdout main x").has_value());
}

TEST_F(LogsTest, RotatesAtMaxSizeAndKeepsMaxFiles) {
  absl::StatusOr<LogFileWriter> w = LogFileWriter::Open(dir_, {.max_size = 1024, .max_files = 3});
  ASSERT_TRUE(w.ok()) << w.status();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(w->Append(Rec(i)).ok());
  EXPECT_EQ(Files(), (std::set<std::string>{"current.log", "1.log", "2.log"}));
  for (const std::string& f : Files()) {
    struct stat st;
    ASSERT_EQ(stat((dir_ + "/" + f).c_str(), &st), 0);
    EXPECT_LE(st.st_size, 1024) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  absl::StatusOr<std::vector<LogRecord>> all = ReadLogs(dir_, {});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_FALSE(all->empty());
  EXPECT_EQ(all->back(), Rec(199));  // newest kept, in order
  for (size_t i = 1; i < all->size(); ++i) EXPECT_LT((*all)[i - 1].time, (*all)[i].time);
  EXPECT_GT(all->front().time, Rec(0).time);  // oldest dropped
}

TEST_F(LogsTest, ReopeningAppends) {
  {
    absl::StatusOr<LogFileWriter> w = LogFileWriter::Open(dir_, {});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Append(Rec(1)).ok());
  }
  absl::StatusOr<LogFileWriter> w = LogFileWriter::Open(dir_, {});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append(Rec(2)).ok());
  absl::StatusOr<std::vector<LogRecord>> all = ReadLogs(dir_, {});
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, ElementsAre(Rec(1), Rec(2)));
}

TEST_F(LogsTest, SinceTailAndStreamFilter) {
  absl::StatusOr<LogFileWriter> w = LogFileWriter::Open(dir_, {});
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(w->Append(Rec(i, i % 2 ? "stderr" : "stdout")).ok());
  LogQuery q;
  q.tail = 2;
  EXPECT_THAT(*ReadLogs(dir_, q), ElementsAre(Rec(8, "stdout"), Rec(9, "stderr")));
  q = {};
  q.stream = "stderr";
  q.tail = 2;
  EXPECT_THAT(*ReadLogs(dir_, q), ElementsAre(Rec(7, "stderr"), Rec(9, "stderr")));
  q = {};
  q.since = Rec(8).time;
  EXPECT_THAT(*ReadLogs(dir_, q), ElementsAre(Rec(8, "stdout"), Rec(9, "stderr")));
  EXPECT_TRUE(ReadLogs(LogDirFor(top_, "nothing-yet"), {})->empty());
}

TEST_F(LogsTest, FollowingSeesNewRecordsAcrossARotation) {
  absl::StatusOr<LogFileWriter> w = LogFileWriter::Open(dir_, {.max_size = 4096, .max_files = 2});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append(Rec(0)).ok());
  LogCursor cursor;
  EXPECT_THAT(*ReadLogs(dir_, {}, &cursor), ElementsAre(Rec(0)));
  EXPECT_TRUE(ReadNewLogs(dir_, {}, &cursor)->empty());
  std::vector<LogRecord> want;
  for (int i = 1; i < 80; ++i) {  // ~60 bytes each: one rotation
    ASSERT_TRUE(w->Append(Rec(i)).ok());
    want.push_back(Rec(i));
  }
  absl::StatusOr<std::vector<LogRecord>> got = ReadNewLogs(dir_, {}, &cursor);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, want);
}

}  // namespace
}  // namespace jailwarden::jail
