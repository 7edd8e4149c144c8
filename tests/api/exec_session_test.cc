// The daemon's side of an interactive exec session (api/exec_session.h)
// over a socketpair, running real host commands (platform::ExecAndWait).
// The jail side (a terminal from the jail's devpts) is in
// tests/integration/exec_interactive_test.cc.

#include "jailwarden/api/exec_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/exec_frames.h"
#include "platform/linux/exec.h"

namespace jailwarden::api {
namespace {

absl::StatusOr<platform::ExecResult> HostExec(const platform::ExecRequest& r) {
  return platform::ExecAndWait(platform::ExecTarget{}, r);
}

struct Received {
  std::string out, err, errors;
  std::optional<ExitFrame> exit;
};

// The test's end of the stream: sends `input`, then reads frames until
// the exit frame or EOF (at most `limit`).
Received Talk(int fd, const std::string& input, absl::Duration limit = absl::Seconds(20)) {
  if (!input.empty()) {
    EXPECT_EQ(send(fd, input.data(), input.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(input.size()));
  }
  Received r;
  FrameDecoder d;
  const absl::Time deadline = absl::Now() + limit;
  while (!r.exit.has_value() && absl::Now() < deadline) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[65536];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    d.Feed(std::string_view(buf, static_cast<size_t>(n)));
    for (;;) {
      auto f = d.Next();
      EXPECT_TRUE(f.ok()) << f.status();
      if (!f.ok() || !f->has_value()) break;
      const Frame& fr = **f;
      if (fr.type == FrameType::kStdout) r.out += fr.payload;
      if (fr.type == FrameType::kStderr) r.err += fr.payload;
      if (fr.type == FrameType::kError) r.errors += fr.payload + "\n";
      if (fr.type == FrameType::kExit) r.exit = *DecodeExit(fr.payload);
    }
  }
  return r;
}

class ExecSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // as `jailwarden serve` does
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
  }
  void TearDown() override {
    if (server_.joinable()) server_.join();
    close(fds_[0]);
  }
  void Serve(ExecSessionRequest req, ExecSessionLimits limits = {}) {
    server_ = std::thread([this, req = std::move(req), limits]() mutable {
      ServeExecSession(fds_[1], std::move(req), HostExec, limits);
    });
  }
  int fds_[2] = {-1, -1};
  std::thread server_;
};

ExecSessionRequest Req(std::vector<std::string> argv, bool in) {
  ExecSessionRequest r;
  r.exec.argv = std::move(argv);
  r.stdin = in;
  return r;
}

TEST_F(ExecSessionTest, StdinIsPassedThroughAndClosedAtEof) {
  Serve(Req({"cat"}, true));
  Received r = Talk(fds_[0], EncodeFrame(FrameType::kStdin, "abc\n") +
                                  EncodeFrame(FrameType::kStdinEof, ""));
  EXPECT_EQ(r.out, "abc\n");
  ASSERT_TRUE(r.exit.has_value());
  EXPECT_EQ(r.exit->ShellStatus(), 0);
}

TEST_F(ExecSessionTest, StdoutStderrAndTheExitStatusPassThrough) {
  Serve(Req({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, false));
  Received r = Talk(fds_[0], "");
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  ASSERT_TRUE(r.exit.has_value());
  EXPECT_EQ(r.exit->how, ExitFrame::How::kExited);
  EXPECT_EQ(r.exit->value, 3);
}

TEST_F(ExecSessionTest, WithoutStdinTheCommandReadsEofNotTheClient) {
  Serve(Req({"cat"}, false));
  Received r = Talk(fds_[0], EncodeFrame(FrameType::kStdin, "ignored"));
  EXPECT_EQ(r.out, "");
  ASSERT_TRUE(r.exit.has_value());
  EXPECT_EQ(r.exit->ShellStatus(), 0);
}

TEST_F(ExecSessionTest, ExecErrorsSayWhyLikeAShell) {
  Serve(Req({"/nonexistent"}, false));
  Received r = Talk(fds_[0], "");
  EXPECT_EQ(r.errors, "/nonexistent: No such file or directory\n");
  ASSERT_TRUE(r.exit.has_value());
  EXPECT_EQ(r.exit->ShellStatus(), 127);
}

TEST_F(ExecSessionTest, PermissionDeniedIs126) {
  char path[] = "/tmp/jw-noexec-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);  // mode 0600: not executable
  Serve(Req({path}, false));
  Received r = Talk(fds_[0], "");
  unlink(path);
  EXPECT_EQ(r.errors, std::string(path) + ": Permission denied\n");
  ASSERT_TRUE(r.exit.has_value());
  EXPECT_EQ(r.exit->ShellStatus(), 126);
}

TEST_F(ExecSessionTest, AClientFrameOfTheDaemonsKindsIsAProtocolError) {
  Serve(Req({"cat"}, true));
  Received r = Talk(fds_[0], EncodeExit({}));
  EXPECT_EQ(r.errors, "exec stream: a client may not send exit frames\n");
  // The command's stdin was closed: cat ends, the session still reports it.
  ASSERT_TRUE(r.exit.has_value());
  EXPECT_EQ(r.exit->ShellStatus(), 0);
}

TEST_F(ExecSessionTest, AnOverLongFrameIsRefusedWithoutReadingIt) {
  Serve(Req({"cat"}, true));
  Received r = Talk(fds_[0], std::string("\x01\x7f\xff\xff\xff", 5));
  EXPECT_EQ(r.errors,
            "exec stream: stdin frame of 2147483647 bytes at byte 0, over the 65536-byte "
            "bound\n");
  ASSERT_TRUE(r.exit.has_value());
}

// A client that stops reading stalls only its own command: the session
// keeps at most max_pending_bytes of output, the command blocks in its
// write, and every byte still arrives once the client reads again.
TEST_F(ExecSessionTest, ASlowClientGetsBackpressureNotUnboundedBuffering) {
  ExecSessionLimits limits;
  limits.max_pending_bytes = 64 * 1024;
  const int kBytes = 32 * 1024 * 1024;
  char dir[] = "/tmp/jw-exec-bp-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string marker = std::string(dir) + "/written";
  Serve(Req({"/bin/sh", "-c",
             "head -c " + std::to_string(kBytes) + " /dev/zero && touch " + marker},
            false),
        limits);
  // Not reading: the socket's buffer, the session's 64 KiB and the pipe
  // fill, and head blocks in its write (it would be done in well under a
  // second if the session buffered without bound).
  absl::SleepFor(absl::Seconds(1));
  EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the session did not stop reading";
  Received r = Talk(fds_[0], "", absl::Seconds(60));
  EXPECT_EQ(r.out.size(), static_cast<size_t>(kBytes));
  ASSERT_TRUE(r.exit.has_value());
  EXPECT_EQ(r.exit->ShellStatus(), 0);
  EXPECT_EQ(access(marker.c_str(), F_OK), 0);
  unlink(marker.c_str());
  rmdir(dir);
}

TEST(ExecSessionRequestJsonTest, RoundTripsTheTerminalFields) {
  ExecSessionRequest r;
  r.exec.argv = {"sh", "-l"};
  r.exec.env = {{"A", "1"}};
  r.tty = true;
  r.stdin = true;
  r.rows = 40;
  r.cols = 132;
  r.term = "xterm-256color";
  absl::StatusOr<ExecSessionRequest> back = ExecSessionRequestFromJson(ExecSessionRequestToJson(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->exec.argv, r.exec.argv);
  EXPECT_EQ(back->exec.env, r.exec.env);
  EXPECT_TRUE(back->tty);
  EXPECT_TRUE(back->stdin);
  EXPECT_EQ(back->rows, 40);
  EXPECT_EQ(back->cols, 132);
  EXPECT_EQ(back->term, "xterm-256color");
}

TEST(ExecSessionRequestJsonTest, BadFieldsAreNamed) {
  EXPECT_EQ(ExecSessionRequestFromJson(R"({"argv":["sh"],"ttty":true})").status().message(),
            "unknown field '/ttty' in the request body; did you mean 'tty'?");
  EXPECT_EQ(ExecSessionRequestFromJson(R"({"argv":["sh"],"rows":70000})").status().message(),
            "field 'rows' must be 0..65535, got 70000");
  EXPECT_EQ(ExecSessionRequestFromJson(R"({"argv":["sh"],"term":"a=b"})").status().message(),
            "field 'term' must be a terminal name (at most 64 characters, no NUL, newline or "
            "'=')");
  EXPECT_FALSE(ExecSessionRequestFromJson(R"({"argv":[]})").ok());
  EXPECT_FALSE(ExecSessionRequestFromJson(R"({"argv":["sh"],"tty":"yes"})").ok());
}

TEST(ExecErrorTextTest, NamesArgv0AndTheErrno) {
  EXPECT_EQ(ExecErrorText({"foo", "x"}, ENOENT), "foo: No such file or directory");
  EXPECT_EQ(ExecErrorText({}, EACCES), "exec: Permission denied");
}

}  // namespace
}  // namespace jailwarden::api
