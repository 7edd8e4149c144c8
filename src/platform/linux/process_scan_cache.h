#pragma once

// The slow tier's per-process reads, in proportion to the processes that
// ran (issue 16). A full read of one process is four /proc files (status,
// stat, io and the fd directory, LinuxUsageReader::ReadProcess); most of a
// jail's processes sleep between two passes, and a process that was not
// scheduled in since the last pass has the same memory, I/O totals,
// descriptors and threads. /proc/<pid>/schedstat tells that with one read:
// its count of times scheduled in and its CPU time in ns move whenever the
// process runs. Such a process's last usage is reused (wallclock brought
// up to date), a full read otherwise.
//
// What a reuse can miss, and the bounds: schedstat is the thread group
// leader's, so only single-threaded processes are reused (a process with
// more threads is read in full every pass); memory the kernel takes back
// without the process running (reclaim, swap-out) and changes through a
// shared address space or descriptor table (CLONE_VM, CLONE_FILES without
// threads) show at the next full read, at most kFullReadEvery passes
// later. On a kernel without CONFIG_SCHED_INFO (schedstat "0 0 0") every
// read is full. A jail's root cannot make a process that runs look idle:
// being scheduled in moves the counter.
//
// Each known process's schedstat stays open between passes (O_RDONLY|
// O_CLOEXEC, re-read with pread): one syscall per process and pass. The
// descriptor is bound to that process, not to its pid: once it exits the
// read fails (ESRCH), so a recycled pid is opened afresh and read in full,
// never mistaken for the old process. Descriptors of processes not seen
// in a pass are closed at EndPass. Held within the process-wide budget
// (held_knob_files.h TakeHeldFd); past it, opened and closed each pass.
//
// Thread-safety: not thread-safe; one pass at a time (the reader holds a
// lock per cache around a pass).

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "jailwarden/platform/usage_reader.h"

namespace jailwarden::platform {

class ProcessScanCache {
 public:
  ProcessScanCache() = default;
  ~ProcessScanCache();
  ProcessScanCache(const ProcessScanCache&) = delete;
  ProcessScanCache& operator=(const ProcessScanCache&) = delete;

  // A reused process is read in full again after this many passes.
  static constexpr uint32_t kFullReadEvery = 10;

  struct Stats {
    uint64_t full_reads = 0;
    uint64_t reused = 0;
    uint64_t schedstat_opens = 0;  // the rest were preads on a held fd
  };

  // Starts a pass: processes not Read before EndPass are forgotten.
  void BeginPass();
  // The usage of `pid` now (as LinuxUsageReader::ReadProcess), read in full
  // or reused. NotFound if the process is gone.
  absl::StatusOr<ProcessUsage> Read(int64_t pid);
  // Ends the pass. Allocates only when the jail has more processes than in
  // any earlier pass.
  void EndPass();

  const Stats& stats() const { return stats_; }

 private:
  struct Entry {
    int64_t pid = 0;
    uint64_t run_ns = 0;
    uint64_t timeslices = 0;
    int64_t started_us = 0;  // CLOCK_BOOTTIME µs at the process's start
    uint32_t reuses = 0;
    bool reusable = false;
    int sched_fd = -1;  // /proc/<pid>/schedstat, held (owned by the entry)
    ProcessUsage usage;
  };
  static void CloseAll(std::vector<Entry>& entries);

  std::vector<Entry> last_;  // the previous pass, sorted by pid
  std::vector<Entry> next_;  // this pass, in reading order
  Stats stats_;
};

}  // namespace jailwarden::platform
