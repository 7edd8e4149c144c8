#include "jailwarden/platform/freebsd/jail_runtime.h"

#include <cerrno>
#include <string>

#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"

namespace jailwarden::platform {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ExecRequest Req(std::vector<std::string> argv) {
  ExecRequest r;
  r.argv = std::move(argv);
  return r;
}

JailSpec WebSpec() {
  JailSpec s;
  s.name = "www";
  s.path = "/jails/www";
  s.hostname = "www.example.org";
  s.network.mode = NetworkMode::kNew;
  s.network.interface = "em0";
  s.network.ip4_addresses = {"192.0.2.10", "lo1|127.0.1.10/255.255.255.0"};
  s.network.ip6_addresses = {"2001:db8::10", "2001:db8::11/64"};
  s.mounts = {
      {"/srv/www", "/usr/local/www", "nullfs", false, ""},
      {"/usr/ports", "/usr/ports", "nullfs", true, ""},
      {"tmpfs", "/tmp", "tmpfs", false, "size=64m,mode=1777"},
  };
  s.parameters = {{"mount.devfs", "true"},
                  {"devfs_ruleset", "5"},
                  {"mount.fdescfs", ""},
                  {"mount.procfs", "1"},
                  {"allow.raw_sockets", ""},
                  {"enforce_statfs", "1"},
                  {"exec.start", "sh /etc/rc"},
                  {"stop.timeout", "30"}};
  return s;
}

class FreeBsdJailRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_.AddInterface("em0");
    kernel_.AddInterface("lo1");
  }
  FakeFreeBsdKernel kernel_;
  FreeBsdJailRuntime runtime_{kernel_};
};

TEST_F(FreeBsdJailRuntimeTest, PrepareAddsAliasesThenMountsAsJail8) {
  JailInstance inst;
  ASSERT_TRUE(runtime_.Prepare(WebSpec(), inst).ok());
  EXPECT_THAT(kernel_.calls(),
              ElementsAre(
                  // IPv4 first, then IPv6 (usr.sbin/jail/command.c argv forms).
                  "run(jid=0) /sbin/ifconfig em0 inet 192.0.2.10 netmask 255.255.255.255 alias",
                  "run(jid=0) /sbin/ifconfig lo1 inet 127.0.1.10 netmask 255.255.255.0 alias",
                  "run(jid=0) /sbin/ifconfig em0 inet6 2001:db8::10 prefixlen 128 alias",
                  "run(jid=0) /sbin/ifconfig em0 inet6 2001:db8::11/64 alias",
                  // mount, then mount.devfs, mount.fdescfs, mount.procfs.
                  "nmount(nullfs /srv/www /jails/www/usr/local/www)",
                  "nmount(nullfs /usr/ports /jails/www/usr/ports ro)",
                  "nmount(tmpfs tmpfs /jails/www/tmp)",
                  "nmount(devfs devfs /jails/www/dev ruleset=5)",
                  "nmount(fdescfs fdesc /jails/www/dev/fd)",
                  "nmount(procfs proc /jails/www/proc)"));
  EXPECT_THAT(kernel_.Aliases("em0"),
              ElementsAre("inet 192.0.2.10 netmask 255.255.255.255",
                          "inet6 2001:db8::10 prefixlen 128", "inet6 2001:db8::11/64"));
  std::vector<FakeMount> mounts = kernel_.Mounts();
  ASSERT_EQ(mounts.size(), 6u);
  EXPECT_TRUE(mounts[1].read_only);
  EXPECT_EQ(mounts[2].options.at("size"), "64m");
  EXPECT_EQ(inst.backend_state.at("mounts"),
            "/jails/www/usr/local/www\n/jails/www/usr/ports\n/jails/www/tmp\n"
            "/jails/www/dev\n/jails/www/dev/fd\n/jails/www/proc");
  // Idempotent: a second Prepare does nothing more.
  kernel_.ClearCalls();
  ASSERT_TRUE(runtime_.Prepare(WebSpec(), inst).ok());
  EXPECT_THAT(kernel_.calls(), IsEmpty());
}

TEST_F(FreeBsdJailRuntimeTest, DevfsDefaultsToRuleset4AndThinJailMountsBaseReadOnly) {
  JailSpec s;
  s.name = "thin";
  s.path = "/jails/thin";
  s.base_root = "/jails/base/14.2-RELEASE";
  s.parameters = {{"mount.devfs", "true"}};
  JailInstance inst;
  ASSERT_TRUE(runtime_.Prepare(s, inst).ok());
  std::vector<FakeMount> mounts = kernel_.Mounts();
  ASSERT_EQ(mounts.size(), 15u);
  EXPECT_EQ(mounts[0].from, "/jails/base/14.2-RELEASE/bin");
  EXPECT_EQ(mounts[0].fspath, "/jails/thin/bin");
  EXPECT_TRUE(mounts[0].read_only);
  EXPECT_EQ(mounts.back().fstype, "devfs");
  EXPECT_EQ(mounts.back().options.at("ruleset"), "4");
}

TEST_F(FreeBsdJailRuntimeTest, PrepareErrors) {
  JailSpec s = WebSpec();
  s.path = "jails/www";
  JailInstance inst;
  absl::Status st = runtime_.Prepare(s, inst);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "path jails/www: not an absolute pathname");

  s = WebSpec();
  s.network.interface = "em9";  // no such interface: ifconfig exits 1
  st = runtime_.Prepare(s, inst);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("/sbin/ifconfig em9 inet 192.0.2.10"));

  s = WebSpec();
  s.network.ip4_addresses = {"192.0.2.300"};
  EXPECT_EQ(runtime_.Prepare(s, inst).code(), absl::StatusCode::kInvalidArgument);

  kernel_.MarkPathMissing("/srv/www");
  JailInstance inst2;
  st = runtime_.Prepare(WebSpec(), inst2);
  EXPECT_EQ(StatusErrno(st), ENOENT);
  EXPECT_THAT(std::string(st.message()), HasSubstr("nmount(nullfs /srv/www"));
  // What was done before the failure is recorded for Teardown.
  EXPECT_FALSE(inst2.backend_state.at("ip4_aliases").empty());
  EXPECT_EQ(kernel_.Aliases("em0").size(), 3u);
  ASSERT_TRUE(runtime_.Teardown(WebSpec(), inst2).ok());
  EXPECT_THAT(kernel_.Aliases("em0"), IsEmpty());
}

TEST_F(FreeBsdJailRuntimeTest, CreatePassesJail8ParametersWithTemporaryPersist) {
  JailInstance inst;
  JailSpec spec = WebSpec();
  // The Linux backend's keys in a shared policy never reach the kernel.
  spec.parameters["linux.capabilities"] = "net_admin";
  spec.parameters["linux.devpts.max"] = "16";
  ASSERT_TRUE(runtime_.Create(spec, inst).ok());
  EXPECT_EQ(inst.ref.jid, 1);
  EXPECT_EQ(inst.ref.name, "www");
  EXPECT_EQ(inst.backend_state.at("temporary_persist"), "1");
  EXPECT_THAT(kernel_.calls(),
              ElementsAre("jail_setv(create) name=www path=/jails/www "
                          "host.hostname=www.example.org "
                          "ip4.addr=192.0.2.10,127.0.1.10 ip6.addr=2001:db8::10,2001:db8::11 "
                          "allow.raw_sockets devfs_ruleset=5 enforce_statfs=1 persist"));
  std::optional<FakePrison> p = kernel_.PrisonByName("www");
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->persist);
  EXPECT_EQ(p->params.at("allow.raw_sockets"), "true");
  // Nobody started anything: clearing the temporary persist lets it die,
  // exactly as jail(8)'s clear_persist would.
  ASSERT_TRUE(runtime_.ClearPersist(inst).ok());
  EXPECT_FALSE(kernel_.PrisonByName("www").has_value());
  EXPECT_FALSE(inst.backend_state.contains("temporary_persist"));
}

TEST_F(FreeBsdJailRuntimeTest, CreateAsksTheKernelForTheManagersJid) {
  JailInstance inst;
  inst.ref.jid = 42;  // what jail::Manager handed out before exec.prepare
  ASSERT_TRUE(runtime_.Create(WebSpec(), inst).ok());
  EXPECT_EQ(inst.ref.jid, 42);
  ASSERT_FALSE(kernel_.calls().empty());
  EXPECT_THAT(kernel_.calls().back(), ::testing::StartsWith("jail_setv(create) jid=42 name=www "));
  std::optional<FakePrison> p = kernel_.PrisonByName("www");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->jid, 42);
  // After a restart adoption finds the same jid by name.
  JailInstance adopted;
  adopted.ref.name = "www";
  ASSERT_TRUE(runtime_.Adopt(adopted).value());
  EXPECT_EQ(adopted.ref.jid, 42);
}

TEST_F(FreeBsdJailRuntimeTest, CreateLetsTheKernelPickWhenAForeignJailHoldsTheJid) {
  ASSERT_EQ(kernel_.JailSetv(kJailCreate, {{"jid", "42"},
                                           {"name", "theirs"},
                                           {"path", "/"},
                                           {"persist", std::nullopt}}),
            42);
  JailInstance inst;
  inst.ref.jid = 42;
  ASSERT_TRUE(runtime_.Create(WebSpec(), inst).ok());
  EXPECT_NE(inst.ref.jid, 42);
  EXPECT_GT(inst.ref.jid, 0);
  EXPECT_EQ(kernel_.PrisonByName("www")->jid, inst.ref.jid);
  EXPECT_EQ(kernel_.PrisonByName("theirs")->jid, 42);
  // Our own name at that jid is a real EEXIST, not retried.
  JailInstance again;
  again.ref.jid = inst.ref.jid;
  absl::Status st = runtime_.Create(WebSpec(), again);
  EXPECT_TRUE(absl::IsAlreadyExists(st)) << st;
}

TEST_F(FreeBsdJailRuntimeTest, CreateErrorsCarryErrnoAndErrmsg) {
  JailInstance inst;
  ASSERT_TRUE(runtime_.Create(WebSpec(), inst).ok());
  JailInstance again;
  absl::Status s = runtime_.Create(WebSpec(), again);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusErrno(s), EEXIST);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("jail_setv(create, name=www): jail \"www\" already exists"));
  JailSpec child = WebSpec();
  child.name = "nosuch.child";
  s = runtime_.Create(child, again);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("jail \"nosuch\" not found"));
  JailSpec bad = WebSpec();
  bad.name = "db";
  bad.parameters["securelevel"] = "high";
  s = runtime_.Create(bad, again);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("securelevel: non-integer value \"high\""));
  bad.parameters.erase("securelevel");
  bad.parameters["allow.frobnicate"] = "";
  s = runtime_.Create(bad, again);
  EXPECT_EQ(StatusErrno(s), ENOENT);
  EXPECT_THAT(std::string(s.message()), HasSubstr("unknown parameter: allow.frobnicate"));
}

TEST_F(FreeBsdJailRuntimeTest, PersistentSpecKeepsPersist) {
  JailSpec s = WebSpec();
  s.persist = true;
  JailInstance inst;
  ASSERT_TRUE(runtime_.Create(s, inst).ok());
  EXPECT_FALSE(inst.backend_state.contains("temporary_persist"));
  ASSERT_TRUE(runtime_.ClearPersist(inst).ok());  // nothing to clear
  EXPECT_TRUE(kernel_.PrisonByName("www").has_value());
}

TEST_F(FreeBsdJailRuntimeTest, ExecSpawnSignalCountRemove) {
  JailInstance inst;
  ASSERT_TRUE(runtime_.Create(WebSpec(), inst).ok());
  kernel_.SetCommandHandler([](const FakeCommand& c) { return c.argv[0] == "false" ? 1 : 0; });
  absl::StatusOr<ExecResult> r = runtime_.Exec(inst, ExecWhere::kJail, Req({"false"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  absl::StatusOr<int64_t> pid = runtime_.Spawn(inst, Req({"/usr/sbin/daemon"}));
  ASSERT_TRUE(pid.ok());
  const pid_t stubborn = kernel_.AddProcess(static_cast<int>(inst.ref.jid), 0, 0, "stubborn");
  kernel_.SetIgnoresSigterm(stubborn, true);
  kernel_.AddProcess(0, 0, 0, "host-process");
  EXPECT_EQ(*runtime_.CountProcesses(inst), 2);
  ASSERT_TRUE(runtime_.SignalAll(inst, 15).ok());
  EXPECT_EQ(*runtime_.CountProcesses(inst), 1);  // stubborn ignores SIGTERM
  ASSERT_TRUE(runtime_.Remove(inst).ok());
  EXPECT_FALSE(kernel_.PrisonByName("www").has_value());
  EXPECT_FALSE(kernel_.Process(stubborn).has_value());
  ASSERT_TRUE(runtime_.Remove(inst).ok());  // already gone: fine
  absl::StatusOr<ExecResult> gone = runtime_.Exec(inst, ExecWhere::kJail, Req({"true"}));
  EXPECT_EQ(StatusErrno(gone.status()), EINVAL);  // jail_attach to a missing jid
}

TEST_F(FreeBsdJailRuntimeTest, RemoveDoesNotTouchAJailThatReusedTheJid) {
  JailInstance inst;
  ASSERT_TRUE(runtime_.Create(WebSpec(), inst).ok());
  ASSERT_EQ(kernel_.JailRemove(static_cast<int>(inst.ref.jid)), 0);
  ASSERT_EQ(kernel_.JailSetv(kJailCreate, {{"jid", "1"}, {"name", "other"},
                                          {"persist", std::nullopt}}), 1);
  ASSERT_TRUE(runtime_.Remove(inst).ok());
  EXPECT_TRUE(kernel_.PrisonByName("other").has_value());
}

TEST_F(FreeBsdJailRuntimeTest, AdoptFindsRunningJailsByNameAfterRestart) {
  JailInstance inst;
  kernel_.SetNextJid(17);
  ASSERT_TRUE(runtime_.Create(WebSpec(), inst).ok());
  // A new daemon process: a fresh runtime and an instance from the state store.
  FreeBsdJailRuntime restarted(kernel_);
  JailInstance stored;
  stored.ref.name = "www";
  stored.ref.jid = 3;  // stale
  absl::StatusOr<bool> alive = restarted.Adopt(stored);
  ASSERT_TRUE(alive.ok());
  EXPECT_TRUE(*alive);
  EXPECT_EQ(stored.ref.jid, 17);
  JailInstance dead;
  dead.ref.name = "db";
  EXPECT_FALSE(*restarted.Adopt(dead));
}

TEST_F(FreeBsdJailRuntimeTest, TeardownUnmountsInReverseAndRemovesIp6ThenIp4) {
  JailInstance inst;
  ASSERT_TRUE(runtime_.Prepare(WebSpec(), inst).ok());
  kernel_.ClearCalls();
  ASSERT_TRUE(runtime_.Teardown(WebSpec(), inst).ok());
  EXPECT_THAT(kernel_.calls(),
              ElementsAre("unmount(/jails/www/proc)", "unmount(/jails/www/dev/fd)",
                          "unmount(/jails/www/dev)", "unmount(/jails/www/tmp)",
                          "unmount(/jails/www/usr/ports)",
                          "unmount(/jails/www/usr/local/www)",
                          "run(jid=0) /sbin/ifconfig em0 inet6 2001:db8::10 prefixlen 128 -alias",
                          "run(jid=0) /sbin/ifconfig em0 inet6 2001:db8::11/64 -alias",
                          "run(jid=0) /sbin/ifconfig em0 inet 192.0.2.10 netmask 255.255.255.255 -alias",
                          "run(jid=0) /sbin/ifconfig lo1 inet 127.0.1.10 netmask 255.255.255.0 -alias"));
  EXPECT_THAT(kernel_.Mounts(), IsEmpty());
  EXPECT_THAT(kernel_.Aliases("em0"), IsEmpty());
  EXPECT_TRUE(inst.backend_state.empty());
  // Parts already gone are tolerated.
  JailInstance again;
  ASSERT_TRUE(runtime_.Prepare(WebSpec(), again).ok());
  ASSERT_EQ(kernel_.Unmount("/jails/www/proc", 0), 0);
  EXPECT_TRUE(runtime_.Teardown(WebSpec(), again).ok());
}

TEST_F(FreeBsdJailRuntimeTest, TeardownReportsABusyMountAndKeepsIt) {
  JailInstance inst;
  ASSERT_TRUE(runtime_.Prepare(WebSpec(), inst).ok());
  kernel_.FailNext(FakeFreeBsdKernel::Call::kUnmount, EBUSY);
  absl::Status s = runtime_.Teardown(WebSpec(), inst);
  EXPECT_EQ(StatusErrno(s), EBUSY);
  EXPECT_EQ(inst.backend_state.at("mounts"), "/jails/www/proc");
}

TEST_F(FreeBsdJailRuntimeTest, VnetMovesTheInterfaceAndAddressesItInside) {
  kernel_.AddInterface("epair3a");
  kernel_.AddInterface("epair3b");
  JailSpec s;
  s.name = "vj";
  s.path = "/jails/vj";
  s.network.mode = NetworkMode::kVnet;
  s.network.interface = "epair3b";
  s.network.ip4_addresses = {"169.254.3.2/30"};
  s.network.host_ip4 = "169.254.3.1/30";
  JailInstance inst;
  ASSERT_TRUE(runtime_.Prepare(s, inst).ok());
  ASSERT_TRUE(runtime_.Create(s, inst).ok());
  kernel_.ClearCalls();
  ASSERT_TRUE(runtime_.AttachNetwork(s, inst).ok());
  EXPECT_THAT(kernel_.calls(),
              ElementsAre("run(jid=0) /sbin/ifconfig epair3b vnet 1",
                          "run(jid=1) /sbin/ifconfig epair3b inet 169.254.3.2/30 alias",
                          "run(jid=0) /sbin/ifconfig epair3a inet 169.254.3.1/30 alias"));
  EXPECT_EQ(kernel_.InterfaceJail("epair3b"), 1);
  EXPECT_EQ(kernel_.PrisonByJid(1)->vnet, true);
}

}  // namespace
}  // namespace jailwarden::platform
