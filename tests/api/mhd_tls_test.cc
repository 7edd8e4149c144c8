// The TLS listeners' client certificates (client_auth_type, client_ca_file)
// and lowest version (min_version), against certificates a test CA made
// with the openssl CLI and the curl CLI as the client.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "jailwarden/api/mhd_server.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

// Runs `cmd` through sh; its stdout and exit status.
struct Ran {
  int status = -1;
  std::string out;
};

Ran Shell(const std::string& cmd) {
  Ran r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) r.out += buf;
  const int w = pclose(p);
  r.status = WIFEXITED(w) ? WEXITSTATUS(w) : -1;
  return r;
}

bool HaveTools() {
  return Shell("command -v openssl >/dev/null && command -v curl >/dev/null").status == 0;
}

void Handle(const HttpRequest& req, ResponseWriter& out) {
  out.Send(200, "text/plain", StrCat("served ", req.path, "\n"));
}

class MhdTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/jw_mhd_tls_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = new std::string(tmpl);
    if (!HaveTools()) return;
    // Two CAs; the server's certificate and one client's from the first,
    // a client from the second (the wrong CA).
    const std::string d = *dir_;
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    std::ofstream(d + "/srv.ext") << "subjectAltName=IP:127.0.0.1\n";
    std::ofstream(d + "/cli.ext") << "extendedKeyUsage=clientAuth\n";
    const std::string script = StrCat(
        "set -e; cd '", d, "'; ",
        "for ca in ca other; do openssl req -x509 ", ec, " -keyout $ca.key -out $ca.crt ",
        "-subj /CN=$ca -days 2 -addext basicConstraints=critical,CA:TRUE ",
        "-addext keyUsage=critical,keyCertSign 2>/dev/null; done; ",
        "openssl req ", ec, " -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null; ",
        "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 ",
        "-extfile srv.ext -out srv.crt 2>/dev/null; ",
        "for c in ca other; do openssl req ", ec, " -keyout cli-$c.key -out cli-$c.csr ",
        "-subj /CN=client-$c 2>/dev/null; openssl x509 -req -in cli-$c.csr -CA $c.crt ",
        "-CAkey $c.key -CAcreateserial -days 2 -extfile cli.ext -out cli-$c.crt 2>/dev/null; ",
        "done");
    made_ = Shell(script).status == 0;
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr && dir_->size() > 5) (void)Shell(StrCat("rm -rf '", *dir_, "'"));
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!HaveTools()) {
      if (std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true") {
        FAIL() << "openssl and curl are needed (scripts/install-deps.sh)";
      }
      GTEST_SKIP() << "SKIPPED: openssl or curl not installed (scripts/install-deps.sh)";
    }
    ASSERT_TRUE(made_) << "openssl could not make the test certificates in " << *dir_;
  }

  MhdListener Tls(std::string auth, std::string ca, std::string min = "TLS12") {
    MhdListener l;
    l.address = "127.0.0.1:0";
    l.cert_file = *dir_ + "/srv.crt";
    l.key_file = *dir_ + "/srv.key";
    l.client_auth_type = std::move(auth);
    l.client_ca_file = ca.empty() ? "" : StrCat(*dir_, "/", ca);
    l.min_version = std::move(min);
    return l;
  }

  void Start(MhdListener l) {
    MhdServerOptions o;
    o.listeners = {std::move(l)};
    o.io_timeout = absl::Seconds(10);
    o.rejected = rejected_;
    absl::StatusOr<std::unique_ptr<MhdServer>> s = MhdServer::Start(o, Handle);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }

  // curl's "%{http_code}" for GET /metrics ("000" when no HTTP answer came)
  // with the client certificate `client` ("" for none) and extra flags.
  std::string Get(const std::string& client, const std::string& flags = "") {
    std::string cmd = StrCat("curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert '",
                             *dir_, "/ca.crt' ", flags);
    if (!client.empty()) {
      cmd += StrCat(" --cert '", *dir_, "/cli-", client, ".crt' --key '", *dir_, "/cli-",
                    client, ".key'");
    }
    cmd += StrCat(" https://127.0.0.1:", server_->ports()[0], "/metrics");
    return Shell(cmd).out;
  }

  static std::string* dir_;
  static bool made_;
  std::shared_ptr<RejectCounters> rejected_ = std::make_shared<RejectCounters>();
  std::unique_ptr<MhdServer> server_;
};

std::string* MhdTlsTest::dir_ = nullptr;
bool MhdTlsTest::made_ = false;

TEST_F(MhdTlsTest, RequireAndVerifyServesTheCasClientsOnly) {
  Start(Tls("RequireAndVerifyClientCert", "ca.crt"));
  EXPECT_EQ(Get("ca"), "200");
  EXPECT_EQ(Get("other"), "403") << "a client certificate from another CA";
  EXPECT_EQ(Get(""), "403") << "no client certificate";
  EXPECT_EQ(rejected_->Get(RejectReason::kUnauthenticated), 2u);
}

TEST_F(MhdTlsTest, VerifyIfGivenServesWithoutButRefusesAWrongOne) {
  Start(Tls("VerifyClientCertIfGiven", "ca.crt"));
  EXPECT_EQ(Get(""), "200");
  EXPECT_EQ(Get("ca"), "200");
  EXPECT_EQ(Get("other"), "403");
}

TEST_F(MhdTlsTest, RequireAnyNeedsACertificateButDoesNotVerifyIt) {
  Start(Tls("RequireAnyClientCert", ""));
  EXPECT_EQ(Get("other"), "200");
  EXPECT_EQ(Get(""), "403");
}

TEST_F(MhdTlsTest, NoClientCertServesEveryone) {
  Start(Tls("NoClientCert", ""));
  EXPECT_EQ(Get(""), "200");
  EXPECT_EQ(Get("other"), "200");
}

TEST_F(MhdTlsTest, MinVersionTls13RefusesATls12Client) {
  Start(Tls("NoClientCert", "", "TLS13"));
  EXPECT_EQ(Get("", "--tls-max 1.2"), "000") << "the handshake must fail";
  EXPECT_EQ(Get("", "--tlsv1.3"), "200");
  server_.reset();
  Start(Tls("NoClientCert", "", "TLS12"));
  EXPECT_EQ(Get("", "--tls-max 1.2"), "200") << "TLS12 takes a TLS 1.2 client";
}

TEST_F(MhdTlsTest, BadSettingsAreRefusedAtStart) {
  struct Case {
    MhdListener listener;
    std::string expect;
  };
  MhdListener plain;
  plain.address = "127.0.0.1:0";
  plain.client_auth_type = "RequireAnyClientCert";
  std::vector<Case> cases = {
      {Tls("RequireAndVerifyClientCert", ""), "needs client_ca_file"},
      {Tls("VerifyClientCertIfGiven", ""), "needs client_ca_file"},
      {Tls("RequireSomething", "ca.crt"), "client_auth_type 'RequireSomething'"},
      {Tls("NoClientCert", "", "TLS14"), "min_version 'TLS14'"},
      {Tls("RequireAndVerifyClientCert", "srv.ext"), "holds no PEM certificate"},
      {Tls("RequireAndVerifyClientCert", "missing.crt"), "missing.crt"},
      {plain, "client certificates need TLS"},
  };
  for (Case& c : cases) {
    SCOPED_TRACE(c.expect);
    MhdServerOptions o;
    o.listeners = {c.listener};
    absl::StatusOr<std::unique_ptr<MhdServer>> s = MhdServer::Start(o, Handle);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
    EXPECT_NE(std::string(s.status().message()).find(c.expect), std::string::npos)
        << s.status();
  }
}

}  // namespace
}  // namespace jailwarden::api
