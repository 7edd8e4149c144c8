#pragma once

// The sampler's fast tier on Linux: one jail's cgroup counters read from
// files held open (linux-mapping.md §3). Two implementations behind one
// interface, chosen once from what the host mounts: cgroup v1 (hybrid
// hosts like the CI machine: v1 controllers plus a controller-less
// unified tree) and cgroup v2 (modern hosts). Callers never branch on the
// version.

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/usage_reader.h"
#include "platform/linux/linux_jail_paths.h"

namespace jailwarden::platform {

// One jail's held files. ReadFast is thread-compatible (one caller at a
// time) and allocates nothing on success.
class CgroupJailFiles {
 public:
  virtual ~CgroupJailFiles() = default;
  // Fills the resources in present() into `out` (cputime and the four I/O
  // totals with their cumulative bit). `buf` is scratch of `size` bytes.
  // NotFound when the jail's cgroup is gone; Internal (kParse) when a file
  // does not parse.
  virtual absl::Status ReadFast(RawUsage& out, char* buf, std::size_t size) = 0;
  // Resources this jail's files give (a missing controller drops some).
  virtual ResourceMask present() const = 0;
};

// The fast tier's costly files, memory.stat and the I/O counters (blkio
// on v1, io.stat on v2; memory.swap.current with them), read at most every
// `period_ns` when the reader is made with one (the daemon's, 250 ms): in
// the kernel each is a walk (memory statistics flushed and formatted,
// every block group printed) several times a cheap counter's cost, and
// with the syscalls they were most of the daemon's CPU at 10 Hz (issue
// 16). Between two reads the last readings are given again, so memoryuse,
// swapuse and the I/O totals lag by less than the period (the I/O rates,
// over windows of a second, are unchanged on average); cputime and nthr
// stay read every call. Period 0: every call reads every file.
// Thread-compatible.
class CostlyReads {
 public:
  explicit CostlyReads(int64_t period_ns = 0) : period_ns_(period_ns) {}

  // Whether the costly files are due at `now_ns` (CLOCK_MONOTONIC): always
  // with period 0, else at the first read and once the period has passed
  // since the last Keep.
  bool Due(int64_t now_ns) const {
    return period_ns_ <= 0 || !kept_ || now_ns - kept_ns_ >= period_ns_;
  }
  // After the costly files were read into `out` at `now_ns`: remembers the
  // resources in `costly` as `out` has them.
  void Keep(const RawUsage& out, const ResourceMask& costly, int64_t now_ns) {
    for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
      if (costly[i]) {
        last_.value[i] = out.value[i];
        last_.present.set(i, out.present[i]);
        last_.cumulative.set(i, out.cumulative[i]);
      }
    }
    kept_ = true;
    kept_ns_ = now_ns;
  }
  // Between reads: puts the remembered readings into `out`.
  void Replay(RawUsage& out, const ResourceMask& costly) const {
    for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
      if (costly[i] && last_.present[i]) {
        out.value[i] = last_.value[i];
        out.present.set(i);
        out.cumulative.set(i, last_.cumulative[i]);
      }
    }
  }

 private:
  int64_t period_ns_;
  RawUsage last_;
  bool kept_ = false;
  int64_t kept_ns_ = 0;
};

// The resources the costly files give on v1 and v2 alike (memoryuse,
// swapuse and the four I/O counters): the mask both readers hand to
// CostlyReads.
inline const ResourceMask& CostlyResources() {
  static const ResourceMask mask = [] {
    ResourceMask m;
    using rctl::Resource;
    for (Resource r : {Resource::kMemoryuse, Resource::kSwapuse, Resource::kReadbps,
                       Resource::kWritebps, Resource::kReadiops, Resource::kWriteiops}) {
      m.set(rctl::Index(r));
    }
    return m;
  }();
  return mask;
}

// CLOCK_MONOTONIC in ns (the vDSO: no syscall).
int64_t MonotonicNowNs();

class CgroupReader {
 public:
  virtual ~CgroupReader() = default;
  virtual std::string_view name() const = 0;  // "v1" or "v2"
  // Opens the files of one jail. NotFound if its cgroups are gone.
  virtual absl::StatusOr<std::unique_ptr<CgroupJailFiles>> Open(
      const LinuxJailPaths& paths) const = 0;
};

// cgroup v1: cpuacct.usage (or unified cpu.stat), memory.stat,
// pids.current, blkio.throttle.io_service_bytes/io_serviced (_recursive).
// `costly_period_ns`: see CostlyReads (0: every file at every read).
std::unique_ptr<CgroupReader> NewCgroupV1Reader(int64_t costly_period_ns = 0);
// cgroup v2: cpu.stat, memory.stat, memory.swap.current, pids.current,
// io.stat.
std::unique_ptr<CgroupReader> NewCgroupV2Reader(int64_t costly_period_ns = 0);

// "v2" when `cgroup_root`/cgroup.controllers exists (a v2-only host),
// else "v1" (v1 or hybrid).
std::string_view DetectCgroupVersion(std::string_view cgroup_root);
std::unique_ptr<CgroupReader> NewCgroupReaderForHost(std::string_view cgroup_root);

}  // namespace jailwarden::platform
