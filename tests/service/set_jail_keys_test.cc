// `jailwarden set NAME KEY=VALUE...` end to end over the scripted platform
// (no root): the real CLI verb, the real API server and router (PATCH
// /v1/jails/NAME), the real service::Daemon with a configuration file. A
// change is validated by the policy loader, applied (the jail restarted),
// kept as the policy of record and still there after a restart; every bad
// input is refused with its precise error and changes nothing.

#include <sysexits.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/server.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/cli/verbs.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/service/daemon.h"
#include "jailwarden/service/policy_record.h"
#include "service/fake_host_backend.h"

namespace jailwarden::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing_support::FakeHostBackend;
using testing_support::StartScriptedDaemon;

constexpr char kToken[] = "set-keys-token-0123456789abcdef";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Output {
  int status = -1;
  std::string out, err;
};

class SetJailKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/jw-set-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    state_ = dir_ + "/state";
    config_ = dir_ + "/jailwarden.yaml";
    // A comment and a template: neither may get in the way.
    std::ofstream(config_) << "# the admin's policy\nserver:\n  state_dir: " << state_
                           << "\n  sample_interval: 100ms\ntemplates:\n  small:\n"
                              "    persist: true\njails:\n  db:\n    template: small\n"
                              "    path: /srv/db\n    host.hostname: db.old\n"
                              "  web:\n    path: /srv/web\n    persist: true\n";
    setenv("JAILWARDEN_TOKEN", kToken, 1);
    ASSERT_TRUE(Start().ok());
  }
  void TearDown() override {
    StopAll();
    unsetenv("JAILWARDEN_TOKEN");
    (void)std::system(StrCat("rm -rf '", dir_, "'").c_str());
  }
  void StopAll() {
    if (server_ != nullptr) server_->Stop();
    server_.reset();
    daemon_.reset();
  }
  // As serve does: the configuration file, the daemon, the API on loopback.
  absl::Status Start() {
    StopAll();
    absl::StatusOr<policy::Policy> p = policy::LoadPolicyFile(config_);
    if (!p.ok()) return p.status();
    absl::StatusOr<std::unique_ptr<Daemon>> d = StartScriptedDaemon(*std::move(p), config_);
    if (!d.ok()) return d.status();
    daemon_ = *std::move(d);
    api::ApiServerOptions ao;
    ao.http.listen = {"127.0.0.1:0"};
    ao.router.token = kToken;
    absl::StatusOr<std::unique_ptr<api::ApiServer>> s = api::ApiServer::Start(*daemon_, ao);
    if (!s.ok()) return s.status();
    server_ = *std::move(s);
    url_ = StrCat("http://127.0.0.1:", server_->ports()[0]);
    return absl::OkStatus();
  }
  Output Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", url_});
    std::ostringstream out, err;
    cli::CommandContext ctx{out, err};
    Output o;
    o.status = cli::Run(args, ctx);
    o.out = out.str();
    o.err = err.str();
    return o;
  }
  api::Client Client() {
    api::ClientOptions o;
    o.server = url_;
    o.token = kToken;
    o.timeout = absl::Seconds(20);
    return api::Client(o);
  }
  std::string Hostname(const std::string& jail) {
    absl::StatusOr<api::JailInfo> j = daemon_->GetJail(jail);
    return j.ok() ? j->hostname : StrCat("error: ", std::string(j.status().message()));
  }
  bool HasRecord() const { return access(PolicyRecordPath(state_).c_str(), F_OK) == 0; }

  std::string dir_, state_, config_, url_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<api::ApiServer> server_;
};

TEST_F(SetJailKeysTest, SetIsAppliedKeptAndSurvivesARestart) {
  ASSERT_EQ(Hostname("db"), "db.old");
  // A dry run says what would happen and changes nothing.
  Output o = Cli({"set", "-n", "db", "host.hostname=db.new"});
  ASSERT_EQ(o.status, EX_OK) << o.err;
  EXPECT_THAT(o.out, HasSubstr("restart jail db"));
  EXPECT_EQ(Hostname("db"), "db.old");
  EXPECT_FALSE(HasRecord());

  o = Cli({"set", "db", "host.hostname=db.new"});
  ASSERT_EQ(o.status, EX_OK) << o.err;
  EXPECT_THAT(o.out, HasSubstr("restart jail db")) << "what takes a restart is said";
  EXPECT_EQ(o.err, "");
  EXPECT_EQ(Hostname("db"), "db.new");
  ASSERT_TRUE(HasRecord()) << "written before the command returned";
  EXPECT_THAT(Slurp(PolicyRecordPath(state_)), HasSubstr("db.new"));
  // Issue 19: the record is the configuration file with that one line
  // changed; the admin's comment and every other line are kept.
  std::string expected = Slurp(config_);
  expected.replace(expected.find("db.old"), 6, "db.new");
  const std::string record = Slurp(PolicyRecordPath(state_));
  EXPECT_EQ(StripPolicyRecordHeader(record), expected);
  EXPECT_NE(record, expected) << "with the record's header line";
  EXPECT_THAT(Slurp(config_), HasSubstr("db.old")) << "the configuration file is not edited";

  // Restarted with the same --config: the change is still in force.
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Hostname("db"), "db.new");
  // Setting it again changes nothing; --json is one document.
  o = Cli({"set", "--json", "db", "host.hostname=db.new"});
  ASSERT_EQ(o.status, EX_OK) << o.err;
  EXPECT_THAT(o.out, HasSubstr("\"changed\": false"));

  // KEY= removes the key: the template's (none) applies again.
  o = Cli({"set", "db", "host.hostname="});
  ASSERT_EQ(o.status, EX_OK) << o.err;
  EXPECT_NE(Hostname("db"), "db.new");
  EXPECT_THAT(Slurp(PolicyRecordPath(state_)), Not(HasSubstr("db.new")));
  // The record's header line is not repeated by a set of the record.
  const std::string again = Slurp(PolicyRecordPath(state_));
  EXPECT_EQ(again.find("policy of record"), again.rfind("policy of record")) << again;
  EXPECT_THAT(std::string(StripPolicyRecordHeader(again)), HasSubstr("# the admin's policy\n"));
  // A list value, as YAML.
  o = Cli({"set", "web", "ip4.addr=[127.0.0.7]"});
  ASSERT_EQ(o.status, EX_OK) << o.err;
  absl::StatusOr<api::JailInfo> web = daemon_->GetJail("web");
  ASSERT_TRUE(web.ok());
  EXPECT_THAT(web->ip4, ::testing::Contains(HasSubstr("127.0.0.7")));
}

TEST_F(SetJailKeysTest, BadInputsAreRefusedAndChangeNothing) {
  const std::string record_path = PolicyRecordPath(state_);
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{"set", "db", "hostname=x"}, EX_CONFIG,
       "key 'hostname': unknown jail key; did you mean 'host.hostname'?"},
      {{"set", "db", "frobnicate=1"}, EX_CONFIG, "key 'frobnicate': unknown jail key"},
      {{"set", "db", "persist=maybe"}, EX_CONFIG, "persist"},
      {{"set", "db", "ip4.addr=[999.1.1.1]"}, EX_CONFIG, "999.1.1.1"},
      {{"set", "db", "host.hostname=[unclosed"}, EX_CONFIG, "is not YAML"},
      {{"set", "db", "depend=[nosuch]"}, EX_CONFIG, "nosuch"},
      {{"set", "nosuch", "persist=true"}, 1, "defines no jail 'nosuch'"},
      {{"set", "db"}, EX_USAGE, "assignments"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(Join(c.args, " "));
    const Output o = Cli(c.args);
    EXPECT_EQ(o.status, c.status) << o.err;
    EXPECT_THAT(o.err, HasSubstr(c.error));
    EXPECT_EQ(o.out, "");
    EXPECT_EQ(Hostname("db"), "db.old");
    EXPECT_FALSE(HasRecord());
  }
  // The policy loader's errors keep their FILE:LINE:COL form.
  const Output o = Cli({"set", "db", "persist=maybe"});
  EXPECT_THAT(o.err, HasSubstr("set db:"));

  // The API itself: unknown fields, no keys, non-string values.
  api::Client c = Client();
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {R"({"set": {"persist": "true"}, "force": true})", "force"},
      {R"({"set": {}})", "at least one key"},
      {R"({"set": {"persist": true}})", "an object of strings"},
      {R"({})", "at least one key"},
  };
  for (const auto& [body, why] : bodies) {
    SCOPED_TRACE(body);
    absl::StatusOr<api::HttpResponse> r = c.Do("PATCH", "/v1/jails/db", body);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_THAT(r->body, HasSubstr(why));
  }
  // Without the token: refused before anything is read.
  api::ClientOptions anon;
  anon.server = url_;
  absl::StatusOr<api::HttpResponse> r =
      api::Client(anon).Do("PATCH", "/v1/jails/db", R"({"set": {"persist": "true"}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Hostname("db"), "db.old");
  EXPECT_FALSE(HasRecord());
}

// Issue 19: a jail created through the API (create) is changed by set too:
// its spec is runtime state, changed atomically in its config.json, the
// running jail restarted, validated by the policy loader.
TEST_F(SetJailKeysTest, ApiJailIsChangedRestartedAndKeptAcrossARestart) {
  Output o = Cli({"create", "api1", "--path", "/srv/api1", "--hostname", "api1.old", "--persist",
                  "--start"});
  ASSERT_EQ(o.status, EX_OK) << o.err;
  ASSERT_EQ(Hostname("api1"), "api1.old");
  const std::string config_json = StrCat(state_, "/jails/api1/config.json");
  ASSERT_THAT(Slurp(config_json), HasSubstr("api1.old"));

  o = Cli({"set", "-n", "api1", "host.hostname=api1.new"});
  ASSERT_EQ(o.status, EX_OK) << o.err;
  EXPECT_THAT(o.out, HasSubstr("restart jail api1"));
  EXPECT_EQ(Hostname("api1"), "api1.old") << "a dry run changes nothing";

  o = Cli({"set", "api1", "host.hostname=api1.new", "ip4.addr=[127.0.0.8]"});
  ASSERT_EQ(o.status, EX_OK) << o.err;
  EXPECT_THAT(o.out, HasSubstr("restart jail api1"));
  EXPECT_EQ(Hostname("api1"), "api1.new");
  absl::StatusOr<api::JailInfo> j = daemon_->GetJail("api1");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->state, "running") << "restarted with its new definition";
  EXPECT_THAT(j->ip4, ::testing::Contains(HasSubstr("127.0.0.8")));
  EXPECT_THAT(Slurp(config_json), HasSubstr("api1.new")) << "written before the answer";
  EXPECT_FALSE(HasRecord()) << "the policy of record is not involved";
  // No journal record is left behind.
  EXPECT_EQ(std::system(StrCat("test -z \"$(ls -A '", state_, "/journal')\"").c_str()), 0);

  // The same again changes nothing.
  o = Cli({"set", "--json", "api1", "host.hostname=api1.new", "ip4.addr=[127.0.0.8]"});
  ASSERT_EQ(o.status, EX_OK) << o.err;
  EXPECT_THAT(o.out, HasSubstr("\"changed\": false"));

  // A daemon restart finds the new definition.
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Hostname("api1"), "api1.new");

  // Refused with the loader's words, nothing changed.
  const std::string before = Slurp(config_json);
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{"set", "api1", "persist=maybe"}, "set api1:"},
      {{"set", "api1", "hostname=x"}, "did you mean 'host.hostname'?"},
      {{"set", "api1", "ip4.addr=[999.1.1.1]"}, "999.1.1.1"},
      {{"set", "api1", "limits={pcpu: deny=50}"}, "rctl -a"},
      {{"set", "api1", "template=small"}, "fixed at create"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(Join(c.args, " "));
    o = Cli(c.args);
    EXPECT_EQ(o.status, EX_CONFIG) << o.err;
    EXPECT_THAT(o.err, HasSubstr(c.error));
    EXPECT_EQ(Slurp(config_json), before);
    EXPECT_EQ(Hostname("api1"), "api1.new");
  }
}

}  // namespace
}  // namespace jailwarden::service
