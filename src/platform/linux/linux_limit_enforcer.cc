#include "jailwarden/platform/linux/linux_limit_enforcer.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <set>

#include "absl/synchronization/mutex.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/cgroup_files.h"
#include "platform/linux/cgroup_reader.h"
#include "platform/linux/devpts_limits.h"
#include "platform/linux/ipc_limits.h"
#include "platform/linux/linux_jail_paths.h"
#include "platform/linux/proc_parser.h"
#include "platform/linux/rlimits.h"
#include "platform/linux/sampled_deny.h"
#include "platform/linux/sysvipc.h"

namespace jailwarden::platform {
namespace {

using rctl::Action;
using rctl::Resource;
using rctl::SubjectType;

Enforcement Make(const rctl::Rule& rule, Fidelity f, std::string mechanism,
                 std::string detail = "") {
  Enforcement e;
  e.rule = rule;
  e.fidelity = f;
  e.mechanism = std::move(mechanism);
  e.detail = std::move(detail);
  return e;
}

// A resource kept per process by the kernel (an rlimit caps one process).
bool IsPerProcessRlimitResource(Resource r) {
  switch (r) {
    case Resource::kDatasize:
    case Resource::kStacksize:
    case Resource::kCoredumpsize:
    case Resource::kMemorylocked:
    case Resource::kOpenfiles:
    case Resource::kVmemoryuse:
      return true;
    default:
      return false;
  }
}

// A per-process rule of a user or process subject reaches only processes
// in jailwarden's jails (the enforcer applies limits jail by jail).
Enforcement Scoped(const rctl::Rule& rule, Enforcement e) {
  if (rule.subject == SubjectType::kUser || rule.subject == SubjectType::kProcess) {
    if (e.fidelity == Fidelity::kExact || e.fidelity == Fidelity::kApproximate) {
      e.detail = e.detail.empty() ? "applied to matching processes in jailwarden's jails only"
                                  : e.detail + "; applied to matching processes in "
                                               "jailwarden's jails only";
    }
  }
  return e;
}

// Sampled rules with no Linux mechanism behind them: honest about it.
constexpr std::string_view kNotDenied =
    "no Linux mechanism refuses the charge: the sampler reports the deny as at or over "
    "(rule statistics, metrics) but nothing is refused";
constexpr std::string_view kNotThrottled =
    "not throttled on Linux: the engine's per-process throttle requests have no mechanism "
    "and are counted in throttles_ignored (use a jail-wide rule: cgroup CPU quota / blkio "
    "throttle)";

// How a sampled deny of a per-process resource is enforced (sampled_deny.h).
std::string SampledSum(const rctl::Rule& rule) {
  const Resource r = *rule.resource;
  const char* rl = RlimitName(*RlimitFor(r));
  std::string_view charge;
  switch (r) {
    case Resource::kOpenfiles:
      charge = "its next open/dup/socket fails with EMFILE";
      break;
    case Resource::kVmemoryuse:
      charge = "its next mmap/brk fails with ENOMEM (stack growth with SIGSEGV)";
      break;
    case Resource::kDatasize:
      charge = "its next brk/private writable mmap fails with ENOMEM";
      break;
    case Resource::kStacksize:
      charge = "its next stack growth fails (SIGSEGV, as on FreeBSD)";
      break;
    case Resource::kMemorylocked:
      charge = "its next mlock fails with ENOMEM (not for processes with CAP_IPC_LOCK)";
      break;
    default:
      charge = "its next charge fails";
      break;
  }
  const bool per_user = rule.per == SubjectType::kUser;
  std::string out = StrCat(
      "the sampler sums ", per_user ? "the user's" : "the jail's", " per-process ",
      rctl::ResourceName(r), " (slow tier, /proc scan); while the sum is at or over the amount, "
      "each ", rule.subject == SubjectType::kProcess ? "linked " : "",
      per_user ? "process of the user in jailwarden's jails" : "process of the jail",
      " gets its soft ", rl, " lowered to its current use, so ", charge,
      "; the soft limit comes back when the sum drops below the amount. Lag: up to one "
      "slow-tier interval, during which the sum can overshoot; new processes are clamped "
      "at the next slow-tier pass");
  if (rule.subject == SubjectType::kJail && rule.per == SubjectType::kJail) {
    StrAppend(&out, ". ", rl, "=amount also bounds each process");
  }
  return out;
}

}  // namespace

static Enforcement DescribeOne(const rctl::Rule& rule, bool cgroup_v2);

Enforcement DescribeLinuxEnforcement(const rctl::Rule& rule, bool cgroup_v2) {
  return Scoped(rule, DescribeOne(rule, cgroup_v2));
}

static Enforcement DescribeOne(const rctl::Rule& rule, bool cgroup_v2) {
  if (rule.subject == SubjectType::kLoginclass || rule.per == SubjectType::kLoginclass) {
    return Make(rule, Fidelity::kUnsupported, "none",
                "Linux has no login classes: loginclass rules are kept but never enforced");
  }
  if (!rule.resource.has_value()) {
    return Make(rule, Fidelity::kUnsupported, "none", "the rule names no resource");
  }
  const Resource r = *rule.resource;
  const bool per_jail = rule.per == SubjectType::kJail;
  const bool per_process = rule.per == SubjectType::kProcess;
  const bool per_user = rule.per == SubjectType::kUser;
  if (rule.action != Action::kDeny && rule.action != Action::kThrottle) {
    if (r == Resource::kCputime || r == Resource::kWallclock) {
      return Make(rule, Fidelity::kSampled, "sampler",
                  "acted on when a sample shows the usage over the amount, as FreeBSD's "
                  "once-a-second racctd does");
    }
    return Make(rule, Fidelity::kSampled, "sampler",
                "acted on at the sampling interval; FreeBSD acts at the moment of the charge");
  }
  const bool deny = rule.action == Action::kDeny;
  switch (r) {
    case Resource::kCputime:
    case Resource::kWallclock:
      return Make(rule, Fidelity::kUnsupported, "none",
                  StrCat(rctl::ResourceName(r), " cannot be denied (FreeBSD refuses the rule)"));
    case Resource::kPcpu:
      if (per_jail) {
        return Make(rule, Fidelity::kExact, cgroup_v2 ? "cpu.max" : "cpu.cfs_quota_us",
                    "CFS caps CPU time per 100 ms period; FreeBSD throttles on a decaying "
                    "average, so bursts differ");
      }
      return Make(rule, Fidelity::kSampled, "sampler",
                  StrCat("compared with sampled pcpu; ", kNotThrottled));
    case Resource::kReadbps:
    case Resource::kReadiops:
    case Resource::kWritebps:
    case Resource::kWriteiops: {
      if (deny) {
        return Make(rule, Fidelity::kUnsupported, "none",
                    StrCat(rctl::ResourceName(r), " cannot be denied, only throttled"));
      }
      if (!per_jail) {
        return Make(rule, Fidelity::kSampled, "sampler",
                    StrCat("compared with sampled /proc/<pid>/io totals; ", kNotThrottled));
      }
      const bool read = r == Resource::kReadbps || r == Resource::kReadiops;
      const bool bytes = r == Resource::kReadbps || r == Resource::kWritebps;
      std::string mechanism =
          cgroup_v2 ? StrCat("io.max ", read ? "r" : "w", bytes ? "bps" : "iops")
                    : StrCat("blkio.throttle.", read ? "read" : "write", "_",
                             bytes ? "bps" : "iops", "_device");
      if (!read && !cgroup_v2) {
        return Make(rule, Fidelity::kApproximate, std::move(mechanism),
                    "O_DIRECT and fsync'd writes are throttled; plain buffered writes flushed "
                    "by the kernel are neither throttled nor counted on cgroup v1");
      }
      return Make(rule, Fidelity::kExact, std::move(mechanism),
                  "block-device I/O of the disk holding the jail's root; page-cache hits "
                  "and tmpfs I/O are neither counted nor throttled");
    }
    case Resource::kMemoryuse:
      if (per_jail) {
        return Make(rule, Fidelity::kApproximate,
                    cgroup_v2 ? "memory.max" : "memory.limit_in_bytes",
                    "the kernel also charges page cache and shmem, and over the limit it "
                    "reclaims and then OOM-kills in the jail; FreeBSD only deactivates pages");
      }
      return Make(rule, Fidelity::kSampled, "sampler",
                  StrCat("compares sampled VmRSS sums; ", kNotDenied,
                         " (FreeBSD never refuses memoryuse either: it deactivates pages)"));
    case Resource::kSwapuse:
      if (per_jail) {
        if (cgroup_v2) {
          return Make(rule, Fidelity::kExact, "memory.swap.max");
        }
        return Make(rule, Fidelity::kApproximate, "memory.memsw.limit_in_bytes",
                    "cgroup v1 caps memory+swap: memsw = memoryuse limit + amount; needs a "
                    "memoryuse deny rule on the jail, otherwise sampled only");
      }
      return Make(rule, Fidelity::kSampled, "sampler",
                  StrCat("compares sampled VmSwap; ", kNotDenied));
    case Resource::kNthr:
      if (per_jail) {
        return Make(rule, Fidelity::kExact, "pids.max",
                    "pids.max also counts the jail's processes, the same as FreeBSD's "
                    "threads of all processes");
      }
      return Make(rule, Fidelity::kSampled, "sampler",
                  StrCat("compares sampled Threads: counts; ", kNotDenied));
    case Resource::kMaxproc:
      if (per_jail) {
        return Make(rule, Fidelity::kApproximate, "pids.max",
                    "pids.max counts tasks (threads too), so threads use up the allowance; "
                    "fork fails with EAGAIN as on FreeBSD");
      }
      if (per_user) {
        return Make(rule, Fidelity::kApproximate, "RLIMIT_NPROC",
                    "per real uid in the user namespace, counts threads, ignored for root "
                    "(CAP_SYS_RESOURCE)");
      }
      return Make(rule, Fidelity::kSampled, "sampler",
                  StrCat("compares sampled process counts; ", kNotDenied));
    case Resource::kDatasize:
    case Resource::kStacksize:
    case Resource::kVmemoryuse:
    case Resource::kOpenfiles:
    case Resource::kMemorylocked:
    case Resource::kCoredumpsize: {
      const char* rl = RlimitName(*RlimitFor(r));
      if (per_process) {
        if (r == Resource::kMemorylocked) {
          return Make(rule, Fidelity::kApproximate, rl,
                      "exact in jails without allow.mlock, whose processes lack "
                      "CAP_IPC_LOCK; bypassed where allow.mlock or linux.capabilities "
                      "grants it (and by host processes that hold it)");
        }
        if (r == Resource::kCoredumpsize) {
          return Make(rule, Fidelity::kApproximate, rl,
                      "a larger core is truncated at the limit; FreeBSD writes none");
        }
        if (r == Resource::kStacksize) {
          return Make(rule, Fidelity::kExact, rl, "growth past the limit is SIGSEGV, as on FreeBSD");
        }
        return Make(rule, Fidelity::kExact, rl);
      }
      if (r == Resource::kCoredumpsize) {
        return Make(rule, Fidelity::kApproximate, rl,
                    "each process may dump up to the amount; the jail's total of dumped "
                    "bytes is not tracked");
      }
      return Make(rule, Fidelity::kSampled, StrCat("sampler + ", rl), SampledSum(rule));
    }
    case Resource::kPseudoterminals:
      if (per_jail) {
        return Make(rule, Fidelity::kExact, "devpts max=",
                    "posix_openpt fails with ENOSPC where FreeBSD gives EAGAIN");
      }
      return Make(rule, Fidelity::kUnsupported, "none",
                  "Linux does not count pseudoterminals per user");
    case Resource::kNsemop:
      return Make(rule, Fidelity::kExact, "kernel.sem SEMOPM",
                  "a per-call limit in the jail's IPC namespace (E2BIG as on FreeBSD)");
    case Resource::kNmsgq:
    case Resource::kMsgqqueued:
    case Resource::kMsgqsize:
    case Resource::kNsem:
    case Resource::kNshm:
    case Resource::kShmsize:
      if (!per_jail) {
        return Make(rule, Fidelity::kUnsupported, "none",
                    "Linux accounts SysV IPC per IPC namespace, not per user");
      }
      if (r == Resource::kNmsgq) {
        return Make(rule, Fidelity::kExact, "kernel.msgmni");
      }
      if (r == Resource::kNsem) {
        return Make(rule, Fidelity::kExact, "kernel.sem SEMMNS");
      }
      if (r == Resource::kNshm) {
        return Make(rule, Fidelity::kExact, "kernel.shmmni");
      }
      if (r == Resource::kShmsize) {
        return Make(rule, Fidelity::kApproximate, "kernel.shmall",
                    "rounded down to whole pages; shmget fails with ENOSPC where FreeBSD "
                    "gives ENOMEM");
      }
      return Make(rule, Fidelity::kApproximate, "kernel.msgmnb",
                  "per queue, not namespace-wide: each queue holds at most amount messages "
                  "and amount bytes (msgsnd EAGAIN), the namespace up to msgmni times that");
  }
  return Make(rule, Fidelity::kUnsupported, "none", "unknown resource");
}

namespace {

constexpr int64_t kNone = -1;

void MinInto(int64_t& slot, int64_t value) {
  if (slot == kNone || value < slot) {
    slot = value;
  }
}

// What one jail's rules ask of the kernel.
struct Desired {
  int64_t memory = kNone, swap = kNone, pids = kNone, pcpu = kNone;
  std::array<int64_t, 4> io{kNone, kNone, kNone, kNone};  // rbps wbps riops wiops
  int64_t devpts = kNone;
  int64_t nmsgq = kNone, msgmnb = kNone, nsem = kNone, nsemop = kNone, nshm = kNone,
          shmsize = kNone;
  std::map<int, int64_t> all;                         // RLIMIT -> value
  std::map<int64_t, std::map<int, int64_t>> by_pid, by_uid;
};

void MinRlimit(std::map<int, int64_t>& m, int resource, int64_t value) {
  auto [it, inserted] = m.emplace(resource, value);
  if (!inserted && value < it->second) {
    it->second = value;
  }
}

std::size_t IoSlot(Resource r) {
  switch (r) {
    case Resource::kReadbps:
      return 0;
    case Resource::kWritebps:
      return 1;
    case Resource::kReadiops:
      return 2;
    default:
      return 3;
  }
}

}  // namespace

struct LinuxLimitEnforcer::Impl {
  struct Jail {
    LinuxJailPaths paths;
    int ipc_ns = -1;
    bool have_ipc_baseline = false;
    IpcSysctls ipc_baseline, ipc_applied;
    int64_t devpts_baseline = kNone, devpts_applied = kNone;
    std::map<int, LinuxRlimit> rlimit_baseline;
    std::set<int> rlimits_touched;
    std::set<int64_t> seen_pids;  // got the current rlimits
    Desired applied;
    // Deny rules Apply found sampled only because of the jail's other
    // rules (v1 swapuse without a memoryuse deny).
    std::vector<rctl::Rule> sampled_by_context;
    // Soft rlimits lowered for sampled denies at or over (sampled_deny.h).
    platform::SampledDenyClamps clamps;
    ~Jail() {
      if (ipc_ns >= 0) {
        close(ipc_ns);
      }
    }
  };

  LinuxLimitEnforcerOptions options;
  bool v2 = false;
  std::unique_ptr<ProcessLimits> process_limits = std::make_unique<ProcfsProcessLimits>();
  std::unique_ptr<IpcNamespaceWorker> ipc;
  mutable absl::Mutex mu;
  std::map<std::string, std::unique_ptr<Jail>, std::less<>> jails ABSL_GUARDED_BY(mu);

  absl::Status WriteCgroups(Jail& j, const Desired& d);
  absl::Status WriteIpc(Jail& j, const Desired& d);
  absl::Status WriteDevpts(Jail& j, const Desired& d);
  absl::Status WriteRlimits(Jail& j, const Desired& d, bool only_new);
  absl::Status WriteAll(Jail& j, const Desired& d) {
    JW_RETURN_IF_ERROR(WriteCgroups(j, d));
    JW_RETURN_IF_ERROR(WriteIpc(j, d));
    JW_RETURN_IF_ERROR(WriteDevpts(j, d));
    return WriteRlimits(j, d, false);
  }
  absl::StatusOr<std::vector<std::string>> Devices(const Jail& j) const;
};

namespace {

// The pids in the jail's own cgroup (not its descendants').
absl::StatusOr<std::set<int64_t>> JailPids(const LinuxJailPaths& paths) {
  absl::StatusOr<std::string> procs =
      ReadFileToString(JoinCgroupPath(paths.MembershipDir(), "cgroup.procs"));
  if (!procs.ok()) {
    return procs.status();
  }
  std::set<int64_t> pids;
  for (std::string_view line : Split(*procs, '\n')) {
    if (std::optional<int64_t> pid = ParseInt<int64_t>(StripWhitespace(line))) {
      pids.insert(*pid);
    }
  }
  return pids;
}

}  // namespace

namespace {

// Writes `value` to dir/file when the file exists; when it does not, fails
// only if a limit is wanted (`needed`).
absl::Status WriteKnob(const std::string& dir, std::string_view file, std::string_view value,
                       bool needed) {
  if (dir.empty()) {
    if (needed) {
      return absl::FailedPreconditionError(
          StrCat("the jail has no cgroup for ", file, ", cannot enforce it"));
    }
    return absl::OkStatus();
  }
  std::string path = JoinCgroupPath(dir, file);
  if (!PathExists(path)) {
    if (needed) {
      return absl::FailedPreconditionError(
          StrCat(path, " does not exist (controller not enabled?)"));
    }
    return absl::OkStatus();
  }
  return WriteFileString(path, value);
}

std::string V1Value(int64_t v) { return v == kNone ? "-1" : StrCat(v); }
std::string V2Value(int64_t v) { return v == kNone ? "max" : StrCat(v); }

int64_t QuotaUs(int64_t pcpu, int64_t period_us) {
  // pcpu is percent of one CPU × 10^6.
  // In long double: pcpu × period overflows int64 for huge amounts.
  long double q = static_cast<long double>(pcpu) * static_cast<long double>(period_us) / 1e8L;
  int64_t quota = q > 1e15L ? static_cast<int64_t>(1e15) : static_cast<int64_t>(q);
  return std::max<int64_t>(quota, 1000);  // the kernel's minimum quota is 1 ms
}

}  // namespace

absl::StatusOr<std::vector<std::string>> LinuxLimitEnforcer::Impl::Devices(
    const Jail& j) const {
  if (!options.block_devices.empty()) {
    return options.block_devices;
  }
  for (const std::string* p : {&j.paths.root, &j.paths.overlay_upper}) {
    if (p->empty()) {
      continue;
    }
    absl::StatusOr<std::string> dev = BlockDeviceOf(*p);
    if (dev.ok()) {
      return std::vector<std::string>{*dev};
    }
  }
  return absl::FailedPreconditionError(
      StrCat("jail ", j.paths.name,
             ": its root is not on a block device, I/O throttles cannot apply"));
}

absl::Status LinuxLimitEnforcer::Impl::WriteCgroups(Jail& j, const Desired& d) {
  const LinuxJailPaths& p = j.paths;
  const bool io_wanted = d.io[0] != kNone || d.io[1] != kNone || d.io[2] != kNone ||
                         d.io[3] != kNone;
  const bool io_was = j.applied.io[0] != kNone || j.applied.io[1] != kNone ||
                      j.applied.io[2] != kNone || j.applied.io[3] != kNone;
  std::vector<std::string> devices;
  if (io_wanted || io_was) {
    absl::StatusOr<std::vector<std::string>> devs = Devices(j);
    if (!devs.ok()) {
      if (io_wanted) {
        return devs.status();
      }
    } else {
      devices = *devs;
    }
  }
  // swapuse on v1 can only be expressed as memory+swap.
  const bool swap_v1 = d.swap != kNone && d.memory != kNone;
  if (v2) {
    const std::string& dir = p.Cgroup("unified");
    JW_RETURN_IF_ERROR(WriteKnob(dir, "memory.max", V2Value(d.memory), d.memory != kNone));
    JW_RETURN_IF_ERROR(WriteKnob(dir, "memory.swap.max", V2Value(d.swap), d.swap != kNone));
    JW_RETURN_IF_ERROR(WriteKnob(dir, "pids.max", V2Value(d.pids), d.pids != kNone));
    std::string cpu = d.pcpu == kNone ? "max 100000" : StrCat(QuotaUs(d.pcpu, 100000), " 100000");
    JW_RETURN_IF_ERROR(WriteKnob(dir, "cpu.max", cpu, d.pcpu != kNone));
    for (const std::string& dev : devices) {
      JW_RETURN_IF_ERROR(WriteKnob(
          dir, "io.max",
          StrCat(dev, " rbps=", V2Value(d.io[0]), " wbps=", V2Value(d.io[1]),
                 " riops=", V2Value(d.io[2]), " wiops=", V2Value(d.io[3])),
          io_wanted));
    }
    return absl::OkStatus();
  }
  const std::string& mem = p.Cgroup("memory");
  // memsw must stay >= limit_in_bytes at every step: open it up first.
  if (!mem.empty() && PathExists(JoinCgroupPath(mem, "memory.memsw.limit_in_bytes"))) {
    JW_RETURN_IF_ERROR(WriteKnob(mem, "memory.memsw.limit_in_bytes", "-1", false));
  }
  JW_RETURN_IF_ERROR(
      WriteKnob(mem, "memory.limit_in_bytes", V1Value(d.memory), d.memory != kNone));
  if (swap_v1) {
    JW_RETURN_IF_ERROR(WriteKnob(mem, "memory.memsw.limit_in_bytes",
                                 StrCat(d.memory + d.swap), true));
  }
  JW_RETURN_IF_ERROR(WriteKnob(p.Cgroup("pids"), "pids.max", V2Value(d.pids), d.pids != kNone));
  const std::string& cpu = p.Cgroup("cpu");
  int64_t period = 100000;
  if (!cpu.empty()) {
    if (absl::StatusOr<std::string> t = ReadFileToString(JoinCgroupPath(cpu, "cpu.cfs_period_us"));
        t.ok()) {
      period = ParseCgroupSingleValue(*t).value_or(100000);
    }
  }
  JW_RETURN_IF_ERROR(WriteKnob(cpu, "cpu.cfs_quota_us",
                               d.pcpu == kNone ? "-1" : StrCat(QuotaUs(d.pcpu, period)),
                               d.pcpu != kNone));
  const char* files[4] = {"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                          "blkio.throttle.read_iops_device",
                          "blkio.throttle.write_iops_device"};
  for (const std::string& dev : devices) {
    for (std::size_t i = 0; i < 4; ++i) {
      if (d.io[i] == kNone && j.applied.io[i] == kNone) {
        continue;
      }
      // "MAJ:MIN 0" removes the device's rule (blkio-controller.rst).
      JW_RETURN_IF_ERROR(WriteKnob(p.Cgroup("blkio"), files[i],
                                   StrCat(dev, " ", d.io[i] == kNone ? 0 : d.io[i]),
                                   d.io[i] != kNone));
    }
  }
  return absl::OkStatus();
}

absl::Status LinuxLimitEnforcer::Impl::WriteIpc(Jail& j, const Desired& d) {
  const bool wanted = d.nmsgq != kNone || d.msgmnb != kNone || d.nsem != kNone ||
                      d.nsemop != kNone || d.nshm != kNone || d.shmsize != kNone;
  if (!j.have_ipc_baseline) {
    if (wanted) {
      return absl::FailedPreconditionError(
          StrCat("jail ", j.paths.name, ": its IPC namespace is not reachable"));
    }
    return absl::OkStatus();
  }
  IpcSysctls want = j.ipc_baseline;
  auto lower = [](int64_t& field, int64_t v) {
    if (v != kNone && v < field) {
      field = v;
    }
  };
  lower(want.msgmni, d.nmsgq);
  lower(want.msgmnb, d.msgmnb);
  lower(want.sem[1], d.nsem);
  lower(want.sem[2], d.nsemop);
  lower(want.shmmni, d.nshm);
  if (d.shmsize != kNone) {
    lower(want.shmall, d.shmsize / sysconf(_SC_PAGESIZE));
  }
  if (want == j.ipc_applied) {
    return absl::OkStatus();
  }
  IpcSysctls current = j.ipc_applied;
  JW_RETURN_IF_ERROR(ipc->RunIn(j.ipc_ns, [&] { return WriteIpcSysctlsHere(want, &current); }));
  j.ipc_applied = want;
  return absl::OkStatus();
}

absl::Status LinuxLimitEnforcer::Impl::WriteDevpts(Jail& j, const Desired& d) {
  int64_t want = d.devpts != kNone ? d.devpts : j.devpts_baseline;
  if (want == kNone || want == j.devpts_applied) {
    if (d.devpts != kNone && j.devpts_baseline == kNone) {
      return absl::FailedPreconditionError(
          StrCat("jail ", j.paths.name, " has no devpts instance of its own"));
    }
    return absl::OkStatus();
  }
  JW_RETURN_IF_ERROR(SetDevptsMax(j.paths.init_pid, want));
  j.devpts_applied = want;
  return absl::OkStatus();
}

absl::Status LinuxLimitEnforcer::Impl::WriteRlimits(Jail& j, const Desired& d, bool only_new) {
  std::set<int> resources = j.rlimits_touched;
  for (const auto& [r, v] : d.all) {
    resources.insert(r);
  }
  for (const auto* m : {&d.by_pid, &d.by_uid}) {
    for (const auto& [id, limits] : *m) {
      for (const auto& [r, v] : limits) {
        resources.insert(r);
      }
    }
  }
  if (resources.empty()) {
    return absl::OkStatus();
  }
  const std::string& dir = j.paths.MembershipDir();
  absl::StatusOr<std::string> procs = ReadFileToString(JoinCgroupPath(dir, "cgroup.procs"));
  if (!procs.ok()) {
    return procs.status();
  }
  if (!only_new) {
    j.seen_pids.clear();
  }
  char buf[4096];
  std::set<int64_t> present;  // pids listed now: seen_pids keeps only these
  for (std::string_view line : Split(*procs, '\n')) {
    std::optional<int64_t> pid = ParseInt<int64_t>(StripWhitespace(line));
    if (pid) {
      present.insert(*pid);
    }
    // The jail's pid 1 is jailwarden's supervisor: limits would only risk
    // it; the jail's own processes are what RCTL limits.
    if (!pid || *pid == j.paths.init_pid) {
      continue;
    }
    if (only_new && j.seen_pids.count(*pid) != 0) {
      continue;
    }
    std::map<int, int64_t> eff = d.all;
    if (auto it = d.by_pid.find(*pid); it != d.by_pid.end()) {
      for (const auto& [r, v] : it->second) {
        MinRlimit(eff, r, v);
      }
    }
    if (!d.by_uid.empty()) {
      HeldFile f;
      if (f.Open(StrCat("/proc/", *pid, "/status")).ok()) {
        absl::StatusOr<std::string_view> text = f.Read(buf, sizeof(buf));
        std::optional<ProcStatusFields> s;
        if (text.ok()) {
          s = ParseProcStatus(*text);
        }
        if (s) {
          if (auto it = d.by_uid.find(s->ruid); it != d.by_uid.end()) {
            for (const auto& [r, v] : it->second) {
              MinRlimit(eff, r, v);
            }
          }
        }
      }
    }
    for (int r : resources) {
      LinuxRlimit setting;
      setting.resource = r;
      bool lifting = false;
      if (auto it = eff.find(r); it != eff.end()) {
        setting.soft = setting.hard = static_cast<rlim_t>(it->second);
      } else if (auto b = j.rlimit_baseline.find(r); b != j.rlimit_baseline.end()) {
        setting = b->second;
        lifting = true;
      } else {
        continue;
      }
      // A sampled deny at or over keeps its lowered soft limit.
      j.clamps.AdjustWrite(*pid, setting);
      absl::Status st = SetProcessRlimit(*pid, setting);
      if (lifting && StatusErrno(st) == EPERM) {
        // Raising a hard limit needs CAP_SYS_RESOURCE (setrlimit(2)), which
        // some hosts withhold even from root. The limit is lifted for every
        // process started from now on (they inherit the jail's pid 1, which
        // is never limited); a process that lived through the deny keeps
        // its lowered hard limit, and gets its soft limit back up to it.
        absl::StatusOr<LinuxRlimit> cur = GetProcessRlimit(*pid, r);
        if (cur.ok()) {
          setting.hard = cur->hard;
          setting.soft = std::min(setting.soft, cur->hard);
          st = SetProcessRlimit(*pid, setting);
          LogWarning("enforcer: cannot raise a hard rlimit without CAP_SYS_RESOURCE; "
                     "the process keeps its lowered hard limit",
                     {{"jail", j.paths.name}, {"pid", StrCat(*pid)},
                      {"rlimit", RlimitName(r)}});
        }
      }
      if (!st.ok() && !absl::IsNotFound(st)) {
        return st;
      }
    }
    j.seen_pids.insert(*pid);
  }
  std::erase_if(j.seen_pids, [&](int64_t pid) { return present.count(pid) == 0; });
  j.rlimits_touched = resources;
  return absl::OkStatus();
}

LinuxLimitEnforcer::LinuxLimitEnforcer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LinuxLimitEnforcer::~LinuxLimitEnforcer() = default;

absl::StatusOr<std::unique_ptr<LinuxLimitEnforcer>> LinuxLimitEnforcer::Create(
    LinuxLimitEnforcerOptions options) {
  auto impl = std::make_unique<Impl>();
  std::string_view version = options.cgroup_version.empty()
                                 ? DetectCgroupVersion(options.cgroup_root)
                                 : std::string_view(options.cgroup_version);
  impl->v2 = version == "v2";
  JW_ASSIGN_OR_RETURN(impl->ipc, IpcNamespaceWorker::Start());
  impl->options = std::move(options);
  return std::unique_ptr<LinuxLimitEnforcer>(new LinuxLimitEnforcer(std::move(impl)));
}

std::string_view LinuxLimitEnforcer::cgroup_version() const { return impl_->v2 ? "v2" : "v1"; }

absl::Status LinuxLimitEnforcer::AddJail(const JailInstance& instance) {
  JW_ASSIGN_OR_RETURN(LinuxJailPaths paths, LinuxJailPathsFromInstance(instance));
  auto j = std::make_unique<Impl::Jail>();
  if (paths.init_pid > 0) {
    absl::StatusOr<int> ns = OpenIpcNamespace(paths.init_pid);
    if (ns.ok()) {
      j->ipc_ns = *ns;
      IpcSysctls base;
      absl::Status st = impl_->ipc->RunIn(j->ipc_ns, [&]() -> absl::Status {
        JW_ASSIGN_OR_RETURN(base, ReadIpcSysctlsHere());
        return absl::OkStatus();
      });
      if (st.ok()) {
        j->have_ipc_baseline = true;
        j->ipc_baseline = j->ipc_applied = base;
      } else {
        LogWarning("enforcer: IPC sysctls unreadable",
                   {{"jail", paths.name}, {"error", std::string(st.message())}});
      }
    }
    if (!paths.devpts.empty()) {
      absl::StatusOr<int64_t> max = ReadDevptsMax(paths.init_pid);
      if (max.ok()) {
        j->devpts_baseline = j->devpts_applied = *max;
      }
    }
    for (int r : {RLIMIT_DATA, RLIMIT_STACK, RLIMIT_CORE, RLIMIT_MEMLOCK, RLIMIT_NOFILE,
                  RLIMIT_AS, RLIMIT_NPROC, RLIMIT_CPU}) {
      absl::StatusOr<LinuxRlimit> lim = GetProcessRlimit(paths.init_pid, r);
      if (lim.ok()) {
        j->rlimit_baseline[r] = *lim;
      }
    }
  }
  j->paths = std::move(paths);
  absl::MutexLock lock(&impl_->mu);
  impl_->jails[instance.ref.name] = std::move(j);
  return absl::OkStatus();
}

void LinuxLimitEnforcer::RemoveJail(std::string_view name) {
  absl::MutexLock lock(&impl_->mu);
  if (auto it = impl_->jails.find(name); it != impl_->jails.end()) {
    impl_->jails.erase(it);
  }
}

Enforcement LinuxLimitEnforcer::Describe(const rctl::Rule& rule) const {
  return DescribeLinuxEnforcement(rule, impl_->v2);
}

bool LinuxLimitEnforcer::DenyIsSampled(const rctl::Rule& rule) const {
  if (rule.action != Action::kDeny) {
    return false;
  }
  if (Describe(rule).fidelity == Fidelity::kSampled) {
    return true;
  }
  absl::MutexLock lock(&impl_->mu);
  for (const auto& [name, j] : impl_->jails) {
    for (const rctl::Rule& r : j->sampled_by_context) {
      if (r == rule) {
        return true;
      }
    }
  }
  return false;
}

absl::StatusOr<std::vector<Enforcement>> LinuxLimitEnforcer::Apply(
    const JailRef& jail, const std::vector<rctl::Rule>& rules) {
  absl::MutexLock lock(&impl_->mu);
  auto it = impl_->jails.find(jail.name);
  if (it == impl_->jails.end()) {
    return absl::NotFoundError(StrCat("jail ", jail.name, " is not registered"));
  }
  Impl::Jail& j = *it->second;
  Desired d;
  std::vector<rctl::Rule> sampled_by_context;
  std::vector<Enforcement> out;
  out.reserve(rules.size());
  bool memory_deny = false;
  for (const rctl::Rule& rule : rules) {
    if (rule.resource == Resource::kMemoryuse && rule.action == Action::kDeny &&
        rule.per == SubjectType::kJail && rule.subject == SubjectType::kJail) {
      memory_deny = true;
    }
  }
  for (const rctl::Rule& rule : rules) {
    Enforcement e = Describe(rule);
    const bool kernel = (rule.action == Action::kDeny || rule.action == Action::kThrottle) &&
                        e.fidelity != Fidelity::kUnsupported;
    if (kernel && rule.resource == Resource::kSwapuse && !impl_->v2 &&
        rule.per == SubjectType::kJail && !memory_deny) {
      e.fidelity = Fidelity::kSampled;
      e.mechanism = "sampler";
      e.detail = "cgroup v1 can only cap memory+swap, and the jail has no memoryuse deny "
                 "rule: swapuse is compared by the sampler";
      sampled_by_context.push_back(rule);
    }
    if (kernel && e.fidelity != Fidelity::kSampled) {
      const Resource r = *rule.resource;
      const int64_t a = rule.amount;
      if (rule.per == SubjectType::kJail && rule.subject == SubjectType::kJail) {
        switch (r) {
          case Resource::kMemoryuse:
            MinInto(d.memory, a);
            break;
          case Resource::kSwapuse:
            MinInto(d.swap, a);
            break;
          case Resource::kNthr:
          case Resource::kMaxproc:
            MinInto(d.pids, a);
            break;
          case Resource::kPcpu:
            MinInto(d.pcpu, a);
            break;
          case Resource::kReadbps:
          case Resource::kWritebps:
          case Resource::kReadiops:
          case Resource::kWriteiops:
            MinInto(d.io[IoSlot(r)], a);
            break;
          case Resource::kPseudoterminals:
            MinInto(d.devpts, a);
            break;
          case Resource::kNmsgq:
            MinInto(d.nmsgq, a);
            break;
          case Resource::kMsgqqueued:
          case Resource::kMsgqsize:
            MinInto(d.msgmnb, a);
            break;
          case Resource::kNsem:
            MinInto(d.nsem, a);
            break;
          case Resource::kNshm:
            MinInto(d.nshm, a);
            break;
          case Resource::kShmsize:
            MinInto(d.shmsize, a);
            break;
          case Resource::kCoredumpsize:
            MinRlimit(d.all, RLIMIT_CORE, a);
            break;
          default:
            break;
        }
      }
      if (r == Resource::kNsemop) {
        MinInto(d.nsemop, a);
      }
      if (rule.per == SubjectType::kProcess && IsPerProcessRlimitResource(r)) {
        const int lim = *RlimitFor(r);
        if (rule.subject == SubjectType::kProcess) {
          MinRlimit(d.by_pid[rule.SubjectNumber().value_or(-1)], lim, a);
        } else if (rule.subject == SubjectType::kUser) {
          MinRlimit(d.by_uid[rule.SubjectNumber().value_or(-1)], lim, a);
        } else {
          MinRlimit(d.all, lim, a);
        }
      }
      if (rule.per == SubjectType::kUser && r == Resource::kMaxproc) {
        if (rule.subject == SubjectType::kUser) {
          MinRlimit(d.by_uid[rule.SubjectNumber().value_or(-1)], RLIMIT_NPROC, a);
        } else {
          MinRlimit(d.all, RLIMIT_NPROC, a);
        }
      }
    }
    // A sampled jail-wide deny on a per-process resource: the rlimit is a
    // sound partial bound (one process cannot exceed the jail's sum).
    if (rule.action == Action::kDeny && e.fidelity == Fidelity::kSampled &&
        rule.resource.has_value() && IsPerProcessRlimitResource(*rule.resource) &&
        rule.subject == SubjectType::kJail) {
      MinRlimit(d.all, *RlimitFor(*rule.resource), rule.amount);
    }
    out.push_back(std::move(e));
  }
  Desired previous = j.applied;
  absl::Status st = impl_->WriteAll(j, d);
  if (!st.ok()) {
    absl::Status back = impl_->WriteAll(j, previous);
    if (!back.ok()) {
      LogError("enforcer: could not restore the previous limits",
               {{"jail", jail.name}, {"error", std::string(back.message())}});
    }
    return st;
  }
  j.applied = std::move(d);
  j.sampled_by_context = std::move(sampled_by_context);
  return out;
}

std::vector<LinuxRlimit> LinuxLimitEnforcer::ExecRlimits(std::string_view jail) const {
  absl::MutexLock lock(&impl_->mu);
  std::vector<LinuxRlimit> out;
  auto it = impl_->jails.find(jail);
  if (it == impl_->jails.end()) {
    return out;
  }
  for (const auto& [r, v] : it->second->applied.all) {
    out.push_back(LinuxRlimit{r, static_cast<rlim_t>(v), static_cast<rlim_t>(v)});
  }
  return out;
}

absl::Status LinuxLimitEnforcer::SetSampledDenies(const std::vector<SampledDeny>& active) {
  absl::MutexLock lock(&impl_->mu);
  absl::Status first;
  for (auto& [name, jp] : impl_->jails) {
    Impl::Jail& j = *jp;
    std::vector<SampledDeny> mine;
    for (const SampledDeny& d : active) {
      if (d.jail == name && d.rule.resource.has_value() &&
          SampledDenyRlimit(*d.rule.resource).has_value()) {
        mine.push_back(d);
      }
    }
    if (mine.empty() && j.clamps.empty()) {
      continue;
    }
    absl::StatusOr<std::set<int64_t>> pids = JailPids(j.paths);
    if (!pids.ok()) {
      // The jail's cgroup is gone: so are its processes.
      j.clamps = platform::SampledDenyClamps();
      continue;
    }
    const std::size_t before = j.clamps.clamps().size();
    absl::Status st = j.clamps.Update(WantedClamps(mine, *pids, j.paths.init_pid), *pids,
                                      *impl_->process_limits);
    if (before != j.clamps.clamps().size()) {
      LogDebug("enforcer: sampled-deny clamps",
               {{"jail", name}, {"clamped", StrCat(j.clamps.clamps().size())},
                {"denies", StrCat(mine.size())}});
    }
    if (!st.ok()) {
      LogWarning("enforcer: sampled-deny clamp failed",
                 {{"jail", name}, {"error", std::string(st.message())}});
      if (first.ok()) {
        first = st;
      }
    }
  }
  return first;
}

std::vector<LinuxLimitEnforcer::ClampInfo> LinuxLimitEnforcer::SampledDenyClamps(
    std::string_view jail) const {
  absl::MutexLock lock(&impl_->mu);
  std::vector<ClampInfo> out;
  auto it = impl_->jails.find(jail);
  if (it == impl_->jails.end()) {
    return out;
  }
  for (const auto& [key, clamp] : it->second->clamps.clamps()) {
    out.push_back(ClampInfo{key.first, key.second, clamp.soft, clamp.saved_soft});
  }
  return out;
}

absl::Status LinuxLimitEnforcer::Reconcile(std::string_view jail) {
  absl::MutexLock lock(&impl_->mu);
  auto it = impl_->jails.find(jail);
  if (it == impl_->jails.end()) {
    return absl::NotFoundError(StrCat("jail ", jail, " is not registered"));
  }
  Impl::Jail& j = *it->second;
  return impl_->WriteRlimits(j, j.applied, true);
}

}  // namespace jailwarden::platform
