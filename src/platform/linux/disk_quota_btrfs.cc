#include "platform/linux/disk_quota_btrfs.h"

#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/linux_jail_paths.h"

namespace jailwarden::platform {
namespace {

// BTRFS_FIRST_FREE_OBJECTID: the inode number of every subvolume's root.
constexpr ino_t kSubvolumeRootIno = 256;

// An open directory, closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int OpenDir(const std::string& path) {
  return open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

// The file system's id as sysfs names it (lower-case UUID form).
absl::StatusOr<std::string> FsidOf(int fd, const std::string& path) {
  struct btrfs_ioctl_fs_info_args info;
  std::memset(&info, 0, sizeof(info));
  if (ioctl(fd, BTRFS_IOC_FS_INFO, &info) != 0) {
    return ErrnoStatus(errno, StrCat("BTRFS_IOC_FS_INFO ", path));
  }
  char out[37];
  const unsigned char* u = info.fsid;
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                u[14], u[15]);
  return std::string(out);
}

// Splits `path` into its parent and last component; InvalidArgument for
// "/" or a name btrfs cannot take.
// `request` (BTRFS_IOC_SUBVOL_CREATE, BTRFS_IOC_SNAP_DESTROY) on `path`'s
// parent directory with its last component as the volume name: 0 when the
// ioctl succeeded, else its errno. A path without a last component a
// subvolume can take is InvalidArgument, a parent that does not open its
// errno.
absl::StatusOr<int> ParentVolIoctl(const std::string& path, unsigned long request) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash + 1 == path.size()) {
    return absl::InvalidArgumentError(StrCat("linux.disk_quota: ", path, ": no last component"));
  }
  const std::string parent = slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = path.substr(slash + 1);
  if (name.size() > BTRFS_PATH_NAME_MAX || name == "." || name == "..") {
    return absl::InvalidArgumentError(StrCat("linux.disk_quota: ", path,
                                             ": not a name a subvolume can take"));
  }
  Fd dir(OpenDir(parent));
  if (dir.get() < 0) {
    return ErrnoStatus(errno, StrCat("open ", parent));
  }
  struct btrfs_ioctl_vol_args args;
  std::memset(&args, 0, sizeof(args));
  std::memcpy(args.name, name.data(), name.size());
  return ioctl(dir.get(), request, &args) == 0 ? 0 : errno;
}

}  // namespace

absl::StatusOr<bool> IsBtrfsSubvolume(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return ErrnoStatus(errno, StrCat("stat ", path));
  }
  if (!S_ISDIR(st.st_mode) || st.st_ino != kSubvolumeRootIno) {
    return false;
  }
  // Inode 256 is any directory's number elsewhere (ext4, xfs).
  struct statfs fs;
  if (statfs(path.c_str(), &fs) != 0) {
    return ErrnoStatus(errno, StrCat("statfs ", path));
  }
  return fs.f_type == BTRFS_SUPER_MAGIC;
}

absl::Status CheckBtrfsQuotasEnabled(const std::string& existing,
                                     const std::string& mount_point) {
  Fd fd(open(existing.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return ErrnoStatus(errno, StrCat("open ", existing));
  }
  absl::StatusOr<std::string> fsid = FsidOf(fd.get(), existing);
  if (!fsid.ok()) {
    return fsid.status();
  }
  const std::string qgroups = StrCat("/sys/fs/btrfs/", *fsid, "/qgroups");
  if (access(qgroups.c_str(), F_OK) != 0) {
    return absl::FailedPreconditionError(StrCat(
        "linux.disk_quota: quotas are not enabled on the btrfs mounted at ", mount_point,
        " (no ", qgroups, "); its admin enables them with `btrfs quota enable ", mount_point,
        "`: jailwarden does not change host file systems"));
  }
  return absl::OkStatus();
}

absl::Status CreateBtrfsSubvolume(const std::string& path) {
  absl::StatusOr<int> err = ParentVolIoctl(path, BTRFS_IOC_SUBVOL_CREATE);
  if (!err.ok()) {
    return err.status();
  }
  if (*err == EEXIST) {
    return absl::AlreadyExistsError(StrCat("linux.disk_quota: ", path, " exists"));
  }
  if (*err != 0) {
    return ErrnoStatus(*err, StrCat("BTRFS_IOC_SUBVOL_CREATE ", path));
  }
  if (chmod(path.c_str(), 0755) != 0) {
    return ErrnoStatus(errno, StrCat("chmod ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<BtrfsQgroup> LimitBtrfsSubvolume(const std::string& path, uint64_t bytes) {
  Fd fd(OpenDir(path));
  if (fd.get() < 0) {
    return ErrnoStatus(errno, StrCat("open ", path));
  }
  struct btrfs_ioctl_ino_lookup_args lookup;
  std::memset(&lookup, 0, sizeof(lookup));
  lookup.objectid = kSubvolumeRootIno;  // treeid 0: the subvolume of fd
  if (ioctl(fd.get(), BTRFS_IOC_INO_LOOKUP, &lookup) != 0) {
    return ErrnoStatus(errno, StrCat("BTRFS_IOC_INO_LOOKUP ", path));
  }
  struct btrfs_ioctl_qgroup_limit_args limit;
  std::memset(&limit, 0, sizeof(limit));
  limit.qgroupid = lookup.treeid;  // level 0: the subvolume's own qgroup
  limit.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
  limit.lim.max_rfer = bytes == 0 ? ~uint64_t{0} : bytes;  // all ones: no limit
  if (ioctl(fd.get(), BTRFS_IOC_QGROUP_LIMIT, &limit) != 0) {
    if (errno == ENOTCONN) {
      return absl::FailedPreconditionError(
          StrCat("linux.disk_quota: BTRFS_IOC_QGROUP_LIMIT ", path,
                 ": ENOTCONN (quotas are not enabled on its file system: btrfs quota enable)"));
    }
    return ErrnoStatus(errno, StrCat("BTRFS_IOC_QGROUP_LIMIT ", path, " qgroup 0/",
                                     lookup.treeid));
  }
  absl::StatusOr<std::string> fsid = FsidOf(fd.get(), path);
  if (!fsid.ok()) {
    return fsid.status();
  }
  return BtrfsQgroup{
      .subvolume_id = lookup.treeid,
      .usage_file =
          StrCat("/sys/fs/btrfs/", *fsid, "/qgroups/0_", lookup.treeid, "/referenced")};
}

absl::Status DeleteBtrfsSubvolume(const std::string& path) {
  struct stat gone;
  if (lstat(path.c_str(), &gone) != 0 && errno == ENOENT) {
    return absl::OkStatus();
  }
  absl::StatusOr<bool> sub = IsBtrfsSubvolume(path);
  if (!sub.ok()) {
    return sub.status();
  }
  if (!*sub) {
    return absl::FailedPreconditionError(
        StrCat("linux.disk_quota: ", path, " is not a btrfs subvolume; left as it is"));
  }
  absl::StatusOr<int> err = ParentVolIoctl(path, BTRFS_IOC_SNAP_DESTROY);
  if (!err.ok()) {
    return err.status();
  }
  if (*err != 0 && *err != ENOENT) {
    return ErrnoStatus(*err, StrCat("BTRFS_IOC_SNAP_DESTROY ", path));
  }
  return absl::OkStatus();
}

std::optional<uint64_t> ReadBtrfsQgroupUsage(const std::string& usage_file) {
  absl::StatusOr<std::string> text = ReadFileToString(usage_file);
  if (!text.ok()) {
    return std::nullopt;
  }
  std::optional<int64_t> n = ParseInt<int64_t>(StripWhitespace(*text));
  if (!n || *n < 0) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(*n);
}

}  // namespace jailwarden::platform
