// Root-only: the admin unix socket against a real `jailwarden serve` and
// CLI (issues 13 and 19; docs/api-security.md).
//  - The CLI with no address given goes to the socket (no token read or
//    sent). While the daemon is down, a process squatting the daemon's TCP
//    port receives no bearer token from `jailwarden list`: the CLI fails
//    instead (socket gone, or stale after a crash).
//  - A jail sharing the host's network cannot reach the socket: its mount
//    namespace has neither the socket's directory nor /run/jailwarden, and
//    /proc/<pid>/root tricks from inside the jail lead back into the jail.
//  - server.tls: the TCP listener speaks TLS with the daemon's own key:
//    curl and the CLI with --cacert / --pin are served, and a real
//    Prometheus (scheme: https, tls_config.ca_file) scrapes it: up == 1.

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"
#include "helpers/serve.h"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kCli = std::string(JW_BINARY_DIR) + "/src/jailwarden";

std::string Quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

// Listens on 127.0.0.1:port and records every byte any client sends,
// until destroyed (at most 30 s).
class Squatter {
 public:
  explicit Squatter(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && listen(fd_, 16) == 0;
    thread_ = std::thread([this] { Run(); });
  }
  ~Squatter() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  bool ok() const { return ok_; }
  std::string received() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  int connections() const { return connections_.load(); }

 private:
  void Run() {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::vector<int> clients;
    while (!stop_ && absl::Now() < deadline) {
      std::vector<pollfd> p = {{fd_, POLLIN, 0}};
      for (int c : clients) p.push_back({c, POLLIN, 0});
      if (poll(p.data(), p.size(), 100) <= 0) continue;
      if (p[0].revents & POLLIN) {
        const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          clients.push_back(c);
          ++connections_;
        }
      }
      for (std::size_t i = 1; i < p.size(); ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
        char buf[4096];
        const ssize_t r = read(p[i].fd, buf, sizeof(buf));
        if (r > 0) {
          std::lock_guard<std::mutex> lock(mu_);
          got_.append(buf, static_cast<std::size_t>(r));
        }
      }
    }
    for (int c : clients) close(c);
  }

  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::string got_;
  std::thread thread_;
};

class ApiSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ASSERT_TRUE(PathExists(kCli)) << kCli;
    top_ = MakeTempDir("jw-it-sock");
    sock_dir_ = top_ + "/run";
    sock_ = sock_dir_ + "/api.sock";
    config_ = top_ + "/policy.yaml";
    port_ = FreePort();
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    StopServe();
    RemoveTree(top_);
  }

  void WritePolicy(const std::string& jails, const std::string& server_extra = "") {
    WriteText(config_, absl::StrCat("server:\n  listen: 127.0.0.1:", port_,
                                    "\n  api_socket: ", sock_, "\n  state_dir: ", top_,
                                    "/state\n", server_extra, "templates:\n  t:\n    base: ", BusyboxBase(),
                                    "\n    persist: true\n    stop.timeout: 2s\n", jails));
  }

  // `jailwarden serve` on the policy's addresses; waits (60 s at most)
  // until the socket answers.
  bool StartServe() {
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<std::string> args = {kCli, "serve", "--config", config_,
                                       "--log-file", top_ + "/serve.log",
                                       "--stop-jails-on-exit"};
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(kCli.c_str(), argv.data());
      _exit(127);
    }
    return WaitUntilReady(
        pid_, [&] { return Cli("status", "").exit_code == 0; }, absl::Seconds(60),
        absl::Milliseconds(200));
  }

  void StopServe() { TerminateChild(pid_); }

  // The CLI as an admin runs it: only the policy, no address, no token.
  ShellResult Cli(const std::string& verb, const std::string& args) {
    return HostShell(absl::StrCat("env -u JAILWARDEN_SERVER -u JAILWARDEN_TOKEN ", kCli, " ",
                                  verb, " --config ", Quoted(config_), " ", args, " 2>&1"));
  }

  std::string log() const { return ReadText(top_ + "/serve.log"); }

  std::string top_, sock_dir_, sock_, config_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(ApiSocketTest, SquatterOnTheTcpPortNeverGetsTheToken) {
  WritePolicy("jails: {}\n");
  ASSERT_TRUE(StartServe()) << log();
  // Served through the socket.
  ShellResult list = Cli("list", "");
  EXPECT_EQ(list.exit_code, 0) << list.out;
  const std::string token = ReadText(top_ + "/state/token");
  ASSERT_GE(token.size(), 16u) << "the daemon writes its token";
  StopServe();
  EXPECT_FALSE(PathExists(sock_)) << "serve removes its socket on exit";

  Squatter squatter(port_);
  ASSERT_TRUE(squatter.ok());
  // Daemon down, socket gone: the CLI refuses to send the token to the
  // plain-http port.
  ShellResult down = Cli("list", "");
  EXPECT_NE(down.exit_code, 0) << down.out;
  EXPECT_THAT(down.out, HasSubstr("not sending the token")) << down.out;
  // Daemon crashed, stale socket left: the CLI goes to the socket and fails.
  {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, sock_.c_str(), sizeof(a.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    close(fd);
  }
  ShellResult stale = Cli("list", "");
  EXPECT_NE(stale.exit_code, 0) << stale.out;
  absl::SleepFor(absl::Milliseconds(300));  // what was sent has arrived
  const std::string got = squatter.received();
  EXPECT_THAT(got, Not(HasSubstr(std::string(absl::StripAsciiWhitespace(token)))));
  EXPECT_THAT(got, Not(HasSubstr("Authorization")));
  EXPECT_EQ(squatter.connections(), 0) << got;
}

constexpr char kProbeJail[] = R"(jails:
  probe:
    template: t
    ip4: inherit
    exec.start: "sleep 100000 </dev/null >/dev/null 2>&1 &"
)";

TEST_F(ApiSocketTest, JailCannotReachTheSocket) {
  WritePolicy(kProbeJail);
  ASSERT_TRUE(StartServe()) << log();
  ShellResult ls = Cli("exec", "probe -- ls /run/jailwarden");
  EXPECT_NE(ls.exit_code, 0) << ls.out;
  // Hostile root in the jail: the host path, the default directory, and
  // every /proc/<pid>/root and /proc/self/root it can see.
  const std::string script = absl::StrCat(
      "for p in ", sock_dir_, " /run/jailwarden /proc/self/root", sock_dir_, " /proc/1/root",
      sock_dir_, " /proc/1/root/run/jailwarden; do ls -la $p/ >/dev/null 2>&1 && echo REACHED:$p; done; ",
      "for d in /proc/[0-9]*; do ls $d/root", sock_dir_, "/ >/dev/null 2>&1 && echo REACHED:$d; ",
      "ls $d/cwd", sock_dir_, "/ >/dev/null 2>&1 && echo REACHED:$d/cwd; done; ",
      "cd /; for i in 1 2 3 4 5 6 7 8; do cd ..; done; ls ", sock_dir_,
      " >/dev/null 2>&1 && echo REACHED:dotdot; echo probe-done");
  ShellResult probe = Cli("exec", absl::StrCat("probe -- /bin/sh -c ", Quoted(script)));
  EXPECT_THAT(probe.out, HasSubstr("probe-done")) << probe.out << log();
  EXPECT_THAT(probe.out, Not(HasSubstr("REACHED"))) << probe.out;
  // The host admin still is served through it.
  EXPECT_EQ(Cli("list", "").exit_code, 0);
}

TEST_F(ApiSocketTest, TlsListenerServesCurlCliAndPrometheus) {
  WritePolicy("jails: {}\n", "  tls: true\n");
  ASSERT_TRUE(StartServe()) << log();
  const std::string cert = top_ + "/state/api-tls/cert.pem";
  const std::string pin = std::string(absl::StripAsciiWhitespace(ReadText(top_ + "/state/api-tls/pin")));
  ASSERT_TRUE(PathExists(cert)) << log();
  // One TCP listener, the TLS one: nothing plain on the side.
  ShellResult tcp = HostShell(absl::StrCat("ss -Htlnp | grep -c 'pid=", pid_, ",'"));
  EXPECT_EQ(absl::StripAsciiWhitespace(tcp.out), "1") << HostShell("ss -Htlnp").out;
  const std::string base = absl::StrCat("https://127.0.0.1:", port_);
  // curl with the daemon's certificate as CA; without it, refused.
  ShellResult ok = HostShell(absl::StrCat("curl -sS -m 5 --cacert ", cert,
                                          " -o /dev/null -w '%{http_code}' ", base, "/healthz"));
  EXPECT_EQ(ok.out, "200");
  ShellResult untrusted = HostShell(absl::StrCat("curl -sS -m 5 -o /dev/null ", base,
                                                 "/healthz 2>&1; echo rc=$?"));
  EXPECT_THAT(untrusted.out, Not(HasSubstr("rc=0"))) << untrusted.out;
  // Plain http on the TLS port gets nothing useful.
  ShellResult plain = HostShell(absl::StrCat("curl -sS -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:",
                                             port_, "/healthz 2>&1"));
  EXPECT_THAT(plain.out, Not(HasSubstr("200"))) << plain.out;
  // The CLI by CA and by pin.
  EXPECT_EQ(Cli("list", absl::StrCat("--server ", base, " --cacert ", cert)).exit_code, 0);
  EXPECT_EQ(Cli("list", absl::StrCat("--server ", base, " --pin ", pin)).exit_code, 0);
  ShellResult wrong = Cli("list", absl::StrCat("--server ", base,
                                              " --pin sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
  EXPECT_NE(wrong.exit_code, 0) << wrong.out;
  EXPECT_THAT(wrong.out, HasSubstr("pin mismatch")) << wrong.out;

  if (!PathExists("/usr/bin/prometheus")) GTEST_SKIP() << "no /usr/bin/prometheus (apt-get install prometheus)";
  const int prom_port = FreePort();
  const std::string prom_dir = top_ + "/prom";
  WriteText(top_ + "/prometheus.yml",
            absl::StrCat("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                         "scrape_configs:\n  - job_name: jailwarden\n    scheme: https\n"
                         "    tls_config:\n      ca_file: ", cert, "\n"
                         "    static_configs:\n      - targets: ['127.0.0.1:", port_, "']\n"));
  ShellResult check = HostShell(absl::StrCat("promtool check config ", top_, "/prometheus.yml 2>&1; echo rc=$?"));
  ASSERT_THAT(check.out, HasSubstr("rc=0")) << check.out;
  const pid_t prom = fork();
  if (prom == 0) {
    const std::string log_file = top_ + "/prometheus.log";
    (void)!freopen(log_file.c_str(), "w", stderr);
    execl("/usr/bin/prometheus", "prometheus",
          ("--config.file=" + top_ + "/prometheus.yml").c_str(),
          ("--storage.tsdb.path=" + prom_dir).c_str(),
          ("--web.listen-address=127.0.0.1:" + std::to_string(prom_port)).c_str(), nullptr);
    _exit(127);
  }
  ASSERT_GT(prom, 0);
  std::string up;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    up = HostShell(absl::StrCat("curl -sS -m 2 'http://127.0.0.1:", prom_port,
                                "/api/v1/query?query=up%7Bjob%3D%22jailwarden%22%7D' 2>&1"))
             .out;
    if (up.find("\"1\"]") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  kill(prom, SIGTERM);
  int st = 0;
  const absl::Time prom_deadline = absl::Now() + absl::Seconds(30);
  while (waitpid(prom, &st, WNOHANG) != prom && absl::Now() < prom_deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (absl::Now() >= prom_deadline) {
    kill(prom, SIGKILL);
    waitpid(prom, &st, 0);
  }
  EXPECT_THAT(up, HasSubstr("\"1\"]")) << up << "\n" << ReadText(top_ + "/prometheus.log");
}

}  // namespace
}  // namespace jailwarden::testing
