// The listener's defences and the client's: key pinning (against a real
// TLS server; a squatter on the port never sees the token), the
// exporter-toolkit web config (parsing with file:line:col, bcrypt basic
// auth), the token on every /v1 read, and the per-peer connection and
// stream limits with their counters.

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/fake_daemon.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/server.h"
#include "jailwarden/api/tls.h"
#include "jailwarden/api/web_config.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";
// bcrypt (cost 4) of "s3cret", made with libxcrypt ($2b$), and the same
// hash spelt $2y$ as htpasswd writes it.
constexpr char kHash2b[] = "$2b$04$bj0z6jF.uwMUweYGqIjEHuLvUXKapTn2.p6CkpOD9PwfgT7deu7Ca";
constexpr char kHash2y[] = "$2y$04$bj0z6jF.uwMUweYGqIjEHuLvUXKapTn2.p6CkpOD9PwfgT7deu7Ca";

std::string TempDir() {
  char dir[] = "/tmp/jw_listener_XXXXXX";
  if (mkdtemp(dir) == nullptr) return "";
  return dir;
}

void RemoveTree(const std::string& dir) {
  if (dir.size() > 5) {
    const std::string cmd = StrCat("rm -rf '", dir, "'");
    (void)std::system(cmd.c_str());
  }
}

int ModeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// A TCP listener on 127.0.0.1 that records every byte any client sends, for
// up to `duration`: what a process squatting the API port would see.
class Squatter {
 public:
  Squatter() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 8);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~Squatter() {
    stop_.store(true);
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  std::string seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void Run() {
    std::vector<int> clients;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!stop_.load() && absl::Now() < deadline) {
      std::vector<pollfd> p{{fd_, POLLIN, 0}};
      for (int c : clients) p.push_back({c, POLLIN, 0});
      if (poll(p.data(), p.size(), 50) <= 0) continue;
      if (p[0].revents & POLLIN) {
        const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) clients.push_back(c);
      }
      for (std::size_t i = 1; i < p.size(); ++i) {
        if ((p[i].revents & (POLLIN | POLLHUP)) == 0) continue;
        char buf[4096];
        const ssize_t n = read(p[i].fd, buf, sizeof(buf));
        if (n > 0) {
          std::lock_guard<std::mutex> lock(mu_);
          seen_.append(buf, static_cast<std::size_t>(n));
        }
      }
    }
    for (int c : clients) close(c);
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::string seen_;
};

TEST(SelfSignedTest, CreatesPrivateFilesOnceAndPinsTheKey) {
  const std::string dir = TempDir();
  const std::string tls = dir + "/state/api-tls";
  absl::StatusOr<SelfSignedFiles> a = LoadOrCreateSelfSigned(tls);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(ModeOf(tls), 0700);
  EXPECT_EQ(ModeOf(a->key_file), 0600);
  EXPECT_EQ(ModeOf(a->cert_file), 0600);
  EXPECT_EQ(ModeOf(a->pin_file), 0600);
  EXPECT_TRUE(IsValidPin(a->pin)) << a->pin;
  absl::StatusOr<std::string> pin = ReadPinFile(a->pin_file);
  ASSERT_TRUE(pin.ok());
  EXPECT_EQ(*pin, a->pin);
  absl::StatusOr<std::string> from_cert = ReadPinFile(a->cert_file);
  ASSERT_TRUE(from_cert.ok());
  EXPECT_EQ(*from_cert, a->pin);
  // A second start keeps the key.
  absl::StatusOr<SelfSignedFiles> b = LoadOrCreateSelfSigned(tls);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->pin, a->pin);
  // A key others can read is refused, and stays as it was.
  chmod(a->key_file.c_str(), 0644);
  absl::StatusOr<SelfSignedFiles> c = LoadOrCreateSelfSigned(tls);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("0644"));
  RemoveTree(dir);
}

TEST(SelfSignedTest, BadPinsAreRefused) {
  EXPECT_FALSE(IsValidPin(""));
  EXPECT_FALSE(IsValidPin("sha256//abc"));
  EXPECT_FALSE(IsValidPin("md5//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
  EXPECT_TRUE(IsValidPin("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
}

TEST(WebConfigTest, ParsesTheExporterToolkitFormat) {
  absl::StatusOr<WebConfig> c = ParseWebConfig(
      StrCat("tls_server_config:\n"
             "  cert_file: server.crt\n"
             "  key_file: /etc/keys/server.key\n"
             "  client_auth_type: RequireAndVerifyClientCert\n"
             "  client_ca_file: ca.pem\n"
             "  min_version: TLS13\n"
             "basic_auth_users:\n"
             "  prometheus: ",
             kHash2y, "\n"),
      "/etc/jailwarden/web.yml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->tls.has_value());
  EXPECT_EQ(c->tls->cert_file, "/etc/jailwarden/server.crt");
  EXPECT_EQ(c->tls->key_file, "/etc/keys/server.key");
  EXPECT_EQ(c->tls->client_ca_file, "/etc/jailwarden/ca.pem");
  EXPECT_EQ(c->tls->client_auth_type, "RequireAndVerifyClientCert");
  EXPECT_EQ(c->tls->min_version, "TLS13");
  ASSERT_EQ(c->basic_auth_users.size(), 1u);
  EXPECT_EQ(c->basic_auth_users.at("prometheus"), kHash2y);
  absl::StatusOr<WebConfig> empty = ParseWebConfig("", "w.yml");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->tls.has_value());
}

TEST(WebConfigTest, BadFilesAreRefusedWithFileLineColumn) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS9\n",
       "w.yml:4:16: tls_server_config.min_version: 'TLS9' is not one of"},
      {"tls_server_config:\n  cert_file: a\n  keyfile: b\n",
       "w.yml:3:3: unknown key tls_server_config.keyfile"},
      {"tls_server_config:\n  cert_file: a\n", "w.yml:2:3: tls_server_config: cert_file and "
                                               "key_file are both required"},
      {"basic_auth_users:\n  alice: plaintext\n",
       "w.yml:2:10: basic_auth_users.alice: expected a bcrypt hash"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: "
       "VerifyClientCertIfGiven\n",
       "needs client_ca_file"},
      {"http_server_config:\n  http2: false\n", "w.yml:1:1: http_server_config: not supported"},
      {"basic_auth_users: [\n", "w.yml:"},
      {"listen: 1\n", "w.yml:1:1: unknown key listen"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<WebConfig> r = ParseWebConfig(c.text, "w.yml");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(BasicAuthTest, BcryptHashesOfBothSpellingsVerify) {
  EXPECT_TRUE(BcryptMatches("s3cret", kHash2b));
  EXPECT_TRUE(BcryptMatches("s3cret", kHash2y));
  EXPECT_FALSE(BcryptMatches("s3cret!", kHash2y));
  EXPECT_FALSE(BcryptMatches("s3cret", "not a hash"));
  BasicAuthChecker checker(std::map<std::string, std::string>{{"prometheus", kHash2y}});
  // base64("prometheus:s3cret") and base64("prometheus:wrong").
  EXPECT_TRUE(checker.Check("Basic cHJvbWV0aGV1czpzM2NyZXQ="));
  EXPECT_TRUE(checker.Check("Basic cHJvbWV0aGV1czpzM2NyZXQ="));  // remembered
  EXPECT_FALSE(checker.Check("Basic cHJvbWV0aGV1czp3cm9uZw=="));
  EXPECT_FALSE(checker.Check("Basic !!!"));
  EXPECT_FALSE(checker.Check("Bearer cHJvbWV0aGV1czpzM2NyZXQ="));
  // base64("alice:s3cret"): an unknown user.
  EXPECT_FALSE(checker.Check("Basic YWxpY2U6czNjcmV0"));
}

// `openssl s_server -www` with the key pair in `dir`: a real TLS server
// the client's pinning and CA checks run against. Killed by pid.
class OpensslServer {
 public:
  explicit OpensslServer(const SelfSignedFiles& f) {
    // A free port: bind 0, note it, close (s_server binds it next).
    const int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    close(probe);
    const std::string accept = StrCat("127.0.0.1:", port_);
    pid_ = fork();
    if (pid_ == 0) {
      const int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execlp("openssl", "openssl", "s_server", "-accept", accept.c_str(), "-cert",
             f.cert_file.c_str(), "-key", f.key_file.c_str(), "-www", "-quiet",
             static_cast<char*>(nullptr));
      _exit(127);
    }
    // Ready once it accepts (at most 10 s).
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      a.sin_port = htons(static_cast<uint16_t>(port_));
      const bool up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
      close(fd);
      if (up) {
        ready_ = true;
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  ~OpensslServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  bool ready_ = false;
};

class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    absl::StatusOr<SelfSignedFiles> own = LoadOrCreateSelfSigned(dir_ + "/tls");
    ASSERT_TRUE(own.ok()) << own.status();
    own_ = *own;
    daemon_.AddJail("web", "running", 3);
  }
  void TearDown() override {
    server_.reset();
    RemoveTree(dir_);
  }

  void Start(ApiServerOptions o = {}) {
    o.http.listen = {"127.0.0.1:0"};
    o.router.token = kToken;
    absl::StatusOr<std::unique_ptr<ApiServer>> s = ApiServer::Start(daemon_, o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    port_ = server_->ports()[0];
  }

  Client MakeClient(std::string token = kToken) {
    ClientOptions o;
    o.server = StrCat("http://127.0.0.1:", port_);
    o.token = std::move(token);
    o.timeout = absl::Seconds(10);
    return Client(o);
  }

  std::string dir_;
  SelfSignedFiles own_;
  testing::FakeDaemon daemon_;
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
};

// The client's TLS against a real TLS server: the right pin (or the
// certificate as CA) gets an answer, another key's pin is refused in the
// handshake.
TEST_F(ListenerTest, PinnedClientAcceptsOnlyThePinnedKey) {
  OpensslServer tls(own_);
  ASSERT_TRUE(tls.ready());
  ClientOptions o;
  o.server = StrCat("https://127.0.0.1:", tls.port());
  o.timeout = absl::Seconds(5);
  o.pin = own_.pin;
  absl::StatusOr<HttpResponse> r = Client(o).Do("GET", "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  o.pin.clear();
  o.ca_file = own_.cert_file;  // self-signed, names 127.0.0.1
  r = Client(o).Do("GET", "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  absl::StatusOr<SelfSignedFiles> other = LoadOrCreateSelfSigned(dir_ + "/other");
  ASSERT_TRUE(other.ok());
  o.ca_file.clear();
  o.pin = other->pin;
  o.token = kToken;
  absl::Status s = Client(o).JailAction("web", "stop").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("pin mismatch"));
  // No pin and no CA: the system's CAs refuse the self-signed key.
  o.pin.clear();
  EXPECT_FALSE(Client(o).JailAction("web", "stop").ok());
}

// A plain TCP squatter on the port the CLI uses sees a TLS ClientHello and
// nothing else: neither the token nor the request line.
TEST_F(ListenerTest, SquatterNeverSeesTheToken) {
  Squatter squatter;
  port_ = squatter.port();
  ClientOptions o;
  o.server = StrCat("https://127.0.0.1:", port_);
  o.token = kToken;
  o.pin = own_.pin;
  o.timeout = absl::Seconds(2);
  o.connect_timeout = absl::Seconds(2);
  o.max_time = absl::Seconds(3);
  absl::Status s = Client(o).JailAction("web", "stop").status();
  EXPECT_FALSE(s.ok());
  const std::string seen = squatter.seen();
  EXPECT_FALSE(seen.empty());  // it did connect
  EXPECT_THAT(seen, Not(HasSubstr(kToken)));
  EXPECT_THAT(seen, Not(HasSubstr("Authorization")));
  EXPECT_THAT(seen, Not(HasSubstr("/v1/")));
  // A client told to pin must not fall back to plain HTTP.
  o.server = StrCat("http://127.0.0.1:", port_);
  absl::Status plain = Client(o).JailAction("web", "stop").status();
  EXPECT_EQ(plain.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(squatter.seen(), Not(HasSubstr(kToken)));
}

TEST_F(ListenerTest, PublicReadsOpenLoopbackGetsOnly) {
  ApiServerOptions o;
  o.router.public_reads = true;
  Start(o);
  EXPECT_TRUE(MakeClient("").ListJails().ok());
  EXPECT_EQ(MakeClient("").JailAction("web", "stop").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(ListenerTest, BasicAuthGuardsEverythingABearerDoesNot) {
  ApiServerOptions o;
  o.basic_auth_users = {{"prometheus", kHash2y}};
  Start(o);
  absl::StatusOr<HttpResponse> r = MakeClient("").Do("GET", "/healthz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(server_->rejected()->Get(RejectReason::kBasicAuth), 1u);
  // The bearer token is a credential of its own.
  r = MakeClient().Do("GET", "/v1/status");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  // curl with --user prometheus:s3cret.
  const std::string cmd =
      StrCat("curl -s -o /dev/null -w '%{http_code}' --user prometheus:s3cret "
             "http://127.0.0.1:", port_, "/healthz");
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[16] = {};
  const std::size_t n = fread(buf, 1, sizeof(buf) - 1, p);
  pclose(p);
  EXPECT_EQ(std::string(buf, n), "200");
}

// Connections held by one peer (two event streams here; a jail sharing
// the host's network can hold any kind) make its further anonymous
// requests 429, counted; health checks and the token still get through.
// Connections that never send a request are counted when they close.
TEST_F(ListenerTest, PeerConnectionBudgetAndCounters) {
  ApiServerOptions o;
  o.max_connections_per_peer = 2;
  o.http.io_timeout = absl::Seconds(2);
  Start(o);
  std::vector<std::thread> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back([this] {
      (void)MakeClient().Do("GET", "/v1/events?max=1&timeout_ms=3000");
    });
  }
  // Until both streams are counted (bounded by their 3 s).
  int status = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  while (absl::Now() < deadline) {
    absl::StatusOr<HttpResponse> r = MakeClient("").Do("GET", "/v1/status");
    ASSERT_TRUE(r.ok()) << r.status();
    status = r->status;
    if (status == 429) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(status, 429);
  EXPECT_GE(server_->rejected()->Get(RejectReason::kPeerConnections), 1u);
  absl::StatusOr<HttpResponse> health = MakeClient("").Do("GET", "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  absl::StatusOr<HttpResponse> with_token = MakeClient().Do("GET", "/v1/status");
  ASSERT_TRUE(with_token.ok());
  EXPECT_EQ(with_token->status, 200);
  daemon_.Events().Append("!system=RCTL subsystem=rule type=matched rule=end");
  for (std::thread& t : held) t.join();

  for (int i = 0; i < 3; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    close(fd);
  }
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (server_->rejected()->Get(RejectReason::kNoRequest) < 3 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(server_->rejected()->Get(RejectReason::kNoRequest), 3u);
}

// Two streams of one peer at once with a budget of one: one is served,
// the other refused with 429 and counted.
TEST_F(ListenerTest, PeerStreamBudget) {
  ApiServerOptions o;
  o.router.max_streams_per_peer = 1;
  Start(o);
  std::atomic<int> statuses[2] = {0, 0};
  std::vector<std::thread> streams;
  for (int i = 0; i < 2; ++i) {
    streams.emplace_back([this, &statuses, i] {
      absl::StatusOr<HttpResponse> r =
          MakeClient().Do("GET", "/v1/events?max=1&timeout_ms=2000");
      statuses[i] = r.ok() ? r->status : -1;
    });
  }
  for (std::thread& t : streams) t.join();
  EXPECT_THAT((std::vector<int>{statuses[0], statuses[1]}),
              ::testing::UnorderedElementsAre(200, 429));
  EXPECT_EQ(server_->rejected()->Get(RejectReason::kPeerStreams), 1u);
}

}  // namespace
}  // namespace jailwarden::api
