// The libmicrohttpd server: the admin unix socket (modes, stale and live
// sockets, symlinks, SO_PEERCRED), streams, the body limit, and HTTP
// Upgrade over the unix socket, plain TCP and TLS with the real client.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "api/fake_daemon.h"
#include "gtest/gtest.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/mhd_server.h"
#include "jailwarden/api/server.h"
#include "jailwarden/api/tls.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

std::string MakeTempDir() {
  char dir[] = "/tmp/jw_mhd_XXXXXX";
  if (mkdtemp(dir) == nullptr) return "";
  return dir;
}

void RemoveAll(const std::string& dir) {
  if (dir.size() > 5) {
    const std::string cmd = StrCat("rm -rf '", dir, "'");
    (void)std::system(cmd.c_str());
  }
}

int ModeOf(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t w = write(fd, data.data(), data.size());
    if (w <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(w));
  }
  return true;
}

std::string ReadExactly(int fd, std::size_t n) {
  std::string out;
  char buf[256];
  while (out.size() < n) {
    const ssize_t r = read(fd, buf, std::min(sizeof(buf), n - out.size()));
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

// The handler every test serves: /echo answers what it saw, /stream
// streams three chunks, /upgrade hands the connection over and echoes
// until end of file.
void Handle(const HttpRequest& req, ResponseWriter& out) {
  if (req.path == "/stream") {
    if (!out.StartStream(200, "application/x-ndjson")) return;
    for (int i = 0; i < 3; ++i) {
      if (!out.Write(StrCat("{\"n\":", i, "}\n"))) return;
    }
    out.Finish();
    return;
  }
  if (req.path == "/upgrade") {
    absl::StatusOr<base::UniqueFd> fd = out.Upgrade("jw-test", {{"X-Test", "1"}});
    if (!fd.ok()) return;
    char buf[4096];
    for (;;) {
      const ssize_t r = read(fd->get(), buf, sizeof(buf));
      if (r <= 0) break;
      if (!WriteAll(fd->get(), std::string_view(buf, static_cast<std::size_t>(r)))) break;
    }
    return;
  }
  out.Send(200, "text/plain",
           StrCat(req.method, " ", req.path, " admin=", req.peer_is_admin,
                  " peer=", req.remote_addr, " body=", req.body.size(),
                  " too_large=", req.body_too_large, " q=", req.Query("a").value_or("-")));
}

class MhdServerTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override {
    server_.reset();
    RemoveAll(dir_);
  }

  void Start(std::vector<MhdListener> listeners, std::size_t max_body = 1 << 20) {
    MhdServerOptions o;
    o.listeners = std::move(listeners);
    o.max_body_bytes = max_body;
    o.io_timeout = absl::Seconds(10);
    o.rejected = rejected_;
    absl::StatusOr<std::unique_ptr<MhdServer>> s = MhdServer::Start(o, Handle);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }

  Client UnixClient() {
    ClientOptions o;
    o.server = StrCat("unix:", socket_path());
    o.timeout = absl::Seconds(10);
    return Client(o);
  }

  std::string socket_path() const { return dir_ + "/run/api.sock"; }

  std::string dir_;
  std::shared_ptr<RejectCounters> rejected_ = std::make_shared<RejectCounters>();
  std::unique_ptr<MhdServer> server_;
};

TEST_F(MhdServerTest, UnixSocketIsPrivateAndServesRootWithoutToken) {
  Start({{StrCat("unix:", socket_path()), "", "", ""}});
  EXPECT_EQ(ModeOf(dir_ + "/run"), 0700);
  EXPECT_EQ(ModeOf(socket_path()), 0600);
  Client c = UnixClient();
  absl::StatusOr<HttpResponse> r = c.Do("GET", "/echo/x%2Fy?a=b%20c");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /echo/x%2Fy admin=true peer=unix:uid=0 body=0 too_large=false q=b c");
  EXPECT_EQ(r->headers.count("cache-control"), 0u);  // Do() keeps no headers; body is what counts
  server_->Stop();
  EXPECT_EQ(ModeOf(socket_path()), -1) << "the socket is removed on Stop";
}

TEST_F(MhdServerTest, StaleSocketIsReplacedLiveOneAndOtherFilesAreNot) {
  ASSERT_EQ(mkdir((dir_ + "/run").c_str(), 0700), 0);
  // A stale socket: bound, then its owner gone.
  {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, socket_path().c_str(), sizeof(a.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    close(fd);
  }
  Start({{StrCat("unix:", socket_path()), "", "", ""}});
  // A second server on the live socket: "already running", and the first
  // keeps its socket.
  MhdServerOptions o;
  o.listeners = {{StrCat("unix:", socket_path()), "", "", ""}};
  absl::StatusOr<std::unique_ptr<MhdServer>> second = MhdServer::Start(o, Handle);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists) << second.status();
  EXPECT_TRUE(UnixClient().Do("GET", "/echo").ok());
  server_.reset();
  // A regular file where the socket goes is never removed.
  ASSERT_EQ(close(open(socket_path().c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  absl::StatusOr<std::unique_ptr<MhdServer>> third = MhdServer::Start(o, Handle);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kFailedPrecondition) << third.status();
  EXPECT_NE(third.status().message().find("not a socket"), std::string::npos);
  EXPECT_EQ(ModeOf(socket_path()), 0600);
}

TEST_F(MhdServerTest, SymlinkedOrOpenDirectoryIsRefused) {
  ASSERT_EQ(mkdir((dir_ + "/real").c_str(), 0700), 0);
  ASSERT_EQ(symlink((dir_ + "/real").c_str(), (dir_ + "/run").c_str()), 0);
  MhdServerOptions o;
  o.listeners = {{StrCat("unix:", socket_path()), "", "", ""}};
  absl::StatusOr<std::unique_ptr<MhdServer>> s = MhdServer::Start(o, Handle);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  EXPECT_NE(s.status().message().find("symlink"), std::string::npos) << s.status();
  EXPECT_EQ(ModeOf(dir_ + "/real/api.sock"), -1);
  // A world-writable directory: anyone could swap the socket.
  ASSERT_EQ(mkdir((dir_ + "/open").c_str(), 0777), 0);
  ASSERT_EQ(chmod((dir_ + "/open").c_str(), 0777), 0);
  o.listeners = {{StrCat("unix:", dir_, "/open/api.sock"), "", "", ""}};
  s = MhdServer::Start(o, Handle);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  EXPECT_NE(s.status().message().find("mode 0777"), std::string::npos) << s.status();
}

// A peer that is not root (nor the socket's owner) gets 403 even if the
// socket's mode was opened up; with the mode intact it cannot connect.
TEST_F(MhdServerTest, NonRootPeerIsRefusedBySoPeercred) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged uid";
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);  // mkdtemp made it 0700
  ASSERT_EQ(mkdir((dir_ + "/run").c_str(), 0755), 0);
  Start({{StrCat("unix:", socket_path()), "", "", ""}});
  auto as_nobody = [this]() -> std::string {
    int p[2];
    if (pipe(p) != 0) return "pipe";
    const pid_t pid = fork();
    if (pid == 0) {
      close(p[0]);
      if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
      const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strncpy(a.sun_path, socket_path().c_str(), sizeof(a.sun_path) - 1);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        const char* e = errno == EACCES ? "EACCES" : "connect failed";
        (void)!write(p[1], e, std::strlen(e));
        _exit(0);
      }
      const char req[] = "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      (void)!write(fd, req, sizeof(req) - 1);
      char buf[512];
      const ssize_t r = read(fd, buf, sizeof(buf));
      if (r > 0) (void)!write(p[1], buf, static_cast<std::size_t>(r));
      _exit(0);
    }
    close(p[1]);
    std::string got;
    char buf[512];
    for (ssize_t r; (r = read(p[0], buf, sizeof(buf))) > 0;) got.append(buf, static_cast<std::size_t>(r));
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return got;
  };
  EXPECT_EQ(as_nobody(), "EACCES");
  ASSERT_EQ(chmod(socket_path().c_str(), 0666), 0);
  const std::string answer = as_nobody();
  EXPECT_TRUE(StartsWith(answer, "HTTP/1.1 403")) << answer;
  EXPECT_NE(answer.find("uid 65534 may not use the admin socket"), std::string::npos) << answer;
  EXPECT_EQ(rejected_->Get(RejectReason::kUnauthenticated), 1u);
}

TEST_F(MhdServerTest, StreamsAndBodyLimit) {
  Start({{StrCat("unix:", socket_path()), "", "", ""}, {"127.0.0.1:0", "", "", ""}}, 1000);
  ASSERT_EQ(server_->ports().size(), 2u);
  EXPECT_EQ(server_->ports()[0], 0);
  ASSERT_GT(server_->ports()[1], 0);
  Client c = UnixClient();
  std::string streamed;
  absl::StatusOr<int> st = c.Stream("GET", "/stream", "", [&](std::string_view d) {
    streamed.append(d);
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(*st, 200);
  EXPECT_EQ(streamed, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
  ClientOptions tcp;
  tcp.server = StrCat("http://127.0.0.1:", server_->ports()[1]);
  Client t(tcp);
  absl::StatusOr<HttpResponse> small = t.Do("POST", "/echo", std::string(999, 'x'));
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->body, "POST /echo admin=false peer=127.0.0.1 body=999 too_large=false q=-");
  absl::StatusOr<HttpResponse> big = t.Do("POST", "/echo", std::string(1001, 'x'));
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->body, "POST /echo admin=false peer=127.0.0.1 body=0 too_large=true q=-");
}

void ExpectEcho(Client& c) {
  absl::StatusOr<base::UniqueFd> fd = c.Upgrade("POST", "/upgrade", "jw-test", "{}");
  ASSERT_TRUE(fd.ok()) << fd.status();
  ASSERT_TRUE(WriteAll(fd->get(), "hello"));
  EXPECT_EQ(ReadExactly(fd->get(), 5), "hello");
  const std::string big(200000, 'z');
  ASSERT_TRUE(WriteAll(fd->get(), big));
  EXPECT_EQ(ReadExactly(fd->get(), big.size()), big);
  // A refused upgrade on the same server is a Status, not a socket.
  absl::StatusOr<base::UniqueFd> no = c.Upgrade("GET", "/echo", "jw-test");
  EXPECT_FALSE(no.ok());
}

TEST_F(MhdServerTest, UpgradeEchoesBothWaysOverUnixTcpAndTls) {
  absl::StatusOr<SelfSignedFiles> own = LoadOrCreateSelfSigned(dir_ + "/tls");
  ASSERT_TRUE(own.ok()) << own.status();
  Start({{StrCat("unix:", socket_path()), "", "", ""},
         {"127.0.0.1:0", "", "", ""},
         {"127.0.0.1:0", own->cert_file, own->key_file, ""}});
  {
    SCOPED_TRACE("unix");
    Client c = UnixClient();
    ExpectEcho(c);
  }
  {
    SCOPED_TRACE("tcp");
    ClientOptions o;
    o.server = StrCat("http://127.0.0.1:", server_->ports()[1]);
    Client c(o);
    ExpectEcho(c);
  }
  {
    SCOPED_TRACE("tls");
    ClientOptions o;
    o.server = StrCat("https://127.0.0.1:", server_->ports()[2]);
    o.pin = own->pin;
    Client c(o);
    ExpectEcho(c);
    absl::StatusOr<HttpResponse> r = c.Do("GET", "/echo");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    // A wrong pin: nothing is sent.
    o.pin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    Client wrong(o);
    absl::StatusOr<base::UniqueFd> fd = wrong.Upgrade("POST", "/upgrade", "jw-test");
    ASSERT_FALSE(fd.ok());
    EXPECT_EQ(fd.status().code(), absl::StatusCode::kPermissionDenied) << fd.status();
  }
}

// The REST API on the libmicrohttpd listeners: root on the unix socket
// needs no token; over TLS the token is needed as over plain TCP; the
// listeners' first handler (the daemon's /metrics) runs before the router.
TEST_F(MhdServerTest, ApiServerOnSocketAndTls) {
  absl::StatusOr<SelfSignedFiles> own = LoadOrCreateSelfSigned(dir_ + "/tls");
  ASSERT_TRUE(own.ok()) << own.status();
  testing::FakeDaemon daemon;
  daemon.AddJail("web", "running", 3);
  ApiServerOptions o;
  o.http.listen.clear();
  o.router.token = "0123456789abcdef0123456789abcdef";
  o.mhd.listeners = {{StrCat("unix:", socket_path()), "", "", ""},
                     {"127.0.0.1:0", own->cert_file, own->key_file, ""}};
  o.mhd_first = [](const HttpRequest& req, ResponseWriter& out) {
    if (req.path != "/metrics") return false;
    out.Send(200, "text/plain", "up 1\n");
    return true;
  };
  absl::StatusOr<std::unique_ptr<ApiServer>> api = ApiServer::Start(daemon, o);
  ASSERT_TRUE(api.ok()) << api.status();
  EXPECT_TRUE((*api)->ports().empty()) << "no plain-HTTP listener";
  ASSERT_EQ((*api)->mhd_ports().size(), 2u);
  Client unix_client = UnixClient();
  absl::StatusOr<std::vector<JailInfo>> jails = unix_client.ListJails();
  ASSERT_TRUE(jails.ok()) << jails.status();
  ASSERT_EQ(jails->size(), 1u);
  ClientOptions t;
  t.server = StrCat("https://127.0.0.1:", (*api)->mhd_ports()[1]);
  t.pin = own->pin;
  Client anonymous(t);
  absl::StatusOr<HttpResponse> r = anonymous.Do("GET", "/v1/jails");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 401) << r->body;
  r = anonymous.Do("GET", "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "up 1\n");
  t.token = o.router.token;
  Client admin(t);
  jails = admin.ListJails();
  ASSERT_TRUE(jails.ok()) << jails.status();
  EXPECT_EQ((*jails)[0].name, "web");
  (*api)->Stop();
}

}  // namespace
}  // namespace jailwarden::api
