// /proc parsers on real captures (tests/testdata/linux/proc/).

#include "platform/linux/proc_parser.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

std::string Testdata(const std::string& rel) {
  std::ifstream in(std::string(JW_TESTDATA_DIR) + "/linux/" + rel);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ProcParserTest, StatusOfSleep) {
  std::string text = Testdata("proc/status_sleep.txt");
  std::optional<ProcStatusFields> s = ParseProcStatus(text);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, "sleep");
  EXPECT_EQ(s->ruid, 0);
  EXPECT_EQ(s->euid, 0);
  EXPECT_EQ(s->vm_size_bytes, 2920 * 1024);
  EXPECT_EQ(s->vm_rss_bytes, 1756 * 1024);
  EXPECT_EQ(s->vm_data_bytes, 224 * 1024);
  EXPECT_EQ(s->vm_stk_bytes, 132 * 1024);
  EXPECT_EQ(s->vm_lck_bytes, 0);
  EXPECT_EQ(s->vm_swap_bytes, 0);
  EXPECT_EQ(s->threads, 1);
}

TEST(ProcParserTest, StatusUidsOfSleep) {
  std::optional<ProcStatusUids> u = ParseProcStatusUids(Testdata("proc/status_sleep.txt"));
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(*u, (ProcStatusUids{0, 0}));
}

TEST(ProcParserTest, StatusUidsRealThenEffective) {
  std::optional<ProcStatusUids> u =
      ParseProcStatusUids("Name:\tsu\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->ruid, 1000);
  EXPECT_EQ(u->euid, 0);
  EXPECT_EQ(ParseProcStatusUids(""), std::nullopt) << "process gone mid-read";
  EXPECT_EQ(ParseProcStatusUids("Name:\tx\nGid:\t1\t1\t1\t1\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatusUids("Uid:\t1000\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatusUids("Uid:\t10x0\t0\t0\t0\n"), std::nullopt);
}

TEST(ProcParserTest, NsPidOfHostProcess) {
  std::optional<ProcStatusNsPid> ns = ParseProcStatusNsPid(Testdata("proc/status_sleep.txt"));
  ASSERT_TRUE(ns.has_value());
  EXPECT_EQ(ns->outer, 20398);
  EXPECT_EQ(ns->inner, 20398);
  EXPECT_EQ(ns->levels, 1);
}

TEST(ProcParserTest, NsPidOfJailedProcess) {
  std::optional<ProcStatusNsPid> ns =
      ParseProcStatusNsPid("Pid:\t4242\nNSpid:\t4242\t17\nNSpgid:\t4242\t17\n");
  ASSERT_TRUE(ns.has_value());
  EXPECT_EQ(ns->outer, 4242);
  EXPECT_EQ(ns->inner, 17);
  EXPECT_EQ(ns->levels, 2);
  EXPECT_EQ(ParseProcStatusNsPid("Pid:\t1\n"), std::nullopt) << "kernel before 4.1";
  EXPECT_EQ(ParseProcStatusNsPid("NSpid:\t12\tx\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatusNsPid("NSpid:\n"), std::nullopt);
}

TEST(ProcParserTest, StatusRejectsTruncatedText) {
  EXPECT_EQ(ParseProcStatus(""), std::nullopt);
  EXPECT_EQ(ParseProcStatus("Name:\tx\nUid:\t0\t0\t0\t0\n"), std::nullopt);  // no Threads
  EXPECT_EQ(ParseProcStatus("Uid:\tzero\nThreads:\t1\n"), std::nullopt);
  // A kernel thread has no Vm lines: zeros.
  std::optional<ProcStatusFields> k = ParseProcStatus("Name:\tkworker/0:1\nUid:\t0\t0\t0\t0\nThreads:\t1\n");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->vm_size_bytes, 0);
}

TEST(ProcParserTest, StatOfSleep) {
  std::string text = Testdata("proc/stat_sleep.txt");
  std::optional<ProcStatFields> s = ParseProcStat(text);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->pid, 20398);
  EXPECT_EQ(s->comm, "sleep");
  EXPECT_EQ(s->state, 'S');
  EXPECT_EQ(s->ppid, 20394);
  EXPECT_EQ(s->utime_ticks, 0);
  EXPECT_EQ(s->num_threads, 1);
  EXPECT_EQ(s->starttime_ticks, 159284);
}

TEST(ProcParserTest, StatCommWithParenthesesAndSpaces) {
  std::optional<ProcStatFields> s = ParseProcStat(
      "42 (a) b (c) R 1 42 42 0 -1 4194304 0 0 0 0 7 3 0 0 20 0 2 0 999 0 0\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->comm, "a) b (c");
  EXPECT_EQ(s->utime_ticks, 7);
  EXPECT_EQ(s->stime_ticks, 3);
  EXPECT_EQ(s->num_threads, 2);
  EXPECT_EQ(s->starttime_ticks, 999);
  EXPECT_EQ(ParseProcStat("42 (x) R 1 2"), std::nullopt);
  EXPECT_EQ(ParseProcStat("garbage"), std::nullopt);
}

TEST(ProcParserTest, IoOfShellThatRanDd) {
  std::optional<ProcIoFields> io = ParseProcIo(Testdata("proc/io_dd_parent.txt"));
  ASSERT_TRUE(io.has_value());
  EXPECT_EQ(io->read_bytes, 4558848);
  EXPECT_EQ(io->write_bytes, 4231168);
  EXPECT_EQ(io->syscr, 1091);
  EXPECT_EQ(io->syscw, 1042);
  EXPECT_EQ(ParseProcIo(""), std::nullopt);
  EXPECT_EQ(ParseProcIo("rchar: x\n"), std::nullopt);
}

TEST(ProcParserTest, CountsOwnFds) {
  absl::StatusOr<int64_t> before = CountProcFds(getpid());
  ASSERT_TRUE(before.ok()) << before.status();
  int fd = dup(0);
  ASSERT_GE(fd, 0);
  absl::StatusOr<int64_t> after = CountProcFds(getpid());
  close(fd);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *before + 1);
  EXPECT_TRUE(absl::IsNotFound(CountProcFds(999999999).status()));
}

TEST(ProcParserTest, Schedstat) {
  std::optional<ProcSchedstatFields> s = ParseProcSchedstat("123456789 2345 67\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->run_ns, 123456789u);
  EXPECT_EQ(s->wait_ns, 2345u);
  EXPECT_EQ(s->timeslices, 67u);
  EXPECT_TRUE(ParseProcSchedstat("0 0 0\n").has_value());  // no CONFIG_SCHED_INFO
  EXPECT_FALSE(ParseProcSchedstat("1 2\n").has_value());
  EXPECT_FALSE(ParseProcSchedstat("1 2 x\n").has_value());
  EXPECT_FALSE(ParseProcSchedstat("1 2 3 4\n").has_value());
  EXPECT_FALSE(ParseProcSchedstat("").has_value());
}

}  // namespace
}  // namespace jailwarden::platform
