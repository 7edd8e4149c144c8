#pragma once

// The sampler's fast tier on Linux: one jail's cgroup counters read from
// files held open (linux-mapping.md §3). Two implementations behind one
// interface, chosen once from what the host mounts: cgroup v1 (hybrid
// hosts like the CI machine: v1 controllers plus a controller-less
// unified tree) and cgroup v2 (modern hosts). Callers never branch on the
// version.

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
std::unique_ptr<CgroupReader> NewCgroupV1Reader();
// cgroup v2: cpu.stat, memory.stat, memory.swap.current, pids.current,
// io.stat.
std::unique_ptr<CgroupReader> NewCgroupV2Reader();

// "v2" when `cgroup_root`/cgroup.controllers exists (a v2-only host),
// else "v1" (v1 or hybrid).
std::string_view DetectCgroupVersion(std::string_view cgroup_root);
std::unique_ptr<CgroupReader> NewCgroupReaderForHost(std::string_view cgroup_root);

}  // namespace jailwarden::platform
