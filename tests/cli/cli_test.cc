// The CLI verbs against an in-process API server over a fake daemon (real
// HTTP on loopback), and the local verbs.

#include <sysexits.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/fake_daemon.h"
#include "cli/daemon_verbs.h"
#include "cli/events_verb.h"
#include "cli/rctl_verb.h"
#include "cli/table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/server.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kToken[] = "feedfacefeedfacefeedfacefeedface";

TEST(TableTest, IocageStyle) {
  EXPECT_EQ(FormatTable({"JID", "NAME"}, {{"1", "web"}, {"-", "database"}}),
            "+-----+----------+\n"
            "| JID | NAME     |\n"
            "+=====+==========+\n"
            "| 1   | web      |\n"
            "+-----+----------+\n"
            "| -   | database |\n"
            "+-----+----------+\n");
  EXPECT_EQ(FormatScripted({{"1", "web"}, {"-", "db"}}), "1\tweb\n-\tdb\n");
}

struct Output {
  int status = -1;
  std::string out, err;
};

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("JAILWARDEN_TOKEN", "", 1);  // no token unless a test gives one
    unsetenv("JAILWARDEN_SERVER");
    unsetenv("JAILWARDEN_CONFIG");
    daemon_ = new testing::FakeDaemon();
    daemon_->AddJail("web", "running", 7);
    daemon_->AddJail("db", "stopped");
    api::ApiServerOptions o;
    o.http.listen = {"127.0.0.1:0"};
    o.router.token = kToken;
    o.router.public_reads = true;  // the verbs' reads run without a token here
    server_ = api::ApiServer::Start(*daemon_, o)->release();
    url_ = StrCat("http://127.0.0.1:", server_->ports()[0]);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete daemon_;
  }

  template <typename Fn>
  Output Run(Fn fn, std::vector<std::string> args, bool with_server = true) {
    if (with_server) {
      args.insert(args.begin(), {"--server", url_});
    }
    std::ostringstream out, err;
    CommandContext ctx{out, err};
    Output o;
    o.status = fn(args, ctx);
    o.out = out.str();
    o.err = err.str();
    return o;
  }

  static testing::FakeDaemon* daemon_;
  static api::ApiServer* server_;
  static std::string url_;
};

testing::FakeDaemon* CliTest::daemon_ = nullptr;
api::ApiServer* CliTest::server_ = nullptr;
std::string CliTest::url_;

TEST_F(CliTest, ListIsAnIocageTable) {
  Output o = Run(RunListVerb, {});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out,
            "+-----+------+---------+----------------------------------+-----+\n"
            "| JID | NAME | STATE   | RELEASE/ROOT                     | IP4 |\n"
            "+=====+======+=========+==================================+=====+\n"
            "| -   | db   | stopped | /var/lib/jailwarden/base/busybox | -   |\n"
            "+-----+------+---------+----------------------------------+-----+\n"
            "| 7   | web  | running | /var/lib/jailwarden/base/busybox | -   |\n"
            "+-----+------+---------+----------------------------------+-----+\n");
  o = Run(RunListVerb, {"-H"});
  EXPECT_EQ(o.out,
            "-\tdb\tstopped\t/var/lib/jailwarden/base/busybox\t-\n"
            "7\tweb\trunning\t/var/lib/jailwarden/base/busybox\t-\n");
  o = Run(RunListVerb, {"--json"});
  EXPECT_THAT(o.out, HasSubstr("\"jails\": ["));
  EXPECT_THAT(o.out, HasSubstr("\"name\": \"web\""));
}

TEST_F(CliTest, ChangesNeedTheToken) {
  Output o = Run(RunRestartVerb, {"web"});
  EXPECT_EQ(o.status, EX_NOPERM);
  EXPECT_THAT(o.err, StartsWith("jailwarden restart: this request needs"));
  o = Run(RunRestartVerb, {"--token", kToken, "web"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "web: restarted\n");
  o = Run(RunStopVerb, {"--token", kToken, "ghost"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "jailwarden stop: no jail named 'ghost'\n");
}

// start/stop say what they did: a running jail is "already running"
// (exit 0, or 1 with --strict), and the daemon's answer carries it.
TEST_F(CliTest, LifecycleVerbsTellTheTruth) {
  Output o = Run(RunStartVerb, {"--token", kToken, "web"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "web: already running\n");
  o = Run(RunStartVerb, {"--token", kToken, "--strict", "web"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.out, "web: already running\n");
  o = Run(RunStopVerb, {"--token", kToken, "db"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "db: already stopped\n");
  o = Run(RunStopVerb, {"--token", kToken, "--json", "db"});
  EXPECT_THAT(o.out, HasSubstr("\"changed\": false"));
  o = Run(RunRestartVerb, {"--token", kToken, "db"});
  EXPECT_EQ(o.out, "db: was stopped; started\n");
  o = Run(RunStopVerb, {"--token", kToken, "db"});  // as the other tests expect it
  EXPECT_EQ(o.out, "db: stopped\n");
  o = Run(RunStartVerb, {"--token", kToken, "--strict", "ghost"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "jailwarden start: no jail named 'ghost'\n");
}

TEST_F(CliTest, EventsShowsTheLogAndFollowsFromAnId) {
  engine::EventStream& log = daemon_->Events();
  const uint64_t before = log.last_seq();
  log.Publish(engine::kEventStarted, "web", {{"by", std::string("api")}});
  log.Publish(engine::kEventMainExited, "db", {{"code", int64_t{3}}});
  log.Append("!system=RCTL subsystem=rule type=matched rule=jail:web:maxproc:devctl=5 pid=4 jail=web");
  Output o = Run(RunEventsVerb, {"--since", StrCat(before)});
  ASSERT_EQ(o.status, 0) << o.err;
  const std::vector<std::string_view> lines = Split(o.out, '\n');
  ASSERT_EQ(lines.size(), 4u) << o.out;  // three and the empty tail
  EXPECT_THAT(std::string(lines[0]), StartsWith(StrCat(before + 1, "  20")));
  EXPECT_THAT(std::string(lines[0]), HasSubstr("Z  started  web  by=api"));
  EXPECT_THAT(std::string(lines[1]), HasSubstr("  main_exited  db  code=3"));
  EXPECT_THAT(std::string(lines[2]),
              HasSubstr("  limit  web  !system=RCTL subsystem=rule type=matched"));
  o = Run(RunEventsVerb, {"--since", StrCat(before), "--jail", "db", "--json"});
  EXPECT_THAT(o.out, HasSubstr("\"type\":\"main_exited\""));
  EXPECT_THAT(o.out, Not(HasSubstr("\"web\"")));
  o = Run(RunEventsVerb, {"--type", "nonsense"});
  EXPECT_NE(o.status, 0);
  EXPECT_THAT(o.err, HasSubstr("unknown event type 'nonsense'"));
  o = Run(RunEventsVerb, {"--jail", "bad/name"});
  EXPECT_EQ(o.status, EX_USAGE);
  // -f from an id: what came after it, then what comes next, then --count.
  const uint64_t mark = log.last_seq();
  std::thread later([&] {
    absl::SleepFor(absl::Milliseconds(200));
    log.Publish(engine::kEventStopped, "web", {{"by", std::string("api")}});
  });
  o = Run(RunEventsVerb, {"-f", "--since", StrCat(mark - 1), "--count", "2"});
  later.join();
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("  limit  web"));
  EXPECT_THAT(o.out, HasSubstr("  stopped  web  by=api"));
}

TEST_F(CliTest, EventsQueryValuesAreUrlEncoded) {
  engine::EventStream& log = daemon_->Events();
  const uint64_t before = log.last_seq();
  log.Publish(engine::kEventStarted, "web", {{"by", std::string("api")}});
  log.Publish(engine::kEventStarted, "db", {{"by", std::string("api")}});
  // Sent as written, "started&jail=db" would be two parameters and show
  // db's start; encoded it is one type, which the daemon refuses.
  Output o = Run(RunEventsVerb, {"--since", StrCat(before), "--type", "started&jail=db"});
  EXPECT_NE(o.status, 0) << o.out;
  EXPECT_THAT(o.err, HasSubstr("unknown event type 'started&jail=db'"));
  EXPECT_THAT(o.out, Not(HasSubstr("db")));
  o = Run(RunEventsVerb, {"--since", StrCat(before), "--type", "started%2Cstopped"});
  EXPECT_THAT(o.err, HasSubstr("unknown event type 'started%2Cstopped'"));
  // A name that is not one is refused before anything is sent.
  o = Run(RunEventsVerb, {"--jail", "web&type=stopped"});
  EXPECT_EQ(o.status, EX_USAGE);
  EXPECT_THAT(o.err, HasSubstr("may contain only ASCII letters"));
  o = Run(RunEventsVerb, {"--since", StrCat(before), "--jail", "db", "--json"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("\"db\""));
  EXPECT_THAT(o.out, Not(HasSubstr("\"web\"")));
}

TEST_F(CliTest, ExecStreamsAndReturnsTheExitStatus) {
  Output o = Run(RunExecVerb, {"--token", kToken, "web", "--", "echo", "a", "b"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "a b\n");
  o = Run(RunExecVerb, {"--token", kToken, "web", "--", "fail", "broken"});
  EXPECT_EQ(o.status, 3);
  EXPECT_EQ(o.err, "broken\n");
  o = Run(RunExecVerb, {"--token", kToken, "web"});
  EXPECT_EQ(o.status, EX_USAGE);
  o = Run(RunExecVerb, {"--token", kToken, "--json", "web", "--", "fail", "x"});
  EXPECT_EQ(o.status, 3);
  EXPECT_EQ(o.out,
            "{\"data\":\"x\\n\",\"stream\":\"stderr\"}\n"
            "{\"exit_code\":3,\"signal\":0,\"timed_out\":false}\n");
  EXPECT_EQ(o.err, "");
}

TEST_F(CliTest, RctlTalksToTheDaemonWithRctlMessages) {
  Output o = Run(RunRctlVerb, {"--token", kToken, "-a", "jail:web:memoryuse:deny=1g"});
  EXPECT_EQ(o.status, 0) << o.err;
  o = Run(RunRctlVerb, {"-h"});
  EXPECT_EQ(o.out, "jail:web:memoryuse:deny=1024M\n");
  o = Run(RunRctlVerb, {"--fidelity", "jail:web"});
  EXPECT_EQ(o.out, "jail:web:memoryuse:deny=1073741824\texact\tfake\n");
  o = Run(RunRctlVerb, {"--token", kToken, "-r", "jail:db"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "jailwarden rctl: failed to remove rule 'jail:db': No such process\n");
  o = Run(RunRctlVerb, {"-a", "-u", "x"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "jailwarden rctl: at most one of -a, -l, -r, or -u may be specified\n");
  o = Run(RunRctlVerb, {"--token", kToken, "-r", "jail:web"});
  EXPECT_EQ(o.status, 0) << o.err;
}

TEST_F(CliTest, RctlCheckStillWorksOffline) {
  Output o = Run(RunRctlVerb, {"--check", "j:www:memoryuse:deny=512m", "jail:www:cputime:deny=1"},
                 false);
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.out, "jail:www:memoryuse:deny=536870912\n");
  EXPECT_EQ(o.err, "jailwarden rctl: failed to add rule 'jail:www:cputime:deny=1': "
                   "Operation not supported\n");
}

TEST_F(CliTest, UsageLikeRctlHu) {
  Output o = Run(RunUsageVerb, {"web"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_THAT(o.out, StartsWith("cputime=0\ndatasize=0\n"));
  EXPECT_THAT(o.out, HasSubstr("\nwriteiops=0\n"));
  o = Run(RunUsageVerb, {"ghost"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "jailwarden usage: no such jail\n");
}

TEST_F(CliTest, TopIsBoundedByIterations) {
  Output o = Run(RunTopVerb, {"--iterations", "2", "--interval", "0.05"});
  EXPECT_EQ(o.status, 0) << o.err;
  std::size_t tables = 0;
  for (std::size_t p = 0; (p = o.out.find("| JID |", p)) != std::string::npos; ++p) ++tables;
  EXPECT_EQ(tables, 2u);
}

TEST_F(CliTest, ApplyPrintsEveryPolicyError) {
  char path[] = "/tmp/jw-cli-apply-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "bad: 1\n";
  Output o = Run(RunApplyVerb, {"--token", kToken, "-f", path});
  EXPECT_EQ(o.status, EX_CONFIG);
  EXPECT_EQ(o.err, StrCat(path, ":3:7: unknown key 'bad'\n", path, ":9:1: another problem\n"));
  std::ofstream(path) << "jails: {}\n";
  o = Run(RunApplyVerb, {"--token", kToken, "-f", path, "--dry-run"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "add jail db\n");
  unlink(path);
}

TEST_F(CliTest, UnreachableDaemonIsExUnavailable) {
  Output o = Run(RunListVerb, {"--server", "http://127.0.0.1:1"}, false);
  EXPECT_EQ(o.status, EX_UNAVAILABLE);
  EXPECT_THAT(o.err, StartsWith("jailwarden list: cannot connect to the jailwarden daemon"));
}

// The definition travels in config.json form (jail::SpecToJson), which the
// daemon reads back with jail::SpecFromJson.
TEST_F(CliTest, CreateSendsTheDefinitionThroughTheSpecCodec) {
  Output o = Run(RunCreateVerb, {"--token", kToken, "--path", "/jails/new", "--hostname",
                                 "new.example", "--persist", "-L", "memoryuse:deny=64M", "new"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "new: created\n");
  EXPECT_THAT(daemon_->calls(),
              ::testing::Contains("create new path=/jails/new limits=memoryuse:deny=64M"));
  o = Run(RunCreateVerb, {"--token", kToken, "--path", "/jails/new", "new"});
  EXPECT_EQ(o.status, 1);  // AlreadyExists: the operation failed, as rctl(8) says it
}

TEST(ValidateTest, GoodAndBadPolicies) {
  char path[] = "/tmp/jw-cli-validate-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "jails:\n  web:\n    path: /srv/web\n    persist: true\n";
  std::ostringstream out, err;
  CommandContext ctx{out, err};
  EXPECT_EQ(RunValidateVerb({path}, ctx), 0) << err.str();
  EXPECT_EQ(out.str(), StrCat(path, ": valid\n"));
  std::ofstream(path) << "jails:\n  web:\n    persist: true\n    pathh: /srv/web\n";
  std::ostringstream out2, err2;
  CommandContext ctx2{out2, err2};
  EXPECT_EQ(RunValidateVerb({path}, ctx2), EX_CONFIG);
  EXPECT_EQ(err2.str(), StrCat(path, ":4:5: unknown key 'pathh' in jail 'web'; did you mean 'path'?\n"));
  unlink(path);
}

TEST(HelpTest, EveryVerbHasHelp) {
  for (const Verb& v : AllVerbs()) {
    std::ostringstream out, err;
    CommandContext ctx{out, err};
    EXPECT_EQ(v.run({"--help"}, ctx), 0) << v.name << ": " << err.str();
    EXPECT_FALSE(out.str().empty()) << v.name;
  }
}

}  // namespace
}  // namespace jailwarden::cli
