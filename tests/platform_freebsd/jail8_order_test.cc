// jail(8)'s hook order (../shared/reference/freebsd-rctl.md §11.3) driven
// through FreeBsdJailRuntime against the fake kernel. The jail layer owns
// this order in production; Jail8Driver below is a minimal stand-in that
// follows startcommands[]/stopcommands[] so the FreeBSD steps can be
// checked end to end: every kernel call and every command, in order.

#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "fakes/fake_clock.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/jail_runtime.h"

namespace jailwarden::platform {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

class Jail8Driver {
 public:
  Jail8Driver(FreeBsdJailRuntime& rt, FakeClock& clock)
      : rt_(rt), clock_(clock) {}

  void Define(const JailSpec& spec) { specs_[spec.name] = spec; }

  // jail -c NAME: dependencies first, each through its exec.poststart.
  absl::Status Start(const std::string& name) {
    if (running_.contains(name)) return absl::OkStatus();
    const JailSpec& s = specs_.at(name);
    for (const std::string& dep : s.depend) JW_RETURN_IF_ERROR(Start(dep));
    JailInstance& in = running_[name];
    JW_RETURN_IF_ERROR(Hooks(in, s, ExecWhere::kHost, s.exec.prepare));
    JW_RETURN_IF_ERROR(rt_.Prepare(s, in));
    JW_RETURN_IF_ERROR(Hooks(in, s, ExecWhere::kHost, s.exec.prestart));
    JW_RETURN_IF_ERROR(rt_.Create(s, in));
    JW_RETURN_IF_ERROR(Hooks(in, s, ExecWhere::kHost, s.exec.created));
    JW_RETURN_IF_ERROR(rt_.AttachNetwork(s, in));
    JW_RETURN_IF_ERROR(Hooks(in, s, ExecWhere::kJail, s.exec.start));
    JW_RETURN_IF_ERROR(Hooks(in, s, ExecWhere::kHost, s.exec.poststart));
    if (!s.persist) JW_RETURN_IF_ERROR(rt_.ClearPersist(in));
    return absl::OkStatus();
  }

  // jail -r NAME: dependents first, each through its exec.poststop.
  absl::Status Stop(const std::string& name) {
    if (!running_.contains(name)) return absl::OkStatus();
    for (const auto& [other, spec] : specs_) {
      for (const std::string& dep : spec.depend) {
        if (dep == name) JW_RETURN_IF_ERROR(Stop(other));
      }
    }
    const JailSpec& s = specs_.at(name);
    JailInstance& in = running_[name];
    JW_RETURN_IF_ERROR(Hooks(in, s, ExecWhere::kHost, s.exec.prestop));
    JW_RETURN_IF_ERROR(Hooks(in, s, ExecWhere::kJail, s.exec.stop));
    // stop.timeout: SIGTERM, then wait up to N seconds (0 = none).
    if (s.stop_timeout > absl::ZeroDuration()) {
      JW_RETURN_IF_ERROR(rt_.SignalAll(in, 15));
      const absl::Time deadline = clock_.Now() + s.stop_timeout;
      while (clock_.Now() < deadline && *rt_.CountProcesses(in) > 0) {
        clock_.SleepUntil(clock_.Now() + absl::Seconds(1));
      }
      waited_[name] = s.stop_timeout - (deadline - clock_.Now());
    }
    JW_RETURN_IF_ERROR(rt_.Remove(in));
    JW_RETURN_IF_ERROR(Hooks(in, s, ExecWhere::kHost, s.exec.poststop));
    JW_RETURN_IF_ERROR(rt_.Teardown(s, in));
    JW_RETURN_IF_ERROR(Hooks(in, s, ExecWhere::kHost, s.exec.release));
    running_.erase(name);
    return absl::OkStatus();
  }

  absl::Duration waited(const std::string& name) { return waited_[name]; }

 private:
  absl::Status Hooks(const JailInstance& in, const JailSpec& s, ExecWhere where,
                     const CommandList& commands) {
    for (const std::string& c : commands) {
      ExecRequest req;
      for (std::string_view w : SplitWhitespace(c)) req.argv.emplace_back(w);
      req.env = {{"JID", StrCat(in.ref.jid)}, {"JNAME", s.name}, {"JPATH", s.path}};
      absl::StatusOr<ExecResult> r = rt_.Exec(in, where, req);
      if (!r.ok()) return r.status();
      if (!r->ok()) {  // every command must exit 0 (jail(8))
        return absl::AbortedError(StrCat(c, ": failed"));
      }
    }
    return absl::OkStatus();
  }

  FreeBsdJailRuntime& rt_;
  FakeClock& clock_;
  std::map<std::string, JailSpec> specs_;
  std::map<std::string, JailInstance> running_;
  std::map<std::string, absl::Duration> waited_;
};

JailSpec Spec(const std::string& name) {
  JailSpec s;
  s.name = name;
  s.path = "/jails/" + name;
  s.network.mode = NetworkMode::kNew;
  s.network.interface = "em0";
  s.network.ip4_addresses = {"192.0.2.1"};
  s.network.ip6_addresses = {"2001:db8::1"};
  s.parameters = {{"mount.devfs", "true"}, {"mount.fdescfs", "true"},
                  {"mount.procfs", "true"}};
  s.mounts = {{"/srv/" + name, "/data", "nullfs", false, ""}};
  s.exec.prepare = {"prepare"};
  s.exec.prestart = {"prestart"};
  s.exec.created = {"created"};
  s.exec.start = {"sh /etc/rc"};
  s.exec.poststart = {"poststart"};
  s.exec.prestop = {"prestop"};
  s.exec.stop = {"sh /etc/rc.shutdown jail"};
  s.exec.poststop = {"poststop"};
  s.exec.release = {"release"};
  return s;
}

class Jail8OrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_.AddInterface("em0");
    // exec.start leaves a daemon running in the jail, as /etc/rc does.
    kernel_.SetCommandHandler([this](const FakeCommand& c) {
      if (c.jid != 0 && c.argv == std::vector<std::string>{"sh", "/etc/rc"}) {
        daemons_.push_back(kernel_.AddProcess(c.jid, 0, 0, "syslogd"));
      }
      return c.argv[0] == "fail" ? 1 : 0;
    });
  }
  FakeFreeBsdKernel kernel_;
  FakeClock clock_;
  FreeBsdJailRuntime runtime_{kernel_};
  Jail8Driver driver_{runtime_, clock_};
  std::vector<pid_t> daemons_;
};

TEST_F(Jail8OrderTest, StartAndStopFollowStartcommandsAndStopcommands) {
  driver_.Define(Spec("www"));
  ASSERT_TRUE(driver_.Start("www").ok());
  EXPECT_THAT(
      kernel_.calls(),
      ElementsAre(
          "run(jid=0) prepare",  // 1 exec.prepare
          // 2 IPv4 then IPv6 aliases
          "run(jid=0) /sbin/ifconfig em0 inet 192.0.2.1 netmask 255.255.255.255 alias",
          "run(jid=0) /sbin/ifconfig em0 inet6 2001:db8::1 prefixlen 128 alias",
          "nmount(nullfs /srv/www /jails/www/data)",              // 3/4 mount
          "nmount(devfs devfs /jails/www/dev ruleset=4)",         // 5 mount.devfs
          "nmount(fdescfs fdesc /jails/www/dev/fd)",              // 6 mount.fdescfs
          "nmount(procfs proc /jails/www/proc)",                  // 7 mount.procfs
          "run(jid=0) prestart",                                  // 8 exec.prestart
          "jail_setv(create) name=www path=/jails/www host.hostname=www "
          "ip4.addr=192.0.2.1 ip6.addr=2001:db8::1 persist",      // 9 the kernel
          "run(jid=0) created",                                   // 10 exec.created
          "run(jid=1) sh /etc/rc",                                // 13 exec.start
          "run(jid=0) poststart",                                 // 15 exec.poststart
          "jail_setv(update) jid=1 nopersist"));                  // clear_persist
  // The jail lives on because exec.start left a process in it.
  ASSERT_TRUE(kernel_.PrisonByName("www").has_value());
  EXPECT_FALSE(kernel_.PrisonByName("www")->persist);

  kernel_.ClearCalls();
  ASSERT_TRUE(driver_.Stop("www").ok());
  EXPECT_THAT(
      kernel_.calls(),
      ElementsAre("run(jid=0) prestop",                         // 1 exec.prestop
                  "run(jid=1) sh /etc/rc.shutdown jail",        // 2 exec.stop
                  "kill(" + std::to_string(daemons_[0]) + ", 15)",  // 3 stop.timeout
                  // 4 the kernel: the jail had no persist and its last
                  // process exited on SIGTERM, so it is already gone and
                  // there is nothing left to jail_remove.
                  "jail_getv(jid=1)",
                  "run(jid=0) poststop",                        // 5 exec.poststop
                  "unmount(/jails/www/proc)",                   // 6 procfs, fdescfs,
                  "unmount(/jails/www/dev/fd)",                 //   devfs, mounts
                  "unmount(/jails/www/dev)", "unmount(/jails/www/data)",
                  // 7 IPv6 then IPv4 aliases
                  "run(jid=0) /sbin/ifconfig em0 inet6 2001:db8::1 prefixlen 128 -alias",
                  "run(jid=0) /sbin/ifconfig em0 inet 192.0.2.1 netmask 255.255.255.255 -alias",
                  "run(jid=0) release"));                       // 8 exec.release
  EXPECT_TRUE(kernel_.Prisons().empty());
  EXPECT_TRUE(kernel_.Mounts().empty());
}

TEST_F(Jail8OrderTest, AFailingHookStopsCreation) {
  JailSpec s = Spec("www");
  s.exec.prestart = {"prestart", "fail"};
  driver_.Define(s);
  absl::Status st = driver_.Start("www");
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(kernel_.Prisons().empty());  // jail_set never ran
}

TEST_F(Jail8OrderTest, DependenciesStartFirstAndStopLast) {
  JailSpec db = Spec("db");
  db.network.ip4_addresses = {"192.0.2.2"};
  db.network.ip6_addresses = {};
  db.persist = true;  // persist jails are still there at jail_remove time
  JailSpec www = Spec("www");
  www.depend = {"db"};
  www.persist = true;
  driver_.Define(db);
  driver_.Define(www);
  ASSERT_TRUE(driver_.Start("www").ok());
  std::vector<std::string> creates;
  for (const std::string& c : kernel_.calls()) {
    if (c.starts_with("jail_setv(create)") || c.starts_with("run(jid=0) poststart")) {
      creates.push_back(c.substr(0, c.find(" path")));
    }
  }
  // db is created and through its exec.poststart before www is created.
  EXPECT_THAT(creates, ElementsAre("jail_setv(create) name=db", "run(jid=0) poststart",
                                   "jail_setv(create) name=www", "run(jid=0) poststart"));
  kernel_.ClearCalls();
  ASSERT_TRUE(driver_.Stop("db").ok());  // stops www first
  std::vector<std::string> removes;
  for (const std::string& c : kernel_.calls()) {
    if (c.starts_with("jail_remove")) removes.push_back(c);
  }
  EXPECT_THAT(removes, ElementsAre("jail_remove(2)", "jail_remove(1)"));
}

TEST_F(Jail8OrderTest, StopTimeoutWaitsThenRemoveKillsTheRest) {
  JailSpec s = Spec("www");
  s.stop_timeout = absl::Seconds(10);
  driver_.Define(s);
  ASSERT_TRUE(driver_.Start("www").ok());
  kernel_.SetIgnoresSigterm(daemons_[0], true);
  ASSERT_TRUE(driver_.Stop("www").ok());
  EXPECT_EQ(driver_.waited("www"), absl::Seconds(10));  // waited it out
  std::optional<FakeProcess> p = kernel_.Process(daemons_[0]);
  EXPECT_FALSE(p.has_value());  // jail_remove killed it
}

TEST_F(Jail8OrderTest, StopTimeoutZeroSendsNoSigterm) {
  JailSpec s = Spec("www");
  s.stop_timeout = absl::ZeroDuration();
  driver_.Define(s);
  ASSERT_TRUE(driver_.Start("www").ok());
  kernel_.ClearCalls();
  ASSERT_TRUE(driver_.Stop("www").ok());
  for (const std::string& c : kernel_.calls()) {
    EXPECT_FALSE(c.starts_with("kill(")) << c;
  }
}

TEST_F(Jail8OrderTest, AdoptedJailStopsCleanlyAfterARestart) {
  driver_.Define(Spec("www"));
  ASSERT_TRUE(driver_.Start("www").ok());
  // The daemon restarts: a new runtime adopts the jail by name and tears
  // it down from the recorded backend_state alone.
  FreeBsdJailRuntime restarted(kernel_);
  JailInstance stored;
  stored.ref.name = "www";
  ASSERT_TRUE(*restarted.Adopt(stored));
  stored.backend_state = {{"mounts", "/jails/www/data\n/jails/www/dev\n/jails/www/dev/fd\n"
                                     "/jails/www/proc"},
                          {"ip4_aliases", "em0|192.0.2.1"},
                          {"ip6_aliases", "em0|2001:db8::1"}};
  ASSERT_TRUE(restarted.Remove(stored).ok());
  ASSERT_TRUE(restarted.Teardown(Spec("www"), stored).ok());
  EXPECT_TRUE(kernel_.Prisons().empty());
  EXPECT_TRUE(kernel_.Mounts().empty());
  EXPECT_TRUE(kernel_.Aliases("em0").empty());
}

}  // namespace
}  // namespace jailwarden::platform
