// LinuxLimitEnforcer's public methods: registering jails, Apply (desired
// state, then the writers, rolling back on error), Reconcile and the
// sampled-deny clamps. The rule table is DescribeLinuxEnforcement
// (linux_limit_describe.cc, from resource_map.h); the kernel writers are in
// linux_limit_writers.cc.

#include "jailwarden/platform/linux/linux_limit_enforcer.h"

#include <sys/resource.h>

#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "platform/linux/cgroup_reader.h"
#include "platform/linux/devpts_limits.h"
#include "platform/linux/linux_limit_enforcer_impl.h"
#include "platform/linux/rlimits.h"

namespace jailwarden::platform {

using rctl::Action;

namespace {

// The devpts max= in the mount namespace of the jail's init, from its
// /proc/<init>/mountinfo held in `held` (kernel text: no path inside the
// jail's root is followed).
absl::StatusOr<int64_t> HeldDevptsMax(HeldKnobFiles& held, const LinuxJailPaths& paths) {
  JW_ASSIGN_OR_RETURN(std::string info,
                      held.Read(StrCat("/proc/", paths.init_pid, "/mountinfo")));
  return DevptsMaxFromMountinfo(info, paths.init_pid);
}

}  // namespace

LinuxLimitEnforcer::LinuxLimitEnforcer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LinuxLimitEnforcer::~LinuxLimitEnforcer() = default;

absl::StatusOr<std::unique_ptr<LinuxLimitEnforcer>> LinuxLimitEnforcer::Create(
    LinuxLimitEnforcerOptions options) {
  auto impl = std::make_unique<Impl>();
  std::string_view version = options.cgroup_version.empty()
                                 ? DetectCgroupVersion(options.cgroup_root)
                                 : std::string_view(options.cgroup_version);
  // The one place the cgroup version matters: hybrid hosts ("v1" here,
  // their controllers are bound to v1) get the v1 writer.
  impl->cgroup_writer = NewCgroupKnobWriter(version);
  JW_ASSIGN_OR_RETURN(impl->ipc, IpcNamespaceWorker::Start());
  impl->options = std::move(options);
  return std::unique_ptr<LinuxLimitEnforcer>(new LinuxLimitEnforcer(std::move(impl)));
}

std::string_view LinuxLimitEnforcer::cgroup_version() const {
  return impl_->cgroup_writer->version();
}

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
      // The mountinfo is held from now on: the init's namespace as it is
      // now, not whatever process later gets its pid.
      absl::StatusOr<int64_t> max = HeldDevptsMax(j->held, paths);
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
  return DescribeLinuxEnforcement(rule, impl_->cgroup_writer->is_v2());
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
  LinuxDesiredResult want = LinuxDesiredLimits(rules, *impl_->cgroup_writer);
  LinuxDesired previous = j.applied;
  absl::Status st = impl_->WriteAll(j, want.desired);
  if (!st.ok()) {
    absl::Status back = impl_->WriteAll(j, previous);
    if (!back.ok()) {
      LogError("enforcer: could not restore the previous limits",
               {{"jail", jail.name}, {"error", std::string(back.message())}});
    }
    return st;
  }
  j.applied = std::move(want.desired);
  j.sampled_by_context = std::move(want.sampled_by_context);
  return std::move(want.enforcements);
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
    absl::StatusOr<std::set<int64_t>> pids = LinuxJailPids(j.paths);
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

absl::StatusOr<std::vector<LimitDrift>> LinuxLimitEnforcer::CheckAndRepair(
    const JailRef& jail) {
  absl::MutexLock lock(&impl_->mu);
  auto it = impl_->jails.find(jail.name);
  if (it == impl_->jails.end()) {
    return absl::NotFoundError(StrCat("jail ", jail.name, " is not registered"));
  }
  Impl::Jail& j = *it->second;
  std::vector<LimitDrift> drifted;
  const CgroupLimits want = j.applied.cgroup();
  std::vector<std::string> devices;
  if (want.io_limited()) {
    if (absl::StatusOr<std::vector<std::string>> devs = impl_->Devices(j); devs.ok()) {
      devices = *std::move(devs);
    }
  }
  absl::Status read = impl_->cgroup_writer->Check(j.paths, want, devices, j.held, &drifted);
  if (!drifted.empty()) {
    // Everything again, in the writer's order (v1 memsw after memory).
    JW_RETURN_IF_ERROR(impl_->cgroup_writer->Write(j.paths, want, want, devices));
  }
  if (j.applied.has(LinuxLimitSlot::kDevpts) && j.devpts_applied != kNoLinuxLimit) {
    absl::StatusOr<int64_t> max = HeldDevptsMax(j.held, j.paths);
    if (max.ok() && *max != j.devpts_applied) {
      drifted.push_back(LimitDrift{"pseudoterminals", "devpts max=", StrCat(*max),
                                   StrCat(j.devpts_applied), false});
      JW_RETURN_IF_ERROR(SetDevptsMax(j.paths.init_pid, j.devpts_applied));
    }
  }
  JW_RETURN_IF_ERROR(impl_->CheckIpc(j, &drifted));
  for (LimitDrift& d : drifted) {
    d.repaired = true;
  }
  if (!read.ok() && drifted.empty()) {
    return read;
  }
  return drifted;
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
