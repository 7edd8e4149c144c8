#include "jailwarden/platform/linux/linux_jail_runtime.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/capabilities.h"
#include "jailwarden/platform/linux/jail_scopes.h"
#include "jailwarden/platform/linux/seccomp.h"
#include "platform/linux/cgroup.h"
#include "platform/linux/disk_quota.h"
#include "platform/linux/disk_quota_projects.h"
#include "platform/linux/clone_vfork.h"
#include "platform/linux/exec.h"
#include "platform/linux/init_config.h"
#include "platform/linux/jail_host_files.h"
#include "platform/linux/isolation_status.h"
#include "platform/linux/jail_veth.h"
#include "platform/linux/jail_init_launcher.h"
#include "platform/linux/jail_processes.h"
#include "platform/linux/main_process.h"
#include "platform/linux/proc_parser.h"

namespace jailwarden::platform {
namespace {

constexpr absl::Duration kInitSetupTimeout = absl::Seconds(10);
constexpr absl::Duration kKillTimeout = absl::Seconds(5);

// The state letter and start time (clock ticks since boot) of `pid`, from
// /proc/<pid>/stat; nullopt if it is gone or the text does not parse.
std::optional<ProcStatFields> ReadProcStat(int64_t pid) {
  absl::StatusOr<std::string> text = ReadFile(StrCat("/proc/", pid, "/stat"));
  if (!text.ok()) {
    return std::nullopt;
  }
  return ParseProcStat(*text);
}

std::string NetModeName(NetworkMode m) {
  switch (m) {
    case NetworkMode::kInherit:
      return "inherit";
    case NetworkMode::kNew:
      return "new";
    case NetworkMode::kVnet:
      return "vnet";
  }
  return "inherit";
}

class LinuxJailRuntime final : public JailRuntime {
 public:
  LinuxJailRuntime(LinuxJailRuntimeOptions options, std::string init_path,
                   CgroupLayout layout)
      : options_(std::move(options)), init_path_(std::move(init_path)),
        layout_(std::move(layout)),
        projects_(StrCat(options_.state_dir.empty() ? options_.run_dir : options_.state_dir,
                         "/quota-projects")) {}

  ~LinuxJailRuntime() override {
    absl::MutexLock lock(&mu_);
    for (auto& [name, fd] : pidfds_) {
      close(fd);
    }
    layout_.RemoveParent(options_.cgroup_parent);
  }

  absl::Status Prepare(const JailSpec& spec, JailInstance& inst) override {
    if (spec.path.empty() || spec.path[0] != '/') {
      return absl::InvalidArgumentError(
          StrCat("path ", spec.path, ": not an absolute pathname"));
    }
    // Bad allow.* / linux.capabilities values fail before anything is made.
    if (absl::StatusOr<JailPrivileges> p = JailPrivilegesFor(spec); !p.ok()) {
      return absl::InvalidArgumentError(
          StrCat("jail ", spec.name, ": ", ToStd(p.status().message())));
    }
    JW_ASSIGN_OR_RETURN(std::optional<uint64_t> quota_bytes, DiskQuotaOfJail(spec));
    // On btrfs a thin jail's new writable layer is a subvolume.
    JW_RETURN_IF_ERROR(PrepareJailDiskQuotaLayer(spec, quota_bytes));
    auto& bs = inst.backend_state;
    bs["net.mode"] = NetModeName(spec.network.mode);
    bs["persist"] = spec.persist ? "1" : "0";
    if (!spec.base_root.empty()) {
      if (!PathIsDir(spec.base_root)) {
        return absl::FailedPreconditionError(
            StrCat("base_root ", spec.base_root, ": not a directory"));
      }
      // overlayfs needs the work dir on the upper dir's file system and
      // outside it: a hidden sibling of `path`.
      std::string work = StrCat(Dirname(spec.path), "/.", Basename(spec.path), ".jw-work");
      JW_RETURN_IF_ERROR(MakeDirs(spec.path));
      bs["overlay.lower"] = spec.base_root;
      bs["overlay.upper"] = spec.path;
      bs["overlay.work"] = work;
      JW_RETURN_IF_ERROR(MakeDirs(work, 0700));
      // A directory of its own in the runtime directory only for a thin
      // jail's mount point (a plain jail makes none: each file made is an
      // inode, see bench/README.md).
      std::string rundir = StrCat(options_.run_dir, "/", spec.name);
      JW_RETURN_IF_ERROR(MakeDirs(rundir, 0700));
      bs["rundir"] = rundir;
      std::string root = rundir + "/root";
      JW_RETURN_IF_ERROR(MakeDirs(root));
      bs["root"] = root;
    } else {
      if (!PathIsDir(spec.path)) {
        return absl::FailedPreconditionError(StrCat("path ", spec.path, ": not a directory"));
      }
      bs["root"] = spec.path;
    }
    // Roots closed to host users; `copy` resolved beneath the root
    // (docs/security.md, "Path rules").
    JW_RETURN_IF_ERROR(CloseRootParent(spec.name, spec.path));
    JW_RETURN_IF_ERROR(CopyIntoRoot(spec));
    for (const MountSpec& m : spec.mounts) {
      if (m.target.empty() || m.target[0] != '/') {
        return absl::InvalidArgumentError(StrCat("mount target ", m.target, ": not absolute"));
      }
    }
    JW_RETURN_IF_ERROR(ApplyJailDiskQuota(spec, quota_bytes, projects_, bs));
    if (options_.scopes) {  // made in Create, around the init (jail_scopes.h)
      auto planned = PlannedScopeState(layout_.UnifiedMount(), options_.cgroup_parent, spec.name);
      bs.insert(planned.begin(), planned.end());
      return absl::OkStatus();
    }
    JW_ASSIGN_OR_RETURN(auto cgroups, layout_.Create(options_.cgroup_parent, spec.name));
    bs.insert(cgroups.begin(), cgroups.end());
    return absl::OkStatus();
  }

  absl::Status Create(const JailSpec& spec, JailInstance& inst) override {
    auto& bs = inst.backend_state;
    InitConfig config;
    config.root = bs["root"];
    config.overlay_lower = BackendParam(inst, "overlay.lower");
    config.overlay_upper = BackendParam(inst, "overlay.upper");
    config.overlay_work = BackendParam(inst, "overlay.work");
    config.hostname = spec.hostname.empty() ? spec.name : spec.hostname;
    config.persist = spec.persist;
    config.new_net = spec.network.mode != NetworkMode::kInherit;
    if (auto it = spec.parameters.find("linux.devpts.max"); it != spec.parameters.end()) {
      config.devpts_max = ParseInt<int>(it->second).value_or(0);
    }
    for (const MountSpec& m : spec.mounts) {  // a cgroup file system: read-only, always
      const bool read_only = m.read_only || BindShowsCgroupFilesystem(m);
      config.mounts.push_back({m.source, m.target, m.fstype, read_only, m.options});
    }
    // The jail's privileges (docs/linux-privileges.md): init drops to them
    // after pivot_root; commands entering through the setns helper drop to
    // the recorded set (JailTarget).
    JW_ASSIGN_OR_RETURN(JailPrivileges privileges, JailPrivilegesFor(spec));
    for (const std::string& w : privileges.warnings) {
      LogWarning("jail privileges", {{"jail", spec.name}, {"note", w}});
    }
    config.caps_unrestricted = privileges.unrestricted;
    config.capabilities = privileges.capabilities;
    config.hostname_writable = privileges.set_hostname;
    config.net_sysctls_writable = privileges.net_sysctls;
    if (auto it = spec.parameters.find("linux.sysfs"); it != spec.parameters.end()) {
      config.mount_sysfs = it->second == "true";
    }
    bs["capabilities"] =
        privileges.unrestricted ? "all" : FormatCapabilityList(privileges.capabilities);
    // The seccomp filter (docs/security.md): init installs it; commands
    // entering through the setns helper get the same one (JailTarget).
    config.seccomp = SeccompSettingsToText(privileges.seccomp);
    bs["seccomp"] = config.seccomp;
    // sockaddr_un holds 108 bytes; with a longer run_dir the jail still
    // works, its commands then enter through the setns helper.
    // Jail names have no '.', so <name>.sock never meets a jail's directory.
    config.oom_events_path = OomEventsPathOf(bs);  // issue 17
    std::string socket_path = StrCat(options_.run_dir, "/", spec.name, ".sock");
    if (socket_path.size() < 108) {
      config.socket_path = socket_path;
      bs["init.socket"] = socket_path;
    }

    uint64_t flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
    if (spec.network.mode != NetworkMode::kInherit) {
      flags |= CLONE_NEWNET;
    }
    std::function<absl::Status(int64_t)> place;
    if (options_.scopes) {
      place = [&](int64_t pid) {
        return PlaceInitInScope(*options_.scopes, bs, spec.name, static_cast<pid_t>(pid));
      };
    }
    JW_ASSIGN_OR_RETURN(LaunchedInit init,
                        LaunchJailInit(init_path_, flags, bs, std::move(config), place));
    const int64_t pid = init.pid;
    inst.init_pid = pid;
    inst.started = absl::Now();
    bs["init.pid"] = StrCat(pid);
    if (std::optional<ProcStatFields> ps = ReadProcStat(pid)) {
      bs["init.starttime"] = StrCat(ps->starttime_ticks);
    }
    bs["devpts"] = StrCat("/proc/", pid, "/root/dev/pts");
    bs["netns"] = spec.network.mode == NetworkMode::kInherit ? ""
                                                               : StrCat("/proc/", pid, "/ns/net");
    {
      absl::MutexLock lock(&mu_);
      if (auto it = pidfds_.find(spec.name); it != pidfds_.end()) {
        close(it->second);
      }
      pidfds_[spec.name] = init.pidfd;
    }

    std::string report = ReadJailInitReport(init.report_fd, kInitSetupTimeout);
    if (report != "ok") {
      (void)KillInit(spec.name, inst);
      if (report.empty()) {
        report = StrCat("jailwarden-init (", init_path_, ") exited without a report");
      }
      return absl::InternalError(StrCat("jail ", spec.name, ": ", report));
    }
    return absl::OkStatus();
  }

  absl::Status AttachNetwork(const JailSpec& spec, JailInstance& inst) override {
    if (spec.network.mode != NetworkMode::kVnet) {
      return absl::OkStatus();
    }
    auto& bs = inst.backend_state;
    LinuxVeth veth = LinuxVethFor(spec.name, inst.init_pid);
    bs["veth.host"] = veth.host_if;
    bs["veth.jail"] = veth.jail_if;
    return AttachLinuxVeth(options_.ip_binary, spec.network, veth, inst.init_pid, bs["netns"]);
  }

  absl::StatusOr<ExecResult> Exec(const JailInstance& inst, ExecWhere where,
                                  const ExecRequest& request) override {
    if (where == ExecWhere::kHost) {
      return ExecAndWait(ExecTarget{}, request);
    }
    JW_ASSIGN_OR_RETURN(ExecTarget t, JailTarget(inst));
    return ExecAndWait(t, request);
  }

  absl::StatusOr<int64_t> Spawn(const JailInstance& inst, const ExecRequest& request) override {
    JW_ASSIGN_OR_RETURN(ExecTarget t, JailTarget(inst));
    return SpawnInJail(t, request, CgroupLayout::MembershipDir(inst.backend_state));
  }

  absl::Status SignalAll(const JailInstance& inst, int host_signal) override {
    JW_ASSIGN_OR_RETURN(std::vector<int64_t> pids, Members(inst));
    for (int64_t pid : pids) {
      if (kill(static_cast<pid_t>(pid), host_signal) != 0 && errno != ESRCH) {
        return ErrnoStatus(errno, StrCat("kill ", pid));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> SignalBiggestConsumer(const JailInstance& inst,
                                                rctl::Resource resource,
                                                int host_signal) override {
    return SignalJailBiggestConsumer(inst, resource, host_signal);
  }

  absl::StatusOr<int> CountProcesses(const JailInstance& inst) override {
    JW_ASSIGN_OR_RETURN(std::vector<int64_t> pids, Members(inst));
    return static_cast<int>(pids.size());
  }

  absl::Status Discard(const JailSpec& spec) override {
    // A btrfs subvolume made for the quota; the jail's project id (its
    // files still charged to it keep it from another name).
    if (spec.parameters.count("linux.disk_quota") == 0) {
      return absl::OkStatus();
    }
    JW_RETURN_IF_ERROR(DiscardJailDiskQuotaLayer(spec));
    return projects_.Release(spec.name);
  }

  std::optional<IsolationStatus> Isolation(const JailInstance& inst) override {
    return ReadLinuxIsolationStatus(inst);  // issue 13 (isolation_status.h)
  }

  absl::Status ClearPersist(JailInstance& inst) override {
    int fd = PidfdFor(inst);
    if (fd < 0) {
      return absl::NotFoundError(StrCat("jail ", inst.ref.name, " is not running"));
    }
    if (syscall(SYS_pidfd_send_signal, fd, SIGUSR1, nullptr, 0) != 0 && errno != ESRCH) {
      return ErrnoStatus(errno, "pidfd_send_signal(SIGUSR1)");
    }
    return absl::OkStatus();
  }

  // Issue 17: the main process, supervised by init (main_process.h).
  absl::StatusOr<MainProcessStatus> StartMain(const JailInstance& inst, const ExecRequest& req,
                                              const MainSpec& spec, const std::string& user) override {
    return StartMainViaInit(BackendParam(inst, "init.socket"), req, spec, user,
                            options_.exec_rlimits ? options_.exec_rlimits(inst.ref.name)
                                                  : std::vector<std::array<uint64_t, 3>>{});
  }
  absl::StatusOr<MainProcessStatus> MainStatus(const JailInstance& inst) override {
    return MainStatusViaInit(BackendParam(inst, "init.socket"));
  }
  absl::StatusOr<MainProcessStatus> StopMain(const JailInstance& inst, absl::Duration t) override {
    return StopMainViaInit(BackendParam(inst, "init.socket"), t);
  }

  absl::Status Remove(JailInstance& inst) override {
    // Kill pid 1 first: the kernel then kills the jail's pid namespace and
    // its helper (outside the namespace) reaps its command before we kill
    // the rest of the cgroup; killing everything at once could orphan a
    // command to the host's init, which would keep the namespace alive.
    JW_RETURN_IF_ERROR(KillInit(inst.ref.name, inst));
    return CgroupLayout::KillAll(inst.backend_state, kKillTimeout);
  }

  absl::Status Teardown(const JailSpec& spec, JailInstance& inst) override {
    absl::Status first;
    auto keep = [&first](absl::Status s) {
      if (first.ok() && !s.ok()) {
        first = std::move(s);
      }
    };
    std::string host_if = BackendParam(inst, "veth.host");
    if (!host_if.empty() && HostPathExists(StrCat("/sys/class/net/", host_if))) {
      absl::Status s = RunHostTool({options_.ip_binary, "link", "del", host_if});
      // The pair also dies with the jail's netns; gone meanwhile is fine.
      if (!s.ok() && HostPathExists(StrCat("/sys/class/net/", host_if))) {
        keep(s);
      }
    }
    // A start killed between its mkdirs and the record's save leaves
    // cgroups the record does not name; the jail's name fixes where they
    // are, so they go too (no other jail can have this name meanwhile).
    std::map<std::string, std::string> cgroups = inst.backend_state;
    if (!options_.scopes) {
      std::map<std::string, std::string> planned =
          layout_.Planned(options_.cgroup_parent, spec.name);
      cgroups.insert(planned.begin(), planned.end());
    }
    keep(CgroupLayout::Remove(cgroups));
    if (options_.scopes) {
      keep(RemoveJailScope(*options_.scopes, inst.backend_state));
    }
    keep(ClearJailDiskQuota(spec, inst.backend_state));
    std::string work = BackendParam(inst, "overlay.work");
    if (!work.empty()) {
      keep(RemoveTree(work));
    }
    std::string socket = BackendParam(inst, "init.socket");
    if (!socket.empty() && unlink(socket.c_str()) != 0 && errno != ENOENT) {
      keep(ErrnoStatus(errno, StrCat("unlink ", socket)));
    }
    std::string rundir = BackendParam(inst, "rundir");
    if (!rundir.empty()) {
      keep(RemoveTree(rundir));
    }
    (void)spec;
    {
      absl::MutexLock lock(&mu_);
      if (auto it = pidfds_.find(inst.ref.name); it != pidfds_.end()) {
        close(it->second);
        pidfds_.erase(it);
      }
    }
    return first;
  }

  absl::StatusOr<bool> Adopt(JailInstance& inst) override {
    if (inst.init_pid <= 0) {
      return false;
    }
    {
      absl::MutexLock lock(&mu_);
      if (auto it = pidfds_.find(inst.ref.name); it != pidfds_.end()) {
        struct pollfd pfd = {it->second, POLLIN, 0};
        if (poll(&pfd, 1, 0) == 0) {
          return true;
        }
        ReapIfChild(it->second);
        return false;
      }
    }
    std::optional<ProcStatFields> ps = ReadProcStat(inst.init_pid);
    if (!ps || ps->state == 'Z' || ps->state == 'X' ||
        StrCat(ps->starttime_ticks) != BackendParam(inst, "init.starttime")) {
      if (ps && (ps->state == 'Z')) {
        int fd = static_cast<int>(syscall(SYS_pidfd_open, inst.init_pid, 0));
        if (fd >= 0) {
          ReapIfChild(fd);
          close(fd);
        }
      }
      return false;
    }
    // The pid is the recorded one (same start time); make sure it is still
    // in the jail's cgroup, then hold a pidfd so it cannot be confused with
    // a reused pid from now on.
    std::string dir = CgroupLayout::MembershipDir(inst.backend_state);
    absl::StatusOr<std::vector<int64_t>> pids = CgroupLayout::ReadProcs(dir);
    if (!pids.ok() ||
        std::find(pids->begin(), pids->end(), inst.init_pid) == pids->end()) {
      return false;
    }
    int fd = static_cast<int>(syscall(SYS_pidfd_open, inst.init_pid, 0));
    if (fd < 0) {
      return false;
    }
    absl::MutexLock lock(&mu_);
    pidfds_[inst.ref.name] = fd;
    return true;
  }

 private:
  static void ReapIfChild(int pidfd) {
    siginfo_t info;
    // ECHILD when the init is not our child (adopted after a restart): the
    // host's init (or a subreaper) reaps it.
    while (waitid(static_cast<idtype_t>(3) /* P_PIDFD */, static_cast<id_t>(pidfd), &info,
                  WEXITED) != 0 &&
           errno == EINTR) {
    }
  }

  int PidfdFor(const JailInstance& inst) {
    absl::MutexLock lock(&mu_);
    auto it = pidfds_.find(inst.ref.name);
    return it == pidfds_.end() ? -1 : it->second;
  }

  // SIGKILLs the jail's pid 1 and waits until it is gone (reaping it when
  // it is our child).
  absl::Status KillInit(const std::string& name, const JailInstance& inst) {
    int fd;
    {
      absl::MutexLock lock(&mu_);
      auto it = pidfds_.find(name);
      fd = it == pidfds_.end() ? -1 : it->second;
      if (it != pidfds_.end()) {
        pidfds_.erase(it);
      }
    }
    if (fd < 0) {
      JailInstance copy = inst;
      absl::StatusOr<bool> alive = Adopt(copy);
      if (!alive.ok() || !*alive) {
        return absl::OkStatus();
      }
      absl::MutexLock lock(&mu_);
      fd = pidfds_[name];
      pidfds_.erase(name);
    }
    if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) != 0 && errno != ESRCH) {
      int err = errno;
      close(fd);
      return ErrnoStatus(err, "pidfd_send_signal(SIGKILL)");
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    int rc = poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(kKillTimeout)));
    if (rc > 0) {
      ReapIfChild(fd);
    }
    close(fd);
    if (rc == 0) {
      return absl::DeadlineExceededError(StrCat("jail ", name, ": pid 1 did not exit"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ExecTarget> JailTarget(const JailInstance& inst) {
    return JailExecTarget(inst, options_);
  }

  absl::StatusOr<std::vector<int64_t>> Members(const JailInstance& inst) {
    return JailMembers(inst);
  }

  LinuxJailRuntimeOptions options_;
  std::string init_path_;
  CgroupLayout layout_;
  DiskQuotaProjects projects_;  // linux.disk_quota's project ids
  absl::Mutex mu_;
  std::map<std::string, int> pidfds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<JailRuntime>> NewLinuxJailRuntime(
    LinuxJailRuntimeOptions options) {
  if (options.run_dir.empty() || options.run_dir[0] != '/') {
    return absl::InvalidArgumentError("run_dir must be an absolute path");
  }
  JW_RETURN_IF_ERROR(MakeDirs(options.run_dir, 0700));
  // Thin jails' roots are mounted below it (in the jails' own mount
  // namespaces, but the mount points are here): closed to host users,
  // also when an older version made it.
  JW_RETURN_IF_ERROR(CloseToOthers(options.run_dir).status());
  JW_ASSIGN_OR_RETURN(std::string init, FindJailInit(options.init_path));
  JW_ASSIGN_OR_RETURN(std::string self_cgroup, ReadFile("/proc/self/cgroup"));
  JW_ASSIGN_OR_RETURN(CgroupLayout layout,
                      CgroupLayout::Detect(options.cgroup_root, self_cgroup));
  if (options.scopes && layout.name() != "v2") {
    return absl::FailedPreconditionError(
        StrCat("systemd scopes for jails need the unified-only cgroup layout, not ", layout.name()));
  }
  return std::unique_ptr<JailRuntime>(
      new LinuxJailRuntime(std::move(options), std::move(init), std::move(layout)));
}

}  // namespace jailwarden::platform
