// jail::Journal: records round-trip, what an earlier process left is read
// back as pending, and a process ended (JW_CRASH_AT, _exit(137)) at every
// step boundary of an operation leaves exactly the steps before it.

#include "jailwarden/jail/journal.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::jail {
namespace {

std::string TempDir() {
  char dir[] = "/tmp/jw-journal-test-XXXXXX";
  EXPECT_NE(mkdtemp(dir), nullptr);
  return dir;
}

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> out;
  std::string cmd = StrCat("ls -1 '", dir, "' 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  char line[512];
  while (p != nullptr && fgets(line, sizeof(line), p) != nullptr) {
    std::string s = line;
    if (!s.empty() && s.back() == '\n') s.pop_back();
    out.push_back(s);
  }
  if (p != nullptr) pclose(p);
  return out;
}

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = TempDir(); dir_ = root_ + "/journal"; }
  void TearDown() override { (void)std::system(StrCat("rm -rf '", root_, "'").c_str()); }
  std::string root_, dir_;
};

TEST(JournalOpTest, JsonRoundTrip) {
  JournalOp op;
  op.id = 42;
  op.kind = "apply";
  op.args = {{"remove", {"web", "db"}}, {"start", {"1"}}};
  op.steps = {"removed:web"};
  absl::StatusOr<JournalOp> back = JournalOpFromJson(JournalOpToJson(op), "x");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, 42u);
  EXPECT_EQ(back->kind, "apply");
  EXPECT_EQ(back->args, op.args);
  EXPECT_EQ(back->steps, op.steps);
  EXPECT_TRUE(back->Done("removed:web"));
  EXPECT_FALSE(back->Done("removed:db"));
  EXPECT_EQ(back->Arg("start"), "1");
  EXPECT_EQ(back->Arg("nothing"), "");
  EXPECT_EQ(back->List("remove").size(), 2u);
}

TEST(JournalOpTest, BadRecordsAreDataLossNamingTheFileAndField) {
  struct Case {
    std::string text, want;
  } cases[] = {
      {"{", "op.json: "},
      {"[]", "op.json: not a JSON object"},
      {R"({"version":2,"id":1,"kind":"a","args":{},"steps":[]})", "\"version\" is not 1"},
      {R"({"version":1,"id":0,"kind":"a","args":{},"steps":[]})", "\"id\" is not a positive"},
      {R"({"version":1,"id":1,"kind":"","args":{},"steps":[]})", "\"kind\" is not"},
      {R"({"version":1,"id":1,"kind":"a","args":{},"steps":[1]})", "\"steps\" is not"},
      {R"({"version":1,"id":1,"kind":"a","args":[],"steps":[]})", "\"args\" is not an object"},
      {R"({"version":1,"id":1,"kind":"a","args":{"x":"y"},"steps":[]})",
       "\"args\".\"x\" is not a list"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<JournalOp> op = JournalOpFromJson(c.text, "op.json");
    ASSERT_FALSE(op.ok()) << c.text;
    EXPECT_EQ(op.status().code(), absl::StatusCode::kDataLoss) << c.text;
    EXPECT_NE(std::string(op.status().message()).find(c.want), std::string::npos)
        << op.status() << " want " << c.want;
  }
}

TEST_F(JournalTest, BeginStepEndLeaveNothingBehind) {
  auto j = Journal::Open(dir_, /*fsync=*/true);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_TRUE((*j)->pending().empty());
  absl::StatusOr<uint64_t> id = (*j)->Begin("destroy", {{"jail", {"web"}}});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(Files(dir_), std::vector<std::string>{StrCat("op-", *id, ".json")});
  ASSERT_TRUE((*j)->Step(*id, "stopped").ok());
  EXPECT_EQ((*j)->open_count(), 1u);
  ASSERT_TRUE((*j)->End(*id).ok());
  EXPECT_EQ((*j)->open_count(), 0u);
  EXPECT_TRUE(Files(dir_).empty());
  EXPECT_EQ((*j)->Step(*id, "late").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*j)->End(*id).ok());  // already gone is fine
}

TEST_F(JournalTest, OpenReadsWhatAnEarlierProcessLeftOldestFirstAndContinuesIds) {
  uint64_t a = 0, b = 0;
  {
    auto j = Journal::Open(dir_);
    ASSERT_TRUE(j.ok());
    a = *(*j)->Begin("create", {{"jail", {"lim1"}}, {"start", {"1"}}});
    ASSERT_TRUE((*j)->Step(a, "defined").ok());
    b = *(*j)->Begin("rctl-add", {{"rule", {"jail:lim1:maxproc:deny=10"}}});
    uint64_t c = *(*j)->Begin("stop", {{"jail", {"x"}}});
    ASSERT_TRUE((*j)->End(c).ok());
  }
  // A write killed between create and rename.
  std::ofstream(dir_ + "/op-9.json.tmp") << "{half";
  auto j = Journal::Open(dir_);
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_EQ((*j)->pending().size(), 2u);
  EXPECT_EQ((*j)->pending()[0].id, a);
  EXPECT_EQ((*j)->pending()[0].kind, "create");
  EXPECT_EQ((*j)->pending()[0].steps, std::vector<std::string>{"defined"});
  EXPECT_EQ((*j)->pending()[1].id, b);
  EXPECT_EQ((*j)->pending()[1].Arg("rule"), "jail:lim1:maxproc:deny=10");
  EXPECT_EQ((*j)->stale_removed(), std::vector<std::string>{dir_ + "/op-9.json.tmp"});
  absl::StatusOr<uint64_t> next = (*j)->Begin("stop", {});
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, b);
  // Replayed operations are ended by id.
  ASSERT_TRUE((*j)->End(a).ok());
  ASSERT_TRUE((*j)->End(b).ok());
  ASSERT_TRUE((*j)->End(*next).ok());
  EXPECT_TRUE(Files(dir_).empty());
}

TEST_F(JournalTest, ACorruptRecordFailsOpenWithTheFileName) {
  ASSERT_TRUE(Journal::Open(dir_).ok());
  std::ofstream(dir_ + "/op-3.json") << "{\"version\": 1}";
  auto j = Journal::Open(dir_);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(j.status().message()).find(dir_ + "/op-3.json"), std::string::npos);
  EXPECT_EQ(Journal::Open("relative/dir").status().code(), absl::StatusCode::kInvalidArgument);
}

// The child half of the boundary test, run before main() when this binary
// is exec'd with JW_JOURNAL_CHILD_DIR: one operation of three steps there;
// JW_CRASH_AT ends it at one boundary. Exits 0 when it ran to the end, 1 on
// an error.
int RunChildIfAsked() {
  const char* dir = std::getenv("JW_JOURNAL_CHILD_DIR");
  if (dir == nullptr) return 0;
  auto j = Journal::Open(dir);
  if (!j.ok()) _exit(1);
  absl::StatusOr<uint64_t> id = (*j)->Begin("apply", {{"remove", {"a", "b"}}});
  if (!id.ok()) _exit(1);
  for (const char* step : {"removed:a", "removed:b", "rules"}) {
    if (!(*j)->Step(*id, step).ok()) _exit(1);
  }
  _exit((*j)->End(*id).ok() ? 0 : 1);
}
const int kChild = RunChildIfAsked();

TEST_F(JournalTest, EveryStepBoundaryLeavesExactlyTheStepsBeforeIt) {
  struct Boundary {
    std::string point;
    int want_exit;
    bool open;
    std::vector<std::string> steps;
  } boundaries[] = {
      {"apply.begin:1", 137, true, {}},
      {"apply.removed:a:1", 137, true, {"removed:a"}},
      {"apply.removed:b:1", 137, true, {"removed:a", "removed:b"}},
      {"apply.rules:1", 137, true, {"removed:a", "removed:b", "rules"}},
      {"apply.end:1", 137, true, {"removed:a", "removed:b", "rules"}},
      {"apply.end:2", 0, false, {}},  // never reached twice: runs to the end
      {"", 0, false, {}},
  };
  for (const Boundary& b : boundaries) {
    SCOPED_TRACE(b.point);
    const std::string dir = StrCat(root_, "/b", &b - boundaries);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      setenv("JW_JOURNAL_CHILD_DIR", dir.c_str(), 1);
      setenv("JW_CRASH_AT", b.point.c_str(), 1);
      execl("/proc/self/exe", "journal_child", static_cast<char*>(nullptr));
      _exit(127);
    }
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), b.want_exit);
    auto j = Journal::Open(dir);
    ASSERT_TRUE(j.ok()) << j.status();
    ASSERT_EQ((*j)->pending().size(), b.open ? 1u : 0u);
    if (b.open) {
      EXPECT_EQ((*j)->pending()[0].kind, "apply");
      EXPECT_EQ((*j)->pending()[0].List("remove"), (std::vector<std::string>{"a", "b"}));
      EXPECT_EQ((*j)->pending()[0].steps, b.steps);
    }
    EXPECT_TRUE((*j)->stale_removed().empty());
  }
}

}  // namespace
}  // namespace jailwarden::jail
