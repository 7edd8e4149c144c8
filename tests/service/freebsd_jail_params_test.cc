// jail(8)'s parameters end to end on FreeBSD: jail::Manager (the hook
// order, depend, exec.clean) over FreeBsdJailRuntime over FakeFreeBsdKernel,
// one test per parameter, each checking what the kernel holds after start
// and after stop, and what a hostile jail root or a bad value changes
// (nothing).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/manager.h"
#include "jailwarden/platform/freebsd/jail_runtime.h"

namespace jailwarden {
namespace {

using platform::FakeFreeBsdKernel;
using platform::JailSpec;
using platform::NetworkMode;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FreeBsdJailParamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-fbsd-params-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    kernel_.AddInterface("em0");
    kernel_.AddInterface("lo1");
    // exec.start leaves a daemon in the jail, as /etc/rc does; every
    // command writes a line to its stdout (if it has one) and is recorded.
    kernel_.SetCommandHandler([this](const platform::FakeCommand& c) {
      commands_.push_back(c);
      if (c.stdout_fd >= 0) {
        const std::string line = StrCat(c.argv.back(), " in jid ", c.jid, "\n");
        EXPECT_EQ(write(c.stdout_fd, line.data(), line.size()),
                  static_cast<ssize_t>(line.size()));
      }
      if (c.jid != 0 && c.argv.back() == "sh /etc/rc") {
        kernel_.AddProcess(c.jid, 0, 0, "syslogd");
      }
      return c.argv.back() == "false" ? 1 : 0;
    });
    jail::ManagerOptions options;
    options.state_dir = tmp_ + "/state";
    options.fsync = false;
    auto runtime = std::make_unique<platform::FreeBsdJailRuntime>(kernel_);
    absl::StatusOr<std::unique_ptr<jail::Manager>> m =
        jail::Manager::Open(options, std::move(runtime));
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = *std::move(m);
  }
  void TearDown() override {
    manager_.reset();
    std::filesystem::remove_all(tmp_);
  }

  JailSpec Spec(const std::string& name) {
    JailSpec s;
    s.name = name;
    s.path = StrCat(tmp_, "/jails/", name);
    std::filesystem::create_directories(s.path);
    s.network.mode = NetworkMode::kInherit;
    s.exec.start = {"sh /etc/rc"};
    return s;
  }

  // Defines and starts `s`.
  absl::Status Run(const JailSpec& s) {
    if (absl::Status c = manager_->Create(s); !c.ok()) return c;
    return manager_->Start(s.name);
  }

  std::string tmp_;
  FakeFreeBsdKernel kernel_;
  std::unique_ptr<jail::Manager> manager_;
  std::vector<platform::FakeCommand> commands_;
};

TEST_F(FreeBsdJailParamsTest, VnetMakesAnEpairMovesTheJailEndInAndDestroysItAtStop) {
  JailSpec s = Spec("web");
  s.network.mode = NetworkMode::kVnet;
  s.network.ip4_addresses = {"169.254.7.2/30"};
  s.network.host_ip4 = "169.254.7.1/30";
  s.parameters["vnet.interface"] = "vnet0";
  ASSERT_TRUE(Run(s).ok());
  const std::optional<platform::FakePrison> p = kernel_.PrisonByName("web");
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->vnet);
  EXPECT_THAT(kernel_.Interfaces(), ElementsAre("e0a_web", "em0", "lo1", "vnet0"));
  EXPECT_EQ(kernel_.InterfaceJail("vnet0"), p->jid);   // the jail's end, named per vnet.interface
  EXPECT_EQ(kernel_.InterfaceJail("e0a_web"), 0);      // the host's end
  EXPECT_THAT(kernel_.Aliases("vnet0"), ElementsAre("inet 169.254.7.2/30"));
  EXPECT_THAT(kernel_.Aliases("e0a_web"), ElementsAre("inet 169.254.7.1/30"));
  // Made in this order: create, rename both ends, then (after the jail
  // exists) the move; the address is set from inside the jail.
  std::vector<std::string> net;
  for (const std::string& c : kernel_.calls()) {
    if (StartsWith(c, "if_")) net.push_back(c);
    if (StartsWith(c, "jail_setv(create)")) net.push_back(c.substr(0, 24));
  }
  EXPECT_THAT(net, ElementsAre("if_create epair", "if_rename epair0b vnet0",
                               "if_rename epair0a e0a_web", "jail_setv(create) jid=1 ",
                               "if_vnet vnet0 1"));
  ASSERT_TRUE(manager_->Stop("web").ok());
  EXPECT_THAT(kernel_.Interfaces(), ElementsAre("em0", "lo1"));  // both ends gone
  EXPECT_FALSE(kernel_.PrisonByName("web").has_value());
}

TEST_F(FreeBsdJailParamsTest, VnetFailingHalfWayLeavesNoEpairAndABadNameChangesNothing) {
  JailSpec s = Spec("web");
  s.network.mode = NetworkMode::kVnet;
  kernel_.FailNext(FakeFreeBsdKernel::Call::kIfMoveToJail, ENXIO);
  absl::Status st = Run(s);
  EXPECT_EQ(StatusErrno(st), ENXIO) << st;
  EXPECT_THAT(st.message(), HasSubstr("SIOCSIFVNET"));
  EXPECT_THAT(kernel_.Interfaces(), ElementsAre("em0", "lo1"));
  EXPECT_TRUE(kernel_.Prisons().empty());

  JailSpec bad = Spec("db");
  bad.network.mode = NetworkMode::kVnet;
  bad.parameters["vnet.interface"] = "an_interface_name_too_long";
  st = Run(bad);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("vnet.interface"));
  EXPECT_THAT(kernel_.Interfaces(), ElementsAre("em0", "lo1"));
  EXPECT_TRUE(kernel_.Prisons().empty());
}

TEST_F(FreeBsdJailParamsTest, Ip4AddrInterfaceFormAddsAliasesAtStartAndRemovesThemAtStop) {
  JailSpec s = Spec("web");
  s.network.mode = NetworkMode::kNew;
  s.network.ip4_addresses = {"lo1|127.0.1.10", "em0|192.0.2.10/24"};
  ASSERT_TRUE(Run(s).ok());
  EXPECT_THAT(kernel_.Aliases("lo1"), ElementsAre("inet 127.0.1.10 netmask 255.255.255.255"));
  EXPECT_THAT(kernel_.Aliases("em0"), ElementsAre("inet 192.0.2.10/24"));
  EXPECT_THAT(kernel_.PrisonByName("web")->ip4, ElementsAre("127.0.1.10", "192.0.2.10"));
  ASSERT_TRUE(manager_->Stop("web").ok());
  EXPECT_THAT(kernel_.Aliases("lo1"), IsEmpty());
  EXPECT_THAT(kernel_.Aliases("em0"), IsEmpty());
}

TEST_F(FreeBsdJailParamsTest, CopyWritesIntoTheRootAndNeverFollowsTheJailsSymlinks) {
  const std::string source = tmp_ + "/resolv.conf";
  {
    std::ofstream(source) << "nameserver 192.0.2.53\n";
  }
  chmod(source.c_str(), 0644);
  JailSpec s = Spec("web");
  s.copies = {{source, "/etc/resolv.conf"}};
  ASSERT_TRUE(Run(s).ok());
  EXPECT_EQ(ReadAll(s.path + "/etc/resolv.conf"), "nameserver 192.0.2.53\n");
  struct stat st{};
  ASSERT_EQ(stat((s.path + "/etc/resolv.conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_TRUE(manager_->Stop("web").ok());

  // The jail's root replaced /etc by a symlink to a host directory.
  const std::string host_dir = tmp_ + "/host-etc";
  std::filesystem::create_directories(host_dir);
  std::filesystem::remove_all(s.path + "/etc");
  std::filesystem::create_directory_symlink(host_dir, s.path + "/etc");
  absl::Status started = manager_->Start("web");
  EXPECT_TRUE(absl::IsPermissionDenied(started)) << started;
  EXPECT_THAT(started.message(), HasSubstr("not followed"));
  EXPECT_FALSE(std::filesystem::exists(host_dir + "/resolv.conf"));
  EXPECT_TRUE(kernel_.Prisons().empty());
  // A symlink as the file itself is replaced, not written through.
  std::filesystem::remove(s.path + "/etc");
  std::filesystem::create_directories(s.path + "/etc");
  std::filesystem::create_symlink(host_dir + "/victim", s.path + "/etc/resolv.conf");
  ASSERT_TRUE(manager_->Start("web").ok());
  EXPECT_FALSE(std::filesystem::exists(host_dir + "/victim"));
  EXPECT_FALSE(std::filesystem::is_symlink(s.path + "/etc/resolv.conf"));
}

TEST_F(FreeBsdJailParamsTest, ExecConsolelogGetsEveryHookOutput) {
  JailSpec s = Spec("web");
  const std::string log = tmp_ + "/web.console.log";
  s.parameters["exec.consolelog"] = log;
  s.exec.prestart = {"echo prestart"};
  s.exec.stop = {"sh /etc/rc.shutdown"};
  ASSERT_TRUE(Run(s).ok());
  ASSERT_TRUE(manager_->Stop("web").ok());
  const int jid = 1;
  EXPECT_EQ(ReadAll(log), StrCat("echo prestart in jid 0\nsh /etc/rc in jid ", jid,
                                 "\nsh /etc/rc.shutdown in jid ", jid, "\n"));
  struct stat st{};
  ASSERT_EQ(stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A relative path is refused before anything is made.
  JailSpec bad = Spec("db");
  bad.parameters["exec.consolelog"] = "console.log";
  absl::Status started = Run(bad);
  EXPECT_TRUE(absl::IsInvalidArgument(started)) << started;
  EXPECT_FALSE(kernel_.PrisonByName("db").has_value());
}

TEST_F(FreeBsdJailParamsTest, MountDevfsUsesTheJailsRuleset) {
  JailSpec s = Spec("web");
  s.parameters["mount.devfs"] = "true";
  s.parameters["devfs_ruleset"] = "5";
  ASSERT_TRUE(Run(s).ok());
  const std::vector<platform::FakeMount> mounts = kernel_.Mounts();
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].fstype, "devfs");
  EXPECT_EQ(mounts[0].fspath, s.path + "/dev");
  EXPECT_EQ(mounts[0].options.at("ruleset"), "5");
  // devfs_ruleset is also the jail's own parameter (what the jail may not
  // change from inside).
  EXPECT_EQ(kernel_.PrisonByName("web")->params.at("devfs_ruleset"), "5");
  ASSERT_TRUE(manager_->Stop("web").ok());
  EXPECT_THAT(kernel_.Mounts(), IsEmpty());
}

TEST_F(FreeBsdJailParamsTest, AllowParametersReachTheKernelAndAnUnknownOneChangesNothing) {
  JailSpec s = Spec("web");
  s.parameters["allow.raw_sockets"] = "";
  s.parameters["allow.mount.nullfs"] = "true";
  s.parameters["allow.set_hostname"] = "false";
  ASSERT_TRUE(Run(s).ok());
  const auto p = kernel_.PrisonByName("web");
  EXPECT_EQ(p->params.at("allow.raw_sockets"), "true");
  EXPECT_EQ(p->params.at("allow.mount.nullfs"), "true");
  EXPECT_EQ(p->params.at("allow.set_hostname"), "false");

  JailSpec bad = Spec("db");
  bad.parameters["mount.devfs"] = "true";
  bad.parameters["allow.everything"] = "";
  absl::Status started = Run(bad);
  EXPECT_EQ(StatusErrno(started), ENOENT) << started;
  EXPECT_THAT(started.message(), HasSubstr("unknown parameter: allow.everything"));
  EXPECT_FALSE(kernel_.PrisonByName("db").has_value());
  for (const platform::FakeMount& m : kernel_.Mounts()) {
    EXPECT_THAT(m.fspath, Not(HasSubstr("/db/")));  // its devfs was undone
  }
}

TEST_F(FreeBsdJailParamsTest, HostHostnameIsTheSpecsOrTheName) {
  JailSpec s = Spec("web");
  s.hostname = "www.example.org";
  ASSERT_TRUE(Run(s).ok());
  EXPECT_EQ(kernel_.PrisonByName("web")->params.at("host.hostname"), "www.example.org");
  ASSERT_TRUE(Run(Spec("db")).ok());
  EXPECT_EQ(kernel_.PrisonByName("db")->params.at("host.hostname"), "db");
}

TEST_F(FreeBsdJailParamsTest, PersistKeepsAnEmptyJailAndNoPersistClearsTheTemporaryOne) {
  JailSpec keep = Spec("keep");
  keep.persist = true;
  keep.exec.start.clear();  // nothing runs in it
  ASSERT_TRUE(Run(keep).ok());
  ASSERT_TRUE(kernel_.PrisonByName("keep").has_value());
  EXPECT_TRUE(kernel_.PrisonByName("keep")->persist);
  EXPECT_TRUE(kernel_.ProcessesInJail(kernel_.PrisonByName("keep")->jid).empty());

  JailSpec web = Spec("web");  // exec.start leaves a daemon
  ASSERT_TRUE(Run(web).ok());
  ASSERT_TRUE(kernel_.PrisonByName("web").has_value());
  EXPECT_FALSE(kernel_.PrisonByName("web")->persist);  // jail(8)'s temporary persist cleared
  EXPECT_THAT(kernel_.calls(), Contains("jail_setv(update) jid=2 nopersist"));
}

TEST_F(FreeBsdJailParamsTest, DependStartsDependenciesFirstAndStopsThemLast) {
  // persist: the jails outlive their processes' SIGTERM, so each stop ends
  // in its own jail_remove(2) and the order shows.
  JailSpec db = Spec("db");
  db.persist = true;
  JailSpec web = Spec("web");
  web.persist = true;
  web.depend = {"db"};
  ASSERT_TRUE(manager_->Create(db).ok());
  ASSERT_TRUE(manager_->Create(web).ok());
  ASSERT_TRUE(manager_->Start("web").ok());
  std::vector<std::string> order;
  for (const std::string& c : kernel_.calls()) {
    if (StartsWith(c, "jail_setv(create)")) order.push_back(c);
  }
  ASSERT_EQ(order.size(), 2u);
  EXPECT_THAT(order[0], HasSubstr("name=db "));
  EXPECT_THAT(order[1], HasSubstr("name=web "));
  kernel_.ClearCalls();
  ASSERT_TRUE(manager_->Stop("db").ok());  // web first
  std::vector<std::string> removed;
  for (const std::string& c : kernel_.calls()) {
    if (StartsWith(c, "jail_remove")) removed.push_back(c);
  }
  EXPECT_THAT(removed, ElementsAre("jail_remove(2)", "jail_remove(1)"));
  EXPECT_TRUE(kernel_.Prisons().empty());
}

TEST_F(FreeBsdJailParamsTest, ExecCleanGivesHooksOnlyTheCleanEnvironment) {
  JailSpec s = Spec("web");
  s.exec.clean = true;
  s.exec.prestart = {"env"};
  ASSERT_TRUE(Run(s).ok());
  ASSERT_FALSE(commands_.empty());
  for (const platform::FakeCommand& c : commands_) {
    EXPECT_TRUE(c.clean_env) << c.argv.back();
    EXPECT_EQ(c.env.at("PATH"), "/bin:/usr/bin");
    EXPECT_FALSE(c.env.contains("JID"));
    EXPECT_FALSE(c.env.contains("JNAME"));
  }
  JailSpec dirty = Spec("db");
  dirty.exec.prestart = {"env"};
  commands_.clear();
  ASSERT_TRUE(Run(dirty).ok());
  ASSERT_FALSE(commands_.empty());
  EXPECT_FALSE(commands_[0].clean_env);
  EXPECT_EQ(commands_[0].env.at("JNAME"), "db");
}

}  // namespace
}  // namespace jailwarden
