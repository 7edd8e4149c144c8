#pragma once

// Writing one jail's cgroup limit knobs (linux-mapping.md §1, §10), crun
// style: one writer per cgroup version, chosen once when the enforcer is
// built (NewCgroupKnobWriter), so no call site branches on the version.
// File names come from the resource map (resource_map.h).
//   v1 (v1-only and hybrid hosts: the controllers are bound to v1):
//      memory.limit_in_bytes, memory.memsw.limit_in_bytes, pids.max,
//      cpu.cfs_quota_us in the controllers' dirs; blkio.throttle.*_device
//      in the blkio leaf (v1 blk-throttle is not hierarchical)
//   v2 (v2-only hosts): memory.max, memory.swap.max, pids.max, cpu.max,
//      io.max in the jail's unified directory
// Writers hold no state: thread-safe.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/limit_enforcer.h"
#include "platform/linux/linux_jail_paths.h"

namespace jailwarden::platform {

// "No limit" in CgroupLimits (and the enforcer's desired state).
inline constexpr int64_t kNoLinuxLimit = -1;

// What one jail's rules ask of its cgroups; kNoLinuxLimit = unlimited.
struct CgroupLimits {
  int64_t memory_bytes = kNoLinuxLimit;
  int64_t swap_bytes = kNoLinuxLimit;
  int64_t pids = kNoLinuxLimit;
  int64_t pcpu = kNoLinuxLimit;  // percent of one CPU × 10^6
  // readbps, writebps, readiops, writeiops (bytes or operations per
  // second), in LinuxLimitSlot order.
  std::array<int64_t, 4> io{kNoLinuxLimit, kNoLinuxLimit, kNoLinuxLimit, kNoLinuxLimit};

  bool io_limited() const;
};

// Where CgroupKnobWriter::Check reads a knob: the whole text of `path`,
// NotFound when the file (or its cgroup) is gone, the errno's status on
// another error. FileKnobReader opens and reads each time; the enforcer
// passes its descriptors held per jail (HeldKnobFiles).
class KnobReader {
 public:
  virtual ~KnobReader() = default;
  virtual absl::StatusOr<std::string> Read(const std::string& path) = 0;
};

class FileKnobReader final : public KnobReader {
 public:
  absl::StatusOr<std::string> Read(const std::string& path) override;
};

class CgroupKnobWriter {
 public:
  virtual ~CgroupKnobWriter() = default;

  // "v1" or "v2".
  virtual std::string_view version() const = 0;
  bool is_v2() const { return version() == "v2"; }

  // True where swap can only be capped together with memory (v1 memsw):
  // a swapuse limit then needs a memoryuse limit on the same jail.
  virtual bool swap_needs_memory_limit() const = 0;

  // Makes the knobs of `paths`' cgroups say `want`; `before` is what the
  // last successful call wrote (limits not in `want` are lifted). The I/O
  // throttles go to each of `devices` ("MAJ:MIN"). FailedPrecondition when
  // a limit is wanted but its file (or the jail's cgroup) is missing; the
  // errno's status when a write fails. Not atomic: on error some knobs may
  // be written already (the enforcer writes `before` again).
  virtual absl::Status Write(const LinuxJailPaths& paths, const CgroupLimits& want,
                             const CgroupLimits& before,
                             const std::vector<std::string>& devices) const = 0;

  // Reads back each knob `want` limits (one read per knob; unlimited ones
  // are not read) and appends to `drifted` every one whose value differs
  // from what Write(want) leaves (LimitDrift::repaired false). A knob file
  // that is missing is skipped (the jail's cgroup is gone: so is the jail).
  // The errno's status on another read error, after checking the rest.
  // Each knob is read through `reader`; the four-argument form opens and
  // reads each file (FileKnobReader).
  virtual absl::Status Check(const LinuxJailPaths& paths, const CgroupLimits& want,
                             const std::vector<std::string>& devices, KnobReader& reader,
                             std::vector<LimitDrift>* drifted) const = 0;
  absl::Status Check(const LinuxJailPaths& paths, const CgroupLimits& want,
                     const std::vector<std::string>& devices,
                     std::vector<LimitDrift>* drifted) const {
    FileKnobReader files;
    return Check(paths, want, devices, files, drifted);
  }
};

// What Check compares: one knob per limit in `want` (memory, swap, pids,
// cpu quota — on v1 with cpu.cfs_period_us, the quota's other half — and
// each device's I/O throttles), as the kernel normalises them (memory
// amounts rounded down to pages; "max"/-1 for none).
inline constexpr int64_t kCgroupPageBytes = 4096;

std::unique_ptr<CgroupKnobWriter> NewLinuxCgroupV1KnobWriter();
std::unique_ptr<CgroupKnobWriter> NewLinuxCgroupV2KnobWriter();

// The writer for `version` ("v2" selects v2; anything else, v1, as hybrid
// hosts bind every controller to v1).
std::unique_ptr<CgroupKnobWriter> NewCgroupKnobWriter(std::string_view version);

// The CFS quota in µs for `pcpu` (percent of one CPU × 10^6) per
// `period_us`, at least the kernel's minimum of 1 ms and at most 10^15.
int64_t CfsQuotaUs(int64_t pcpu, int64_t period_us);

}  // namespace jailwarden::platform
