// Root-only (issue 13): linux.disk_quota enforced by a btrfs qgroup, the
// path that runs on kernels without ext4/xfs project quotas (this CI
// host's: CONFIG_QFMT_V2 and XFS_QUOTA off, CONFIG_BTRFS_FS on). In a
// mount namespace the test makes (unshare --mount, private propagation:
// the host's mount table never changes), a btrfs image on a loop device,
// with quotas enabled by the test as its admin would
// (`btrfs quota enable`), holds the daemon's state directory and a plain
// jail's root subvolume. A thin jail's writable layer there is made a
// subvolume by jailwarden, limited by its qgroup; writes past it fail with
// EDQUOT, GET /v1/jails/NAME and /metrics report it (btrfs_qgroup, limit,
// usage), the jail's root cannot lift it, and destroy deletes the
// subvolume.
//
// Without root, btrfs-progs, loop devices or btrfs in the kernel it skips
// with the reason, and fails under CI=true: CI runs where this is the one
// test of the quota that can run.

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/loop_image.h"
#include "nlohmann/json.hpp"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;

bool KernelHasBtrfs() {
  return ReadText("/proc/filesystems").find("\tbtrfs\n") != std::string::npos;
}

class JailBtrfsQuotaTest : public LoopImageTest {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    if (!KernelHasBtrfs()) {
      JW_SKIP_OR_FAIL_UNDER_CI("this kernel has no btrfs (/proc/filesystems)");
    }
    MakeLoopImage({.temp_prefix = "jw-it-btrfs",
                   .image_name = "btrfs.img",
                   .size = "256M",
                   .mkfs = "mkfs.btrfs -q -f",
                   .tools = {"mkfs.btrfs", "btrfs", "losetup", "unshare", "nsenter", "mount"},
                   .why = " (btrfs-progs, util-linux; scripts/install-deps.sh)"});
    if (IsSkipped() || HasFatalFailure()) return;
    // The file system's admin's part, in a throwaway mount namespace:
    // quotas on, and a subvolume holding a plain jail's root.
    const std::string plain = mnt_ + "/plain";
    ShellResult admin = HostShell(absl::StrCat(
        "unshare --mount --propagation private -- sh -c 'set -e; mount -t btrfs \"$0\" \"$1\"; "
        "btrfs quota enable \"$1\"; btrfs subvolume create \"$1/plain\" >/dev/null; "
        "cp -a \"$2/.\" \"$1/plain/\"; cp \"$3\" \"$1/plain/bin/escape_probe\"' ",
        Quote(loop_), " ", Quote(mnt_), " ", Quote(BusyboxBase()), " ",
        Quote(EscapeProbePath()), " 2>&1"));
    ASSERT_EQ(admin.exit_code, 0) << "mount, btrfs quota enable, subvolume: " << admin.out;
    WritePolicy(absl::StrCat("  p:\n    path: ", plain,
                             "\n    persist: true\n    stop.timeout: 2s\n",
                             "    linux.disk_quota: 16M\n"));
    StartServe("-t btrfs");
  }

  // A shell command in serve's mount namespace (where the image is).
  ShellResult InServeNs(const std::string& command) {
    return HostShell(absl::StrCat("nsenter -t ", serve_->pid(), " -m -- sh -c ",
                                  Quote(command), " 2>&1"));
  }
};

TEST_F(JailBtrfsQuotaTest, WritableLayerHitsEdquotAtItsBtrfsQgroupLimit) {
  const nlohmann::json iso = Isolation("q");
  ASSERT_TRUE(iso.is_object()) << serve_->log();
  EXPECT_EQ(iso["layers"]["disk_quota"], true) << iso;
  EXPECT_EQ(iso["disk_quota"]["mechanism"], "btrfs_qgroup") << iso;
  EXPECT_EQ(iso["disk_quota"]["limit_bytes"], 8u << 20) << iso;
  // The thin jail's upper directory was made a subvolume (inode 256).
  EXPECT_EQ(InServeNs(absl::StrCat("stat -c %i ", mnt_, "/state/roots/q")).out, "256\n");
  // 16 MiB into an 8 MiB limit, then 4 more.
  ExpectWritesPastTheQuotaFail(/*more_mib=*/4, /*sync=*/true);
  // Usage is accounted at transaction commits: the sync above commits.
  uint64_t used = 0;
  for (int i = 0; i < 100 && used < (uint64_t{4} << 20); ++i) {
    const nlohmann::json after = Isolation("q");
    if (after.is_object() && after["disk_quota"].contains("used_bytes")) {
      used = after["disk_quota"]["used_bytes"].get<uint64_t>();
    }
    if (used < (uint64_t{4} << 20)) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_GE(used, uint64_t{4} << 20);
  EXPECT_LE(used, uint64_t{9} << 20);
  ExpectQuotaMetrics("btrfs_qgroup");
}

TEST_F(JailBtrfsQuotaTest, JailRootCannotLiftOrEscapeItsBtrfsQgroup) {
  ASSERT_TRUE(Isolation("p").is_object()) << serve_->log();
  // A plain jail's root is the subvolume itself: every btrfs ioctl reaches
  // it. Looking its id up works; lifting the limit, disabling quotas and
  // deleting the subvolume need CAP_SYS_ADMIN in the initial user
  // namespace (EPERM); making a subvolume or snapshot (a qgroup of its
  // own, outside the limit) is refused by the filter (EPERM).
  EXPECT_EQ(Cli("exec", "p -- /bin/escape_probe btrfs /").out,
            "ino_lookup errno=0\nqgroup_limit errno=1\nquota_disable errno=1\n"
            "snap_destroy errno=1\nsubvol_create errno=1\nsnap_create errno=1\n");
  // A thin jail's root is an overlay: btrfs's ioctls do not pass it
  // (ENOTTY), and the creations are refused first by the filter.
  EXPECT_EQ(Cli("exec", "q -- /bin/escape_probe btrfs /").out,
            "ino_lookup errno=25\nqgroup_limit errno=25\nquota_disable errno=25\n"
            "snap_destroy errno=25\nsubvol_create errno=1\nsnap_create errno=1\n");
  // Nothing was made, and the limit still holds.
  EXPECT_EQ(InServeNs(absl::StrCat("ls ", mnt_, "/plain | grep -c jw-escape")).out, "0\n");
  ShellResult dd = Cli("exec", "p -- dd if=/dev/zero of=/fill bs=1M count=32");
  EXPECT_THAT(dd.out, HasSubstr("Disk quota exceeded"));
  const nlohmann::json iso = Isolation("p");
  EXPECT_EQ(iso["disk_quota"]["limit_bytes"], 16u << 20) << iso;
}

TEST_F(JailBtrfsQuotaTest, DestroyDeletesTheThinJailsSubvolume) {
  ASSERT_TRUE(Isolation("q").is_object()) << serve_->log();
  const std::string layer = mnt_ + "/state/roots/q";
  ASSERT_EQ(InServeNs(absl::StrCat("stat -c %i ", layer)).out, "256\n");
  ShellResult destroy = Cli("destroy", "q");
  ASSERT_EQ(destroy.exit_code, 0) << destroy.out << serve_->log();
  EXPECT_NE(InServeNs(absl::StrCat("test -e ", layer)).exit_code, 0)
      << InServeNs(absl::StrCat("ls -la ", mnt_, "/state/roots")).out;
  // A plain jail's root is its admin's: destroy leaves it.
  ASSERT_EQ(Cli("destroy", "p").exit_code, 0);
  EXPECT_EQ(InServeNs(absl::StrCat("stat -c %i ", mnt_, "/plain")).out, "256\n");
}

}  // namespace
}  // namespace jailwarden::testing
