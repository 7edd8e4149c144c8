// The crash-and-fault harness (issue 14): the real `jailwarden serve` with
// a small policy of thin busybox jails, driven through the real CLI
// (create, start, stop, restart, destroy, apply add/remove/change, rctl
// -a/-r) and killed at randomised points of each operation and of start-up:
// at a deterministic fault point (JW_CRASH_AT=<step>:<n>, the daemon
// _exit(137)s there) or with SIGKILL after a random delay within the
// operation's measured duration. After every restart the invariants are
// checked: running <=> state, no orphaned process, cgroup, mount or veth,
// rules in force = policy + runtime record (and the kernel's pids.max with
// them), no temp files, no ghost jails, the journal empty, and `apply -n`
// of the policy the daemon runs reports nothing but drift (else: a partial
// apply). Seeded (JW_CRASH_SEED, printed); JW_CRASH_KILLS (default 100)
// kills within JW_CRASH_BUDGET_S seconds (default 210).
//
// Root only: skipped without root, failed under CI=true.

#include <random>

#include "crash/crash_env.h"
#include "crash/crash_scenario.h"
#include "gtest/gtest.h"
#include "jailwarden/api/client.h"
#include "jailwarden/platform/linux/rootfs.h"
#include "jailwarden/service/host_backend.h"
#include "platform/linux/jail_veth.h"

namespace jailwarden::crash {
namespace {

const std::string kBinary = JW_BINARY_DIR "/src/jailwarden";

bool CiMode() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

long EnvLong(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : fallback;
}

class CrashHarness : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (CiMode()) FAIL() << "the crash harness needs root (CI=true)";
      GTEST_SKIP() << "the crash harness needs root";
    }
    char dir[] = "/tmp/jw-crash-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    base_ = dir_ + "/base";
    state_ = dir_ + "/state";
    config_ = dir_ + "/jailwarden.yaml";
    log_ = dir_ + "/serve.log";
    parent_ = service::CgroupParentFor(state_);
    ASSERT_TRUE(platform::BuildBusyboxRoot(base_).ok());
  }

  void TearDown() override {
    if (dir_.empty()) return;
    if (serve_pid_ > 0) Kill();
    // A serve that adopts every jail and stops them on exit.
    if (StartServe({}, /*stop_jails_on_exit=*/true)) {
      kill(serve_pid_, SIGTERM);
      if (WaitFor(serve_pid_, absl::Seconds(60)) < 0) Kill();
      serve_pid_ = -1;
    }
    // The parent and everything below it, children first: a run that
    // found an orphaned cgroup (a violation) leaves it for this to remove.
    (void)std::system(StrCat("for m in $(awk '$9 ~ /^cgroup/ {print $5}' /proc/self/mountinfo); "
                             "do find \"$m\" -xdev -depth -type d -path '*/", parent_,
                             "*' -exec rmdir {} + 2>/dev/null; done").c_str());
    if (::testing::Test::HasFailure()) {
      std::cerr << "serve.log (last 60 lines):\n"
                << Shell(StrCat("tail -n 60 '", log_, "'"));
    }
    (void)std::system(StrCat("rm -rf '", dir_, "'").c_str());
  }

  void WritePolicy(int variant) {
    std::string text = kPolicy;
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"CACHE\n", kVariants[variant].cache}, {"STATE", state_}, {"BASE", base_}}) {
      std::size_t p;
      while ((p = text.find(key)) != std::string::npos) text.replace(p, key.size(), value);
    }
    const std::string tmp = config_ + ".new";
    std::ofstream(tmp) << text;
    ASSERT_EQ(rename(tmp.c_str(), config_.c_str()), 0);
    variant_ = variant;
  }

  // Starts serve (armed with `crash_at` unless empty) and waits until it is
  // ready; false if it exited first (a fault point in start-up).
  bool StartServe(const std::string& crash_at, bool stop_jails_on_exit = false) {
    const std::string port_file = dir_ + "/port";
    unlink(port_file.c_str());
    std::vector<std::string> argv = {kBinary, "serve", "--config", config_, "--listen",
                                     "127.0.0.1:0", "--port-file", port_file,
                                     "--log-file", log_, "--log-level", "info"};
    if (stop_jails_on_exit) argv.push_back("--stop-jails-on-exit");
    // A root of its own for the OCI containers the daemon shows: other
    // tests' containers are never this harness's ghosts.
    std::map<std::string, std::string> env = {{"JAILWARDEN_OCI_ROOT", dir_ + "/oci-root"}};
    if (!crash_at.empty()) env["JW_CRASH_AT"] = crash_at;
    serve_pid_ = Spawn(argv, env, dir_ + "/serve.out");
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      const std::string port = Slurp(port_file);
      if (!port.empty()) {
        server_ = StrCat("http://127.0.0.1:", StripWhitespace(port));
        token_ = std::string(StripWhitespace(Slurp(state_ + "/token")));
        return true;
      }
      int st = 0;
      if (waitpid(serve_pid_, &st, WNOHANG) == serve_pid_) {
        serve_pid_ = -1;
        last_exit_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    ADD_FAILURE() << "serve not ready within 60s";
    Kill();
    return false;
  }

  void Kill() {
    if (serve_pid_ <= 0) return;
    kill(serve_pid_, SIGKILL);
    WaitFor(serve_pid_, absl::Seconds(30));
    serve_pid_ = -1;
  }

  api::Client Client() {
    api::ClientOptions o;
    o.server = server_;
    o.token = token_;
    o.timeout = absl::Seconds(30);
    return api::Client(o);
  }

  pid_t RunCli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kBinary};
    argv.insert(argv.end(), args.begin(), args.end());
    return Spawn(argv, {{"JAILWARDEN_SERVER", server_}, {"JAILWARDEN_TOKEN", token_}},
                 dir_ + "/cli.out");
  }

  // The CLI arguments of `op`, chosen from what is defined now.
  std::vector<std::string> ArgsFor(Op op, std::mt19937_64& rng,
                                   const std::vector<std::string>& jails);

  // Every invariant; each violation is one line in `violations_`.
  void CheckInvariants(const std::string& after);

  std::string dir_, base_, state_, config_, log_, parent_, server_, token_;
  pid_t serve_pid_ = -1;
  int last_exit_ = 0;
  int variant_ = 0;
  int next_tmp_ = 0;
  std::vector<std::string> violations_;
  std::set<std::pair<std::string, int64_t>> seen_inits_;  // (jail, init pid) ever seen
  int partial_applies_ = 0;
};

std::vector<std::string> CrashHarness::ArgsFor(Op op, std::mt19937_64& rng,
                                               const std::vector<std::string>& jails) {
  std::vector<std::string> tmp;
  for (const std::string& j : jails) {
    if (StartsWith(j, "tmp")) tmp.push_back(j);
  }
  auto any = [&](const std::vector<std::string>& from) {
    return from.empty() ? std::string("db") : from[rng() % from.size()];
  };
  switch (op) {
    case kCreate:
      return {"create", "-t", "t", "-L", "memoryuse:deny=32M", "--start",
              StrCat("tmp", ++next_tmp_)};
    case kStart:
      return {"start", any(jails)};
    case kStop:
      return {"stop", any(jails)};
    case kRestart:
      return {"restart", any(jails)};
    case kDestroy:
      if (tmp.empty()) return ArgsFor(kCreate, rng, jails);
      return {"destroy", any(tmp)};
    case kApply: {
      // Another variant: remove, add back or change the cache jail.
      const int next = (variant_ + 1 + static_cast<int>(rng() % 2)) % 3;
      WritePolicy(next);
      return {"apply", "-f", config_};
    }
    case kRctlAdd:
      // maxproc: a runtime deny that replaces the policy's (pids.max shows it).
      return {"rctl", "-a", rng() % 2 == 0 ? "jail:db:memoryuse:deny=100M" : "jail:db:maxproc:deny=30"};
    case kRctlRemove: {
      const char* const filters[] = {"jail:db:nthr", "jail:db:memoryuse", "jail:db:maxproc"};
      return {"rctl", "-r", filters[rng() % 3]};
    }
    case kStartUp:
    case kOpCount:
      break;
  }
  return {"list"};
}

void CrashHarness::CheckInvariants(const std::string& after) {
  auto violation = [&](const std::string& what) {
    violations_.push_back(StrCat(what, " (after: ", after, ")"));
  };
  // The journal is empty once the daemon serves; no temp file anywhere.
  for (const std::string& f : Lines(Shell(StrCat("ls -1 '", state_, "/journal' 2>/dev/null")))) {
    violation(StrCat("journal record left: ", f));
  }
  for (const std::string& f :
       Lines(Shell(StrCat("find '", state_, "' \\( -name '*.tmp' -o -name '.*.removing' \\)")))) {
    violation(StrCat("temp file left: ", f));
  }
  absl::StatusOr<std::vector<api::JailInfo>> list = Client().ListJails();
  if (!list.ok()) {
    violation(StrCat("list: ", list.status().ToString()));
    return;
  }
  const std::map<std::string, std::vector<std::string>> cgroups = JailCgroups(parent_);
  const std::map<std::string, std::set<int>> procs = JailProcesses(parent_);
  std::set<std::string> defined, running;
  for (const api::JailInfo& j : *list) {
    defined.insert(j.name);
    if (j.state == "running") {
      running.insert(j.name);
      if (j.init_pid <= 0 || kill(static_cast<pid_t>(j.init_pid), 0) != 0) {
        violation(StrCat("jail ", j.name, " running without its init (pid ", j.init_pid, ")"));
      }
      if (cgroups.count(j.name) == 0) violation(StrCat("jail ", j.name, " running without a cgroup"));
    } else if (j.state != "stopped") {
      violation(StrCat("jail ", j.name, " left ", j.state));
    }
  }
  for (const auto& [name, dirs] : cgroups) {
    if (running.count(name) == 0) violation(StrCat("orphaned cgroup ", dirs.front()));
  }
  for (const auto& [name, pids] : procs) {
    if (running.count(name) == 0) {
      violation(StrCat("orphaned processes of jail ", name, ": ", pids.size()));
    }
  }
  for (const std::string& m : MountsBelow(dir_)) {
    bool owned = false;
    for (const std::string& r : running) owned |= m.find(StrCat("/", r)) != std::string::npos;
    if (!owned) violation(StrCat("orphaned mount ", m));
  }
  // Links: the host side of a jail's veth is named from its name and init
  // pid; none may outlive its jail. (Other links come and go with other
  // work on a shared host; only those this daemon's jails would own count.)
  for (const api::JailInfo& j : *list) {
    if (j.init_pid > 0) seen_inits_.emplace(j.name, j.init_pid);
  }
  const std::string links = HostLinks();
  for (const auto& [name, pid] : seen_inits_) {
    bool live = false;
    for (const api::JailInfo& j : *list) live |= j.name == name && j.init_pid == pid && j.state == "running";
    const std::string veth = platform::LinuxVethFor(name, pid).host_if;
    if (!live && links.find("\n" + veth + "\n") != std::string::npos) {
      violation(StrCat("orphaned veth ", veth, " of jail ", name));
    }
  }
  // Ghost or missing jails: the policy's, plus those the CLI created.
  const Variant& v = kVariants[variant_];
  for (const std::string& name : defined) {
    const bool in_policy = std::find(v.jails.begin(), v.jails.end(), name) != v.jails.end();
    if (!in_policy && !StartsWith(name, "tmp")) violation(StrCat("ghost jail ", name));
  }
  for (const std::string& name : v.jails) {
    if (running.count(name) == 0) violation(StrCat("policy jail ", name, " not running"));
  }
  // Rules in force = policy - runtime removals + runtime additions.
  const std::string record = Slurp(state_ + "/runtime-rules.json");
  std::set<std::string> want(v.rules.begin(), v.rules.end());
  for (const std::string& r : RecordRules(record, "removed")) want.erase(r);
  for (const std::string& r : RecordRules(record, "added")) {
    // A runtime deny replaces the deny with the same subject and resource.
    if (const std::size_t d = r.find(":deny="); d != std::string::npos) {
      for (auto it = want.begin(); it != want.end();) {
        it = StartsWith(*it, r.substr(0, d + 6)) ? want.erase(it) : std::next(it);
      }
    }
    want.insert(r);
    const std::string jail = r.substr(5, r.find(':', 5) - 5);
    if (defined.count(jail) == 0) violation(StrCat("runtime rule of a jail that is gone: ", r));
  }
  std::set<std::string> have;
  if (auto rules = Client().RulesWithFidelity(""); rules.ok()) {
    for (const api::RuleInfo& r : *rules) have.insert(r.rule);
  } else {
    violation(StrCat("rules: ", rules.status().ToString()));
  }
  for (const std::string& r : want) {
    if (have.count(r) == 0) violation(StrCat("rule missing: ", r));
  }
  for (const std::string& r : have) {
    if (want.count(r) == 0) violation(StrCat("rule not in policy + runtime: ", r));
  }
  for (const std::string& name : defined) {
    if (StartsWith(name, "tmp") && have.count(StrCat("jail:", name, ":memoryuse:deny=33554432")) == 0) {
      violation(StrCat("jail ", name, " defined without the limit it was created with"));
    }
  }
  // The kernel: pids.max of every running jail is the smaller of its
  // maxproc and nthr denies (the pids controller counts tasks).
  for (const std::string& name : running) {
    long least = -1;
    for (const std::string& r : want) {
      if (StartsWith(r, StrCat("jail:", name, ":maxproc:deny=")) ||
          StartsWith(r, StrCat("jail:", name, ":nthr:deny="))) {
        const long n = std::strtol(r.c_str() + r.rfind('=') + 1, nullptr, 10);
        least = least < 0 ? n : std::min(least, n);
      }
    }
    const std::string expect = least < 0 ? "max" : StrCat(least);
    for (const std::string& dir : cgroups.count(name) ? cgroups.at(name) : std::vector<std::string>{}) {
      const std::string got(StripWhitespace(Slurp(dir + "/pids.max")));
      if (!got.empty() && got != expect) {
        violation(StrCat("jail ", name, ": pids.max ", got, ", rule says ", expect));
      }
    }
  }
  // jailwarden_policy_drift: the policy's rules each jail has not in force.
  if (absl::StatusOr<api::HttpResponse> m = Client().Do("GET", "/metrics", ""); m.ok()) {
    for (const std::string& name : v.jails) {
      int drift = 0;  // its policy rules not in force, unless a runtime deny replaced one
      for (const std::string& p : v.rules) {
        if (!StartsWith(p, StrCat("jail:", name, ":")) || want.count(p) != 0) continue;
        const std::size_t d = p.find(":deny=");
        bool replaced = false;
        for (const std::string& w : want) {
          replaced |= d != std::string::npos && StartsWith(w, p.substr(0, d + 6));
        }
        drift += replaced ? 0 : 1;
      }
      const std::string series = StrCat("jailwarden_policy_drift{name=\"", name, "\"} ", drift, "\n");
      if (m->body.find(series) == std::string::npos) {
        violation(StrCat("/metrics lacks ", StripWhitespace(series)));
      }
    }
  }
  // A partial apply: what the daemon runs differs from its policy file in
  // anything but drift.
  absl::StatusOr<api::ApplyResult> dry = Client().Apply(Slurp(config_), config_, true);
  if (!dry.ok()) {
    violation(StrCat("apply -n: ", dry.status().ToString()));
  } else {
    for (const std::string& line : Lines(dry->diff)) {
      if (line.find("(drift") == std::string::npos) {
        ++partial_applies_;
        violation(StrCat("partial apply: ", line));
      }
    }
  }
}

TEST_F(CrashHarness, KillsAtRandomPointsOfEveryOperationLeaveNothingHalfDone) {
  const uint64_t seed = static_cast<uint64_t>(
      EnvLong("JW_CRASH_SEED", static_cast<long>(absl::ToUnixMicros(absl::Now()) & 0x7fffffff)));
  const long target = EnvLong("JW_CRASH_KILLS", 100);
  const absl::Duration budget = absl::Seconds(EnvLong("JW_CRASH_BUDGET_S", 210));
  std::cout << "crash harness seed: " << seed << " (JW_CRASH_SEED=" << seed
            << " repeats this run)\n";
  std::mt19937_64 rng(seed);
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };

  WritePolicy(0);
  ASSERT_TRUE(StartServe("")) << Slurp(log_);
  CheckInvariants("first start");

  std::map<std::string, int> by_kind;
  int kills = 0, restarts = 0;
  absl::Duration measured[kOpCount];
  for (absl::Duration& d : measured) d = absl::Milliseconds(300);
  const absl::Time t0 = absl::Now();
  std::string armed;  // the fault point the running daemon was started with
  Op op = static_cast<Op>(pick(kOpCount));
  while (kills < target && absl::Now() - t0 < budget) {
    std::vector<std::string> jails;
    if (auto list = Client().ListJails(); list.ok()) {
      for (const api::JailInfo& j : *list) jails.push_back(j.name);
    }
    std::string what = kOpNames[op];
    if (op == kStartUp) {
      // SIGKILL, then a start killed after a random delay within start-up.
      Kill();
      ++kills;
      ++by_kind["idle"];
      const absl::Duration delay = measured[kStartUp] * (pick(1000) / 1000.0);
      std::vector<std::string> argv = {kBinary, "serve", "--config", config_, "--listen",
                                       "127.0.0.1:0", "--log-file", log_};
      const absl::Time s0 = absl::Now();
      serve_pid_ = Spawn(argv, {{"JAILWARDEN_OCI_ROOT", dir_ + "/oci-root"}}, dir_ + "/serve.out");
      absl::SleepFor(delay);
      Kill();
      ++kills;
      ++by_kind["start-up, timed"];
      (void)s0;
    } else {
      const std::vector<std::string> args = ArgsFor(op, rng, jails);
      what = StrJoinArgs(args);
      const absl::Time s0 = absl::Now();
      const pid_t cli = RunCli(args);
      if (!armed.empty()) {
        // The daemon ends itself at the fault point, if the op passes it.
        const int rc = WaitFor(cli, absl::Seconds(60));
        if (rc < 0) kill(cli, SIGKILL), WaitFor(cli, absl::Seconds(10));
        if (WaitFor(serve_pid_, absl::Milliseconds(50)) == 137) {
          serve_pid_ = -1;
          ++by_kind["fault point"];
          what += StrCat(" [fault point ", armed, "]");
        } else {
          Kill();
          ++by_kind["after the op (point not passed)"];
          measured[op] = std::max(measured[op], absl::Now() - s0);
        }
      } else {
        const absl::Duration delay = measured[op] * (pick(1000) / 1000.0);
        absl::SleepFor(delay);
        Kill();
        ++by_kind["timed"];
        what += StrCat(" [killed after ", absl::FormatDuration(delay), "]");
        if (WaitFor(cli, absl::Seconds(60)) < 0) kill(cli, SIGKILL), WaitFor(cli, absl::Seconds(10));
      }
      ++kills;
    }
    // Restart, armed at a fault point of the next operation two times in
    // three. A fault point met during recovery is a start-up kill; the
    // start after it is not armed.
    armed.clear();
    std::string next_arm;
    op = static_cast<Op>(pick(kOpCount));
    if (pick(3) != 0 && !kPoints[op].empty()) next_arm = kPoints[op][pick(kPoints[op].size())];
    const absl::Time r0 = absl::Now();
    ++restarts;
    if (!StartServe(next_arm.empty() ? "" : next_arm + ":1")) {
      ASSERT_EQ(last_exit_, 137) << "serve exited " << last_exit_ << "\n" << Slurp(dir_ + "/serve.out");
      ++kills;
      ++by_kind["start-up, fault point"];
      ++restarts;
      ASSERT_TRUE(StartServe("")) << Slurp(dir_ + "/serve.out");
    } else {
      armed = next_arm;
      measured[kStartUp] = std::max(measured[kStartUp], absl::Now() - r0);
    }
    CheckInvariants(what);
  }
  Kill();
  std::cout << "crash harness summary (seed " << seed << "): kills " << kills << ", restarts "
            << restarts << ", invariant violations " << violations_.size()
            << ", partial applies " << partial_applies_ << ", "
            << absl::FormatDuration(absl::Trunc(absl::Now() - t0, absl::Seconds(1))) << "\n";
  for (const auto& [kind, n] : by_kind) std::cout << "  kills, " << kind << ": " << n << "\n";
  for (const std::string& v : violations_) std::cout << "  VIOLATION " << v << "\n";
  EXPECT_GE(kills, target) << "fewer kills than asked within the time budget";
  EXPECT_TRUE(violations_.empty());
  EXPECT_EQ(partial_applies_, 0);
}

}  // namespace
}  // namespace jailwarden::crash
