// config.json onto the jail: what is mapped, and what is refused by name.
#include "oci/spec.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

namespace jailwarden::oci {
namespace {

nlohmann::json MinimalConfig() {
  return nlohmann::json::parse(R"({
    "ociVersion": "1.0.2",
    "process": {"args": ["/bin/true"], "cwd": "/", "env": ["PATH=/bin"],
                "user": {"uid": 0, "gid": 0}},
    "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
               {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["newinstance", "ptmxmode=0666"]},
               {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"]}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}]}
  })");
}

absl::StatusOr<OciPlan> Plan(const nlohmann::json& j) { return PlanFromConfig(j.dump(), "/b"); }

TEST(OciSpecTest, MinimalConfigMapsOntoTheJail) {
  absl::StatusOr<OciPlan> plan = Plan(MinimalConfig());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->init.root, "/b/rootfs");
  EXPECT_EQ(plan->process.args, std::vector<std::string>{"/bin/true"});
  EXPECT_TRUE(plan->init.new_net);
  EXPECT_NE(plan->clone_flags & CLONE_NEWNET, 0u);
  // proc, /dev and devpts are jailwarden-init's own; sysfs is mounted.
  ASSERT_EQ(plan->init.mounts.size(), 1u);
  EXPECT_EQ(plan->init.mounts[0].fstype, "sysfs");
  EXPECT_TRUE(plan->init.mounts[0].read_only);
}

TEST(OciSpecTest, ResourcesBecomeRules) {
  nlohmann::json j = MinimalConfig();
  j["linux"]["resources"] = nlohmann::json::parse(R"({
    "memory": {"limit": 67108864, "swap": 100663296},
    "pids": {"limit": 20},
    "cpu": {"quota": 20000, "period": 100000},
    "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]}
  })");
  j["annotations"]["org.jailwarden.rctl.openfiles"] = "deny=512,devctl=400";
  absl::StatusOr<OciPlan> plan = Plan(j);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->rules,
            (std::vector<std::string>{"memoryuse:deny=67108864", "swapuse:deny=33554432",
                                      "maxproc:deny=20", "pcpu:deny=20",
                                      "readbps:throttle=1048576", "openfiles:deny=512",
                                      "openfiles:devctl=400"}));
}

TEST(OciSpecTest, UnsupportedFieldsAreRefusedByJsonPointer) {
  struct Case {
    const char* patch;  // merged into the minimal config
    const char* pointer;
  };
  const Case cases[] = {
      {R"({"linux": {"sysctl": {"kernel.msgmax": "65536"}}})", "/linux/sysctl/kernel.msgmax"},
      {R"({"linux": {"intelRdt": {"closID": "x"}}})", "/linux/intelRdt"},
      {R"({"linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "user"}]}})",
       "/linux/namespaces/2/type"},
      {R"({"linux": {"resources": {"memory": {"disableOOMKiller": true}}}})",
       "/linux/resources/memory/disableOOMKiller"},
      {R"({"linux": {"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}}})",
       "/linux/resources/hugepageLimits"},
      {R"({"mounts": [{"destination": "/x", "type": "nfs", "source": "h:/x"}]})",
       "/mounts/0/type"},
      {R"({"mounts": [{"destination": "/x", "type": "bind", "source": "/x",
                       "options": ["rbind", "Z"]}]})",
       "/mounts/0/options/1"},
      {R"({"process": {"args": ["/bin/true"], "cwd": "/", "selinuxLabel": "x"}})",
       "/process/selinuxLabel"},
      {R"({"process": {"args": ["/bin/true"], "cwd": "/", "capabilities":
           {"bounding": ["CAP_KILL"], "effective": []}}})",
       "/process/capabilities/effective"},
      {R"({"process": {"args": ["/bin/true"], "cwd": "/",
           "rlimits": [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]}})",
       "/process/rlimits/0/type"},
      {R"({"annotations": {"org.jailwarden.rctl.memoryuse": "deny=lots"}})",
       "/annotations/org.jailwarden.rctl.memoryuse"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = MinimalConfig();
    j.merge_patch(nlohmann::json::parse(c.patch));
    absl::StatusOr<OciPlan> plan = Plan(j);
    ASSERT_FALSE(plan.ok()) << c.patch;
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument) << c.patch;
    EXPECT_NE(std::string(plan.status().message()).find(c.pointer), std::string::npos)
        << plan.status() << " should name " << c.pointer;
  }
}

TEST(OciSpecTest, RaisingAHardRlimitWithoutCapSysResourceIsRefusedByName) {
  nlohmann::json j = MinimalConfig();
  j["process"]["rlimits"] = nlohmann::json::parse(
      R"([{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1024}])");
  absl::StatusOr<OciPlan> plan = Plan(j);
  struct rlimit cur;
  getrlimit(RLIMIT_NOFILE, &cur);
  if (cur.rlim_max == RLIM_INFINITY) {
    GTEST_SKIP() << "RLIMIT_NOFILE is unlimited here: nothing to raise";
  }
  if (plan.ok()) {
    GTEST_SKIP() << "this process holds CAP_SYS_RESOURCE: raising is allowed";
  }
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(std::string(plan.status().message()).find("RLIMIT_NOFILE"), std::string::npos);
  EXPECT_NE(std::string(plan.status().message()).find("/process/rlimits/0"), std::string::npos);
}

TEST(OciSpecTest, SeccompProfileCompilesToBpf) {
  absl::StatusOr<std::string> hex = CompileSeccompProfile(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["read", "write", "exit_group", "no_such_call"],
                  "action": "SCMP_ACT_ALLOW"},
                 {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]})");
  ASSERT_TRUE(hex.ok()) << hex.status();
  EXPECT_EQ(hex->size() % 16, 0u);  // whole struct sock_filter entries, as hex
  EXPECT_GT(hex->size(), 16u * 4);
  absl::StatusOr<std::string> bad =
      CompileSeccompProfile(R"({"defaultAction": "SCMP_ACT_NOTIFY"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("/linux/seccomp/defaultAction"),
            std::string::npos);
}

}  // namespace
}  // namespace jailwarden::oci
