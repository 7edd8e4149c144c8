#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/fake_daemon.h"
#include "fakes/snapshot_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/server.h"
#include "jailwarden/api/token.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.AddJail("web", "running", 3);
    daemon_.AddJail("db", "stopped");
    ApiServerOptions options;
    options.http.listen = {"127.0.0.1:0"};
    options.router.token = kToken;
    options.router.max_body_bytes = 1 << 16;
    absl::StatusOr<std::unique_ptr<ApiServer>> s = ApiServer::Start(daemon_, options);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    ASSERT_EQ(server_->ports().size(), 1u);
    url_ = StrCat("http://127.0.0.1:", server_->ports()[0]);
  }

  Client MakeClient(std::string token = kToken) {
    ClientOptions o;
    o.server = url_;
    o.token = std::move(token);
    o.timeout = absl::Seconds(10);
    return Client(o);
  }

  testing::FakeDaemon daemon_;
  std::unique_ptr<ApiServer> server_;
  std::string url_;
};

TEST_F(ApiTest, HealthAndReadiness) {
  Client c = MakeClient("");
  absl::StatusOr<HttpResponse> r = c.Do("GET", "/healthz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("\"status\":\"ok\""));
  r = c.Do("GET", "/readyz");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  daemon_.SetReady(false);
  r = c.Do("GET", "/readyz");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503);
  EXPECT_THAT(r->body, HasSubstr("\"ready\":false"));
}

TEST_F(ApiTest, UnknownRouteIsJson404) {
  absl::StatusOr<HttpResponse> r = MakeClient().Do("GET", "/v1/nothing");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_THAT(r->body, HasSubstr("\"code\":\"NOT_FOUND\""));
  EXPECT_THAT(r->body, HasSubstr("no such endpoint: GET /v1/nothing"));
}

TEST_F(ApiTest, WrongMethodIs405WithAllow) {
  absl::StatusOr<HttpResponse> r = MakeClient().Do("PUT", "/v1/jails", "{}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
  EXPECT_THAT(r->body, HasSubstr("METHOD_NOT_ALLOWED"));
}

TEST_F(ApiTest, ListNeedsTheTokenEvenOnLoopback) {
  absl::StatusOr<std::vector<JailInfo>> none = MakeClient("").ListJails();
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated) << none.status();
  EXPECT_EQ(server_->rejected()->Get(RejectReason::kUnauthenticated), 1u);
  Client c = MakeClient();
  absl::StatusOr<std::vector<JailInfo>> jails = c.ListJails();
  ASSERT_TRUE(jails.ok()) << jails.status();
  ASSERT_EQ(jails->size(), 2u);
  EXPECT_EQ((*jails)[0].name, "db");
  EXPECT_EQ((*jails)[1].name, "web");
  EXPECT_EQ((*jails)[1].jid, 3);
  EXPECT_EQ((*jails)[1].base_root, "/var/lib/jailwarden/base/busybox");
}

TEST_F(ApiTest, StateChangesNeedTheToken) {
  absl::Status none = MakeClient("").JailAction("db", "start").status();
  EXPECT_EQ(none.code(), absl::StatusCode::kUnauthenticated) << none;
  EXPECT_THAT(std::string(none.message()), HasSubstr("Authorization: Bearer"));
  absl::Status wrong = MakeClient("nope").JailAction("db", "start").status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kPermissionDenied) << wrong;
  EXPECT_TRUE(daemon_.calls().empty());
  ASSERT_TRUE(MakeClient().JailAction("db", "start").ok());
  EXPECT_THAT(daemon_.calls(), ::testing::ElementsAre("start db"));
  absl::StatusOr<JailInfo> db = MakeClient().GetJail("db");
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(db->state, "running");
}

TEST_F(ApiTest, UnknownJailIs404WithMessage) {
  absl::Status s = MakeClient().JailAction("ghost", "stop").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("no jail named 'ghost'"));
}

TEST_F(ApiTest, MalformedJsonIs400WithPositionAndChangesNothing) {
  absl::StatusOr<HttpResponse> r =
      MakeClient().Do("POST", "/v1/rules", "{\n  \"rule\": jail:web}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("malformed JSON at line 2, column 11"));
  EXPECT_TRUE(daemon_.rules().empty());
  r = MakeClient().Do("POST", "/v1/jails", "[1,2]");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("must be a JSON object"));
}

TEST_F(ApiTest, OversizedBodyIs413AndChangesNothing) {
  const std::string big = StrCat("{\"rule\": \"jail:web:memoryuse:deny=1\", \"pad\": \"",
                                 std::string(100000, 'x'), "\"}");
  absl::StatusOr<HttpResponse> r = MakeClient().Do("POST", "/v1/rules", big);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 413);
  EXPECT_THAT(r->body, HasSubstr("PAYLOAD_TOO_LARGE"));
  EXPECT_TRUE(daemon_.rules().empty());
}

TEST_F(ApiTest, WrongFieldTypeIs400) {
  absl::StatusOr<HttpResponse> r = MakeClient().Do("POST", "/v1/rules", "{\"rule\": 5}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("field 'rule': expected a string, got number"));
}

// rctl(8)'s output and messages, through HTTP.
int Rctl(Client& c, std::vector<std::string> args, std::string* out, std::string* err) {
  RctlClientBackend backend(c);
  rctl::RctlInvocation inv;
  inv.args = std::move(args);
  inv.program = "jailwarden rctl";
  std::ostringstream o, e;
  const int rc = rctl::RunRctl(inv, backend, o, e);
  *out = o.str();
  *err = e.str();
  return rc;
}

TEST_F(ApiTest, RctlAddListRemoveRoundTrip) {
  Client c = MakeClient();
  std::string out, err;
  EXPECT_EQ(Rctl(c, {"-a", "jail:web:memoryuse:deny=1g", "j:web:maxproc:deny=20"}, &out, &err), 0)
      << err;
  EXPECT_EQ(Rctl(c, {}, &out, &err), 0);
  EXPECT_EQ(out, "jail:web:maxproc:deny=20\njail:web:memoryuse:deny=1073741824\n");
  EXPECT_EQ(Rctl(c, {"-h", "jail:web"}, &out, &err), 0);
  EXPECT_EQ(out, "jail:web:maxproc:deny=20\njail:web:memoryuse:deny=1024M\n");
  EXPECT_EQ(Rctl(c, {"-a", "jail:web:cputime:deny=10"}, &out, &err), 1);
  EXPECT_EQ(err,
            "jailwarden rctl: failed to add rule 'jail:web:cputime:deny=10': "
            "Operation not supported\n");
  EXPECT_EQ(Rctl(c, {"-r", "jail:web:maxproc"}, &out, &err), 0) << err;
  EXPECT_EQ(Rctl(c, {"-r", "jail:web:maxproc"}, &out, &err), 1);
  EXPECT_EQ(err, "jailwarden rctl: failed to remove rule 'jail:web:maxproc': No such process\n");
  EXPECT_EQ(Rctl(c, {"-u", "jail:"}, &out, &err), 1);
  EXPECT_EQ(err,
            "jailwarden rctl: failed to show resource consumption for 'jail:': "
            "Invalid argument\n");
  EXPECT_EQ(Rctl(c, {"-u", "jail:web"}, &out, &err), 0);
  EXPECT_THAT(out, StartsWith("cputime=0\ndatasize=0\n"));
  EXPECT_EQ(Rctl(c, {"-l", "jail:web"}, &out, &err), 1);
  EXPECT_EQ(err, "jailwarden rctl: failed to get limits for 'jail:web': Operation not supported\n");
  EXPECT_EQ(daemon_.rules().size(), 1u);
}

TEST_F(ApiTest, RctlWithoutTokenIsRefused) {
  Client c = MakeClient("");
  std::string out, err;
  EXPECT_EQ(Rctl(c, {"-a", "jail:web:memoryuse:deny=1g"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("failed to add rule 'jail:web:memoryuse:deny=1g': "
                             "this request needs 'Authorization: Bearer"));
  (void)Rctl(c, {}, &out, &err);  // the listing fails too: reads need the token
  EXPECT_THAT(err, HasSubstr("Authorization: Bearer"));
  Client with_token = MakeClient();
  EXPECT_EQ(Rctl(with_token, {}, &out, &err), 0);
  EXPECT_TRUE(daemon_.rules().empty());
}

TEST_F(ApiTest, RulesWithFidelity) {
  Client c = MakeClient();
  ASSERT_TRUE(RctlClientBackend(c).AddRule("jail:web:nthr:deny=10").ok());
  absl::StatusOr<std::vector<RuleInfo>> rules = c.RulesWithFidelity("jail:web");
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ((*rules)[0].rule, "jail:web:nthr:deny=10");
  EXPECT_EQ((*rules)[0].fidelity, "exact");
}

TEST_F(ApiTest, ExecStreamsOutputAndExitStatus) {
  Client c = MakeClient();
  std::string out, err;
  absl::StatusOr<ExecOutcome> o = c.Exec(
      "web", {"echo", "hello", "world"}, [&](std::string_view d) { out += d; },
      [&](std::string_view d) { err += d; });
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(out, "hello world\n");
  EXPECT_EQ(err, "");
  EXPECT_EQ(o->result.exit_code, 0);
  out.clear();
  o = c.Exec("web", {"fail", "oops"}, [&](std::string_view d) { out += d; },
             [&](std::string_view d) { err += d; });
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(err, "oops\n");
  EXPECT_EQ(o->result.exit_code, 3);
  o = c.Exec("db", {"echo"}, [](std::string_view) {}, [](std::string_view) {});
  EXPECT_EQ(o.status().code(), absl::StatusCode::kFailedPrecondition);
  o = c.Exec("ghost", {"echo"}, [](std::string_view) {}, [](std::string_view) {});
  EXPECT_EQ(o.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ApiTest, EventsAreServerSentInDevctlFormat) {
  daemon_.Events().Append(
      "!system=RCTL subsystem=rule type=matched rule=jail:web:maxproc:devctl=5 "
      "pid=42 ruid=0 jail=web");
  daemon_.Events().Append("!system=RCTL subsystem=rule type=matched rule=x pid=1 ruid=0 jail=db");
  absl::StatusOr<HttpResponse> r =
      MakeClient().Do("GET", "/v1/events?after=0&max=2&timeout_ms=5000");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body,
              HasSubstr("id: 1\nevent: rctl\ndata: !system=RCTL subsystem=rule "
                        "type=matched rule=jail:web:maxproc:devctl=5 pid=42 ruid=0 "
                        "jail=web\n\n"));
  EXPECT_THAT(r->body, HasSubstr("id: 2\n"));
}

TEST_F(ApiTest, EventsWaitForNewOnes) {
  std::thread later([&] {
    absl::SleepFor(absl::Milliseconds(200));
    daemon_.Events().Append("!system=RCTL subsystem=rule type=matched rule=late");
  });
  absl::StatusOr<HttpResponse> r =
      MakeClient().Do("GET", "/v1/events?max=1&timeout_ms=5000");
  later.join();
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->body, HasSubstr("data: !system=RCTL subsystem=rule type=matched rule=late\n"));
}

TEST_F(ApiTest, BadPolicyIs422WithEveryError) {
  Client c = MakeClient();
  absl::StatusOr<ApplyResult> r = c.Apply("bad: 1\n", "p.yaml", false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(r.status().message()),
            "p.yaml:3:7: unknown key 'bad'\np.yaml:9:1: another problem");
  r = c.Apply("jails: {}\n", "p.yaml", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->diff, "add jail db\n");
  EXPECT_FALSE(r->changed);
}

TEST_F(ApiTest, CreateJailFromSpec) {
  Client c = MakeClient();
  ASSERT_TRUE(c.CreateJail(R"({"name":"new","spec":{"name":"new","path":"/tmp/x"},)"
                           R"("limits":["memoryuse:deny=64M"]})")
                  .ok())
      << c.last_body();
  EXPECT_THAT(daemon_.calls(),
              ::testing::ElementsAre("create new path=/tmp/x limits=memoryuse:deny=64M"));
  absl::Status again = c.CreateJail(R"({"name":"new","spec":{"name":"new","path":"/tmp/x"}})");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
}

// Records one whole response.
class RecordingWriter : public ResponseWriter {
 public:
  void Send(int s, std::string_view, std::string_view b,
            const std::vector<std::pair<std::string, std::string>>&) override {
    status = s;
    body = std::string(b);
  }
  bool StartStream(int s, std::string_view) override {
    status = s;
    return true;
  }
  bool Write(std::string_view d) override {
    body += d;
    return true;
  }
  void Finish() override {}
  int status = 0;
  std::string body;
};

TEST(RouterTest, BadJailNamesInThePathAreRefusedBeforeAnyLookup) {
  testing::FakeDaemon daemon;
  daemon.AddJail("j01", "running", 1);
  RouterOptions options;
  options.token = kToken;
  Router router(daemon, options);
  struct Case {
    std::string method, path, why;
  };
  const std::vector<Case> cases = {
      {"DELETE", std::string("/v1/jails/j01\0x", 15), "contains a NUL byte"},
      {"GET", std::string("/v1/jails/j01\0", 14), "contains a NUL byte"},
      {"POST", std::string("/v1/jails/j01\0x/stop", 20), "contains a NUL byte"},
      // Undecoded, as the server passes it with decode_url=no.
      {"DELETE", "/v1/jails/j01%00x", "contains a NUL byte"},
      {"POST", "/v1/jails/j01%2Fstop", "contains '/'"},
      {"POST", "/v1/jails/j01%2fstop", "contains '/'"},
      {"DELETE", "/v1/jails/%2E%2E", "is '..'"},
      {"DELETE", "/v1/jails/..", "is '..'"},
      {"POST", "/v1/jails/./start", "is '.'"},
      {"DELETE", "/v1/jails/j01\x01", "contains a control character"},
      {"DELETE", "/v1/jails/" + std::string(65, 'a'), "is longer than 64 bytes"},
      {"DELETE", "/v1/jails/" + std::string(256, 'a'), "is longer than 64 bytes"},
      {"GET", "/v1/jails/" + std::string(300, 'a') + "/usage", "is longer than 64 bytes"},
  };
  for (const Case& c : cases) {
    HttpRequest req;
    req.method = c.method;
    req.path = c.path;
    req.headers["authorization"] = StrCat("Bearer ", kToken);
    req.remote_is_loopback = true;
    RecordingWriter out;
    router.Handle(req, out);
    EXPECT_EQ(out.status, 400) << c.method << " " << c.path;
    EXPECT_THAT(out.body, HasSubstr("\"code\":\"INVALID_ARGUMENT\"")) << c.path;
    EXPECT_THAT(out.body, HasSubstr("jail name in the path " + c.why)) << c.path;
  }
  EXPECT_TRUE(daemon.calls().empty());
  // A 64-byte name (the longest a jail may have) is looked up as usual.
  HttpRequest ok;
  ok.method = "GET";
  ok.path = "/v1/jails/" + std::string(64, 'a');
  ok.headers["authorization"] = StrCat("Bearer ", kToken);
  ok.remote_is_loopback = true;
  RecordingWriter out;
  router.Handle(ok, out);
  EXPECT_EQ(out.status, 404);
}

// Over HTTP: the server passes the raw URI (src/api/mhd_server.cc) and
// Segments() in router.cc decodes per segment, so a decoded NUL, '/' or
// dot segment stays inside the name, where the checks refuse it.
TEST_F(ApiTest, PercentEncodedNulSlashOrDotsInAJailNameChangeNothing) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"DELETE", "/v1/jails/web%00x"},
      {"POST", "/v1/jails/web%2Fstop"},
      {"POST", "/v1/jails/web%2fstop"},
      {"DELETE", "/v1/jails/%2E%2E"},
      {"DELETE", "/v1/jails/.."},
      {"DELETE", "/v1/jails/" + std::string(300, 'w')},
  };
  for (const auto& [method, path] : cases) {
    absl::StatusOr<HttpResponse> r = MakeClient().Do(method, path, "{}");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 400) << method << " " << path << ": " << r->body;
    EXPECT_THAT(r->body, HasSubstr("jail name in the path ")) << path;
  }
  EXPECT_TRUE(daemon_.calls().empty()) << ::testing::PrintToString(daemon_.calls());
}

TEST(TokenTest, CreatedOnceWithMode0600) {
  char dir[] = "/tmp/jw-token-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = StrCat(dir, "/sub/token");
  absl::StatusOr<std::string> a = LoadOrCreateToken(path);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->size(), 64u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<std::string> b = LoadOrCreateToken(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  absl::StatusOr<std::string> c = LoadOrCreateToken(path);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("mode 0644"));
  unlink(path.c_str());
  rmdir(StrCat(dir, "/sub").c_str());
  rmdir(dir);
}

TEST(TokenTest, ConstantTimeCompare) {
  EXPECT_TRUE(TokensEqual("abc", "abc"));
  EXPECT_FALSE(TokensEqual("abc", "abd"));
  EXPECT_FALSE(TokensEqual("abc", "abcd"));
  EXPECT_FALSE(TokensEqual("", "a"));
}

TEST(HttpTest, QueryDecoding) {
  const auto q = ParseQuery("filter=jail%3Aweb%3A&x=a+b&flag");
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].second, "jail:web:");
  EXPECT_EQ(q[1].second, "a b");
  EXPECT_EQ(q[2].first, "flag");
  EXPECT_EQ(UrlEncode("jail:web:memoryuse"), "jail%3Aweb%3Amemoryuse");
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.8.9.1"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
}

TEST(ClientTest, RefusedConnectionIsUnavailable) {
  ClientOptions o;
  o.server = "http://127.0.0.1:1";
  Client c(o);
  absl::StatusOr<std::string> r = c.Call("GET", "/v1/status");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("cannot connect to the jailwarden daemon at http://127.0.0.1:1"));
}

// top and a jail's usage come from the latest snapshot, in rctl's user
// units (pcpu in percent, cputime in seconds), only the resources read.
TEST_F(ApiTest, TopAndUsageReadTheLatestSnapshotInUserUnits) {
  Client c = MakeClient();
  absl::StatusOr<std::vector<UsageRow>> rows = c.Top();
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_TRUE((*rows)[0].usage.empty());  // no tick yet

  fakes::SnapshotBuilder b;
  b.Jail("web", 3)
      .Set("web", rctl::Resource::kMemoryuse, int64_t{64} << 20)
      .Set("web", rctl::Resource::kPcpu, 20500000)
      .Set("web", rctl::Resource::kCputime, 12345678);
  daemon_.SetSnapshot(b.Build());
  absl::StatusOr<UsageRow> web = c.Usage("web");
  ASSERT_TRUE(web.ok()) << web.status();
  EXPECT_EQ(web->jid, 3);
  EXPECT_EQ(web->state, "running");
  using Pair = std::pair<std::string, int64_t>;
  EXPECT_THAT(web->usage, ::testing::ElementsAre(Pair("cputime", 12),
                                                 Pair("memoryuse", int64_t{64} << 20),
                                                 Pair("pcpu", 20)));
  rows = c.Top();
  ASSERT_TRUE(rows.ok()) << rows.status();
  for (const UsageRow& row : *rows) {
    EXPECT_EQ(row.usage.empty(), row.name == "db") << row.name;  // db is not sampled
  }
  EXPECT_EQ(c.Usage("ghost").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace jailwarden::api
