// A 200 answer whose body is not JSON (a proxy, or a process squatting the
// daemon's port): the CLI names the address and the parse error, exit 1,
// for the typed reads, apply and rctl. The "server" is a tiny HTTP/1.1
// responder on a loopback port in this process.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include "cli/daemon_verbs.h"
#include "cli/rctl_verb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Answers every request on 127.0.0.1:<port> with "200 OK" and `body`
// (text/html), then closes. Stops in the destructor (the accept loop
// polls a flag every 50 ms).
class SquatterServer {
 public:
  explicit SquatterServer(std::string body) : body_(std::move(body)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(fd_, 16) != 0) {
      ADD_FAILURE() << "loopback listener: " << strerror(errno);
      return;
    }
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~SquatterServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  std::string url() const { return StrCat("http://127.0.0.1:", port_); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      // Read the request head (bounded), then answer.
      std::string req;
      char buf[4096];
      for (int i = 0; i < 64 && req.find("\r\n\r\n") == std::string::npos; ++i) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 2000) <= 0) break;
        const ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      const std::string answer =
          StrCat("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ",
                 body_.size(), "\r\nConnection: close\r\n\r\n", body_);
      (void)!write(c, answer.data(), answer.size());
      close(c);
    }
  }

  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Output {
  int status = -1;
  std::string out, err;
};

template <typename Fn>
Output RunVerb(Fn fn, std::vector<std::string> args) {
  std::ostringstream out, err;
  CommandContext ctx{out, err};
  Output o;
  o.status = fn(args, ctx);
  o.out = out.str();
  o.err = err.str();
  return o;
}

class MalformedAnswerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("JAILWARDEN_TOKEN", "feedfacefeedfacefeedfacefeedface", 1);
    unsetenv("JAILWARDEN_SERVER");
    unsetenv("JAILWARDEN_CONFIG");
  }
};

TEST_F(MalformedAnswerTest, ListNamesTheAddressAndTheParseError) {
  SquatterServer squatter("<html><body>It works!</body></html>\n");
  Output o = RunVerb(RunListVerb, {"--server", squatter.url()});
  EXPECT_EQ(o.status, 1);
  EXPECT_THAT(o.err, StartsWith(StrCat("jailwarden list: malformed JSON from ", squatter.url(),
                                       ": ")))
      << o.err;
  // The parser's own words, with the position.
  EXPECT_THAT(o.err, HasSubstr("line 1, column 1")) << o.err;
  EXPECT_EQ(o.out, "");
}

TEST_F(MalformedAnswerTest, ApplyAndRctlToo) {
  SquatterServer squatter("{\"changed\": tru");
  char path[] = "/tmp/jw-malformed-XXXXXX.yaml";
  const int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  const std::string policy = "jails: {}\n";
  ASSERT_EQ(write(fd, policy.data(), policy.size()), static_cast<ssize_t>(policy.size()));
  close(fd);
  Output o = RunVerb(RunApplyVerb, {"--server", squatter.url(), "-f", path});
  unlink(path);
  EXPECT_EQ(o.status, 1);
  EXPECT_THAT(o.err, StartsWith(StrCat("jailwarden apply: malformed JSON from ", squatter.url(),
                                       ": ")))
      << o.err;

  // (A bare `rctl` exits 0 whatever happened, as rctl(8) does.)
  o = RunVerb(RunRctlVerb, {"--server", squatter.url(), "jail:db"});
  EXPECT_EQ(o.status, 1) << o.err;
  EXPECT_THAT(o.err, HasSubstr(StrCat("malformed JSON from ", squatter.url(),
                                      ": line 1, column 16: ")))
      << o.err;
}

}  // namespace
}  // namespace jailwarden::cli
