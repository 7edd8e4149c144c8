// cgroup v1 fast-tier reader (Documentation/admin-guide/cgroup-v1/
// {cpuacct,memory,pids,blkio-controller}.rst; linux-mapping.md §1, §3).
//
// memoryuse is RSS as FreeBSD counts it (resident anonymous plus mapped
// file pages): memory.stat total_rss + total_mapped_file, not
// memory.usage_in_bytes, which also charges unmapped page cache (a 50 MiB
// buffered write shows as 52 MB of "memory" there). swapuse is total_swap.
// The blkio counters are the _recursive variants so a parent jail's
// reading includes its children's, as FreeBSD's prison containers do.

#include <time.h>

#include <string>

#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/cgroup_files.h"
#include "platform/linux/cgroup_reader.h"

namespace jailwarden::platform {
namespace {

using rctl::Index;
using rctl::Resource;

class V1JailFiles : public CgroupJailFiles {
 public:
  explicit V1JailFiles(int64_t costly_period_ns) : costly_(costly_period_ns) {}

  absl::Status ReadFast(RawUsage& out, char* buf, std::size_t size) override {
    if (cpuacct_.is_open()) {
      JW_ASSIGN_OR_RETURN(std::string_view text, cpuacct_.Read(buf, size));
      std::optional<int64_t> ns = ParseCgroupSingleValue(text);
      if (!ns) {
        return absl::InternalError("cpuacct.usage: parse");
      }
      Set(out, Resource::kCputime, *ns / 1000, true);
    } else if (unified_cpu_.is_open()) {
      JW_ASSIGN_OR_RETURN(std::string_view text, unified_cpu_.Read(buf, size));
      std::optional<int64_t> us = FindCgroupKeyedValue(text, "usage_usec");
      if (!us) {
        return absl::InternalError("cpu.stat: parse");
      }
      Set(out, Resource::kCputime, *us, true);
    }
    if (pids_.is_open()) {
      JW_ASSIGN_OR_RETURN(std::string_view text, pids_.Read(buf, size));
      std::optional<int64_t> tasks = ParseCgroupSingleValue(text);
      if (!tasks) {
        return absl::InternalError("pids.current: parse");
      }
      Set(out, Resource::kNthr, *tasks, false);
    }
    const int64_t now_ns = MonotonicNowNs();
    if (!costly_.Due(now_ns)) {
      costly_.Replay(out, CostlyResources());
      return absl::OkStatus();
    }
    if (memory_stat_.is_open()) {
      JW_ASSIGN_OR_RETURN(std::string_view text, memory_stat_.Read(buf, size));
      static constexpr std::string_view kKeys[] = {"total_rss", "total_mapped_file",
                                                   "total_swap"};
      std::optional<int64_t> v[3];
      FindCgroupKeyedValues(text, kKeys, v, 3);
      if (!v[0] || !v[1]) {
        return absl::InternalError("memory.stat: parse");
      }
      Set(out, Resource::kMemoryuse, *v[0] + *v[1], false);
      // total_swap is absent when swap accounting is off: swapuse 0.
      Set(out, Resource::kSwapuse, v[2].value_or(0), false);
    }
    if (io_bytes_.is_open() && io_ops_.is_open()) {
      JW_ASSIGN_OR_RETURN(std::string_view bytes_text, io_bytes_.Read(buf, size));
      std::optional<CgroupIoTotals> bytes = ParseBlkioThrottleTotals(bytes_text);
      if (!bytes) {
        return absl::InternalError("blkio io_service_bytes: parse");
      }
      Set(out, Resource::kReadbps, bytes->read, true);
      Set(out, Resource::kWritebps, bytes->write, true);
      JW_ASSIGN_OR_RETURN(std::string_view ops_text, io_ops_.Read(buf, size));
      std::optional<CgroupIoTotals> ops = ParseBlkioThrottleTotals(ops_text);
      if (!ops) {
        return absl::InternalError("blkio io_serviced: parse");
      }
      Set(out, Resource::kReadiops, ops->read, true);
      Set(out, Resource::kWriteiops, ops->write, true);
    }
    costly_.Keep(out, CostlyResources(), now_ns);
    return absl::OkStatus();
  }

  ResourceMask present() const override { return present_; }

  HeldFile cpuacct_, unified_cpu_, memory_stat_, pids_, io_bytes_, io_ops_;
  ResourceMask present_;

 private:
  CostlyReads costly_;
  static void Set(RawUsage& out, Resource r, int64_t value, bool cumulative) {
    out.value[Index(r)] = value;
    out.present.set(Index(r));
    out.cumulative.set(Index(r), cumulative);
  }
};

// Opens `file` in `dir` if the jail has that hierarchy; NotFound only when
// the directory itself is gone.
absl::Status OpenIn(HeldFile& f, const std::string& dir, std::string_view file) {
  if (dir.empty()) {
    return absl::OkStatus();
  }
  absl::Status st = f.Open(JoinCgroupPath(dir, file));
  if (!st.ok() && !PathExists(dir)) {
    return absl::NotFoundError(StrCat("cgroup ", dir, " is gone"));
  }
  return absl::OkStatus();  // a missing file (controller feature) is tolerated
}

// On kernels since 6.10 blk-throttle is set up for a disk only when a
// limit is first configured on it, and until then cgroup v1's
// blkio.throttle.io_service* counters stay 0 (measured here: "Total 0"
// after a 4 MiB O_DIRECT write). Configuring and removing a no-op limit on
// the jail's own group sets it up for good; skipped when the jail already
// has a read_bps rule for the disk (the enforcer's).
void ActivateBlkioAccounting(const LinuxJailPaths& paths) {
  const std::string& blkio = paths.Cgroup("blkio");
  if (blkio.empty()) {
    return;
  }
  for (const std::string* p : {&paths.root, &paths.overlay_upper}) {
    if (p->empty()) {
      continue;
    }
    absl::StatusOr<std::string> dev = BlockDeviceOf(*p);
    if (!dev.ok()) {
      continue;
    }
    std::string file = JoinCgroupPath(blkio, "blkio.throttle.read_bps_device");
    absl::StatusOr<std::string> current = ReadFileToString(file);
    if (!current.ok() || current->find(*dev + " ") != std::string::npos) {
      return;
    }
    (void)WriteFileString(file, StrCat(*dev, " ", int64_t{1} << 50));
    (void)WriteFileString(file, StrCat(*dev, " 0"));
    return;
  }
}

class V1Reader : public CgroupReader {
 public:
  explicit V1Reader(int64_t costly_period_ns) : costly_period_ns_(costly_period_ns) {}

  std::string_view name() const override { return "v1"; }

  absl::StatusOr<std::unique_ptr<CgroupJailFiles>> Open(
      const LinuxJailPaths& paths) const override {
    auto files = std::make_unique<V1JailFiles>(costly_period_ns_);
    JW_RETURN_IF_ERROR(OpenIn(files->cpuacct_, paths.Cgroup("cpuacct"), "cpuacct.usage"));
    if (!files->cpuacct_.is_open()) {
      JW_RETURN_IF_ERROR(OpenIn(files->unified_cpu_, paths.Cgroup("unified"), "cpu.stat"));
    }
    JW_RETURN_IF_ERROR(OpenIn(files->memory_stat_, paths.Cgroup("memory"), "memory.stat"));
    JW_RETURN_IF_ERROR(OpenIn(files->pids_, paths.Cgroup("pids"), "pids.current"));
    const std::string& blkio = paths.Cgroup("blkio");
    ActivateBlkioAccounting(paths);
    JW_RETURN_IF_ERROR(
        OpenIn(files->io_bytes_, blkio, "blkio.throttle.io_service_bytes_recursive"));
    if (!files->io_bytes_.is_open()) {
      JW_RETURN_IF_ERROR(OpenIn(files->io_bytes_, blkio, "blkio.throttle.io_service_bytes"));
    }
    JW_RETURN_IF_ERROR(OpenIn(files->io_ops_, blkio, "blkio.throttle.io_serviced_recursive"));
    if (!files->io_ops_.is_open()) {
      JW_RETURN_IF_ERROR(OpenIn(files->io_ops_, blkio, "blkio.throttle.io_serviced"));
    }
    ResourceMask& p = files->present_;
    if (files->cpuacct_.is_open() || files->unified_cpu_.is_open()) {
      p.set(Index(Resource::kCputime));
    }
    if (files->memory_stat_.is_open()) {
      p.set(Index(Resource::kMemoryuse));
      p.set(Index(Resource::kSwapuse));
    }
    if (files->pids_.is_open()) {
      p.set(Index(Resource::kNthr));
    }
    if (files->io_bytes_.is_open() && files->io_ops_.is_open()) {
      for (Resource r : {Resource::kReadbps, Resource::kWritebps, Resource::kReadiops,
                         Resource::kWriteiops}) {
        p.set(Index(r));
      }
    }
    return std::unique_ptr<CgroupJailFiles>(std::move(files));
  }

 private:
  int64_t costly_period_ns_;
};

}  // namespace

std::unique_ptr<CgroupReader> NewCgroupV1Reader(int64_t costly_period_ns) {
  return std::make_unique<V1Reader>(costly_period_ns);
}

int64_t MonotonicNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string_view DetectCgroupVersion(std::string_view cgroup_root) {
  return PathExists(JoinCgroupPath(cgroup_root, "cgroup.controllers")) ? "v2" : "v1";
}

std::unique_ptr<CgroupReader> NewCgroupReaderForHost(std::string_view cgroup_root) {
  if (DetectCgroupVersion(cgroup_root) == "v2") {
    return NewCgroupV2Reader();
  }
  return NewCgroupV1Reader();
}

}  // namespace jailwarden::platform
