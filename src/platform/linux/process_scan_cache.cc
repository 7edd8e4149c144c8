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
#include "platform/linux/held_knob_files.h"
#include "platform/linux/proc_parser.h"

namespace jailwarden::platform {
namespace {

int64_t BoottimeNowUs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// The schedstat fields read from `fd` (at offset 0), or nullopt if the
// process is gone or the file unreadable.
std::optional<ProcSchedstatFields> ReadSchedstatFd(int fd) {
  char buf[128];
  ssize_t n;
  do {
    n = pread(fd, buf, sizeof(buf), 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    return std::nullopt;
  }
  return ParseProcSchedstat(std::string_view(buf, static_cast<std::size_t>(n)));
}

// Closes a held descriptor (one within the budget) and sets it to -1.
void CloseHeld(int& fd) {
  if (fd >= 0) {
    close(fd);
    ReturnHeldFd();
    fd = -1;
  }
}

int OpenSchedstat(int64_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%lld/schedstat", static_cast<long long>(pid));
  return open(path, O_RDONLY | O_CLOEXEC);
}

}  // namespace

ProcessScanCache::~ProcessScanCache() {
  CloseAll(last_);
  CloseAll(next_);
}

void ProcessScanCache::CloseAll(std::vector<Entry>& entries) {
  for (Entry& e : entries) {
    CloseHeld(e.sched_fd);
  }
}

void ProcessScanCache::BeginPass() {
  CloseAll(next_);
  next_.clear();
}

absl::StatusOr<ProcessUsage> ProcessScanCache::Read(int64_t pid) {
  auto it = std::lower_bound(last_.begin(), last_.end(), pid,
                             [](const Entry& e, int64_t p) { return e.pid < p; });
  if (it != last_.end() && it->pid != pid) {
    it = last_.end();
  }
  // Before the full read, so a process that runs in between is read in
  // full again next pass rather than missed. The held descriptor first:
  // it fails once the process it was opened for is gone, pid reused or not.
  std::optional<ProcSchedstatFields> sched;
  int fd = -1;
  if (it != last_.end() && it->sched_fd >= 0) {
    fd = std::exchange(it->sched_fd, -1);
    sched = ReadSchedstatFd(fd);
    if (!sched) {
      CloseHeld(fd);
      it = last_.end();  // another process (or none) has the pid now
    }
  }
  if (fd < 0) {
    fd = OpenSchedstat(pid);
    if (fd < 0) {
      return absl::NotFoundError(StrCat("process ", pid, " gone"));
    }
    ++stats_.schedstat_opens;
    sched = ReadSchedstatFd(fd);
    if (!sched) {
      close(fd);
      return absl::NotFoundError(StrCat("process ", pid, " gone"));
    }
    if (!TakeHeldFd()) {  // past the budget: not kept
      close(fd);
      fd = -1;
    }
  }
  const bool known = sched->timeslices != 0 || sched->run_ns != 0;
  if (known && it != last_.end() && it->reusable &&
      it->reuses + 1 < kFullReadEvery && it->run_ns == sched->run_ns &&
      it->timeslices == sched->timeslices) {
    Entry& e = next_.emplace_back(std::move(*it));
    e.sched_fd = fd;
    ++e.reuses;
    e.usage.usage.value[rctl::Index(rctl::Resource::kWallclock)] =
        BoottimeNowUs() - e.started_us;
    ++stats_.reused;
    return e.usage;
  }
  absl::StatusOr<ProcessUsage> p = LinuxUsageReader::ReadProcess(pid);
  if (!p.ok()) {
    CloseHeld(fd);
    return p.status();
  }
  ++stats_.full_reads;
  Entry& e = next_.emplace_back();
  e.pid = pid;
  e.sched_fd = fd;
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
  CloseAll(last_);  // the processes this pass did not list
  std::sort(next_.begin(), next_.end(),
            [](const Entry& a, const Entry& b) { return a.pid < b.pid; });
  std::swap(last_, next_);
  next_.clear();
}

}  // namespace jailwarden::platform
