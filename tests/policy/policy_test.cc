// Reading a policy: server:, jails:, templates:, limits and rules.

#include "jailwarden/policy/policy.h"

#include <cerrno>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/rctl/kernel_form.h"
#include "policy/test_util.h"

namespace jailwarden::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Errors;
using testing::MustLoad;
using testing::MustLoadFile;
using testing::RuleTexts;

TEST(PolicyTest, ServerDefaultsWhenAbsent) {
  const Policy p = MustLoad("jails:\n  a:\n    persist: true\n");
  const ServerConfig& s = p.server;
  EXPECT_THAT(s.listen, ElementsAre("127.0.0.1:9814"));
  EXPECT_EQ(s.api_socket, "/run/jailwarden/api.sock");
  EXPECT_EQ(s.state_dir, "/var/lib/jailwarden");
  EXPECT_EQ(s.backend, Backend::kAuto);
  EXPECT_EQ(s.sample_interval, absl::Milliseconds(100));
  EXPECT_EQ(s.slow_interval, absl::Seconds(1));
  EXPECT_EQ(s.history, absl::Seconds(60));
  EXPECT_EQ(s.log_rate_limit, 10);
  EXPECT_EQ(s.devctl_rate_limit, 10);
  EXPECT_EQ(s.throttle, (ThrottleConfig{1, 2000, 100, 100}));
  EXPECT_EQ(s.token_file, "/var/lib/jailwarden/token");
  EXPECT_EQ(s.metrics_path, "/metrics");
  EXPECT_TRUE(s.stop_removed_jails);
  EXPECT_EQ(s, ServerConfig{});
}

TEST(PolicyTest, ServerValuesAreRead) {
  const Policy p = MustLoadFile(testing::TestdataPath("good/server_only.yaml"));
  const ServerConfig& s = p.server;
  EXPECT_THAT(s.listen, ElementsAre("127.0.0.1:9900", "[::1]:9900"));
  EXPECT_EQ(s.api_socket, "");
  EXPECT_EQ(s.state_dir, "/srv/jailwarden");         // trailing '/' dropped
  EXPECT_EQ(s.token_file, "/srv/jailwarden/token");  // follows state_dir
  EXPECT_EQ(s.backend, Backend::kLinux);
  EXPECT_EQ(s.sample_interval, absl::Milliseconds(1));
  EXPECT_EQ(s.slow_interval, absl::Milliseconds(250));
  EXPECT_EQ(s.history, absl::Minutes(5));
  EXPECT_EQ(s.log_rate_limit, 0);
  EXPECT_EQ(s.devctl_rate_limit, 100);
  EXPECT_EQ(s.throttle, (ThrottleConfig{2, 500, 50, 0}));
  EXPECT_EQ(s.metrics_path, "/prometheus/metrics");
  EXPECT_FALSE(s.stop_removed_jails);
  EXPECT_TRUE(p.jails.empty());
}

TEST(PolicyTest, ExplicitTokenFileAndCompoundDurations) {
  const Policy p = MustLoad(
      "server:\n  token_file: /etc/jailwarden/token\n  history: 1h30m\n"
      "  listen: []\n");
  EXPECT_EQ(p.server.token_file, "/etc/jailwarden/token");
  EXPECT_EQ(p.server.history, absl::Minutes(90));
  EXPECT_TRUE(p.server.listen.empty());
}

TEST(PolicyTest, EmptyFileAndEmptySectionsAreAnEmptyPolicy) {
  EXPECT_EQ(MustLoad("").jails.size(), 0u);
  const Policy p = MustLoad("server:\ntemplates:\njails:\nrules:\n");
  EXPECT_TRUE(p.jails.empty());
  EXPECT_TRUE(p.rules.empty());
  EXPECT_EQ(p.server, ServerConfig{});
}

TEST(PolicyTest, MinimalJailGetsJailDefaults) {
  const Policy p = MustLoadFile(testing::TestdataPath("good/minimal.yaml"));
  ASSERT_EQ(p.jails.size(), 1u);
  const JailPolicy& j = p.jails[0];
  EXPECT_EQ(j.name, "idle");
  EXPECT_EQ(j.spec.name, "idle");
  EXPECT_EQ(j.spec.path, "/var/lib/jailwarden/roots/idle");
  EXPECT_TRUE(j.path_defaulted);
  EXPECT_EQ(j.spec.hostname, "");
  EXPECT_EQ(j.spec.base_root, "");
  EXPECT_EQ(j.spec.network.mode, platform::NetworkMode::kInherit);
  EXPECT_EQ(j.spec.stop_timeout, absl::Seconds(10));
  EXPECT_TRUE(j.spec.persist);
  EXPECT_TRUE(j.limits.empty());
  EXPECT_EQ(j.position, (SourcePosition{3, 3}));
}

TEST(PolicyTest, EveryJailKeyLandsInTheSpec) {
  const Policy p = MustLoadFile(testing::TestdataPath("good/full.yaml"));
  const JailPolicy* app = p.FindJail("app");
  ASSERT_NE(app, nullptr);
  const platform::JailSpec& s = app->spec;
  EXPECT_EQ(s.path, "/var/db/jw/jails/app");
  EXPECT_FALSE(app->path_defaulted);
  EXPECT_EQ(s.hostname, "app.example.net");
  EXPECT_EQ(s.base_root, "/var/db/jw/base/busybox");
  EXPECT_EQ(s.network.mode, platform::NetworkMode::kNew);
  EXPECT_THAT(s.network.ip4_addresses, ElementsAre("10.1.0.2/24", "10.1.0.3"));
  EXPECT_THAT(s.network.ip6_addresses, ElementsAre("2001:db8::2/64"));
  EXPECT_EQ(s.network.interface, "em0");
  ASSERT_EQ(s.mounts.size(), 3u);
  EXPECT_EQ(s.mounts[0],
            (platform::MountSpec{"/srv/data", "/data", "nullfs", false, ""}));
  EXPECT_EQ(s.mounts[1], (platform::MountSpec{"/srv/cfg", "/etc/app", "nullfs",
                                              true, "noexec"}));
  EXPECT_EQ(s.mounts[2],
            (platform::MountSpec{"tmpfs", "/tmp", "tmpfs", false, "size=64m"}));
  EXPECT_THAT(s.copies, ElementsAre(platform::CopySpec{"/etc/resolv.conf",
                                                       "/etc/resolv.conf"}));
  EXPECT_THAT(s.exec.prepare, ElementsAre("/usr/local/bin/make-root app"));
  EXPECT_THAT(s.exec.prestart, ElementsAre("/bin/echo prestart"));
  EXPECT_THAT(s.exec.created, ElementsAre("/bin/echo created"));
  EXPECT_THAT(s.exec.start,
              ElementsAre("/bin/sh /etc/rc", "/usr/local/bin/app --daemon"));
  EXPECT_THAT(s.exec.poststart, ElementsAre("/bin/echo poststart"));
  EXPECT_THAT(s.exec.prestop, ElementsAre("/bin/echo prestop"));
  EXPECT_THAT(s.exec.stop, ElementsAre("/bin/sh /etc/rc.shutdown jail"));
  EXPECT_THAT(s.exec.poststop, ElementsAre("/bin/echo poststop"));
  EXPECT_THAT(s.exec.release, ElementsAre("/usr/local/bin/drop-root app"));
  EXPECT_TRUE(s.exec.clean);
  EXPECT_EQ(s.exec.timeout, absl::Seconds(90));
  EXPECT_EQ(s.stop_timeout, absl::Seconds(15));  // plain number = seconds
  EXPECT_FALSE(s.persist);
  EXPECT_THAT(s.depend, ElementsAre("db"));
  const std::map<std::string, std::string> expected_params = {
      {"allow.mlock", "false"},
      {"allow.mount.tmpfs", "true"},
      {"allow.raw_sockets", "true"},
      {"children.max", "0"},
      {"devfs_ruleset", "4"},
      {"enforce_statfs", "2"},
      {"exec.consolelog", "/var/log/jail_app_console.log"},
      {"exec.fib", "1"},
      {"exec.jail_user", "www"},
      {"exec.system_jail_user", "false"},
      {"exec.system_user", "root"},
      {"host.domainname", "example.net"},
      {"mount.devfs", "true"},
      {"mount.fdescfs", "true"},
      {"mount.procfs", "false"},
      {"securelevel", "2"},
      {"sysvmsg", "new"},
      {"sysvsem", "inherit"},
      {"sysvshm", "disable"},
  };
  EXPECT_EQ(s.parameters, expected_params);

  const JailPolicy* db = p.FindJail("db");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->spec.network.mode, platform::NetworkMode::kVnet);
  EXPECT_EQ(db->spec.network.host_ip4, "169.254.20.1/30");
  EXPECT_THAT(db->spec.network.ip4_addresses, ElementsAre("169.254.20.2/30"));
  EXPECT_EQ(db->spec.parameters.at("vnet.interface"), "epair0b");
  EXPECT_EQ(db->spec.path, "/var/db/jw/roots/db");  // under server.state_dir
}

TEST(PolicyTest, LimitsAreKernelRulesForTheJail) {
  const Policy p = MustLoadFile(testing::TestdataPath("good/full.yaml"));
  const JailPolicy* app = p.FindJail("app");
  ASSERT_NE(app, nullptr);
  EXPECT_THAT(
      RuleTexts(app->limits),
      ElementsAre(
          "jail:app:cputime:log=3600", "jail:app:cputime:sigxcpu=7200",
          "jail:app:cputime:sigkill=7300", "jail:app:memoryuse:deny=2147483648",
          "jail:app:vmemoryuse:deny=4294967296", "jail:app:maxproc:deny=100",
          "jail:app:openfiles:deny=1024/process",
          "jail:app:readbps:throttle=10485760",
          "jail:app:writeiops:throttle=500", "jail:app:writeiops:devctl=400",
          "jail:app:pcpu:deny=150", "jail:app:wallclock:devctl=86400"));
  // Kernel scale: cputime is IN_MILLIONS.
  EXPECT_EQ(app->limits[0].amount, int64_t{3600} * 1000000);
  EXPECT_EQ(app->limits[0].per, rctl::SubjectType::kJail);
  EXPECT_EQ(app->limits[6].per, rctl::SubjectType::kProcess);
  EXPECT_EQ(app->limit_texts[3], "jail:app:memoryuse:deny=2g");
  ASSERT_EQ(app->limit_texts.size(), app->limits.size());
}

TEST(PolicyTest, ResourceNamesAreCaseInsensitiveAsInTheKernel) {
  const Policy p = MustLoad(
      "jails:\n  a:\n    persist: true\n    limits:\n      MemoryUse: "
      "DENY=1K\n");
  ASSERT_EQ(p.jails.size(), 1u);
  EXPECT_THAT(RuleTexts(p.jails[0].limits),
              ElementsAre("jail:a:memoryuse:deny=1024"));
}

TEST(PolicyTest, TemplatesMergeMapsReplaceListsAndEmptyRemoves) {
  const Policy p = MustLoadFile(testing::TestdataPath("good/templates.yaml"));
  const JailPolicy* www1 = p.FindJail("www1");
  ASSERT_NE(www1, nullptr);
  EXPECT_EQ(www1->template_name, "small_web");
  EXPECT_EQ(www1->spec.base_root, "/srv/base/14.2");  // from base
  EXPECT_THAT(www1->spec.exec.stop, ElementsAre("sh /etc/rc.shutdown jail"));
  EXPECT_EQ(www1->spec.stop_timeout, absl::Seconds(30));
  EXPECT_EQ(www1->spec.hostname, "www1.example.org");
  EXPECT_THAT(www1->spec.network.ip4_addresses, ElementsAre("192.0.2.11/24"));
  EXPECT_EQ(www1->spec.parameters.at("allow.raw_sockets"),
            "false");                                         // from web
  EXPECT_EQ(www1->spec.parameters.at("devfs_ruleset"), "4");  // from base
  ASSERT_EQ(www1->spec.mounts.size(), 1u);
  EXPECT_TRUE(www1->spec.mounts[0].read_only);
  // memoryuse from small_web, maxproc from web, pcpu from web, openfiles
  // removed by small_web's empty value; order is base's, then additions.
  EXPECT_THAT(
      RuleTexts(www1->limits),
      ElementsAre("jail:www1:memoryuse:deny=268435456",
                  "jail:www1:maxproc:deny=500", "jail:www1:pcpu:deny=200",
                  "jail:www1:pcpu:devctl=150"));

  const JailPolicy* www2 = p.FindJail("www2");
  ASSERT_NE(www2, nullptr);
  EXPECT_TRUE(www2->spec.mounts.empty());     // list replaced by []
  EXPECT_TRUE(www2->spec.exec.stop.empty());  // removed by an empty value
  EXPECT_THAT(www2->spec.network.ip4_addresses, ElementsAre("192.0.2.10/24"));

  const JailPolicy* db = p.FindJail("db");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->spec.exec.timeout, absl::Minutes(2));
  EXPECT_THAT(RuleTexts(db->limits),
              ElementsAre("jail:db:memoryuse:deny=4294967296",
                          "jail:db:memoryuse:log=3670016000",
                          "jail:db:maxproc:deny=200",
                          "jail:db:openfiles:deny=4096/process",
                          "jail:db:swapuse:deny=1073741824"));
}

TEST(PolicyTest, TemplatesAreKeptResolved) {
  const Policy p = MustLoadFile(testing::TestdataPath("good/templates.yaml"));
  ASSERT_EQ(p.templates.size(), 3u);
  EXPECT_EQ(p.templates[0].name, "base");
  EXPECT_EQ(p.templates[0].parent, "");
  EXPECT_EQ(p.templates[2].name, "small_web");
  EXPECT_EQ(p.templates[2].parent, "web");
  const TemplatePolicy* t = p.FindTemplate("small_web");
  ASSERT_NE(t, nullptr);
  EXPECT_THAT(RuleTexts(t->resolved.limits),
              ElementsAre("jail:small_web:memoryuse:deny=268435456",
                          "jail:small_web:maxproc:deny=500",
                          "jail:small_web:pcpu:deny=200",
                          "jail:small_web:pcpu:devctl=150"));
}

TEST(PolicyTest, InstantiateTemplateRetargetsLimitsAndPath) {
  const Policy p = MustLoadFile(testing::TestdataPath("good/templates.yaml"));
  absl::StatusOr<JailPolicy> j = InstantiateTemplate(p, "small_web", "www9");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->name, "www9");
  EXPECT_EQ(j->spec.name, "www9");
  EXPECT_EQ(j->template_name, "small_web");
  EXPECT_EQ(j->spec.path, "/var/lib/jailwarden/roots/www9");
  EXPECT_THAT(
      RuleTexts(j->limits),
      ElementsAre("jail:www9:memoryuse:deny=268435456",
                  "jail:www9:maxproc:deny=500", "jail:www9:pcpu:deny=200",
                  "jail:www9:pcpu:devctl=150"));
  EXPECT_EQ(j->limit_texts[0], "jail:www9:memoryuse:deny=256M");

  EXPECT_EQ(InstantiateTemplate(p, "nope", "x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(InstantiateTemplate(p, "web", "a.b").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InstantiateTemplate(p, "web", "www1").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PolicyTest, RuleAmountsUseExpandNumberOnly) {
  // 'h' is not an expand_number(3) suffix, even for wallclock.
  EXPECT_THAT(
      Errors("rules:\n  - j:web:wallclock:devctl=1h\n"),
      ElementsAre("t.yaml:2:5: malformed rule 'j:web:wallclock:devctl=1h': "
                  "invalid numeric value '1h'"));
}

TEST(PolicyTest, RawRulesInKernelForm) {
  const Policy p = MustLoad(
      "rules:\n"
      "  - user:alice:maxproc:deny=10\n"
      "  - u:1002:vmemoryuse:deny=1g/process\n"
      "  - class:staff:openfiles:log=100\n"
      "  - j:web:wallclock:devctl=3600\n");
  EXPECT_THAT(RuleTexts(p.rules),
              ElementsAre("user:1001:maxproc:deny=10",
                          "user:1002:vmemoryuse:deny=1073741824/process",
                          "loginclass:staff:openfiles:log=100",
                          "jail:web:wallclock:devctl=3600"));
  EXPECT_THAT(p.rule_texts, ElementsAre("user:alice:maxproc:deny=10",
                                        "u:1002:vmemoryuse:deny=1g/process",
                                        "class:staff:openfiles:log=100",
                                        "j:web:wallclock:devctl=3600"));
  EXPECT_THAT(
      Errors("rules:\n  - user:carol:maxproc:deny=10\n"),
      ElementsAre("t.yaml:2:5: malformed rule 'user:carol:maxproc:deny=10': "
                  "unknown user 'carol'"));
}

TEST(PolicyTest, AllRulesIsTheWholeKernelDatabase) {
  const Policy p = MustLoadFile(testing::ExamplePolicyPath());
  const rctl::RuleSet rules = p.AllRules();
  size_t limits = 0;
  for (const JailPolicy& j : p.jails) {
    limits += j.limits.size();
  }
  EXPECT_EQ(rules.size(), limits + p.rules.size());
  const std::vector<rctl::Rule> pcpu =
      rules.List(*rctl::ParseRuleText("jail:spinner:pcpu:deny"));
  ASSERT_EQ(pcpu.size(), 1u);
  EXPECT_EQ(pcpu[0].amount, int64_t{20} * 1000000);
}

TEST(PolicyTest, KernelRulesAreAllRulesWithoutTheRuleSet) {
  for (const std::string& path :
       {testing::ExamplePolicyPath(), testing::TestdataPath("good/full.yaml"),
        testing::TestdataPath("good/templates.yaml")}) {
    const Policy p = MustLoadFile(path);
    EXPECT_EQ(p.KernelRules(), p.AllRules().rules()) << path;
  }
}

TEST(PolicyTest, ExamplePolicyIsTheBoundedBusyboxDemo) {
  const Policy p = MustLoadFile(testing::ExamplePolicyPath());
  ASSERT_EQ(p.jails.size(), 3u);
  EXPECT_EQ(p.server.listen, std::vector<std::string>{"127.0.0.1:9814"});
  for (const JailPolicy& j : p.jails) {
    SCOPED_TRACE(j.name);
    EXPECT_EQ(j.spec.base_root, "/var/lib/jailwarden/base/busybox");
    EXPECT_EQ(j.spec.path, "/var/lib/jailwarden/roots/" + j.name);
    // The workload is the supervised command (issue 17), no '&' trick.
    EXPECT_TRUE(j.spec.exec.start.empty());
    ASSERT_EQ(j.spec.main.argv.size(), 3u);
    EXPECT_EQ(j.spec.main.argv[0], "/bin/sh");
    EXPECT_NE(j.spec.main.argv[2].back(), '&');
    EXPECT_EQ(j.spec.main.argv[2].find(">/dev/null 2>&1 &"), std::string::npos);
    EXPECT_EQ(j.spec.main.restart, platform::RestartPolicy::kOnFailure);
    EXPECT_NE(j.spec.network.mode,
              platform::NetworkMode::kInherit);  // no host network
    // Bounded: every demo jail has a deny for CPU, memory and processes.
    for (std::string_view resource : {"pcpu", "memoryuse", "maxproc"}) {
      const rctl::Rule filter =
          *rctl::ParseRuleText(std::string("jail:") + j.name + ":" +
                               std::string(resource) + ":deny");
      EXPECT_EQ(p.AllRules().List(filter).size(), 1u) << resource;
    }
  }
  const JailPolicy* spinner = p.FindJail("spinner");
  const JailPolicy* hog = p.FindJail("hog");
  const JailPolicy* forker = p.FindJail("forker");
  ASSERT_TRUE(spinner && hog && forker);
  EXPECT_THAT(spinner->limit_texts,
              ::testing::Contains("jail:spinner:pcpu:deny=20"));
  EXPECT_THAT(hog->limit_texts,
              ::testing::Contains("jail:hog:memoryuse:deny=48M"));
  EXPECT_THAT(hog->spec.main.argv.back(),
              HasSubstr("dd if=/dev/zero bs=64M count=1"));
  EXPECT_THAT(forker->limit_texts,
              ::testing::Contains("jail:forker:maxproc:deny=20"));
  EXPECT_THAT(forker->spec.depend, ElementsAre("spinner"));
  EXPECT_THAT(p.StartOrder(), ElementsAre("spinner", "hog", "forker"));
}

TEST(PolicyTest, StartOrderPutsDependenciesFirst) {
  const Policy p = MustLoad(
      "jails:\n"
      "  web:\n    persist: true\n    depend: [app]\n"
      "  solo:\n    persist: true\n"
      "  app:\n    persist: true\n    depend: [db, cache]\n"
      "  db:\n    persist: true\n"
      "  cache:\n    persist: true\n");
  EXPECT_THAT(p.StartOrder(), ElementsAre("db", "cache", "app", "web", "solo"));
}

TEST(PolicyTest, BooleanSpellings) {
  for (const char* v : {"true", "True", "yes", "on"}) {
    const Policy p =
        MustLoad(std::string("jails:\n  a:\n    persist: ") + v + "\n");
    ASSERT_EQ(p.jails.size(), 1u) << v;
    EXPECT_TRUE(p.jails[0].spec.persist) << v;
  }
  const Policy p =
      MustLoad("jails:\n  a:\n    persist: off\n    exec.start: /bin/true\n");
  ASSERT_EQ(p.jails.size(), 1u);
  EXPECT_FALSE(p.jails[0].spec.persist);
}

TEST(PolicyTest, NetworkModes) {
  const Policy p = MustLoad(
      "jails:\n"
      "  a: {persist: true}\n"
      "  b: {persist: true, ip4: new}\n"
      "  c: {persist: true, ip4: disable}\n"
      "  d: {persist: true, ip6.addr: '2001:db8::5'}\n"
      "  e: {persist: true, vnet: new}\n");
  ASSERT_EQ(p.jails.size(), 5u);
  EXPECT_EQ(p.jails[0].spec.network.mode, platform::NetworkMode::kInherit);
  EXPECT_EQ(p.jails[1].spec.network.mode, platform::NetworkMode::kNew);
  EXPECT_EQ(p.jails[2].spec.network.mode, platform::NetworkMode::kNew);
  EXPECT_EQ(p.jails[2].spec.parameters.at("ip4"), "disable");
  EXPECT_EQ(p.jails[3].spec.network.mode, platform::NetworkMode::kNew);
  EXPECT_EQ(p.jails[4].spec.network.mode, platform::NetworkMode::kVnet);
}

}  // namespace
}  // namespace jailwarden::policy
