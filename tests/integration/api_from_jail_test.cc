// Root-only: the API as a hostile jail that shares the host's network
// (`ip4: inherit`) sees it, against a real `jailwarden serve` on
// 127.0.0.1 (issue 13, item 6; docs/api-security.md). From inside the jail
// (busybox wget/nc): the jail reaches the listener (/healthz answers) but
// cannot read a spec; its idle connections and event-stream attempts do not
// stop /healthz and /metrics answering within a deadline, and the refusals
// show on /metrics. Also: web-config basic auth on /metrics with promtool
// on the output, and a web config naming a missing certificate refused at
// start. The squatting attack: api_socket_squat_test.cc.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
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

class ApiFromJailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ASSERT_TRUE(PathExists(kJailwarden)) << kJailwarden;
    ASSERT_FALSE(BusyboxBase().empty());
    top_ = MakeTempDir("jw-it-api");
    state_ = top_ + "/state";
    config_ = top_ + "/policy.yaml";
  }
  void TearDown() override {
    serve_.reset();
    RemoveTree(top_);
  }

  void WritePolicy(const std::string& jails, const std::string& server_extra = "") {
    WriteText(config_, absl::StrCat("server:\n  listen: 127.0.0.1:9814\n  api_socket: \"\"\n",
                                    "  state_dir: ", state_, "\n", server_extra,
                                    "templates:\n  t:\n    base: ", BusyboxBase(),
                                    "\n    persist: true\n    stop.timeout: 2s\n", jails));
  }

  // The CLI against the running daemon (token and pin from the policy's
  // state directory, as an admin on the host has them).
  ShellResult Cli(const std::string& verb, const std::string& args, int port) {
    return HostShell(absl::StrCat(kJailwarden, " ", verb, " --config ", Quote(config_),
                                  " --server http://127.0.0.1:", port, " ", args, " 2>&1"));
  }

  // A shell script run inside jail `probe` through the daemon.
  ShellResult InJail(const std::string& script, int port) {
    return Cli("exec", absl::StrCat("probe -- /bin/sh -c ", Quote(script)), port);
  }

  std::string Curl(const std::string& url, const std::string& extra = "") {
    return HostShell(absl::StrCat("curl -sS -m 3 ", extra, " -w '\\n%{http_code}' ", url,
                                  " 2>&1"))
        .out;
  }

  std::string top_, state_, config_;
  std::unique_ptr<Serve> serve_;
};

constexpr char kProbeJail[] = R"(jails:
  probe:
    template: t
    ip4: inherit
    exec.start: "sleep 100000 </dev/null >/dev/null 2>&1 &"
    exec.prepare: "echo secret-prepare-hook"
)";

TEST_F(ApiFromJailTest, InheritedNetworkJailCannotReadOrStarve) {
  WritePolicy(kProbeJail);
  serve_ = std::make_unique<Serve>(top_, config_);
  ASSERT_TRUE(serve_->Start("127.0.0.1:0", true)) << serve_->log();
  const int port = serve_->port();
  const std::string base = absl::StrCat("http://127.0.0.1:", port);

  // The jail reaches the listener: /healthz answers it.
  // (HTTP by hand through busybox nc. Not the seccomp filter: Debian 12's
  // busybox wget dies with -T on the host too; jail_sysfs_wget_test.cc.)
  auto get = [port](const std::string& path) {
    return absl::StrCat("printf 'GET ", path, " HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 ", port,
                        "; echo");
  };
  ShellResult health = InJail(get("/healthz"), port);
  ASSERT_THAT(health.out, HasSubstr("\"status\":\"ok\"")) << health.out << serve_->log();

  // ... but reads no spec (401 without the token).
  ShellResult spec = InJail(absl::StrCat(get("/v1/jails/probe"), "; ", get("/v1/jails")), port);
  EXPECT_THAT(spec.out, HasSubstr("401 Unauthorized")) << spec.out;
  EXPECT_THAT(spec.out, Not(HasSubstr("secret-prepare-hook"))) << spec.out;
  EXPECT_THAT(spec.out, Not(HasSubstr("probe"))) << spec.out;
  // The admin on the host does read it.
  EXPECT_THAT(Cli("list", "--json", port).out, HasSubstr("probe"));

  // 24 idle connections and 8 event-stream attempts from the jail, held
  // for 20 s at most.
  ShellResult flood = InJail(
      absl::StrCat("i=0; while [ $i -lt 24 ]; do setsid sh -c 'sleep 20 | nc 127.0.0.1 ", port,
                   "' </dev/null >/dev/null 2>&1 & i=$((i+1)); done; "
                   "j=0; while [ $j -lt 8 ]; do setsid sh -c \"printf 'GET /v1/events HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 ",
                   port, "\" </dev/null >/dev/null 2>&1 & j=$((j+1)); done; echo started"),
      port);
  ASSERT_THAT(flood.out, HasSubstr("started")) << flood.out;
  // Until the jail's 24 connections are open (bounded).
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (absl::Now() < until &&
         std::stoi("0" + HostShell(absl::StrCat("ss -Htn state established 'dport = :", port,
                                                "' | wc -l"))
                             .out) < 24) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (const char* path : {"/healthz", "/metrics"}) {
    const absl::Time t0 = absl::Now();
    const std::string out = Curl(base + path);
    EXPECT_THAT(out, ::testing::EndsWith("\n200")) << path << ": " << out;
    EXPECT_LT(absl::Now() - t0, absl::Seconds(3)) << path;
  }
  // The CLI with the token is served as well.
  ShellResult list = Cli("list", "", port);
  EXPECT_EQ(list.exit_code, 0) << list.out;
  const std::string metrics = Curl(base + "/metrics");
  EXPECT_THAT(metrics, HasSubstr("jailwarden_api_rejected_total{reason=\"unauthenticated\"}"));
  EXPECT_THAT(metrics,
              Not(HasSubstr("jailwarden_api_rejected_total{reason=\"unauthenticated\"} 0\n")));
}

// web-config basic auth on /metrics; promtool checks what is served; a web
// config asking for TLS is refused at start, naming why.
TEST_F(ApiFromJailTest, WebConfigBasicAuthScrape) {
  const std::string hash = std::string(absl::StripAsciiWhitespace(
      HostShell("python3 -W ignore -c 'import crypt; print(crypt.crypt(\"scrape-pw\", "
                "crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))'")
          .out));
  ASSERT_EQ(hash.substr(0, 4), "$2b$") << hash;
  WriteText(top_ + "/web.yml", absl::StrCat("basic_auth_users:\n  prom: ", hash, "\n"));
  WritePolicy("jails: {}\n");
  serve_ = std::make_unique<Serve>(top_, config_);
  ASSERT_TRUE(serve_->Start("127.0.0.1:0", true, {"--web.config.file", top_ + "/web.yml"}))
      << serve_->log();
  const std::string url = absl::StrCat("http://127.0.0.1:", serve_->port(), "/metrics");
  auto code = [&](const std::string& user) {
    return HostShell(absl::StrCat("curl -sS -m 5 ", user, " -o /dev/null -w '%{http_code}' ",
                                  url))
        .out;
  };
  EXPECT_EQ(code(""), "401");
  EXPECT_EQ(code("--user prom:wrong"), "401");
  EXPECT_EQ(code("--user prom:scrape-pw"), "200");
  if (PathExists("/usr/bin/promtool")) {
    ShellResult check = HostShell(absl::StrCat("curl -sS -m 5 --user prom:scrape-pw ", url,
                                               " | promtool check metrics 2>&1; echo rc=$?"));
    EXPECT_THAT(check.out, HasSubstr("rc=0")) << check.out;
  }
  const std::string metrics =
      HostShell(absl::StrCat("curl -sS -m 5 --user prom:scrape-pw ", url)).out;
  EXPECT_THAT(metrics, HasSubstr("jailwarden_api_rejected_total{reason=\"basic_auth\"} 2"));
  serve_->Stop();

  WriteText(top_ + "/tls.yml",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
  serve_ = std::make_unique<Serve>(top_, config_);
  // TLS is served now (libmicrohttpd); a certificate that is not there is
  // refused at start, naming the file.
  EXPECT_FALSE(serve_->Start("127.0.0.1:0", true, {"--web.config.file", top_ + "/tls.yml"}));
  EXPECT_THAT(serve_->log(), HasSubstr("server.crt"));

  // With the certificate (made here with openssl) and basic auth in one
  // web config: the HTTPS scrape without credentials is refused, with them
  // served, and promtool accepts what comes over TLS.
  ShellResult gen = HostShell(absl::StrCat(
      "cd ", top_, " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 ",
      "-nodes -keyout server.key -out server.crt -subj /CN=127.0.0.1 ",
      "-addext subjectAltName=IP:127.0.0.1 -days 2 2>&1"));
  ASSERT_EQ(gen.exit_code, 0) << gen.out;
  WriteText(top_ + "/tls.yml",
            absl::StrCat("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
                         "basic_auth_users:\n  prom: ", hash, "\n"));
  serve_ = std::make_unique<Serve>(top_, config_);
  ASSERT_TRUE(serve_->Start("127.0.0.1:0", true, {"--web.config.file", top_ + "/tls.yml"}))
      << serve_->log();
  const std::string https = absl::StrCat("https://127.0.0.1:", serve_->port(), "/metrics");
  auto tls_code = [&](const std::string& user) {
    return HostShell(absl::StrCat("curl -sS -m 5 --cacert ", top_, "/server.crt ", user,
                                  " -o /dev/null -w '%{http_code}' ", https))
        .out;
  };
  EXPECT_EQ(tls_code(""), "401");
  EXPECT_EQ(tls_code("--user prom:wrong"), "401");
  EXPECT_EQ(tls_code("--user prom:scrape-pw"), "200");
  if (PathExists("/usr/bin/promtool")) {
    ShellResult check = HostShell(absl::StrCat("curl -sS -m 5 --cacert ", top_,
                                               "/server.crt --user prom:scrape-pw ", https,
                                               " | promtool check metrics 2>&1; echo rc=$?"));
    EXPECT_THAT(check.out, HasSubstr("rc=0")) << check.out;
  }
}

}  // namespace
}  // namespace jailwarden::testing
