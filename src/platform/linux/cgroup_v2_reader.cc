// cgroup v2 fast-tier reader (Documentation/admin-guide/cgroup-v2.rst;
// linux-mapping.md §10). Every file is hierarchical, so a parent jail's
// reading includes its children's. memoryuse is memory.stat anon +
// file_mapped (RSS as FreeBSD counts it; memory.current also charges page
// cache and kernel memory).

#include <string>

#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/cgroup_files.h"
#include "platform/linux/cgroup_reader.h"

namespace jailwarden::platform {
namespace {

using rctl::Index;
using rctl::Resource;

void Set(RawUsage& out, Resource r, int64_t value, bool cumulative) {
  out.value[Index(r)] = value;
  out.present.set(Index(r));
  out.cumulative.set(Index(r), cumulative);
}

class V2JailFiles : public CgroupJailFiles {
 public:
  explicit V2JailFiles(int64_t costly_period_ns) : costly_(costly_period_ns) {}

  absl::Status ReadFast(RawUsage& out, char* buf, std::size_t size) override {
    if (cpu_stat_.is_open()) {
      JW_ASSIGN_OR_RETURN(std::string_view text, cpu_stat_.Read(buf, size));
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
      static constexpr std::string_view kKeys[] = {"anon", "file_mapped"};
      std::optional<int64_t> v[2];
      FindCgroupKeyedValues(text, kKeys, v, 2);
      if (!v[0] || !v[1]) {
        return absl::InternalError("memory.stat: parse");
      }
      Set(out, Resource::kMemoryuse, *v[0] + *v[1], false);
    }
    if (swap_current_.is_open()) {
      JW_ASSIGN_OR_RETURN(std::string_view text, swap_current_.Read(buf, size));
      std::optional<int64_t> swap = ParseCgroupSingleValue(text);
      if (!swap) {
        return absl::InternalError("memory.swap.current: parse");
      }
      Set(out, Resource::kSwapuse, *swap, false);
    }
    if (io_stat_.is_open()) {
      JW_ASSIGN_OR_RETURN(std::string_view text, io_stat_.Read(buf, size));
      std::optional<CgroupIoStat> io = ParseIoStat(text);
      if (!io) {
        return absl::InternalError("io.stat: parse");
      }
      Set(out, Resource::kReadbps, io->bytes.read, true);
      Set(out, Resource::kWritebps, io->bytes.write, true);
      Set(out, Resource::kReadiops, io->ops.read, true);
      Set(out, Resource::kWriteiops, io->ops.write, true);
    }
    costly_.Keep(out, CostlyResources(), now_ns);
    return absl::OkStatus();
  }

  ResourceMask present() const override { return present_; }

  HeldFile cpu_stat_, memory_stat_, swap_current_, pids_, io_stat_;
  ResourceMask present_;

 private:
  CostlyReads costly_;
};

class V2Reader : public CgroupReader {
 public:
  explicit V2Reader(int64_t costly_period_ns) : costly_period_ns_(costly_period_ns) {}

  std::string_view name() const override { return "v2"; }

  absl::StatusOr<std::unique_ptr<CgroupJailFiles>> Open(
      const LinuxJailPaths& paths) const override {
    const std::string& dir = paths.Cgroup("unified");
    if (dir.empty()) {
      return absl::InvalidArgumentError(StrCat("jail ", paths.name, ": no unified cgroup"));
    }
    if (!PathExists(dir)) {
      return absl::NotFoundError(StrCat("cgroup ", dir, " is gone"));
    }
    auto files = std::make_unique<V2JailFiles>(costly_period_ns_);
    // A controller not enabled in the parent's subtree_control has no
    // files; its resources are then simply not present.
    auto open = [&](HeldFile& f, std::string_view name) {
      (void)f.Open(JoinCgroupPath(dir, name));
      return f.is_open();
    };
    ResourceMask& p = files->present_;
    if (open(files->cpu_stat_, "cpu.stat")) {
      p.set(Index(Resource::kCputime));
    }
    if (open(files->memory_stat_, "memory.stat")) {
      p.set(Index(Resource::kMemoryuse));
    }
    if (open(files->swap_current_, "memory.swap.current")) {
      p.set(Index(Resource::kSwapuse));
    }
    if (open(files->pids_, "pids.current")) {
      p.set(Index(Resource::kNthr));
    }
    if (open(files->io_stat_, "io.stat")) {
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

std::unique_ptr<CgroupReader> NewCgroupV2Reader(int64_t costly_period_ns) {
  return std::make_unique<V2Reader>(costly_period_ns);
}

}  // namespace jailwarden::platform
