#include "platform/linux/process_scan_cache.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <utility>

#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/linux_usage_reader.h"
#include "platform/linux/proc_parser.h"

namespace jailwarden::platform {
namespace {

int64_t BoottimeNowUs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// /proc/<pid>/schedstat, or nullopt if the process is gone or the file
// unreadable.
std::optional<ProcSchedstatFields> ReadSchedstat(int64_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%lld/schedstat", static_cast<long long>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return std::nullopt;
  }
  char buf[128];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) {
    return std::nullopt;
  }
  return ParseProcSchedstat(std::string_view(buf, static_cast<std::size_t>(n)));
}

}  // namespace

void ProcessScanCache::BeginPass() { next_.clear(); }

absl::StatusOr<ProcessUsage> ProcessScanCache::Read(int64_t pid) {
  // Before the full read, so a process that runs in between is read in
  // full again next pass rather than missed.
  const std::optional<ProcSchedstatFields> sched = ReadSchedstat(pid);
  if (!sched) {
    return absl::NotFoundError(StrCat("process ", pid, " gone"));
  }
  const bool known = sched->timeslices != 0 || sched->run_ns != 0;
  auto it = std::lower_bound(last_.begin(), last_.end(), pid,
                             [](const Entry& e, int64_t p) { return e.pid < p; });
  if (known && it != last_.end() && it->pid == pid && it->reusable &&
      it->reuses + 1 < kFullReadEvery && it->run_ns == sched->run_ns &&
      it->timeslices == sched->timeslices) {
    Entry& e = next_.emplace_back(std::move(*it));
    ++e.reuses;
    e.usage.usage.value[rctl::Index(rctl::Resource::kWallclock)] =
        BoottimeNowUs() - e.started_us;
    ++stats_.reused;
    return e.usage;
  }
  absl::StatusOr<ProcessUsage> p = LinuxUsageReader::ReadProcess(pid);
  if (!p.ok()) {
    return p.status();
  }
  ++stats_.full_reads;
  Entry& e = next_.emplace_back();
  e.pid = pid;
  e.run_ns = sched->run_ns;
  e.timeslices = sched->timeslices;
  e.started_us =
      BoottimeNowUs() - p->usage.value[rctl::Index(rctl::Resource::kWallclock)];
  e.reuses = 0;
  e.reusable = known && p->usage.value[rctl::Index(rctl::Resource::kNthr)] == 1;
  e.usage = *p;
  return p;
}

void ProcessScanCache::EndPass() {
  std::sort(next_.begin(), next_.end(),
            [](const Entry& a, const Entry& b) { return a.pid < b.pid; });
  std::swap(last_, next_);
  next_.clear();
}

}  // namespace jailwarden::platform
