#include "platform/linux/isolation_status.h"

#include <fcntl.h>
#include <sys/quota.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <string_view>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/seccomp.h"
#include "platform/linux/cgroup.h"
#include "platform/linux/disk_quota_btrfs.h"
#include "platform/linux/linux_jail_paths.h"

namespace jailwarden::platform {
namespace {

std::string Get(const std::map<std::string, std::string>& m, std::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? std::string() : it->second;
}

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Some of runc's masked /proc paths, as jailwarden-init masks them
// (ProtectProc in init_main_setup.cc); one of them mounted over is the
// layer in force.
constexpr std::string_view kMaskedProcPaths[] = {
    "/proc/kcore",      "/proc/keys",        "/proc/key-users", "/proc/kallsyms",
    "/proc/timer_list", "/proc/sched_debug", "/proc/acpi",      "/proc/interrupts"};

bool AnyMaskedProcPath(std::string_view mountinfo) {
  for (std::string_view line : Split(mountinfo, '\n')) {
    std::vector<std::string_view> f = SplitWhitespace(line);
    if (f.size() < 5) {
      continue;
    }
    for (std::string_view p : kMaskedProcPaths) {
      if (f[4] == p) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> ReadLinesBounded(const std::string& path, std::size_t max_bytes,
                                             bool* truncated) {
  *truncated = false;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno, StrCat("open ", path));
  }
  std::string out;
  out.resize(max_bytes + 1);  // one byte more tells that it goes on
  std::size_t have = 0;
  while (have < out.size()) {
    const ssize_t n = read(fd, out.data() + have, out.size() - have);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int err = errno;
      close(fd);
      return ErrnoStatus(err, StrCat("read ", path));
    }
    if (n == 0) {
      break;
    }
    have += static_cast<std::size_t>(n);
  }
  close(fd);
  out.resize(have);
  if (have > max_bytes) {
    *truncated = true;
    out.resize(max_bytes);
    const std::size_t last = out.rfind('\n');
    out.resize(last == std::string::npos ? 0 : last + 1);
  }
  return out;
}

std::optional<int> SeccompModeFromStatus(std::string_view status) {
  for (std::string_view line : Split(status, '\n')) {
    if (StartsWith(line, "Seccomp:")) {
      return ParseInt<int>(StripWhitespace(line.substr(8)));
    }
  }
  return std::nullopt;
}

IsolationStatus LinuxIsolationStatusOf(const LinuxIsolationInputs& in) {
  IsolationStatus out;
  SeccompSettings settings;
  std::string error;
  const std::string recorded = Get(in.backend_state, "seccomp");
  const bool filter = !recorded.empty() && SeccompSettingsFromText(recorded, &settings, &error) &&
                      (!in.seccomp_mode.has_value() || *in.seccomp_mode == 2);
  if (filter) {
    if (settings.allow_mount) out.seccomp_relaxed.push_back("mount");
    if (settings.allow_time) out.seccomp_relaxed.push_back("time");
    if (settings.allow_quotas) out.seccomp_relaxed.push_back("quotas");
    out.seccomp_allow = settings.allow;
    out.seccomp_deny = settings.deny;
  }
  const auto allowed = [&](std::initializer_list<std::string_view> names) {
    return std::any_of(names.begin(), names.end(),
                       [&](std::string_view n) { return Contains(settings.allow, n); });
  };
  const bool userns = filter && !allowed({"unshare", "clone", "clone3"});
  const bool keyring = filter && !allowed({"keyctl", "add_key", "request_key"});
  const bool cgroup_ro = !Get(in.backend_state, kCgroupLeafKey).empty();
  const bool masked = AnyMaskedProcPath(in.mountinfo);
  const std::optional<int64_t> project = ParseInt<int64_t>(Get(in.backend_state, "quota.project"));
  const std::optional<int64_t> bytes = ParseInt<int64_t>(Get(in.backend_state, "quota.bytes"));
  const std::string fstype = Get(in.backend_state, "quota.fstype");
  const bool quota =
      (project.has_value() || fstype == "btrfs") && bytes.has_value() && *bytes > 0;
  if (quota) {
    // Jails recorded before quota.fstype: only ext4 and xfs could hold one.
    out.disk_quota = DiskQuotaStatus{
        .mechanism = fstype == "btrfs" ? "btrfs_qgroup"
                     : fstype == "xfs" ? "xfs_project"
                                       : "ext4_project",
        .limit_bytes = static_cast<uint64_t>(*bytes),
        .used_bytes = in.quota_used_bytes};
  }
  out.mountinfo_truncated = in.mountinfo_truncated;
  const bool on[] = {filter, userns, keyring, cgroup_ro, masked, quota};
  std::size_t i = 0;
  for (const char* layer : kIsolationLayers) {
    out.layers.push_back(IsolationLayer{layer, on[i++]});
  }
  return out;
}

std::optional<IsolationStatus> ReadLinuxIsolationStatus(const JailInstance& instance) {
  if (instance.init_pid <= 0) {
    return std::nullopt;
  }
  LinuxIsolationInputs in;
  in.backend_state = instance.backend_state;
  const std::string proc = StrCat("/proc/", instance.init_pid);
  if (absl::StatusOr<std::string> status = ReadFileToString(proc + "/status"); status.ok()) {
    in.seccomp_mode = SeccompModeFromStatus(*status);
  }
  if (absl::StatusOr<std::string> m =
          ReadLinesBounded(proc + "/mountinfo", kMaxMountinfoBytes, &in.mountinfo_truncated);
      m.ok()) {
    in.mountinfo = *std::move(m);
  }
  if (const std::string usage = Get(instance.backend_state, "quota.usage_file");
      !usage.empty()) {
    in.quota_used_bytes = ReadBtrfsQgroupUsage(usage);  // a btrfs qgroup's
  }
  const std::string device = Get(instance.backend_state, "quota.device");
  const std::optional<int64_t> project =
      ParseInt<int64_t>(Get(instance.backend_state, "quota.project"));
  if (!device.empty() && project.has_value() && Get(instance.backend_state, "quota.fstype") != "btrfs") {
    struct dqblk q = {};
    if (quotactl(QCMD(Q_GETQUOTA, PRJQUOTA), device.c_str(), static_cast<int>(*project),
                 reinterpret_cast<caddr_t>(&q)) == 0 &&
        (q.dqb_valid & QIF_SPACE) != 0) {
      in.quota_used_bytes = q.dqb_curspace;
    }
  }
  return LinuxIsolationStatusOf(in);
}

}  // namespace jailwarden::platform
