#include "platform/linux/resource_map.h"

#include <cerrno>

namespace jailwarden::platform {
namespace {

using rctl::Resource;

// Shared wording, spliced into the rows as string literals.
#define JW_NOT_DENIED                                                                   \
  "no Linux mechanism refuses the charge: the sampler reports the deny as at or over " \
  "(rule statistics, metrics) but nothing is refused"
#define JW_NOT_THROTTLED                                                                  \
  "not throttled on Linux: the engine's per-process throttle requests have no mechanism " \
  "and are counted in throttles_ignored (use a jail-wide rule: cgroup CPU quota / blkio "  \
  "throttle)"
#define JW_IO_EXACT                                                                \
  "block-device I/O of the disk holding the jail's root; page-cache hits and tmpfs " \
  "I/O are neither counted nor throttled"
#define JW_IO_WRITE_V1                                                               \
  "O_DIRECT and fsync'd writes are throttled; plain buffered writes flushed by the " \
  "kernel are neither throttled nor counted on cgroup v1"
#define JW_IO_NOT_JAIL "compared with sampled /proc/<pid>/io totals; " JW_NOT_THROTTLED
#define JW_IPC_NOT_JAIL "Linux accounts SysV IPC per IPC namespace, not per user"
#define JW_MSGMNB                                                                        \
  "per queue, not namespace-wide: each queue holds at most amount messages and amount " \
  "bytes (msgsnd EAGAIN), the namespace up to msgmni times that"

constexpr LinuxResourceRow SamplerOnly(Resource r, int rlimit) {
  LinuxResourceRow row{};
  row.resource = r;
  row.mechanism = LinuxMechanism::kSamplerOnly;
  row.rlimit = rlimit;
  return row;
}

// A per-process rlimit resource whose jail-wide deny the sampled-deny
// clamp enforces (clamp kNone: no clamp, the rlimit bounds each process).
constexpr LinuxResourceRow Rlimit(Resource r, int rlimit, Fidelity f, std::string_view detail,
                                  LinuxClampSource clamp, int clamp_errno,
                                  std::string_view charge) {
  LinuxResourceRow row{};
  row.resource = r;
  row.mechanism = LinuxMechanism::kRlimit;
  row.rlimit = rlimit;
  row.rlimit_use = LinuxRlimitUse::kPerProcess;
  row.fidelity_v1 = row.fidelity_v2 = f;
  row.detail_v1 = row.detail_v2 = detail;
  row.clamp = clamp;
  row.clamp_errno = clamp_errno;
  row.clamp_charge = charge;
  return row;
}

struct CgroupFacts {
  std::string_view v1_controller, v1_knob, v2_knob, v2_key;
  LinuxLimitSlot slot;
  Fidelity v1, v2;
  std::string_view detail_v1, detail_v2;
  std::string_view not_jail;
};

constexpr LinuxResourceRow Cgroup(Resource r, const CgroupFacts& f) {
  LinuxResourceRow row{};
  row.resource = r;
  row.mechanism = LinuxMechanism::kCgroup;
  row.cgroup_v1_controller = f.v1_controller;
  row.cgroup_v1_knob = f.v1_knob;
  row.cgroup_v2_knob = f.v2_knob;
  row.cgroup_v2_key = f.v2_key;
  row.slot = f.slot;
  row.fidelity_v1 = f.v1;
  row.fidelity_v2 = f.v2;
  row.detail_v1 = f.detail_v1;
  row.detail_v2 = f.detail_v2;
  row.not_jail_detail = f.not_jail;
  return row;
}

constexpr LinuxResourceRow Io(Resource r, std::string_view v1_knob, std::string_view v2_key,
                              LinuxLimitSlot slot, bool write) {
  LinuxResourceRow row =
      Cgroup(r, {"blkio", v1_knob, "io.max", v2_key, slot,
                 write ? Fidelity::kApproximate : Fidelity::kExact, Fidelity::kExact,
                 write ? JW_IO_WRITE_V1 : JW_IO_EXACT, JW_IO_EXACT, JW_IO_NOT_JAIL});
  row.throttle_only = true;
  return row;
}

constexpr LinuxResourceRow Ipc(Resource r, std::string_view sysctl, LinuxLimitSlot slot,
                               Fidelity f, std::string_view detail) {
  LinuxResourceRow row{};
  row.resource = r;
  row.mechanism = LinuxMechanism::kIpcSysctl;
  row.sysctl = sysctl;
  row.slot = slot;
  row.fidelity_v1 = row.fidelity_v2 = f;
  row.detail_v1 = row.detail_v2 = detail;
  row.not_jail_detail = JW_IPC_NOT_JAIL;
  return row;
}

constexpr LinuxResourceRow Maxproc() {
  LinuxResourceRow row = Cgroup(
      Resource::kMaxproc,
      {"pids", "pids.max", "pids.max", "", LinuxLimitSlot::kPids, Fidelity::kApproximate,
       Fidelity::kApproximate,
       "pids.max counts tasks (threads too), so threads use up the allowance; fork fails with "
       "EAGAIN as on FreeBSD",
       "pids.max counts tasks (threads too), so threads use up the allowance; fork fails with "
       "EAGAIN as on FreeBSD",
       "compares sampled process counts; " JW_NOT_DENIED});
  row.rlimit = RLIMIT_NPROC;
  row.rlimit_use = LinuxRlimitUse::kPerUser;
  row.rlimit_detail =
      "per real uid in the user namespace, counts threads, ignored for root (CAP_SYS_RESOURCE)";
  return row;
}

constexpr LinuxResourceRow Coredumpsize() {
  LinuxResourceRow row =
      Rlimit(Resource::kCoredumpsize, RLIMIT_CORE, Fidelity::kApproximate,
             "a larger core is truncated at the limit; FreeBSD writes none",
             LinuxClampSource::kNone, 0, "");
  row.rlimit_detail =
      "each process may dump up to the amount; the jail's total of dumped bytes is not tracked";
  return row;
}

constexpr LinuxResourceRow Pseudoterminals() {
  LinuxResourceRow row{};
  row.resource = Resource::kPseudoterminals;
  row.mechanism = LinuxMechanism::kDevpts;
  row.slot = LinuxLimitSlot::kDevpts;
  row.fidelity_v1 = row.fidelity_v2 = Fidelity::kExact;
  row.detail_v1 = row.detail_v2 = "posix_openpt fails with ENOSPC where FreeBSD gives EAGAIN";
  row.not_jail_detail = "Linux does not count pseudoterminals per user";
  return row;
}

constexpr LinuxResourceRow Nsemop() {
  LinuxResourceRow row =
      Ipc(Resource::kNsemop, "kernel.sem SEMOPM", LinuxLimitSlot::kSemopm, Fidelity::kExact,
          "a per-call limit in the jail's IPC namespace (E2BIG as on FreeBSD)");
  row.any_per = true;
  return row;
}

constexpr std::array<LinuxResourceRow, rctl::kResourceCount> kMap = {{
    SamplerOnly(Resource::kCputime, RLIMIT_CPU),
    Rlimit(Resource::kDatasize, RLIMIT_DATA, Fidelity::kExact, "", LinuxClampSource::kVmData,
           ENOMEM, "its next brk/private writable mmap fails with ENOMEM"),
    Rlimit(Resource::kStacksize, RLIMIT_STACK, Fidelity::kExact,
           "growth past the limit is SIGSEGV, as on FreeBSD", LinuxClampSource::kVmStk, 0,
           "its next stack growth fails (SIGSEGV, as on FreeBSD)"),
    Coredumpsize(),
    // RLIMIT_RSS has no effect on Linux.
    Cgroup(Resource::kMemoryuse,
           {"memory", "memory.limit_in_bytes", "memory.max", "", LinuxLimitSlot::kMemory,
            Fidelity::kApproximate, Fidelity::kApproximate,
            "the kernel also charges page cache and shmem, and over the limit it reclaims and "
            "then OOM-kills in the jail; FreeBSD only deactivates pages",
            "the kernel also charges page cache and shmem, and over the limit it reclaims and "
            "then OOM-kills in the jail; FreeBSD only deactivates pages",
            "compares sampled VmRSS sums; " JW_NOT_DENIED
            " (FreeBSD never refuses memoryuse either: it deactivates pages)"}),
    Rlimit(Resource::kMemorylocked, RLIMIT_MEMLOCK, Fidelity::kApproximate,
           "exact in jails without allow.mlock, whose processes lack CAP_IPC_LOCK; bypassed "
           "where allow.mlock or linux.capabilities grants it (and by host processes that "
           "hold it)",
           LinuxClampSource::kVmLck, ENOMEM,
           "its next mlock fails with ENOMEM (not for processes with CAP_IPC_LOCK)"),
    Maxproc(),
    Rlimit(Resource::kOpenfiles, RLIMIT_NOFILE, Fidelity::kExact, "",
           LinuxClampSource::kLowestFreeFd, EMFILE,
           "its next open/dup/socket fails with EMFILE"),
    Rlimit(Resource::kVmemoryuse, RLIMIT_AS, Fidelity::kExact, "", LinuxClampSource::kVmSize,
           ENOMEM, "its next mmap/brk fails with ENOMEM (stack growth with SIGSEGV)"),
    Pseudoterminals(),
    // v1 can only cap memory+swap (memsw = memoryuse limit + amount).
    Cgroup(Resource::kSwapuse,
           {"memory", "memory.memsw.limit_in_bytes", "memory.swap.max", "",
            LinuxLimitSlot::kSwap, Fidelity::kApproximate, Fidelity::kExact,
            "cgroup v1 caps memory+swap: memsw = memoryuse limit + amount; needs a memoryuse "
            "deny rule on the jail, otherwise sampled only",
            "", "compares sampled VmSwap; " JW_NOT_DENIED}),
    Cgroup(Resource::kNthr,
           {"pids", "pids.max", "pids.max", "", LinuxLimitSlot::kPids, Fidelity::kExact,
            Fidelity::kExact,
            "pids.max also counts the jail's processes, the same as FreeBSD's threads of all "
            "processes",
            "pids.max also counts the jail's processes, the same as FreeBSD's threads of all "
            "processes",
            "compares sampled Threads: counts; " JW_NOT_DENIED}),
    Ipc(Resource::kMsgqqueued, "kernel.msgmnb", LinuxLimitSlot::kMsgmnb, Fidelity::kApproximate,
        JW_MSGMNB),
    Ipc(Resource::kMsgqsize, "kernel.msgmnb", LinuxLimitSlot::kMsgmnb, Fidelity::kApproximate,
        JW_MSGMNB),
    Ipc(Resource::kNmsgq, "kernel.msgmni", LinuxLimitSlot::kMsgmni, Fidelity::kExact, ""),
    Ipc(Resource::kNsem, "kernel.sem SEMMNS", LinuxLimitSlot::kSemmns, Fidelity::kExact, ""),
    Nsemop(),
    Ipc(Resource::kNshm, "kernel.shmmni", LinuxLimitSlot::kShmmni, Fidelity::kExact, ""),
    Ipc(Resource::kShmsize, "kernel.shmall", LinuxLimitSlot::kShmall, Fidelity::kApproximate,
        "rounded down to whole pages; shmget fails with ENOSPC where FreeBSD gives ENOMEM"),
    SamplerOnly(Resource::kWallclock, kNoRlimit),
    Cgroup(Resource::kPcpu,
           {"cpu", "cpu.cfs_quota_us", "cpu.max", "", LinuxLimitSlot::kPcpu, Fidelity::kExact,
            Fidelity::kExact,
            "CFS caps CPU time per 100 ms period; FreeBSD throttles on a decaying average, so "
            "bursts differ",
            "CFS caps CPU time per 100 ms period; FreeBSD throttles on a decaying average, so "
            "bursts differ",
            "compared with sampled pcpu; " JW_NOT_THROTTLED}),
    Io(Resource::kReadbps, "blkio.throttle.read_bps_device", "rbps", LinuxLimitSlot::kIoReadBps,
       false),
    Io(Resource::kWritebps, "blkio.throttle.write_bps_device", "wbps",
       LinuxLimitSlot::kIoWriteBps, true),
    Io(Resource::kReadiops, "blkio.throttle.read_iops_device", "riops",
       LinuxLimitSlot::kIoReadIops, false),
    Io(Resource::kWriteiops, "blkio.throttle.write_iops_device", "wiops",
       LinuxLimitSlot::kIoWriteIops, true),
}};

#undef JW_NOT_DENIED
#undef JW_NOT_THROTTLED
#undef JW_IO_EXACT
#undef JW_IO_WRITE_V1
#undef JW_IO_NOT_JAIL
#undef JW_IPC_NOT_JAIL
#undef JW_MSGMNB

constexpr bool InEnumOrder() {
  for (std::size_t i = 0; i < kMap.size(); ++i) {
    if (kMap[i].resource != rctl::ResourceAt(i)) {
      return false;
    }
  }
  return true;
}
static_assert(InEnumOrder(), "kMap must hold one row per rctl::Resource, in enum order");

}  // namespace

const std::array<LinuxResourceRow, rctl::kResourceCount>& LinuxResourceMap() { return kMap; }

const LinuxResourceRow& LinuxResource(rctl::Resource r) { return kMap[rctl::Index(r)]; }

std::optional<int> LinuxRlimitOf(rctl::Resource r) {
  const int rlimit = LinuxResource(r).rlimit;
  return rlimit == kNoRlimit ? std::nullopt : std::optional<int>(rlimit);
}

}  // namespace jailwarden::platform
