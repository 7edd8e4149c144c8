#include "jailwarden/metrics/names.h"

namespace jailwarden::metrics {
namespace {

constexpr UsageFamily kCputime{"jail_cputime_seconds_total", "counter",
                               "CPU time used by the jail's processes, in seconds (RACCT cputime).",
                               true};
constexpr UsageFamily kDatasize{"jail_datasize_bytes", "gauge",
                                "Data segment size in bytes (RACCT datasize).", false};
constexpr UsageFamily kStacksize{"jail_stacksize_bytes", "gauge",
                                 "Stack size in bytes (RACCT stacksize).", false};
constexpr UsageFamily kCoredumpsize{"jail_coredumpsize_bytes", "gauge",
                                    "Core dump size in bytes (RACCT coredumpsize).", false};
constexpr UsageFamily kMemoryuse{"jail_memoryuse_bytes", "gauge",
                                 "Resident memory in bytes (RACCT memoryuse).", false};
constexpr UsageFamily kMemorylocked{"jail_memorylocked_bytes", "gauge",
                                    "Locked memory in bytes (RACCT memorylocked).", false};
constexpr UsageFamily kMaxproc{"jail_maxproc", "gauge",
                               "Number of processes (RACCT maxproc).", false};
constexpr UsageFamily kOpenfiles{"jail_openfiles", "gauge",
                                 "File descriptor table size (RACCT openfiles).", false};
constexpr UsageFamily kVmemoryuse{"jail_vmemoryuse_bytes", "gauge",
                                  "Address space size in bytes (RACCT vmemoryuse).", false};
constexpr UsageFamily kPseudoterminals{"jail_pseudoterminals", "gauge",
                                       "Number of pseudo-terminals (RACCT pseudoterminals).",
                                       false};
constexpr UsageFamily kSwapuse{"jail_swapuse_bytes", "gauge",
                               "Swap space reserved or used in bytes (RACCT swapuse).", false};
constexpr UsageFamily kNthr{"jail_nthr", "gauge", "Number of threads (RACCT nthr).", false};
constexpr UsageFamily kMsgqqueued{"jail_msgqqueued", "gauge",
                                  "Number of queued SysV messages (RACCT msgqqueued).", false};
constexpr UsageFamily kMsgqsize{"jail_msgqsize_bytes", "gauge",
                                "SysV message queue size in bytes (RACCT msgqsize).", false};
constexpr UsageFamily kNmsgq{"jail_nmsgq", "gauge",
                             "Number of SysV message queues (RACCT nmsgq).", false};
constexpr UsageFamily kNsem{"jail_nsem", "gauge",
                            "Number of SysV semaphores (RACCT nsem).", false};
constexpr UsageFamily kNsemop{"jail_nsemop", "gauge",
                              "Number of SysV semaphores modified in one semop call "
                              "(RACCT nsemop).",
                              false};
constexpr UsageFamily kNshm{"jail_nshm", "gauge",
                            "Number of SysV shared memory segments (RACCT nshm).", false};
constexpr UsageFamily kShmsize{"jail_shmsize_bytes", "gauge",
                               "SysV shared memory size in bytes (RACCT shmsize).", false};
constexpr UsageFamily kWallclock{"jail_wallclock_seconds_total", "counter",
                                 "Wall clock time in seconds (RACCT wallclock).", true};
constexpr UsageFamily kPcpu{"jail_pcpu_used", "gauge",
                            "CPU usage in percent of one CPU, decaying average (RACCT pcpu).",
                            true};
constexpr UsageFamily kReadbps{"jail_readbps", "gauge",
                               "Filesystem reads in bytes per second (RACCT readbps).", false};
constexpr UsageFamily kWritebps{"jail_writebps", "gauge",
                                "Filesystem writes in bytes per second (RACCT writebps).", false};
constexpr UsageFamily kReadiops{"jail_readiops", "gauge",
                                "Filesystem reads in operations per second (RACCT readiops).",
                                false};
constexpr UsageFamily kWriteiops{"jail_writeiops", "gauge",
                                 "Filesystem writes in operations per second (RACCT writeiops).",
                                 false};

}  // namespace

const UsageFamily& UsageFamilyOf(rctl::Resource resource) {
  using rctl::Resource;
  switch (resource) {
    case Resource::kCputime:
      return kCputime;
    case Resource::kDatasize:
      return kDatasize;
    case Resource::kStacksize:
      return kStacksize;
    case Resource::kCoredumpsize:
      return kCoredumpsize;
    case Resource::kMemoryuse:
      return kMemoryuse;
    case Resource::kMemorylocked:
      return kMemorylocked;
    case Resource::kMaxproc:
      return kMaxproc;
    case Resource::kOpenfiles:
      return kOpenfiles;
    case Resource::kVmemoryuse:
      return kVmemoryuse;
    case Resource::kPseudoterminals:
      return kPseudoterminals;
    case Resource::kSwapuse:
      return kSwapuse;
    case Resource::kNthr:
      return kNthr;
    case Resource::kMsgqqueued:
      return kMsgqqueued;
    case Resource::kMsgqsize:
      return kMsgqsize;
    case Resource::kNmsgq:
      return kNmsgq;
    case Resource::kNsem:
      return kNsem;
    case Resource::kNsemop:
      return kNsemop;
    case Resource::kNshm:
      return kNshm;
    case Resource::kShmsize:
      return kShmsize;
    case Resource::kWallclock:
      return kWallclock;
    case Resource::kPcpu:
      return kPcpu;
    case Resource::kReadbps:
      return kReadbps;
    case Resource::kWritebps:
      return kWritebps;
    case Resource::kReadiops:
      return kReadiops;
    case Resource::kWriteiops:
      return kWriteiops;
  }
  return kCputime;  // unreachable: every enumerator is handled above
}

Unit UnitOf(rctl::Resource resource) {
  using rctl::Resource;
  switch (resource) {
    case Resource::kCputime:
      return Unit::kSeconds;
    case Resource::kDatasize:
      return Unit::kBytes;
    case Resource::kStacksize:
      return Unit::kBytes;
    case Resource::kCoredumpsize:
      return Unit::kBytes;
    case Resource::kMemoryuse:
      return Unit::kBytes;
    case Resource::kMemorylocked:
      return Unit::kBytes;
    case Resource::kMaxproc:
      return Unit::kCount;
    case Resource::kOpenfiles:
      return Unit::kCount;
    case Resource::kVmemoryuse:
      return Unit::kBytes;
    case Resource::kPseudoterminals:
      return Unit::kCount;
    case Resource::kSwapuse:
      return Unit::kBytes;
    case Resource::kNthr:
      return Unit::kCount;
    case Resource::kMsgqqueued:
      return Unit::kCount;
    case Resource::kMsgqsize:
      return Unit::kBytes;
    case Resource::kNmsgq:
      return Unit::kCount;
    case Resource::kNsem:
      return Unit::kCount;
    case Resource::kNsemop:
      return Unit::kCount;
    case Resource::kNshm:
      return Unit::kCount;
    case Resource::kShmsize:
      return Unit::kBytes;
    case Resource::kWallclock:
      return Unit::kSeconds;
    case Resource::kPcpu:
      return Unit::kPercent;
    case Resource::kReadbps:
      return Unit::kBytesPerSecond;
    case Resource::kWritebps:
      return Unit::kBytesPerSecond;
    case Resource::kReadiops:
      return Unit::kOpsPerSecond;
    case Resource::kWriteiops:
      return Unit::kOpsPerSecond;
  }
  return Unit::kCount;  // unreachable: every enumerator is handled above
}

std::string_view UnitSuffix(Unit unit) {
  switch (unit) {
    case Unit::kCount:
      return "";
    case Unit::kBytes:
      return "_bytes";
    case Unit::kSeconds:
      return "_seconds";
    case Unit::kPercent:
      return "_percent";
    case Unit::kBytesPerSecond:
      return "_bytes_per_second";
    case Unit::kOpsPerSecond:
      return "_ops_per_second";
  }
  return "";
}

std::string_view UnitName(Unit unit) {
  const std::string_view suffix = UnitSuffix(unit);
  return suffix.empty() ? suffix : suffix.substr(1);
}

std::string RuleId(std::string_view rule_text) {
  // The amount follows the action, which follows the last ':' (a jail name
  // may contain '=' or ':', an action name never does).
  const std::size_t colon = rule_text.rfind(':');
  const std::size_t eq =
      rule_text.find('=', colon == std::string_view::npos ? 0 : colon);
  if (eq == std::string_view::npos) {
    return std::string(rule_text);
  }
  std::string id(rule_text.substr(0, eq));
  const std::size_t slash = rule_text.find('/', eq);
  if (slash != std::string_view::npos) {
    id.append(rule_text.substr(slash));
  }
  return id;
}

std::string_view MechanismClass(std::string_view m) {
  if (m == "none" || m.empty()) {
    return "none";
  }
  if (m.starts_with("sampler")) {
    return "sampled";
  }
  if (m.starts_with("RLIMIT_")) {
    return "rlimit";
  }
  if (m.starts_with("rctl_")) {
    return "kernel";
  }
  if (m.starts_with("kernel.") || m.starts_with("fs.mqueue")) {
    return "sysctl";
  }
  if (m.starts_with("devpts")) {
    return "devpts";
  }
  for (std::string_view knob : {"memory.", "memsw.", "pids.", "cpu.", "io.", "blkio."}) {
    if (m.starts_with(knob)) {
      return "cgroup";
    }
  }
  return "other";
}

}  // namespace jailwarden::metrics
