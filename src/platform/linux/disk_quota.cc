#include "platform/linux/disk_quota.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/disk_quota_btrfs.h"
#include "platform/linux/disk_quota_projects.h"
#include "platform/linux/jail_host_files.h"
#include "platform/linux/linux_jail_paths.h"

namespace jailwarden::platform {
namespace {

constexpr std::size_t kMaxEntries = 1000000;

bool Below(std::string_view path, std::string_view dir) {
  return dir == "/" || path == dir ||
         (StartsWith(path, dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

bool HasOption(std::string_view options, std::string_view name) {
  for (std::string_view o : Split(options, ',')) {
    if (o == name) {
      return true;
    }
  }
  return false;
}

// The entries of `dir` (name, is a directory), without "." and "..";
// symlinks are not directories here.
std::vector<std::pair<std::string, bool>> ListDirectory(const std::string& dir) {
  std::vector<std::pair<std::string, bool>> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return out;
  }
  while (struct dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    out.emplace_back(std::string(name), is_dir);
  }
  closedir(d);
  return out;
}

// Sets the project id and the inherit flag on the open `fd`.
absl::Status SetProject(int fd, uint32_t project, bool dir, const std::string& path) {
  struct fsxattr fsx;
  if (ioctl(fd, FS_IOC_FSGETXATTR, &fsx) != 0) {
    return ErrnoStatus(errno, StrCat("FS_IOC_FSGETXATTR ", path));
  }
  fsx.fsx_projid = project;
  if (dir) {
    fsx.fsx_xflags |= FS_XFLAG_PROJINHERIT;
  }
  if (ioctl(fd, FS_IOC_FSSETXATTR, &fsx) != 0) {
    return ErrnoStatus(errno, StrCat("FS_IOC_FSSETXATTR ", path));
  }
  return absl::OkStatus();
}

absl::Status SetQuota(const DiskQuotaTarget& t, uint32_t project, uint64_t bytes) {
  struct dqblk q = {};
  q.dqb_bhardlimit = (bytes + 1023) / 1024;  // 1 KiB blocks
  q.dqb_bsoftlimit = q.dqb_bhardlimit;
  q.dqb_valid = QIF_BLIMITS;
  if (quotactl(QCMD(Q_SETQUOTA, PRJQUOTA), t.device.c_str(), static_cast<int>(project),
               reinterpret_cast<caddr_t>(&q)) != 0) {
    return ErrnoStatus(errno, StrCat("quotactl(Q_SETQUOTA, PRJQUOTA, ", t.device, ", project ",
                                     project, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DiskQuotaTarget> TargetOf(const std::string& dir, std::string* real) {
  char buf[PATH_MAX];
  if (realpath(dir.c_str(), buf) == nullptr) {
    return ErrnoStatus(errno, StrCat("realpath ", dir));
  }
  *real = buf;
  absl::StatusOr<std::string> mountinfo = ReadFileToString("/proc/self/mountinfo");
  if (!mountinfo.ok()) {
    return mountinfo.status();
  }
  return DiskQuotaTargetFor(*real, *mountinfo);
}

}  // namespace

absl::StatusOr<uint64_t> ParseDiskQuota(std::string_view text) {
  std::string_view t = StripWhitespace(text);
  uint64_t mult = 1;
  if (!t.empty()) {
    switch (t.back()) {
      case 'K': case 'k': mult = uint64_t{1} << 10; break;
      case 'M': case 'm': mult = uint64_t{1} << 20; break;
      case 'G': case 'g': mult = uint64_t{1} << 30; break;
      case 'T': case 't': mult = uint64_t{1} << 40; break;
      default: break;
    }
    if (mult != 1) {
      t.remove_suffix(1);
    }
  }
  std::optional<int64_t> n = ParseInt<int64_t>(t);
  if (!n || *n <= 0 || static_cast<uint64_t>(*n) > UINT64_MAX / mult) {
    return absl::InvalidArgumentError(StrCat("linux.disk_quota: \"", text,
                                             "\": not a size (bytes, or K, M, G, T)"));
  }
  const uint64_t bytes = static_cast<uint64_t>(*n) * mult;
  if (bytes < (uint64_t{1} << 20)) {
    return absl::InvalidArgumentError(
        StrCat("linux.disk_quota: \"", text, "\": below the minimum of 1M"));
  }
  return bytes;
}

absl::StatusOr<DiskQuotaTarget> DiskQuotaTargetFor(std::string_view dir,
                                                   std::string_view mountinfo) {
  std::string_view best_point, fstype, source, options;
  for (std::string_view line : Split(mountinfo, '\n')) {
    std::size_t sep = line.find(" - ");
    if (sep == std::string_view::npos) {
      continue;
    }
    std::vector<std::string_view> head = SplitWhitespace(line.substr(0, sep));
    std::vector<std::string_view> tail = SplitWhitespace(line.substr(sep + 3));
    if (head.size() < 5 || tail.size() < 3 || !Below(dir, head[4])) {
      continue;
    }
    // The longest mount point wins; at equal length the later (on top).
    if (head[4].size() >= best_point.size()) {
      best_point = head[4];
      fstype = tail[0];
      source = tail[1];
      options = tail[2];
    }
  }
  if (best_point.empty()) {
    return absl::FailedPreconditionError(
        StrCat("linux.disk_quota: no mount holds ", dir));
  }
  const std::string where = StrCat("linux.disk_quota: ", dir, " is on ", fstype, " ", source,
                                   " (mounted at ", best_point, ")");
  if (fstype == "ext4" || fstype == "xfs") {
    // pqnoenforce (xfs) accounts without enforcing: not a quota.
    const bool on = HasOption(options, "prjquota") || HasOption(options, "pquota");
    if (!on) {
      return absl::FailedPreconditionError(StrCat(
          where, " without project quotas enforced (mount option ",
          fstype == "ext4" ? "prjquota, with the ext4 features quota and project"
                           : "prjquota/pquota",
          "); jailwarden does not remount host file systems"));
    }
    return DiskQuotaTarget{std::string(fstype), std::string(source), std::string(best_point)};
  }
  if (fstype == "btrfs") {
    return DiskQuotaTarget{std::string(fstype), std::string(source), std::string(best_point)};
  }
  if (fstype == "tmpfs") {
    return absl::FailedPreconditionError(
        StrCat(where, ": tmpfs has no project quotas; give the jail a tmpfs mount with size= "
                      "instead (mounts: fstype tmpfs, options size=...)"));
  }
  return absl::FailedPreconditionError(
      StrCat(where, ": only ext4 and xfs project quotas and btrfs qgroups can limit one "
                    "directory tree"));
}

absl::StatusOr<uint64_t> DiskQuotaPrecheck(const std::string& path, std::string_view text) {
  absl::StatusOr<uint64_t> bytes = ParseDiskQuota(text);
  if (!bytes.ok()) {
    return bytes.status();
  }
  std::string existing = path;
  while (access(existing.c_str(), F_OK) != 0 && existing.size() > 1) {
    std::size_t slash = existing.rfind('/');
    existing = slash == 0 ? "/" : existing.substr(0, slash);
  }
  std::string real;
  absl::StatusOr<DiskQuotaTarget> target = TargetOf(existing, &real);
  if (!target.ok()) {
    return target.status();
  }
  if (target->fstype == "btrfs") {
    if (absl::Status st = CheckBtrfsQuotasEnabled(real, target->mount_point); !st.ok()) {
      return st;
    }
    if (existing == path) {
      absl::StatusOr<bool> sub = IsBtrfsSubvolume(path);
      if (!sub.ok()) {
        return sub.status();
      }
      if (!*sub) {
        return absl::FailedPreconditionError(StrCat(
            "linux.disk_quota: ", path, " is on btrfs ", target->device, " (mounted at ",
            target->mount_point, ") but is not a subvolume: btrfs limits subvolumes, not "
            "directories (btrfs subvolume create; a thin jail's new layer is made one)"));
      }
    }
  }
  return bytes;
}

uint32_t DiskQuotaProject(std::string_view name) {
  uint32_t h = 2166136261u;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return 0x4a570000u + (h & 0xffffu);
}

absl::Status ApplyDiskQuota(const std::string& dir, uint64_t bytes, uint32_t project) {
  std::string real;
  absl::StatusOr<DiskQuotaTarget> target = TargetOf(dir, &real);
  if (!target.ok()) {
    return target.status();
  }
  // Every existing entry gets the project (new ones inherit it), breadth
  // first, never through a symlink.
  std::vector<std::string> dirs = {real};
  std::size_t entries = 0;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    int fd = open(dirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return ErrnoStatus(errno, StrCat("open ", dirs[i]));
    }
    absl::Status st = SetProject(fd, project, true, dirs[i]);
    close(fd);
    if (!st.ok()) {
      return st;
    }
    for (const auto& [name, is_dir] : ListDirectory(dirs[i])) {
      if (++entries > kMaxEntries) {
        return absl::ResourceExhaustedError(
            StrCat("linux.disk_quota: more than ", kMaxEntries, " entries below ", real));
      }
      std::string path = StrCat(dirs[i], "/", name);
      if (is_dir) {
        dirs.push_back(std::move(path));
        continue;
      }
      int f = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      if (f < 0) {
        if (errno == ELOOP || errno == ENXIO || errno == ENOENT) {
          continue;  // a symlink, a socket, gone meanwhile
        }
        return ErrnoStatus(errno, StrCat("open ", path));
      }
      st = SetProject(f, project, false, path);
      close(f);
      if (!st.ok()) {
        return st;
      }
    }
  }
  return SetQuota(*target, project, bytes);
}

absl::Status ClearDiskQuota(const std::string& dir, uint32_t project) {
  std::string real;
  absl::StatusOr<DiskQuotaTarget> target = TargetOf(dir, &real);
  if (!target.ok()) {
    return absl::OkStatus();  // quotas off there: nothing was set
  }
  return SetQuota(*target, project, 0);
}

absl::StatusOr<std::optional<uint64_t>> DiskQuotaOfJail(const JailSpec& spec) {
  auto q = spec.parameters.find("linux.disk_quota");
  if (q == spec.parameters.end()) {
    return std::optional<uint64_t>();
  }
  absl::StatusOr<uint64_t> bytes = DiskQuotaPrecheck(spec.path, q->second);
  if (!bytes.ok()) {
    return bytes.status();
  }
  return std::optional<uint64_t>(*bytes);
}

bool DiskQuotaProjectInUse(const std::string& device, uint32_t project) {
  struct dqblk q = {};
  if (quotactl(QCMD(Q_GETQUOTA, PRJQUOTA), device.c_str(), static_cast<int>(project),
               reinterpret_cast<caddr_t>(&q)) != 0) {
    return errno != ESRCH && errno != ENOENT;
  }
  return q.dqb_curspace > 0 || q.dqb_curinodes > 0;
}

absl::Status ApplyJailDiskQuota(const JailSpec& spec, std::optional<uint64_t> bytes,
                                DiskQuotaProjects& projects,
                                std::map<std::string, std::string>& backend_state) {
  if (!bytes.has_value()) {
    return absl::OkStatus();
  }
  std::string real;
  if (absl::StatusOr<DiskQuotaTarget> t = TargetOf(spec.path, &real);
      t.ok() && t->fstype == "btrfs") {
    absl::StatusOr<BtrfsQgroup> q = LimitBtrfsSubvolume(real, *bytes);
    if (!q.ok()) {
      return q.status();
    }
    backend_state["quota.bytes"] = StrCat(*bytes);
    backend_state["quota.fstype"] = "btrfs";
    backend_state["quota.device"] = t->device;
    backend_state["quota.qgroup"] = StrCat("0/", q->subvolume_id);
    backend_state["quota.usage_file"] = q->usage_file;
    return absl::OkStatus();
  }
  absl::StatusOr<DiskQuotaTarget> target = TargetOf(spec.path, &real);
  if (!target.ok()) {
    return target.status();
  }
  absl::StatusOr<uint32_t> allocated = projects.Allocate(
      spec.name, [&](uint32_t p) { return DiskQuotaProjectInUse(target->device, p); });
  if (!allocated.ok()) {
    return allocated.status();
  }
  const uint32_t project = *allocated;
  absl::Status st = ApplyDiskQuota(spec.path, *bytes, project);
  if (!st.ok()) {
    return st;
  }
  backend_state["quota.bytes"] = StrCat(*bytes);
  backend_state["quota.project"] = StrCat(project);
  // For the report (isolation_status.h): the mechanism and where to read
  // the project's usage.
  backend_state["quota.fstype"] = target->fstype;
  backend_state["quota.device"] = target->device;
  return absl::OkStatus();
}

absl::Status ClearJailDiskQuota(const JailSpec& spec,
                                const std::map<std::string, std::string>& backend_state) {
  if (auto fs = backend_state.find("quota.fstype");
      fs != backend_state.end() && fs->second == "btrfs") {
    // The subvolume stays with the layer's data until destroy; its limit
    // is lifted as a project quota's is. Gone already is fine.
    absl::StatusOr<bool> sub = IsBtrfsSubvolume(spec.path);
    if (!sub.ok() || !*sub) {
      return absl::OkStatus();
    }
    return LimitBtrfsSubvolume(spec.path, 0).status();
  }
  auto it = backend_state.find("quota.project");
  if (it == backend_state.end()) {
    return absl::OkStatus();
  }
  std::optional<int64_t> project = ParseInt<int64_t>(it->second);
  if (!project) {
    return absl::OkStatus();
  }
  return ClearDiskQuota(spec.path, static_cast<uint32_t>(*project));
}

absl::Status PrepareJailDiskQuotaLayer(const JailSpec& spec, std::optional<uint64_t> bytes) {
  if (!bytes.has_value() || spec.base_root.empty() || access(spec.path.c_str(), F_OK) == 0) {
    return absl::OkStatus();
  }
  std::string parent = Dirname(spec.path);
  if (absl::Status st = MakeDirs(parent); !st.ok()) {
    return st;
  }
  std::string real;
  absl::StatusOr<DiskQuotaTarget> t = TargetOf(parent, &real);
  if (!t.ok() || t->fstype != "btrfs") {
    return absl::OkStatus();  // a project quota: a plain directory
  }
  return CreateBtrfsSubvolume(StrCat(real == "/" ? "" : real, "/", Basename(spec.path)));
}

absl::Status DiscardJailDiskQuotaLayer(const JailSpec& spec) {
  if (spec.parameters.count("linux.disk_quota") == 0 || spec.base_root.empty() ||
      spec.path.empty() || spec.path[0] != '/') {
    return absl::OkStatus();
  }
  absl::StatusOr<bool> sub = IsBtrfsSubvolume(spec.path);
  if (!sub.ok() || !*sub) {
    return absl::OkStatus();  // gone, or a directory under a project quota
  }
  return DeleteBtrfsSubvolume(spec.path);
}

}  // namespace jailwarden::platform
