// Issue 13: the isolation report of a Linux jail from its runtime state,
// its pid 1's Seccomp: field and mount table (real lines of a jail's
// /proc/1/mountinfo), and the project quota's usage. No root.

#include "platform/linux/isolation_status.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"

namespace jailwarden::platform {
namespace {

// A default jail's /proc/1/mountinfo as jailwarden-init leaves it (thin
// jail, masks on /proc).
constexpr char kJailMounts[] =
    "612 540 0:62 / / rw,relatime - overlay overlay rw,lowerdir=l,upperdir=u/web,workdir=u/.web.jw-work\n"
    "613 612 0:63 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "620 613 0:5 /null /proc/kcore rw,nosuid - devtmpfs udev rw,size=4014532k\n"
    "621 613 0:5 /null /proc/keys rw,nosuid - devtmpfs udev rw,size=4014532k\n"
    "622 613 0:5 /null /proc/timer_list rw,nosuid - devtmpfs udev rw,size=4014532k\n";

std::map<std::string, bool> Layers(const IsolationStatus& s) {
  std::map<std::string, bool> out;
  for (const IsolationLayer& l : s.layers) out[l.layer] = l.on;
  return out;
}

TEST(LinuxIsolationStatusTest, DefaultJailHasEveryLayerButTheQuota) {
  LinuxIsolationInputs in;
  in.backend_state = {{"seccomp", "default"}, {"cgroup_leaf", "jail"}};
  in.seccomp_mode = 2;
  in.mountinfo = kJailMounts;
  const IsolationStatus s = LinuxIsolationStatusOf(in);
  ASSERT_EQ(s.layers.size(), 6u);
  // The documented order.
  EXPECT_EQ(s.layers[0].layer, "seccomp");
  EXPECT_EQ(s.layers[5].layer, "disk_quota");
  EXPECT_EQ(Layers(s), (std::map<std::string, bool>{{"seccomp", true},
                                                    {"userns", true},
                                                    {"keyring", true},
                                                    {"cgroup_ro", true},
                                                    {"masked_paths", true},
                                                    {"disk_quota", false}}));
  EXPECT_TRUE(s.seccomp_relaxed.empty());
  EXPECT_TRUE(s.seccomp_allow.empty());
  EXPECT_FALSE(s.disk_quota.has_value());
}

TEST(LinuxIsolationStatusTest, RelaxingKeysTurnLayersOff) {
  LinuxIsolationInputs in;
  in.backend_state = {{"seccomp", "default mount time allow:keyctl,unshare deny:ptrace"},
                      {"cgroup_leaf", "jail"}};
  in.seccomp_mode = 2;
  in.mountinfo = kJailMounts;
  IsolationStatus s = LinuxIsolationStatusOf(in);
  EXPECT_TRUE(Layers(s)["seccomp"]);
  EXPECT_FALSE(Layers(s)["userns"]);   // unshare allowed: with every flag
  EXPECT_FALSE(Layers(s)["keyring"]);  // keyctl allowed
  EXPECT_EQ(s.seccomp_relaxed, (std::vector<std::string>{"mount", "time"}));
  EXPECT_EQ(s.seccomp_allow, (std::vector<std::string>{"keyctl", "unshare"}));
  EXPECT_EQ(s.seccomp_deny, (std::vector<std::string>{"ptrace"}));
  // clone3 allowed: its flags cannot be seen, so user namespaces are open.
  in.backend_state["seccomp"] = "default allow:clone3";
  s = LinuxIsolationStatusOf(in);
  EXPECT_FALSE(Layers(s)["userns"]);
  EXPECT_TRUE(Layers(s)["keyring"]);
}

TEST(LinuxIsolationStatusTest, TheKernelsAnswerWinsOverTheRecord) {
  LinuxIsolationInputs in;
  in.backend_state = {{"seccomp", "default"}};
  in.seccomp_mode = 0;  // pid 1 runs without a filter
  IsolationStatus s = LinuxIsolationStatusOf(in);
  EXPECT_FALSE(Layers(s)["seccomp"]);
  EXPECT_FALSE(Layers(s)["userns"]);
  EXPECT_FALSE(Layers(s)["keyring"]);
  // A jail made by an older jailwarden: no record, no leaf, no masks.
  in.backend_state.clear();
  in.seccomp_mode = 2;
  in.mountinfo = "612 540 0:62 / / rw - ext4 /dev/vda rw\n";
  s = LinuxIsolationStatusOf(in);
  for (const IsolationLayer& l : s.layers) EXPECT_FALSE(l.on) << l.layer;
  // A record whose text does not parse is not a filter.
  in.backend_state = {{"seccomp", "default allow:no_such_call"}};
  EXPECT_FALSE(Layers(LinuxIsolationStatusOf(in))["seccomp"]);
}

TEST(LinuxIsolationStatusTest, DiskQuotaWithMechanismLimitAndUsage) {
  LinuxIsolationInputs in;
  in.backend_state = {{"seccomp", "default"},
                      {"quota.project", "1247281234"},
                      {"quota.bytes", "8388608"},
                      {"quota.fstype", "xfs"}};
  in.quota_used_bytes = 12288;
  IsolationStatus s = LinuxIsolationStatusOf(in);
  EXPECT_TRUE(Layers(s)["disk_quota"]);
  ASSERT_TRUE(s.disk_quota.has_value());
  EXPECT_EQ(s.disk_quota->mechanism, "xfs_project");
  EXPECT_EQ(s.disk_quota->limit_bytes, 8388608u);
  EXPECT_EQ(s.disk_quota->used_bytes, std::optional<uint64_t>(12288));
  in.backend_state["quota.fstype"] = "ext4";
  in.quota_used_bytes.reset();
  s = LinuxIsolationStatusOf(in);
  EXPECT_EQ(s.disk_quota->mechanism, "ext4_project");
  EXPECT_FALSE(s.disk_quota->used_bytes.has_value());
}

TEST(LinuxIsolationStatusTest, BtrfsQgroupQuotaNeedsNoProjectId) {
  LinuxIsolationInputs in;
  in.backend_state = {{"seccomp", "default projquota"},
                      {"quota.bytes", "8388608"},
                      {"quota.fstype", "btrfs"},
                      {"quota.qgroup", "0/257"}};
  in.quota_used_bytes = 4096;
  IsolationStatus s = LinuxIsolationStatusOf(in);
  EXPECT_TRUE(Layers(s)["disk_quota"]);
  ASSERT_TRUE(s.disk_quota.has_value());
  EXPECT_EQ(s.disk_quota->mechanism, "btrfs_qgroup");
  EXPECT_EQ(s.disk_quota->limit_bytes, 8388608u);
  EXPECT_EQ(s.disk_quota->used_bytes, std::optional<uint64_t>(4096));
  in.backend_state.erase("quota.fstype");  // no project, no btrfs: no quota
  EXPECT_FALSE(LinuxIsolationStatusOf(in).disk_quota.has_value());
}

// A jail with thousands of mounts: the read stops at the bound, on a whole
// line, and says so; the masks (jailwarden-init's first mounts) are still
// seen, and the report carries the truncation.
TEST(LinuxIsolationStatusTest, LongMountTableIsReadBoundedAndReportedTruncated) {
  char dir[] = "/tmp/jw-mountinfo-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/mountinfo";
  std::string text = kJailMounts;
  for (int i = 0; i < 20000; ++i) {
    text += "700 612 0:70 / /mnt/m" + std::to_string(i) + " rw - tmpfs tmpfs rw\n";
  }
  ASSERT_GT(text.size(), kMaxMountinfoBytes);
  {
    std::ofstream out(path);
    out << text;
  }
  bool truncated = false;
  absl::StatusOr<std::string> read = ReadLinesBounded(path, kMaxMountinfoBytes, &truncated);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(truncated);
  EXPECT_LE(read->size(), kMaxMountinfoBytes);
  EXPECT_GT(read->size(), kMaxMountinfoBytes - 100);
  EXPECT_EQ(read->back(), '\n');
  EXPECT_EQ(text.compare(0, read->size(), *read), 0);  // its start, unchanged
  LinuxIsolationInputs in;
  in.backend_state = {{"seccomp", "default"}};
  in.mountinfo = *read;
  in.mountinfo_truncated = truncated;
  const IsolationStatus s = LinuxIsolationStatusOf(in);
  EXPECT_TRUE(s.mountinfo_truncated);
  EXPECT_TRUE(Layers(s)["masked_paths"]);
  // A table within the bound is read whole, not marked.
  read = ReadLinesBounded(path, text.size(), &truncated);
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(truncated);
  EXPECT_EQ(*read, text);
  read = ReadLinesBounded(std::string(dir) + "/none", 10, &truncated);
  EXPECT_FALSE(read.ok());
  EXPECT_EQ(StatusErrno(read.status()), std::optional<int>(ENOENT)) << read.status();
  EXPECT_THAT(std::string(read.status().message()), ::testing::HasSubstr("/none"));
  unlink(path.c_str());
  rmdir(dir);
}

TEST(LinuxIsolationStatusTest, SeccompModeFromProcStatus) {
  EXPECT_EQ(SeccompModeFromStatus("Name:\tsh\nNoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n"),
            std::optional<int>(2));
  EXPECT_EQ(SeccompModeFromStatus("Name:\tsh\nSeccomp:\t0\n"), std::optional<int>(0));
  EXPECT_EQ(SeccompModeFromStatus("Name:\tsh\n"), std::nullopt);
}

}  // namespace
}  // namespace jailwarden::platform
