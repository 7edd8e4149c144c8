#pragma once

// The Linux UsageReader (issue #5; ../shared/reference/linux-mapping.md
// §1, §3-§6). Jails are registered from their JailInstance (the cgroup
// paths, init pid and devpts path the Linux JailRuntime records in
// backend_state) as they start, and removed as they stop.
//
// Fast tier (every tick, files held open, re-read with pread, no
// allocation once warm): cputime (cumulative µs), memoryuse, swapuse,
// nthr, readbps/writebps/readiops/writeiops (cumulative bytes and
// operations) and wallclock, from cgroup v1 or v2 as the host mounts
// (chosen once at Create).
// Slow tier: a scan of the jail's processes (/proc/<pid>/status, stat, io,
// fd) for datasize, stacksize, vmemoryuse, memorylocked, openfiles and
// maxproc (jail sums) and per-process usage, where a single-threaded
// process that was not scheduled in since the last pass (one read of
// /proc/<pid>/schedstat) keeps its last reading for up to 10 passes
// (src/platform/linux/process_scan_cache.h); the SysV IPC counts of the
// jail's IPC namespace (nmsgq, msgqqueued, msgqsize, nsem, nshm, shmsize)
// through a thread that joins it; pseudoterminals from the jail's devpts.
// coredumpsize and nsemop have no usage on Linux (never present).
//
// Thread-safety: all methods are thread-safe. ReadFast/ReadSlow are meant
// for the sampler thread; AddJail/RemoveJail for the daemon's.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/platform/usage_reader.h"

namespace jailwarden::platform {

struct LinuxUsageReaderOptions {
  // Where the cgroup file systems are mounted; decides v1/v2 once.
  std::string cgroup_root = "/sys/fs/cgroup";
  // Force "v1" or "v2" (tests on fixture trees); "" = detect.
  std::string cgroup_version;
  // Wall clock for wallclock (jail start times are wall-clock times).
  std::function<absl::Time()> wall_now;  // unset = absl::Now
  // Read the SysV counts of each jail's IPC namespace (starts a thread).
  bool read_sysv_ipc = true;
  // Read the fast tier's costly files (memory.stat, the I/O counters) at
  // most this often, giving their last readings in between (memoryuse,
  // swapuse and the four I/O totals lag by less than this). Zero: every
  // ReadFast reads every file. The daemon uses 250 ms at its 10 Hz.
  absl::Duration costly_every = absl::ZeroDuration();
};

class LinuxUsageReader : public UsageReader {
 public:
  // Errors: Internal if the IPC worker thread cannot start.
  static absl::StatusOr<std::unique_ptr<LinuxUsageReader>> Create(
      LinuxUsageReaderOptions options = {});
  ~LinuxUsageReader() override;

  // Registers (or re-registers) the jail `instance.ref.name`: opens its
  // cgroup files and its IPC namespace. Returns the JailRef to pass to
  // ReadFast/ReadSlow (handle filled in). InvalidArgument if backend_state
  // has no cgroup; NotFound if the cgroups are gone.
  absl::StatusOr<JailRef> AddJail(const JailInstance& instance);
  // Forgets the jail and closes its files. NotFound if unknown.
  absl::Status RemoveJail(std::string_view name);

  // "v1" or "v2".
  std::string_view cgroup_version() const;

  absl::StatusOr<std::vector<JailRef>> ListJails() override;
  absl::Status ReadFast(const JailRef& jail, RawUsage& out) override;
  absl::Status ReadSlow(const JailRef& jail, RawUsage& out,
                        std::vector<ProcessUsage>* processes) override;
  ResourceMask Supported() const override;

  // Per-process scan of one process (also used for `process:` subjects on
  // the host): usage in RCTL units, cputime and the I/O totals
  // cumulative. NotFound if it is gone.
  static absl::StatusOr<ProcessUsage> ReadProcess(int64_t pid);

 private:
  struct Impl;
  explicit LinuxUsageReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jailwarden::platform
