// LinuxLimitEnforcer's kernel writers: cgroup knobs (through the host's
// CgroupKnobWriter), the IPC sysctls of the jail's namespace, its devpts
// max= and the rlimits of its processes.

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/devpts_limits.h"
#include "platform/linux/linux_limit_enforcer_impl.h"
#include "platform/linux/proc_parser.h"
#include "platform/linux/rlimits.h"

namespace jailwarden::platform {

absl::StatusOr<std::set<int64_t>> LinuxJailPids(const LinuxJailPaths& paths) {
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

absl::Status LinuxLimitEnforcer::Impl::WriteCgroups(Jail& j, const LinuxDesired& d) {
  const CgroupLimits want = d.cgroup();
  const CgroupLimits before = j.applied.cgroup();
  const bool io_wanted = want.io_limited();
  std::vector<std::string> devices;
  if (io_wanted || before.io_limited()) {
    absl::StatusOr<std::vector<std::string>> devs = Devices(j);
    if (!devs.ok()) {
      if (io_wanted) {
        return devs.status();
      }
    } else {
      devices = *devs;
    }
  }
  return cgroup_writer->Write(j.paths, want, before, devices);
}

absl::Status LinuxLimitEnforcer::Impl::WriteIpc(Jail& j, const LinuxDesired& d) {
  const bool wanted = d.has(LinuxLimitSlot::kMsgmni) || d.has(LinuxLimitSlot::kMsgmnb) ||
                      d.has(LinuxLimitSlot::kSemmns) || d.has(LinuxLimitSlot::kSemopm) ||
                      d.has(LinuxLimitSlot::kShmmni) || d.has(LinuxLimitSlot::kShmall);
  if (!j.have_ipc_baseline) {
    if (wanted) {
      return absl::FailedPreconditionError(
          StrCat("jail ", j.paths.name, ": its IPC namespace is not reachable"));
    }
    return absl::OkStatus();
  }
  IpcSysctls want = j.ipc_baseline;
  auto lower = [](int64_t& field, int64_t v) {
    if (v != kNoLinuxLimit && v < field) {
      field = v;
    }
  };
  lower(want.msgmni, d.at(LinuxLimitSlot::kMsgmni));
  lower(want.msgmnb, d.at(LinuxLimitSlot::kMsgmnb));
  lower(want.sem[1], d.at(LinuxLimitSlot::kSemmns));
  lower(want.sem[2], d.at(LinuxLimitSlot::kSemopm));
  lower(want.shmmni, d.at(LinuxLimitSlot::kShmmni));
  if (d.has(LinuxLimitSlot::kShmall)) {
    lower(want.shmall, d.at(LinuxLimitSlot::kShmall) / sysconf(_SC_PAGESIZE));
  }
  if (want == j.ipc_applied) {
    return absl::OkStatus();
  }
  IpcSysctls current = j.ipc_applied;
  JW_RETURN_IF_ERROR(ipc->RunIn(j.ipc_ns, [&] { return WriteIpcSysctlsHere(want, &current); }));
  j.ipc_applied = want;
  return absl::OkStatus();
}

absl::Status LinuxLimitEnforcer::Impl::CheckIpc(Jail& j, std::vector<LimitDrift>* drifted) {
  if (!j.have_ipc_baseline || j.ipc_applied == j.ipc_baseline) {
    return absl::OkStatus();  // nothing limited: nothing of ours to drift
  }
  IpcSysctls now;
  JW_RETURN_IF_ERROR(ipc->RunIn(j.ipc_ns, [&]() -> absl::Status {
    JW_ASSIGN_OR_RETURN(now, ReadIpcSysctlsHere());
    return absl::OkStatus();
  }));
  if (now == j.ipc_applied) {
    return absl::OkStatus();
  }
  const IpcSysctls& want = j.ipc_applied;
  auto check = [&](const char* resource, const char* sysctl, int64_t found, int64_t wanted) {
    if (found != wanted) {
      drifted->push_back(LimitDrift{resource, sysctl, StrCat(found), StrCat(wanted), false});
    }
  };
  check("nmsgq", "kernel.msgmni", now.msgmni, want.msgmni);
  check("msgqsize", "kernel.msgmnb", now.msgmnb, want.msgmnb);
  check("nsem", "kernel.sem SEMMNS", now.sem[1], want.sem[1]);
  check("nsemop", "kernel.sem SEMOPM", now.sem[2], want.sem[2]);
  check("nshm", "kernel.shmmni", now.shmmni, want.shmmni);
  check("shmsize", "kernel.shmall", now.shmall, want.shmall);
  return ipc->RunIn(j.ipc_ns, [&] { return WriteIpcSysctlsHere(want, &now); });
}

absl::Status LinuxLimitEnforcer::Impl::WriteDevpts(Jail& j, const LinuxDesired& d) {
  const bool wanted = d.has(LinuxLimitSlot::kDevpts);
  int64_t want = wanted ? d.at(LinuxLimitSlot::kDevpts) : j.devpts_baseline;
  if (want == kNoLinuxLimit || want == j.devpts_applied) {
    if (wanted && j.devpts_baseline == kNoLinuxLimit) {
      return absl::FailedPreconditionError(
          StrCat("jail ", j.paths.name, " has no devpts instance of its own"));
    }
    return absl::OkStatus();
  }
  JW_RETURN_IF_ERROR(SetDevptsMax(j.paths.init_pid, want));
  j.devpts_applied = want;
  return absl::OkStatus();
}

absl::Status LinuxLimitEnforcer::Impl::WriteRlimits(Jail& j, const LinuxDesired& d,
                                                     bool only_new) {
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
  absl::StatusOr<std::string> procs = j.held.Read(JoinCgroupPath(dir, "cgroup.procs"));
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
        std::optional<ProcStatusUids> uids;
        if (text.ok()) {
          uids = ParseProcStatusUids(*text);
        }
        if (uids) {
          if (auto it = d.by_uid.find(uids->ruid); it != d.by_uid.end()) {
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

}  // namespace jailwarden::platform
