// Issue 17: the daemon serves each jail's main-process record (`command:`)
// from what its maintenance pass read, so `list`, GET /v1/jails/NAME and a
// /metrics scrape do not make a round trip to the jail's supervisor (on
// Linux a socket to jailwarden-init; a jail's root controls how fast that
// answers). Over the scripted platform, whose supervisor counts the round
// trips.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "fakes/fake_jail_runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/service/daemon.h"
#include "service/fake_host_backend.h"

namespace jailwarden::service {
namespace {

using ::testing::HasSubstr;
using testing_support::FakeHostBackend;

constexpr char kPolicy[] = R"(server:
  state_dir: STATE
  api_socket: ""
jails:
  web:
    path: /srv/web
    persist: true
    command: [httpd, -f]
  db:
    path: /srv/db
    persist: true
)";

std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "socket failed";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "connect failed";
  }
  const std::string req = StrCat("GET ", path, " HTTP/1.0\r\n\r\n");
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "write failed";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return out;
}

class MainStatusCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/jw-maincache-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    state_ = dir;
  }
  void TearDown() override {
    daemon_.reset();
    (void)std::system(StrCat("rm -rf '", state_, "'").c_str());
  }
  void Start(absl::Duration maintenance, bool http) {
    std::string text = kPolicy;
    text.replace(text.find("STATE"), 5, state_);
    absl::StatusOr<policy::Policy> p = policy::LoadPolicyText(text, "test.yaml");
    ASSERT_TRUE(p.ok()) << p.status();
    auto backend = std::make_unique<FakeHostBackend>();
    host_ = backend.get();
    DaemonOptions o;
    o.serve_http = http;
    if (http) o.listen = {"127.0.0.1:0"};
    o.run_sampler = false;
    o.maintenance_interval = maintenance;
    // web's command: gets a jailwarden-logd, which outlives a daemon that
    // leaves its jails running (and would hold the test's stderr open).
    o.stop_jails_on_exit = true;
    absl::StatusOr<std::unique_ptr<Daemon>> d = Daemon::Start(o, *std::move(p), std::move(backend));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = *std::move(d);
  }
  std::optional<platform::MainProcessStatus> WebMain() {
    for (const api::JailInfo& j : daemon_->ListJails()) {
      if (j.name == "web") return j.main;
    }
    return std::nullopt;
  }

  std::string state_;
  FakeHostBackend* host_ = nullptr;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(MainStatusCacheTest, ListAndGetDoNotAskTheSupervisorAgain) {
  Start(absl::Hours(1), false);  // no maintenance pass during the test
  EXPECT_THAT(host_->runtime_ptr_->Log(), ::testing::Contains("start-main web"));
  const int before = host_->runtime_ptr_->MainStatusCalls();
  // The first look at this run reads it once...
  std::optional<platform::MainProcessStatus> m = WebMain();
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->running);
  EXPECT_EQ(host_->runtime_ptr_->MainStatusCalls(), before + 1);
  // ... and no list or get after it talks to the supervisor.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(WebMain().has_value());
    absl::StatusOr<api::JailInfo> info = daemon_->GetJail("web");
    ASSERT_TRUE(info.ok());
    ASSERT_TRUE(info->main.has_value());
    absl::StatusOr<api::JailInfo> db = daemon_->GetJail("db");
    ASSERT_TRUE(db.ok());
    EXPECT_FALSE(db->main.has_value());  // no command:, nothing asked
  }
  EXPECT_EQ(host_->runtime_ptr_->MainStatusCalls(), before + 1);
}

TEST_F(MainStatusCacheTest, TheMaintenancePassRefreshesWhatListShows) {
  Start(absl::Milliseconds(50), false);
  platform::MainProcessStatus exited;
  exited.configured = true;
  exited.running = true;
  exited.starts = 3;
  exited.restarts = 2;
  exited.exited = true;
  exited.exit_code = 7;
  exited.exit_time = absl::Now();
  host_->runtime_ptr_->SetMain("web", exited);
  std::optional<platform::MainProcessStatus> m;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    m = WebMain();
    if (m.has_value() && m->restarts == 2) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->restarts, 2);
  EXPECT_EQ(m->exit_code, 7);
  // The pass read it once per pass, not once per list: far fewer round
  // trips than the lists above made.
  const int calls = host_->runtime_ptr_->MainStatusCalls();
  for (int i = 0; i < 200; ++i) (void)WebMain();
  EXPECT_LT(host_->runtime_ptr_->MainStatusCalls() - calls, 50);
}

TEST_F(MainStatusCacheTest, AScrapeDoesNotAskTheSupervisor) {
  Start(absl::Hours(1), true);
  ASSERT_FALSE(daemon_->ports().empty());
  const int port = daemon_->ports().front();
  const std::string first = HttpGet(port, "/metrics");
  EXPECT_THAT(first, HasSubstr("jailwarden_jail_main_running{name=\"web\"} 1"));
  const int after_first = host_->runtime_ptr_->MainStatusCalls();
  for (int i = 0; i < 10; ++i) {
    EXPECT_THAT(HttpGet(port, "/metrics"),
                HasSubstr("jailwarden_jail_main_restarts_total{name=\"web\"} 0"));
  }
  EXPECT_EQ(host_->runtime_ptr_->MainStatusCalls(), after_first);
}

// Issue 13: a scrape reports each jail's isolation layers from a cache
// that is read at most once per run every 10 s, not once per scrape.
TEST_F(MainStatusCacheTest, AScrapeReadsIsolationOncePerRun) {
  Start(absl::Hours(1), true);
  ASSERT_FALSE(daemon_->ports().empty());
  const int port = daemon_->ports().front();
  const int before = host_->runtime_ptr_->IsolationCalls();
  for (int i = 0; i < 10; ++i) {
    EXPECT_THAT(HttpGet(port, "/metrics"),
                HasSubstr("jailwarden_jail_isolation{name=\"web\",layer=\"seccomp\"} 1"));
  }
  // web and db run: one read each, for all ten scrapes.
  EXPECT_EQ(host_->runtime_ptr_->IsolationCalls() - before, 2);
}

}  // namespace
}  // namespace jailwarden::service
