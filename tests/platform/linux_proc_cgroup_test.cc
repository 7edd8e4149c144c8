#include "jailwarden/platform/linux/proc_cgroup.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/linux/init_config.h"

namespace jailwarden::platform {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Capture(const std::string& name) {
  std::ifstream in(std::string(JW_TESTDATA_DIR) + "/linux/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ProcCgroupTest, ParsesTheHybridLayoutOfTheCiMachine) {
  auto entries = ParseProcCgroup(Capture("proc_self_cgroup_hybrid.txt"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 10u);
  EXPECT_EQ((*entries)[0], (ProcCgroupEntry{9, {"name=systemd"}, "/"}));
  const ProcCgroupEntry* mem = FindCgroupEntry(*entries, "memory");
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->hierarchy_id, 4);
  EXPECT_THAT(mem->path, ::testing::StartsWith("/process_api/"));
  const ProcCgroupEntry* unified = FindCgroupEntry(*entries, "");
  ASSERT_NE(unified, nullptr);
  EXPECT_EQ(unified->hierarchy_id, 0);
  EXPECT_EQ(unified->path, "/");
  EXPECT_EQ(FindCgroupEntry(*entries, "pids")->path, "/");
  EXPECT_EQ(FindCgroupEntry(*entries, "hugetlb"), nullptr);
}

TEST(ProcCgroupTest, CoMountedControllersAndV2Only) {
  auto entries = ParseProcCgroup("4:cpu,cpuacct:/a/b\n0::/system.slice/jw.service\n");
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(FindCgroupEntry(*entries, "cpuacct")->path, "/a/b");
  EXPECT_THAT(FindCgroupEntry(*entries, "cpu")->controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_EQ(FindCgroupEntry(*entries, "")->path, "/system.slice/jw.service");
}

TEST(ProcCgroupTest, PathMayHoldColons) {
  auto entries = ParseProcCgroup("0::/odd:name\n");
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[0].path, "/odd:name");
}

TEST(ProcCgroupTest, MalformedLinesAreNamed) {
  auto a = ParseProcCgroup("0::/\nnonsense\n");
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("line 2"));
  auto b = ParseProcCgroup("x:pids:/\n");
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("bad hierarchy id"));
  auto c = ParseProcCgroup("1:pids:relative\n");
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("must start with '/'"));
}

TEST(InitConfigTest, RoundTrip) {
  InitConfig c;
  c.root = "/j/root";
  c.overlay_lower = "/base";
  c.overlay_upper = "/j/up";
  c.overlay_work = "/j/.up.jw-work";
  c.hostname = "h";
  c.persist = true;
  c.new_net = true;
  c.devpts_max = 8;
  c.cgroup_join = {"/sys/fs/cgroup/pids/jailwarden/h/tasks"};
  c.mounts = {{"/src", "/dst", "nullfs", true, ""}, {"tmpfs", "/t", "tmpfs", false, "size=1m"}};
  InitConfig back;
  std::string err;
  ASSERT_TRUE(InitConfigFromJson(InitConfigToJson(c), &back, &err)) << err;
  EXPECT_EQ(back.root, c.root);
  EXPECT_EQ(back.overlay_work, c.overlay_work);
  EXPECT_TRUE(back.persist);
  EXPECT_EQ(back.devpts_max, 8);
  EXPECT_EQ(back.cgroup_join, c.cgroup_join);
  ASSERT_EQ(back.mounts.size(), 2u);
  EXPECT_TRUE(back.mounts[0].read_only);
  EXPECT_EQ(back.mounts[1].options, "size=1m");
  EXPECT_FALSE(InitConfigFromJson("{", &back, &err));
  EXPECT_FALSE(err.empty());
}

TEST(InitConfigTest, RequestRoundTrip) {
  InitRequest r;
  r.argv = {"/bin/sh", "-c", "echo \"quoted\""};
  r.env = {"PATH=/bin", "JNAME=web"};
  r.spawn = true;
  InitRequest back;
  std::string err;
  ASSERT_TRUE(InitRequestFromJson(InitRequestToJson(r), &back, &err)) << err;
  EXPECT_EQ(back.argv, r.argv);
  EXPECT_EQ(back.env, r.env);
  EXPECT_TRUE(back.spawn);
  EXPECT_FALSE(InitRequestFromJson(R"({"argv": []})", &back, &err));
}

}  // namespace
}  // namespace jailwarden::platform
