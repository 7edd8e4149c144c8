#include "platform/linux/sampled_deny.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/proc_parser.h"
#include "platform/linux/resource_map.h"
#include "platform/linux/rlimits.h"

namespace jailwarden::platform {

using rctl::Resource;

std::optional<int> SampledDenyRlimit(Resource r) {
  // Of the resources an rlimit caps, those whose current use the slow tier
  // reads per process, so a soft limit can be set to it (resource_map.h).
  const LinuxResourceRow& row = LinuxResource(r);
  return row.clamp != LinuxClampSource::kNone ? std::optional<int>(row.rlimit) : std::nullopt;
}

int SampledDenyErrno(Resource r) { return LinuxResource(r).clamp_errno; }

int64_t LowestFreeFd(std::span<const int64_t> open_fds) {
  std::vector<int64_t> sorted(open_fds.begin(), open_fds.end());
  std::sort(sorted.begin(), sorted.end());
  int64_t next = 0;
  for (int64_t fd : sorted) {
    if (fd == next) {
      ++next;
    } else if (fd > next) {
      break;
    }
  }
  return next;
}

std::set<ClampKey> WantedClamps(std::span<const SampledDeny> denies,
                                const std::set<int64_t>& pids, int64_t init_pid) {
  std::set<ClampKey> want;
  for (const SampledDeny& d : denies) {
    if (!d.rule.resource.has_value()) {
      continue;
    }
    const std::optional<int> rl = SampledDenyRlimit(*d.rule.resource);
    if (!rl.has_value()) {
      continue;
    }
    if (d.pid < 0) {
      for (int64_t pid : pids) {
        if (pid != init_pid) {
          want.emplace(pid, *rl);
        }
      }
    } else if (d.pid != init_pid && pids.count(d.pid) != 0) {
      want.emplace(d.pid, *rl);
    }
  }
  return want;
}

absl::StatusOr<LinuxRlimit> ProcfsProcessLimits::Get(int64_t pid, int resource) {
  return GetProcessRlimit(pid, resource);
}

absl::Status ProcfsProcessLimits::Set(int64_t pid, const LinuxRlimit& limit) {
  return SetProcessRlimit(pid, limit);
}

namespace {

// What the clamp of the resource whose sampled-deny rlimit is `rlimit`
// reads (resource_map.h); kNone if no resource is clamped by it.
LinuxClampSource ClampSourceOf(int rlimit) {
  for (const LinuxResourceRow& row : LinuxResourceMap()) {
    if (row.rlimit == rlimit && row.clamp != LinuxClampSource::kNone) {
      return row.clamp;
    }
  }
  return LinuxClampSource::kNone;
}

}  // namespace

absl::StatusOr<uint64_t> ProcfsProcessLimits::ClampValue(int64_t pid, int resource) {
  const LinuxClampSource source = ClampSourceOf(resource);
  if (source == LinuxClampSource::kNone) {
    return absl::InvalidArgumentError(StrCat("no sampled-deny clamp for ", RlimitName(resource)));
  }
  char path[48];
  if (source == LinuxClampSource::kLowestFreeFd) {
    std::snprintf(path, sizeof(path), "/proc/%lld/fd", static_cast<long long>(pid));
    DIR* dir = opendir(path);
    if (dir == nullptr) {
      const int err = errno;
      if (err == ENOENT) {
        return absl::NotFoundError(StrCat("process ", pid, " gone"));
      }
      return ErrnoStatus(err, StrCat("opendir ", path));
    }
    std::vector<int64_t> fds;
    while (const dirent* e = readdir(dir)) {
      if (std::optional<int64_t> fd = ParseInt<int64_t>(e->d_name)) {
        fds.push_back(*fd);
      }
    }
    closedir(dir);
    return static_cast<uint64_t>(LowestFreeFd(fds));
  }
  std::snprintf(path, sizeof(path), "/proc/%lld/status", static_cast<long long>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(StrCat("process ", pid, " gone"));
    }
    return ErrnoStatus(err, StrCat("open ", path));
  }
  char buf[4096];
  const ssize_t n = read(fd, buf, sizeof(buf));
  const int err = errno;
  close(fd);
  if (n < 0) {
    if (err == ESRCH) {
      return absl::NotFoundError(StrCat("process ", pid, " gone"));
    }
    return ErrnoStatus(err, StrCat("read ", path));
  }
  const std::optional<ProcStatusFields> s =
      ParseProcStatus(std::string_view(buf, static_cast<size_t>(n)));
  if (!s.has_value()) {
    return absl::NotFoundError(StrCat("process ", pid, " gone (no status)"));
  }
  int64_t bytes = 0;
  switch (source) {
    case LinuxClampSource::kVmSize:
      bytes = s->vm_size_bytes;
      break;
    case LinuxClampSource::kVmData:
      bytes = s->vm_data_bytes;
      break;
    case LinuxClampSource::kVmStk:
      bytes = s->vm_stk_bytes;
      break;
    case LinuxClampSource::kVmLck:
      bytes = s->vm_lck_bytes;
      break;
    case LinuxClampSource::kNone:
    case LinuxClampSource::kLowestFreeFd:  // both handled above
      return absl::InternalError(StrCat("no status field for ", RlimitName(resource)));
  }
  return static_cast<uint64_t>(std::max<int64_t>(bytes, 0));
}

absl::Status SampledDenyClamps::Update(const std::set<ClampKey>& want,
                                       const std::set<int64_t>& present, ProcessLimits& ops) {
  absl::Status first;
  auto note = [&first](const absl::Status& st) {
    if (!st.ok() && !absl::IsNotFound(st) && first.ok()) {
      first = st;
    }
  };
  // Lift clamps no longer wanted; forget processes that left the jail.
  for (auto it = clamps_.begin(); it != clamps_.end();) {
    const auto& [key, clamp] = *it;
    if (present.count(key.first) == 0) {
      it = clamps_.erase(it);
      continue;
    }
    if (want.count(key) != 0) {
      ++it;
      continue;
    }
    absl::StatusOr<LinuxRlimit> cur = ops.Get(key.first, key.second);
    if (cur.ok()) {
      LinuxRlimit back = *cur;
      back.soft = std::min(clamp.saved_soft, cur->hard);
      note(ops.Set(key.first, back));
    } else {
      note(cur.status());
    }
    it = clamps_.erase(it);
  }
  // Clamp (again) what is wanted.
  for (const ClampKey& key : want) {
    absl::StatusOr<LinuxRlimit> cur = ops.Get(key.first, key.second);
    if (!cur.ok()) {
      note(cur.status());
      clamps_.erase(key);
      continue;
    }
    absl::StatusOr<uint64_t> value = ops.ClampValue(key.first, key.second);
    if (!value.ok()) {
      note(value.status());
      if (absl::IsNotFound(value.status())) {
        clamps_.erase(key);
      }
      continue;
    }
    auto it = clamps_.find(key);
    const rlim_t saved = it != clamps_.end() ? it->second.saved_soft : cur->soft;
    const rlim_t soft =
        std::min({static_cast<rlim_t>(*value), saved, cur->hard});
    if (soft != cur->soft) {
      LinuxRlimit lowered = *cur;
      lowered.soft = soft;
      absl::Status st = ops.Set(key.first, lowered);
      if (!st.ok()) {
        note(st);
        if (absl::IsNotFound(st)) {
          clamps_.erase(key);
        }
        continue;
      }
    }
    clamps_[key] = Clamp{saved, soft};
  }
  return first;
}

void SampledDenyClamps::AdjustWrite(int64_t pid, LinuxRlimit& setting) {
  auto it = clamps_.find(ClampKey{pid, setting.resource});
  if (it == clamps_.end()) {
    return;
  }
  it->second.saved_soft = setting.soft;
  it->second.soft = std::min({it->second.soft, setting.soft, setting.hard});
  setting.soft = it->second.soft;
}

}  // namespace jailwarden::platform
