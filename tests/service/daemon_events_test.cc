// The real daemon's event log and health checks: `jailwarden serve` on a
// temp state dir with busybox-root jails, on loopback. A jail whose health
// check fails is restarted by the daemon; created, started,
// health_changed, restarted arrive over /v1/events in order; a client that
// reconnects with since=ID gets every later event once, across a daemon
// restart too (told of the gap). Root only: skipped without root, failed
// under CI=true. Kills only the serve it started, by pid; stops its jails
// (serve --stop-jails-on-exit) and removes its temp directory.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "daemon_suite.h"
#include "jailwarden/api/client.h"
#include "jailwarden/base/strings.h"
#include "nlohmann/json.hpp"

namespace jailwarden {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

const std::string& kBinary = kDaemonBinary;

std::string Slurp(const std::string& path) { return ReadWholeFile(path); }

constexpr char kPolicy[] = R"(server:
  listen: 127.0.0.1:9814
  api_socket: ""
  state_dir: STATE
  token_file: STATE/token
  sample_interval: 100ms
templates:
  t:
    base: BASE
    persist: true
    exec.clean: true
    stop.timeout: 1s
    ip4: disable
jails:
  hc:
    template: t
    exec.start: "sleep 100000 </dev/null >/dev/null 2>&1 &"
    healthcheck:
      command: "test -e /hc-ok"
      interval: 1s
      timeout: 1s
      retries: 2
      on_failure: restart
  hang:
    template: t
    exec.start: "sleep 100000 </dev/null >/dev/null 2>&1 &"
    healthcheck:
      command: [sleep, "1000"]
      interval: 1s
      timeout: 1s
      retries: 1
  once:
    template: t
    command: "exit 3"
    restart: "no"
)";

struct Cli {
  int status = -1;
  std::string out, err;
};

class DaemonEventsTest : public DaemonSuite<DaemonEventsTest> {
 public:
  static void SetUpTestSuite() { SetUpDaemon("jw-events-it", kPolicy); }

 protected:
  api::Client Client() { return ClientWithToken(token_); }
  // The NDJSON lines of GET /v1/events?<query>.
  std::vector<json> Events(const std::string& query) {
    absl::StatusOr<api::HttpResponse> r = Client().Do("GET", StrCat("/v1/events?", query));
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<json> out;
    if (!r.ok()) return out;
    EXPECT_EQ(r->status, 200) << r->body;
    for (std::string_view line : Split(r->body, '\n')) {
      if (line.empty()) continue;
      json j = json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << line;
      if (!j.is_discarded() && j.value("type", "") != "keepalive") out.push_back(j);
    }
    return out;
  }
  Cli RunCli(const std::vector<std::string>& args) {
    Cli r;
    const std::string out = dir_ + "/cli.out", err = dir_ + "/cli.err";
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("JAILWARDEN_SERVER", server_.c_str(), 1);
      setenv("JAILWARDEN_TOKEN", token_.c_str(), 1);
      if (freopen(out.c_str(), "w", stdout) == nullptr) _exit(126);
      if (freopen(err.c_str(), "w", stderr) == nullptr) _exit(126);
      std::vector<char*> argv = {const_cast<char*>(kBinary.c_str())};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(kBinary.c_str(), argv.data());
      _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }
  static std::string Summary(const std::vector<json>& events) {
    std::string s;
    for (const json& e : events) {
      StrAppend(&s, e.value("type", ""), " ", e.value("jail", ""));
      if (e.contains("details") && e["details"].contains("by")) {
        StrAppend(&s, " ", e["details"]["by"].get<std::string>());
      }
      if (e.value("type", "") == "health_changed") {
        StrAppend(&s, " ", e["details"].value("from", ""), "->", e["details"].value("to", ""));
      }
      s += "\n";
    }
    return s;
  }

};

TEST_F(DaemonEventsTest, FailingHealthCheckRestartsAndEventsResume) {
  // 1. The check fails (no /hc-ok): unhealthy after 2 tries, restarted.
  std::vector<json> events;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    events = Events("since=0&jail=hc&follow=0");
    if (Summary(events).find("restarted hc healthcheck") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  const std::string summary = Summary(events);
  EXPECT_THAT(summary, HasSubstr("created hc startup\nstarted hc startup\n"
                                 "health_changed hc starting->unhealthy\n"
                                 "restarted hc healthcheck\n"));
  ASSERT_GE(events.size(), 4u);
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_GT(events[i]["id"].get<uint64_t>(), events[i - 1]["id"].get<uint64_t>());
    EXPECT_LE(events[i - 1]["time"].get<std::string>(), events[i]["time"].get<std::string>());
  }
  EXPECT_EQ(events[2]["details"].value("failures", 0), 2);
  EXPECT_EQ(events[2]["details"].value("exit_code", -1), 1);

  // 2. Made healthy from inside: the next check passes.
  Cli r = RunCli({"exec", "hc", "--", "/bin/sh", "-c", "touch /hc-ok"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string health;
  for (int i = 0; i < 300 && health != "healthy"; ++i) {
    absl::StatusOr<api::JailInfo> j = Client().GetJail("hc");
    ASSERT_TRUE(j.ok()) << j.status();
    health = j->health;
    if (health != "healthy") absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(health, "healthy");
  r = RunCli({"list"});
  EXPECT_THAT(r.out, HasSubstr("HEALTH"));
  EXPECT_THAT(r.out, HasSubstr("healthy"));
  absl::StatusOr<api::HttpResponse> m = Client().Do("GET", "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(m->body, HasSubstr("jailwarden_jail_healthy{name=\"hc\"} 1\n"));

  // 3. Truthful verbs.
  r = RunCli({"start", "hc"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hc: already running\n");
  r = RunCli({"start", "--strict", "hc"});
  EXPECT_EQ(r.status, 1);
  absl::StatusOr<api::HttpResponse> a = Client().Do("POST", "/v1/jails/hc/start", "{}");
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(a->body, HasSubstr("\"changed\":false"));

  // 4. Resume: a stream cut after 2 events and resumed from the last id
  // gives the same events as one read, each once.
  const std::vector<json> all = Events("since=0&follow=0");
  ASSERT_GE(all.size(), 4u);
  const std::vector<json> first = Events("since=0&max=2");
  ASSERT_EQ(first.size(), 2u);
  const uint64_t cut = first[1]["id"].get<uint64_t>();
  const std::vector<json> rest = Events(StrCat("since=", cut, "&follow=0"));
  ASSERT_EQ(first.size() + rest.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const json& got = i < 2 ? first[i] : rest[i - 2];
    EXPECT_EQ(got["id"], all[i]["id"]);
    EXPECT_EQ(got["type"], all[i]["type"]);
  }

  // 5. Across a daemon restart: resuming from the last id says what it
  // cannot give (a gap: ids reserved by the last run) and never repeats an
  // id.
  const uint64_t last = all.back()["id"].get<uint64_t>();
  StopServe();
  StartServe(false);
  ASSERT_GT(serve_pid_, 0);
  const std::vector<json> after = Events(StrCat("since=", last, "&follow=0"));
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after[0].value("type", ""), "gap");
  EXPECT_EQ(after[0].value("from", uint64_t{0}), last + 1);
  for (std::size_t i = 1; i < after.size(); ++i) {
    EXPECT_GT(after[i]["id"].get<uint64_t>(), last);
  }
  // The CLI's view of the same.
  r = RunCli({"events", "--since", "0", "--jail", "hc"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err + r.out, HasSubstr("events missed"));
  // An unknown type is refused, naming it.
  absl::StatusOr<api::HttpResponse> bad = Client().Do("GET", "/v1/events?type=bogus");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("unknown event type 'bogus'"));
}

// The jail's root makes its check hang: the check is killed at its
// timeout (counted as failed, timed_out), no killed check is left running
// in the jail, and the other jail's checks go on meanwhile (above).
TEST_F(DaemonEventsTest, MainProcessExitIsAnEvent) {
  // `once`'s main process exits 3 and, with restart: no, stays down: one
  // main_exited event with the code, told once.
  std::vector<json> exits;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    exits = Events("since=0&jail=once&type=main_exited&follow=0");
    if (!exits.empty()) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(exits.size(), 1u) << Summary(Events("since=0&jail=once&follow=0"));
  EXPECT_EQ(exits[0]["details"].value("code", -1), 3);
  EXPECT_EQ(exits[0]["details"].value("restart", std::string()), "no");
  absl::SleepFor(absl::Milliseconds(2500));  // two more maintenance passes
  EXPECT_EQ(Events("since=0&jail=once&type=main_exited&follow=0").size(), 1u);
}

TEST_F(DaemonEventsTest, AHangingCheckIsKilledAtItsTimeout) {
  std::vector<json> events;
  for (int i = 0; i < 300; ++i) {
    events = Events("since=0&jail=hang&type=health_changed&follow=0");
    std::erase_if(events, [](const json& e) { return e.value("type", "") == "gap"; });
    if (!events.empty()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0]["details"].value("to", ""), "unhealthy");
  EXPECT_EQ(events[0]["details"].value("timed_out", 0), 1);
  // Let a few more checks run and time out, then count the checks' sleeps
  // (exec.start's is "sleep 100000"): at most the one in flight.
  absl::SleepFor(absl::Seconds(3));
  Cli r = RunCli({"exec", "hang", "--", "/bin/sh", "-c",
                  "ps -o args | grep -c '^sleep 1000$' || true"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LE(std::stoi(std::string(StripWhitespace(r.out))), 1) << r.out;
  // on_failure: none (the default): still running, never restarted.
  absl::StatusOr<api::JailInfo> j = Client().GetJail("hang");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->state, "running");
  EXPECT_EQ(j->health, "unhealthy");
  const std::string all = Summary(Events("since=0&jail=hang&follow=0"));
  EXPECT_THAT(all, ::testing::Not(HasSubstr("restarted")));
}

}  // namespace
}  // namespace jailwarden
