// The main-process host's wire (main_host_wire.h) and the host itself
// (main_host.h) over FakeFreeBsdKernel: a start request round-trips with
// every field, malformed requests are refused with the field named and
// start nothing, and a host keeps supervising when its client goes.

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "fakes/freebsd/fake_kernel.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/main_host.h"
#include "platform/freebsd/main_host_wire.h"

namespace jailwarden::platform {
namespace {

TEST(MainHostWireTest, StartRoundTrips) {
  MainStartRequest r;
  r.jail = "web";
  r.jid = 7;
  r.user = "www";
  r.spec.restart = RestartPolicy::kAlways;
  r.spec.backoff_initial = absl::Milliseconds(15);
  r.spec.backoff_max = absl::Seconds(3);
  r.spec.limit_count = 4;
  r.spec.limit_window = absl::Seconds(30);
  r.argv = {"/bin/sh", "-c", "echo 'a b'\nline two"};
  r.env = {{"PATH", "/bin"}, {"X", "a=b"}};
  r.clean_env = true;
  r.has_stdout = true;
  r.has_stderr = true;
  absl::StatusOr<MainWireMessage> m = DecodeMainWire(EncodeMainWire(EncodeStart(r)));
  ASSERT_TRUE(m.ok()) << m.status();
  absl::StatusOr<MainStartRequest> back = DecodeStart(*m);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->jail, "web");
  EXPECT_EQ(back->jid, 7);
  EXPECT_EQ(back->user, "www");
  EXPECT_EQ(back->spec.restart, RestartPolicy::kAlways);
  EXPECT_EQ(back->spec.backoff_initial, absl::Milliseconds(15));
  EXPECT_EQ(back->spec.backoff_max, absl::Seconds(3));
  EXPECT_EQ(back->spec.limit_count, 4);
  EXPECT_EQ(back->spec.limit_window, absl::Seconds(30));
  EXPECT_EQ(back->argv, r.argv);
  EXPECT_EQ(back->env, r.env);
  EXPECT_TRUE(back->clean_env);
  EXPECT_FALSE(back->has_stdin);
  EXPECT_TRUE(back->has_stdout);
  EXPECT_TRUE(back->has_stderr);
}

TEST(MainHostWireTest, StatusRoundTripsAndErrorsKeepTheirCode) {
  MainProcessStatus s;
  s.configured = true;
  s.exited = true;
  s.gave_up = true;
  s.exit_code = 3;
  s.starts = 6;
  s.restarts = 5;
  s.exit_time = absl::FromUnixSeconds(1700000000);
  absl::StatusOr<MainWireMessage> m = DecodeMainWire(EncodeMainWire(EncodeStatusAnswer(s)));
  ASSERT_TRUE(m.ok());
  absl::StatusOr<MainProcessStatus> back = DecodeAnswer(*m);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->gave_up);
  EXPECT_EQ(back->exit_code, 3);
  EXPECT_EQ(back->restarts, 5);
  EXPECT_EQ(back->exit_time, s.exit_time);
  EXPECT_EQ(back->next_start, absl::InfinitePast());
  m = DecodeMainWire(
      EncodeMainWire(EncodeErrorAnswer(absl::FailedPreconditionError("already running"))));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(DecodeAnswer(*m).status(), absl::FailedPreconditionError("already running"));
}

TEST(MainHostWireTest, MalformedStartsNameTheField) {
  MainStartRequest r;
  r.jail = "web";
  r.jid = 7;
  r.argv = {"httpd"};
  MainWireMessage m = EncodeStart(r);
  for (auto& [k, v] : m.fields) {
    if (k == "restart") v = "sometimes";
  }
  EXPECT_EQ(DecodeStart(m).status(),
            absl::InvalidArgumentError("main host start: bad or missing restart"));
  r.argv.clear();
  EXPECT_EQ(DecodeStart(EncodeStart(r)).status(),
            absl::InvalidArgumentError("main host start: bad or missing arg"));
  EXPECT_FALSE(DecodeMainWire(std::string("start\0jail", 10)).ok());
  EXPECT_FALSE(DecodeMainWire("").ok());
}

class MainHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/jw-fbhost-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    std::vector<JailParam> p = {{"name", "web"}, {"path", "/jails/web"}, {"persist", {}}};
    jid_ = kernel_.JailSetv(kJailCreate, p);
    ASSERT_GT(jid_, 0);
    launcher_ = std::make_unique<InProcessMainLauncher>(kernel_);
    ASSERT_TRUE(launcher_->Launch("web", Sock(), Record()).ok());
  }
  void TearDown() override {
    launcher_.reset();
    (void)std::system(StrCat("rm -rf '", dir_, "'").c_str());
  }
  std::string Sock() const { return dir_ + "/web.sock"; }
  std::string Record() const { return dir_ + "/web.status"; }
  absl::StatusOr<MainProcessStatus> Ask(const std::string& verb) {
    MainWireMessage m;
    m.verb = verb;
    return AskMainHost(Sock(), m, {}, absl::Seconds(5));
  }

  FakeFreeBsdKernel kernel_;
  std::string dir_;
  int jid_ = 0;
  std::unique_ptr<InProcessMainLauncher> launcher_;
};

TEST_F(MainHostTest, RefusesBadRequestsAndStartsNothing) {
  EXPECT_EQ(Ask("status").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Ask("reboot").status().code(), absl::StatusCode::kFailedPrecondition);
  MainStartRequest r;
  r.jail = "web";
  r.jid = jid_;
  r.argv = {"httpd"};
  r.has_stdout = true;  // says one fd rides along, sends none
  absl::StatusOr<MainProcessStatus> s = AskMainHost(Sock(), EncodeStart(r), {}, absl::Seconds(5));
  EXPECT_EQ(s.status(),
            absl::InvalidArgumentError("main host start: 0 descriptors for 1 streams"));
  EXPECT_TRUE(kernel_.MainChildren().empty());
  // A second launch keeps the host that answers.
  EXPECT_TRUE(launcher_->Launch("web", Sock(), Record()).ok());
}

TEST_F(MainHostTest, StartsPassesStdoutAndQuitRemovesSocketAndRecord) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  kernel_.SetMainHandler([](pid_t, const FakeCommand& c) {
    if (c.stdout_fd >= 0) (void)!write(c.stdout_fd, "hi\n", 3);
  });
  MainStartRequest r;
  r.jail = "web";
  r.jid = jid_;
  r.argv = {"httpd", "-f"};
  r.spec.restart = RestartPolicy::kNo;
  r.has_stdout = true;
  absl::StatusOr<MainProcessStatus> s =
      AskMainHost(Sock(), EncodeStart(r), {p[1]}, absl::Seconds(5));
  close(p[1]);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->running);
  char buf[4] = {};
  ASSERT_EQ(read(p[0], buf, 3), 3);
  EXPECT_EQ(std::string(buf), "hi\n");
  // restart: no: stays down with its exit code, also in the record.
  kernel_.ExitProcessWithCode(static_cast<pid_t>(s->pid), 3);
  for (int i = 0; i < 500; ++i) {
    s = Ask("status");
    if (s.ok() && s->exited && access(Record().c_str(), F_OK) == 0) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->running);
  EXPECT_EQ(s->exit_code, 3);
  EXPECT_EQ(s->restarts, 0);
  EXPECT_EQ(access(Record().c_str(), F_OK), 0);
  ASSERT_TRUE(Ask("quit").ok());
  for (int i = 0; i < 500 && access(Sock().c_str(), F_OK) == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_NE(access(Sock().c_str(), F_OK), 0);
  EXPECT_NE(access(Record().c_str(), F_OK), 0);
  EXPECT_EQ(Ask("status").status().code(), absl::StatusCode::kUnavailable);
  close(p[0]);
}

}  // namespace
}  // namespace jailwarden::platform
