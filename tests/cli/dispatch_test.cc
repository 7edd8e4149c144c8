// Issue 19's command line, through cli::Run (what main() runs): global
// options before the verb, "did you mean", aliases, get, one JSON document
// per invocation, flags refused rather than dropped, exit codes, --version
// and the completion generator. Against an in-process API server over the
// fake daemon (real HTTP on loopback).

#include <sysexits.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/fake_daemon.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/server.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/cli/verbs.h"
#include "nlohmann/json.hpp"

namespace jailwarden::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

struct Output {
  int status = -1;
  std::string out, err;
};

Output RunCli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  CommandContext ctx{out, err};
  Output o;
  o.status = Run(args, ctx);
  o.out = out.str();
  o.err = err.str();
  return o;
}

// Exactly one JSON document on stdout (nlohmann refuses trailing content).
nlohmann::json OneDocument(const Output& o) {
  EXPECT_TRUE(nlohmann::json::accept(o.out)) << "not one JSON document:\n" << o.out;
  return nlohmann::json::parse(o.out, nullptr, false);
}

class DispatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("JAILWARDEN_TOKEN", "", 1);
    unsetenv("JAILWARDEN_SERVER");
    unsetenv("JAILWARDEN_CONFIG");
    daemon_ = new testing::FakeDaemon();
    daemon_->AddJail("web", "running", 7);
    daemon_->AddJail("db", "stopped");
    api::ApiServerOptions o;
    o.http.listen = {"127.0.0.1:0"};
    o.router.token = kToken;
    o.router.public_reads = true;
    server_ = api::ApiServer::Start(*daemon_, o)->release();
    port_ = server_->ports()[0];
    url_ = StrCat("http://127.0.0.1:", port_);
    // A policy naming the daemon: -c FILE must reach it.
    char dir[] = "/tmp/jw-cli-dispatch-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    token_file_ = dir_ + "/token";
    std::ofstream(token_file_) << kToken << "\n";
    chmod(token_file_.c_str(), 0600);
    policy_ = dir_ + "/jailwarden.yaml";
    std::ofstream(policy_) << "server:\n  listen: 127.0.0.1:" << port_
                           << "\n  api_socket: \"\"\n  tls: false\n  state_dir: " << dir_
                           << "\n  token_file: " << token_file_ << "\njails: {}\n";
  }
  static void TearDownTestSuite() {
    delete server_;
    delete daemon_;
    unlink(token_file_.c_str());
    unlink(policy_.c_str());
    rmdir(dir_.c_str());
  }

  static testing::FakeDaemon* daemon_;
  static api::ApiServer* server_;
  static int port_;
  static std::string url_, dir_, token_file_, policy_;
};

testing::FakeDaemon* DispatchTest::daemon_ = nullptr;
api::ApiServer* DispatchTest::server_ = nullptr;
int DispatchTest::port_ = 0;
std::string DispatchTest::url_, DispatchTest::dir_, DispatchTest::token_file_,
    DispatchTest::policy_;

TEST_F(DispatchTest, GlobalOptionsBeforeOrAfterTheVerbMeanTheSame) {
  const Output after = RunCli({"list", "-H", "--server", url_});
  ASSERT_EQ(after.status, 0) << after.err;
  EXPECT_THAT(after.out, HasSubstr("7\tweb\trunning"));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--server", url_, "list", "-H"},
        {"--address", url_, "list", "-H"},
        {StrCat("--server=", url_), "list", "-H"},
        {"-c", policy_, "list", "-H"},
        {"--config", policy_, "list", "-H"},
        {"list", "-c", policy_, "-H"}}) {
    const Output o = RunCli(args);
    EXPECT_EQ(o.status, 0) << Join(args, " ") << ": " << o.err;
    EXPECT_EQ(o.out, after.out) << Join(args, " ");
  }
  // The token file from the policy given before the verb: a change works
  // (with no $JAILWARDEN_TOKEN, which would come first).
  unsetenv("JAILWARDEN_TOKEN");
  Output o = RunCli({"-c", policy_, "restart", "web"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "web: restarted\n");
  o = RunCli({"--json", "--server", url_, "status"});
  EXPECT_EQ(OneDocument(o)["ready"], true);
  // rctl takes -c like every other verb, before it or after.
  o = RunCli({"rctl", "-c", policy_, "-a", "jail:db:maxproc:deny=10"});
  EXPECT_EQ(o.status, 0) << o.err;
  o = RunCli({"-c", policy_, "rctl", "jail:db"});
  EXPECT_EQ(o.out, "jail:db:maxproc:deny=10\n");
  o = RunCli({"-c", policy_, "rctl", "-r", "jail:db"});
  EXPECT_EQ(o.status, 0) << o.err;
  setenv("JAILWARDEN_TOKEN", "", 1);
}

TEST_F(DispatchTest, BadGlobalOptionsAreUsageErrors) {
  Output o = RunCli({"--jsn", "list"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_EQ(o.err,
            "jailwarden: unknown option '--jsn' before the verb; did you mean '--json'?\n"
            "see 'jailwarden --help'\n");
  o = RunCli({"list", "--server"});
  EXPECT_EQ(o.status, EX_USAGE);
  o = RunCli({"-c"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_THAT(o.err, StartsWith("jailwarden: option '-c' needs a value (FILE)\n"));
  // A verb that takes no connection options refuses them, not ignores them.
  o = RunCli({"--token", kToken, "mkroot", "busybox", "/nonexistent/x"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_EQ(o.err,
            "jailwarden: option '--token' does not apply to 'mkroot'; see 'jailwarden "
            "mkroot --help'\n");
  o = RunCli({"--server", url_, "validate", "/nonexistent/policy.yaml"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_THAT(o.err, StartsWith("jailwarden: option '--server' does not apply to 'validate'"));
  // --json is validate's own option too: accepted before the verb.
  o = RunCli({"--json", "validate", "/nonexistent/policy.yaml"});
  EXPECT_EQ(o.status, EX_CONFIG);
  EXPECT_EQ(OneDocument(o)["valid"], false);
}

TEST_F(DispatchTest, UnknownVerbSuggestsTheClosestOne) {
  const std::vector<std::pair<std::string, std::string>> typos = {
      {"lsit", "list"}, {"stpo", "stop"}, {"strat", "start"}, {"rclt", "rctl"},
      {"destory", "destroy"}, {"stauts", "status"}, {"jsl", "jls"}};
  for (const auto& [typo, verb] : typos) {
    const Output o = RunCli({typo});
    EXPECT_EQ(o.status, EX_USAGE) << typo;
    EXPECT_EQ(o.err, StrCat("jailwarden: unknown verb '", typo, "'; did you mean '", verb,
                            "'?\n"));
    EXPECT_EQ(o.out, "");
  }
  Output o = RunCli({"frobnicate"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_EQ(o.err, "jailwarden: unknown verb 'frobnicate'; see 'jailwarden --help'\n");
  // set is a verb: its own usage errors, before any connection.
  o = RunCli({"--server", url_, "set", "web", "hostname"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_EQ(o.err, "jailwarden set: 'hostname' is not KEY=VALUE\n");
  o = RunCli({"--server", url_, "set", "web", "a=1", "a=2"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_EQ(o.err, "jailwarden set: key 'a' given twice\n");
  // No verb: the help on stderr, a usage error.
  o = RunCli({});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_THAT(o.err, StartsWith("jailwarden "));
}

TEST_F(DispatchTest, AliasesRunTheirVerb) {
  const Output list = RunCli({"--server", url_, "list"});
  Output o = RunCli({"--server", url_, "ls"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, list.out);
  o = RunCli({"jls", "--server", url_});
  EXPECT_EQ(o.status, 0) << o.err;
  // jls(8): running jails only, its header and column widths.
  EXPECT_EQ(o.out,
            "   JID  IP Address      Hostname                      Path\n"
            "     7                                                /var/lib/jailwarden/roots/web\n");
  o = RunCli({"--server", url_, "list", "--names"});
  EXPECT_EQ(o.out, "db\nweb\n");
  o = RunCli({"--server", url_, "list", "--names", "--jls"});
  EXPECT_EQ(o.status, EX_USAGE);
}

TEST_F(DispatchTest, GetPrintsAJailsKeys) {
  Output o = RunCli({"--server", url_, "get", "web", "jid"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "7\n");
  o = RunCli({"--server", url_, "get", "web", "state", "path"});
  EXPECT_EQ(o.out, "state=running\npath=/var/lib/jailwarden/roots/web\n");
  o = RunCli({"--server", url_, "get", "web"});
  EXPECT_THAT(o.out, StartsWith("base_root=/var/lib/jailwarden/base/busybox\n"));
  EXPECT_THAT(o.out, HasSubstr("\njid=7\n"));
  o = RunCli({"--server", url_, "get", "web", "stat"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_THAT(o.err, StartsWith("jailwarden get: unknown key 'stat'; did you mean 'state'?"));
  EXPECT_EQ(o.out, "");
  o = RunCli({"--server", url_, "get", "ghost", "jid"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "jailwarden get: no such jail\n");
  o = RunCli({"--server", url_, "--json", "get", "web", "jid", "state"});
  EXPECT_EQ(OneDocument(o), nlohmann::json({{"jid", 7}, {"state", "running"}}));
}

TEST_F(DispatchTest, JsonIsOneDocumentPerInvocation) {
  const std::string t = StrCat("--token=", kToken);
  // stop a b: one object keyed by name, the failure in it and on stderr.
  Output o = RunCli({"--server", url_, t, "stop", "web", "ghost", "--json"});
  EXPECT_EQ(o.status, 1);
  nlohmann::json doc = OneDocument(o);
  EXPECT_EQ(doc["web"]["ok"], true);
  EXPECT_EQ(doc["ghost"]["ok"], false);
  EXPECT_EQ(doc["ghost"]["error"], "no jail named 'ghost'");
  EXPECT_EQ(o.err, "jailwarden stop: no jail named 'ghost'\n");
  o = RunCli({"--server", url_, t, "--json", "start", "web", "db"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(OneDocument(o).size(), 2u);
  // rctl: -a, -u, -l and -r each give their own document.
  o = RunCli({"--server", url_, t, "rctl", "-a", "jail:web:memoryuse:deny=1g",
              "jail:web:maxproc:deny=20", "--json"});
  EXPECT_EQ(o.status, 0) << o.err;
  doc = OneDocument(o);
  EXPECT_EQ(doc["op"], "add");
  ASSERT_EQ(doc["results"].size(), 2u);
  EXPECT_EQ(doc["results"][0]["ok"], true);
  o = RunCli({"--server", url_, "rctl", "--json", "-u", "jail:web"});
  EXPECT_EQ(o.status, 0) << o.err;
  doc = OneDocument(o);
  EXPECT_EQ(doc["op"], "usage");
  EXPECT_TRUE(doc["results"][0]["usage"].contains("cputime")) << o.out;
  EXPECT_TRUE(doc["results"][0]["usage"]["cputime"].is_number());
  o = RunCli({"--server", url_, "rctl", "--json"});
  doc = OneDocument(o);
  EXPECT_THAT(doc.dump(), HasSubstr("jail:web:maxproc:deny=20"));
  o = RunCli({"--server", url_, t, "rctl", "--json", "-r", "jail:web"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(OneDocument(o)["op"], "remove");
  // A usage error prints no document.
  o = RunCli({"--server", url_, "rctl", "--json", "-u"});
  EXPECT_NE(o.status, 0);
  EXPECT_EQ(o.out, "");
  // The other verbs with --json.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"list"}, {"get", "web"}, {"usage", "web"}, {"status"},
        {"top", "-n", "1"}, {"top"}}) {
    std::vector<std::string> full = {"--server", url_, "--json"};
    full.insert(full.end(), args.begin(), args.end());
    o = RunCli(full);
    EXPECT_EQ(o.status, 0) << Join(args, " ") << ": " << o.err;
    OneDocument(o);
  }
  o = RunCli({"--server", url_, "--json", "top", "-n", "2", "-d", "0.05"});
  EXPECT_EQ(OneDocument(o).size(), 2u);
  o = RunCli({"--json", "--version"});
  EXPECT_EQ(o.status, 0);
  OneDocument(o);
}

TEST_F(DispatchTest, EveryFlagIsHonouredOrRefused) {
  const std::string t = StrCat("--token=", kToken);
  Output o = RunCli({"--server", url_, t, "create", "-t", "small", "--path", "/jails/x", "x"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_THAT(o.err, StartsWith("jailwarden create: --path cannot be combined with "
                                "-t/--template"));
  o = RunCli({"--server", url_, t, "create", "-t", "small", "--hostname", "h", "--persist", "x"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_THAT(o.err, StartsWith("jailwarden create: --hostname, --persist cannot"));
  for (const std::string& c : daemon_->calls()) EXPECT_THAT(c, Not(HasSubstr("create x")));
  o = RunCli({"--server", url_, t, "run", "small", "--path", "/jails/x", "--", "true"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_THAT(o.err, StartsWith("jailwarden run: --path cannot be combined"));
  o = RunCli({"--server", url_, "--json", "top", "--raw"});
  EXPECT_EQ(o.status, EX_USAGE);
  o = RunCli({"--server", url_, "--json", "list", "-H"});
  EXPECT_EQ(o.status, EX_USAGE);
  o = RunCli({"--server", url_, "rctl", "--fidelity", "-u", "jail:web"});
  EXPECT_EQ(o.status, EX_USAGE);
  o = RunCli({"--json", "rctl", "--check", "jail:web:maxproc:deny=1"});
  EXPECT_EQ(o.status, EX_USAGE);
}

TEST(VersionTest, SaysWhatWasBuilt) {
  Output o = RunCli({"--version"});
  EXPECT_EQ(o.status, 0);
  EXPECT_THAT(o.out, StartsWith("jailwarden 0."));
  EXPECT_THAT(o.out, HasSubstr("\ncommit:     "));
  EXPECT_THAT(o.out, HasSubstr("\nbuild type: "));
  EXPECT_THAT(o.out, HasSubstr("\ncompiler:   GNU "));
  EXPECT_THAT(o.out, HasSubstr("\nbackends:   linux-cgroup-v1, linux-cgroup-v2\n"));
  EXPECT_THAT(o.out, HasSubstr(" libcurl "));
  const nlohmann::json j = OneDocument(RunCli({"--version", "--json"}));
  for (const char* key : {"version", "commit", "build_type", "compiler", "backends", "libraries"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_NE(j["commit"], "");
  EXPECT_TRUE(j["libraries"].contains("libcurl"));
  EXPECT_EQ(RunCli({"version"}).out, o.out);
}

TEST(HelpTest, ListsGlobalOptionsAliasesAndExitCodes) {
  Output o = RunCli({"--help"});
  EXPECT_EQ(o.status, 0);
  EXPECT_THAT(o.out, HasSubstr("\n  -c, --config FILE "));
  EXPECT_THAT(o.out, HasSubstr("\n  jls       list --jls\n"));
  EXPECT_THAT(o.out, HasSubstr("\n  64  EX_USAGE"));
  EXPECT_THAT(o.out, HasSubstr("\n  78  EX_CONFIG"));
  o = RunCli({"help", "list"});
  EXPECT_EQ(o.status, 0);
  EXPECT_THAT(o.out, HasSubstr("--jls"));
  EXPECT_THAT(RunCli({"--help", "list"}).out, HasSubstr("--jls"));
}

TEST(CompletionTest, GeneratedFromTheVerbTable) {
  Output o = RunCli({"completion", "bash"});
  ASSERT_EQ(o.status, 0) << o.err;
  for (const Verb& v : AllVerbs()) {
    EXPECT_THAT(o.out, HasSubstr(StrCat(" ", v.name))) << v.name;
  }
  EXPECT_THAT(o.out, HasSubstr("    list|ls|jls) opts='"));
  EXPECT_THAT(o.out, HasSubstr("complete -F _jailwarden jailwarden\n"));
  o = RunCli({"completion", "zsh"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_THAT(o.out, StartsWith("#compdef jailwarden\n"));
  EXPECT_EQ(RunCli({"completion", "fish"}).status, EX_USAGE);
  EXPECT_EQ(RunCli({"completion"}).status, EX_USAGE);
}

}  // namespace
}  // namespace jailwarden::cli
