// linux.disk_quota's part of the seccomp filter: a jail's root owns its
// files, so without the filter it could give them another project id
// (FS_IOC_FSSETXATTR) or clear a directory's project inheritance
// (FS_IOC_SETFLAGS) and write past its quota. With the key those ioctls
// fail with EPERM, high bits in the request included; reading the same
// attributes still works, and without the key nothing changes.

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/platform/linux/capabilities.h"
#include "jailwarden/platform/linux/seccomp.h"
#include "platform/seccomp_under_filter.h"

namespace jailwarden::platform {
namespace {

using seccomp_test::UnderFilter;

// A scratch file of the test's own: the set ioctls are only ever tried on
// it, with the values it already has.
std::string ScratchFile() {
  static const std::string path = [] {
    char dir[] = "/tmp/jw-seccomp-quota-XXXXXX";
    const char* d = mkdtemp(dir);
    std::string p = std::string(d == nullptr ? "/tmp" : d) + "/f";
    int fd = open(p.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    return p;
  }();
  return path;
}

// errno of ioctl(scratch file, request), 0 if it succeeded. A set request
// passes what the matching get read (nothing changes); `request` may carry
// high bits, which the kernel drops.
int IoctlErrno(uint64_t request) {
  int fd = open(ScratchFile().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 99;
  }
  struct fsxattr xattr = {};
  long flags = 0;
  (void)ioctl(fd, FS_IOC_FSGETXATTR, &xattr);
  (void)ioctl(fd, FS_IOC_GETFLAGS, &flags);
  const uint32_t low = static_cast<uint32_t>(request);
  void* arg = low == FS_IOC_FSSETXATTR || low == FS_IOC_FSGETXATTR
                  ? static_cast<void*>(&xattr)
                  : static_cast<void*>(&flags);
  const long rc = syscall(SYS_ioctl, fd, request, arg);
  const int err = rc < 0 ? errno : 0;
  close(fd);
  return err;
}

TEST(SeccompQuotaTest, DiskQuotaKeyGuardsTheProjectIoctls) {
  JailSpec spec;
  spec.name = "q";
  spec.path = "/tmp/q";
  spec.parameters = {{"linux.disk_quota", "8M"}};
  absl::StatusOr<JailPrivileges> p = JailPrivilegesFor(spec);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->seccomp.guard_project_quota);
  EXPECT_EQ(SeccompSettingsToText(p->seccomp), "default projquota");
  SeccompSettings back;
  std::string error;
  ASSERT_TRUE(SeccompSettingsFromText("default projquota", &back, &error)) << error;
  EXPECT_EQ(back, p->seccomp);
  spec.parameters.clear();
  EXPECT_FALSE(JailPrivilegesFor(spec)->seccomp.guard_project_quota);
}

TEST(SeccompQuotaTest, ProjectIoctlsAreRefusedUnderTheGuard) {
  SeccompSettings s;
  s.guard_project_quota = true;
  for (uint64_t request : {uint64_t{FS_IOC_FSSETXATTR}, uint64_t{FS_IOC_SETFLAGS},
                           uint64_t{FS_IOC32_SETFLAGS},
                           (uint64_t{0xffffffff} << 32) | FS_IOC_FSSETXATTR}) {
    EXPECT_EQ(UnderFilter(s, [request] { return IoctlErrno(request); }), EPERM)
        << std::hex << request;
  }
  // Reading is not refused (whatever the file system answers).
  EXPECT_NE(UnderFilter(s, [] { return IoctlErrno(FS_IOC_FSGETXATTR); }), EPERM);
  EXPECT_NE(UnderFilter(s, [] { return IoctlErrno(FS_IOC_GETFLAGS); }), EPERM);
  // With ioctl allowed the guard is off: the answer is the file system's,
  // as without the key.
  s.allow = {"ioctl"};
  const int allowed = UnderFilter(s, [] { return IoctlErrno(FS_IOC_FSSETXATTR); });
  const int plain = UnderFilter(SeccompSettings{}, [] { return IoctlErrno(FS_IOC_FSSETXATTR); });
  EXPECT_EQ(allowed, plain);
  const std::string file = ScratchFile();
  unlink(file.c_str());
  rmdir(file.substr(0, file.rfind('/')).c_str());
}

// A new btrfs subvolume or snapshot has a qgroup of its own, outside the
// layer's limit: making one is refused under the guard (EPERM) and left to
// the file system without it (/tmp: ENOTTY off btrfs; on btrfs a user may
// make one, so never EPERM either).
TEST(SeccompQuotaTest, BtrfsSubvolumeAndSnapshotCreationAreRefusedUnderTheGuard) {
  SeccompSettings s;
  s.guard_project_quota = true;
  const auto create = [](uint64_t request) {
    return [request] {
      int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) return 99;
      static struct btrfs_ioctl_vol_args_v2 args;  // large enough for both forms
      std::strcpy(args.name, "jw-subvol");
      const long rc = syscall(SYS_ioctl, fd, request, &args);
      const int err = rc < 0 ? errno : 0;
      close(fd);
      return err;
    };
  };
  for (uint64_t request :
       {uint64_t{BTRFS_IOC_SUBVOL_CREATE}, uint64_t{BTRFS_IOC_SUBVOL_CREATE_V2},
        uint64_t{BTRFS_IOC_SNAP_CREATE}, uint64_t{BTRFS_IOC_SNAP_CREATE_V2},
        (uint64_t{0xffffffff} << 32) | BTRFS_IOC_SUBVOL_CREATE}) {
    EXPECT_EQ(UnderFilter(s, create(request)), EPERM) << std::hex << request;
    EXPECT_NE(UnderFilter(SeccompSettings{}, create(request)), EPERM) << std::hex << request;
  }
}

}  // namespace
}  // namespace jailwarden::platform
