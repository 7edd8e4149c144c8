// create, start, state, kill, delete (runtime.h).

#include "oci/runtime.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>

#include "absl/time/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/seccomp.h"
#include "oci/container_name.h"
#include "oci/create_parts.h"
#include "oci/hooks.h"
#include "oci/limits.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "platform/linux/cgroup.h"
#include "platform/linux/clone_vfork.h"
#include "platform/linux/jail_init_launcher.h"

namespace jailwarden::oci {
namespace {

constexpr char kCgroupParent[] = "jailwarden-oci";

// What the CloneVfork child needs; prepared before the clone.
struct InitChild {
  int cfg_read, report_write;
  int keep[5];  // fifo, console, cfg, report, hook sync: CLOEXEC cleared in the child
  int join_fds[3], join_flags[3], njoins;
  const char* path;
  char** argv;
  char** envp;
};

int StartOciInit(void* arg) {
  const InitChild& c = *static_cast<const InitChild*>(arg);
  for (int i = 0; i < c.njoins; ++i) {
    if (setns(c.join_fds[i], c.join_flags[i]) != 0) {
      return 126;
    }
  }
  for (int fd : c.keep) {
    if (fd >= 0 && fcntl(fd, F_SETFD, 0) != 0) {
      return 127;
    }
  }
  sigset_t none;
  sigemptyset(&none);
  platform::ResetSignalHandlersForExec(none);
  execve(c.path, c.argv, c.envp);
  return 127;
}

// Removes <root>/<id> with what create puts there (the record, the temp
// file of a record write a kill interrupted, the exec fifo). Gone is fine.
absl::Status RemoveContainerDir(const std::string& dir) {
  for (const char* f : {"/exec.fifo", "/state.json", "/state.json.tmp"}) {
    unlink((dir + f).c_str());
  }
  if (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "rmdir " + dir);
  }
  return absl::OkStatus();
}

// SIGKILL to the record's process only while it is still the container's
// init: the pidfd is opened first and the start time checked after, so
// the pidfd names the process the record saw start, never a later one
// that reused the pid (runc's check). A record without a start time names
// no process. True when the signal was sent.
bool KillRecordedInit(const ContainerRecord& r) {
  if (r.pid <= 0 || r.pid_starttime == 0) {
    return false;
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(r.pid), 0));
  if (pidfd < 0) {
    return false;  // gone
  }
  bool sent = ProcessStartTime(r.pid) == r.pid_starttime &&
              syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0;
  close(pidfd);
  return sent;
}

// Kills what the record's cgroups hold (only the container's processes
// are in them) and removes them and the directory; without cgroups, the
// recorded init, verified (KillRecordedInit).
absl::Status Destroy(const GlobalOptions& g, const ContainerRecord& r) {
  if (!r.backend_state.empty()) {
    JW_RETURN_IF_ERROR(platform::CgroupLayout::KillAll(r.backend_state, absl::Seconds(10)));
    JW_RETURN_IF_ERROR(platform::CgroupLayout::Remove(r.backend_state));
  } else {
    (void)KillRecordedInit(r);
  }
  return RemoveContainerDir(ContainerDir(g.root, r.id));
}

absl::Status CreateSteps(const GlobalOptions& g, const CreateOptions& o, const OciPlan& plan,
                         ContainerRecord* rec) {
  const std::string dir = ContainerDir(g.root, o.id);
  // 1. The cgroups, recorded before they are made: a kill -9 anywhere
  //    from here on leaves a `creating` record naming every directory
  //    this create may have made, which `delete --force` removes.
  JW_ASSIGN_OR_RETURN(std::string self_cgroup, ReadFile("/proc/self/cgroup", 1 << 16));
  JW_ASSIGN_OR_RETURN(platform::CgroupLayout layout,
                      platform::CgroupLayout::Detect("/sys/fs/cgroup", self_cgroup));
  //    This is the create's first record (Create writes none before): the
  //    directory alone is what `delete --force` expects of a create killed
  //    earlier. The planned set is a superset of what Create makes (it may
  //    skip the v1 freezer), so no second record is needed once they
  //    exist; every record write costs two fsyncs (bench/README.md).
  rec->backend_state = layout.Planned(kCgroupParent, o.id);
  rec->backend_state["root"] = plan.init.root;
  JW_RETURN_IF_ERROR(SaveRecord(g.root, *rec));
  JW_ASSIGN_OR_RETURN(rec->backend_state, layout.Create(kCgroupParent, o.id));
  rec->backend_state["cgroup.version"] = std::string(layout.name());
  rec->backend_state["root"] = plan.init.root;
  // 2. The exec fifo `start` opens.
  const std::string fifo = dir + "/exec.fifo";
  if (mkfifo(fifo.c_str(), 0600) != 0) {
    return ErrnoStatus(errno, "mkfifo " + fifo);
  }
  int fifo_fd = open(fifo.c_str(), O_PATH | O_CLOEXEC);
  if (fifo_fd < 0) {
    return ErrnoStatus(errno, "open " + fifo);
  }
  int console_fd = -1;
  if (plan.terminal) {
    if (o.console_socket.empty()) {
      close(fifo_fd);
      return absl::InvalidArgumentError("/process/terminal: true needs --console-socket");
    }
    absl::StatusOr<int> c = ConnectConsole(o.console_socket);
    if (!c.ok()) {
      close(fifo_fd);
      return c.status();
    }
    console_fd = *c;
  }
  std::vector<int> join_fds;
  for (const NamespaceJoin& j : plan.joins) {
    int fd = open(j.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      for (int f : join_fds) close(f);
      close(fifo_fd);
      if (console_fd >= 0) close(console_fd);
      return ErrnoStatus(err, "open namespace " + j.path);
    }
    join_fds.push_back(fd);
  }
  int cfg[2], rep[2];
  if (pipe2(cfg, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, "pipe2");
  }
  // The create-phase hooks run while init waits before its pivot_root
  // (hooks.h, AwaitHookPoint); without them init does not stop there.
  auto hooks_of = [&plan](const char* kind) {
    auto it = plan.hooks.find(kind);
    return it == plan.hooks.end() ? std::vector<Hook>{} : it->second;
  };
  const bool pause_for_hooks = !hooks_of("prestart").empty() ||
                               !hooks_of("createRuntime").empty() ||
                               !hooks_of("createContainer").empty();
  int sync[2] = {-1, -1};
  if (pause_for_hooks && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) != 0) {
    return ErrnoStatus(errno, "socketpair");
  }
  platform::InitConfig init = plan.init;
  platform::InitOciProcess proc = plan.process;
  proc.fifo_fd = fifo_fd;
  proc.console_fd = console_fd;
  proc.preserve_fds = o.preserve_fds;
  init.seccomp = platform::SeccompSettingsToText(platform::SeccompSettings{});
  init.oci_process = platform::InitOciProcessToJson(proc);

  JW_ASSIGN_OR_RETURN(std::string init_path, platform::FindJailInit(""));
  std::string argv0 = "jailwarden-init";
  std::string a1 = StrCat("--config-fd=", cfg[0]), a2 = StrCat("--report-fd=", rep[1]);
  char* argv[] = {argv0.data(), a1.data(), a2.data(), nullptr};
  std::string path_env = "PATH=/bin:/usr/bin:/sbin:/usr/sbin";
  char* envp[] = {path_env.data(), nullptr};
  InitChild child{cfg[0], rep[1], {fifo_fd, console_fd, cfg[0], rep[1], sync[1]}, {-1, -1, -1},
                  {0, 0, 0}, 0, init_path.c_str(), argv, envp};
  for (std::size_t i = 0; i < join_fds.size() && i < 3; ++i) {
    child.join_fds[i] = join_fds[i];
    child.join_flags[i] = plan.joins[i].clone_flag;
    child.njoins = static_cast<int>(i + 1);
  }
  int cgroup_fd = -1;
  if (std::string cdir = platform::CgroupLayout::CloneIntoDir(rec->backend_state); !cdir.empty()) {
    cgroup_fd = open(cdir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  int pidfd = -1;
  platform::CloneVforkArgs args;
  args.flags = plan.clone_flags | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
  args.pidfd = &pidfd;
  args.cgroup_fd = cgroup_fd;
  args.exit_signal = SIGCHLD;
  pid_t pid = platform::CloneVfork(args, StartOciInit, &child);
  int clone_err = errno;
  if (cgroup_fd >= 0) close(cgroup_fd);
  for (int f : join_fds) close(f);
  close(cfg[0]);
  close(rep[1]);
  close(fifo_fd);
  if (console_fd >= 0) close(console_fd);
  if (sync[1] >= 0) close(sync[1]);
  if (pid < 0) {
    close(cfg[1]);
    close(rep[0]);
    if (sync[0] >= 0) close(sync[0]);
    return ErrnoStatus(clone_err, "clone3(container namespaces)");
  }
  rec->pid = pid;
  rec->pid_starttime = ProcessStartTime(pid);
  // hooks.startContainer run in init after `start`, with the state as it
  // is then: created, this process's pid.
  if (auto sc = plan.hooks.find("startContainer"); sc != plan.hooks.end()) {
    ContainerRecord created = *rec;
    created.creating = false;
    for (const Hook& h : sc->second) {
      proc.start_container_hooks.push_back(
          platform::InitOciHook{h.path, h.args, h.env, h.timeout_s});
    }
    proc.hook_state = StateJson(g.root, created);
  }
  proc.hook_sync_fd = sync[1];
  for (const Hook& h : hooks_of("createContainer")) {
    proc.create_container_hooks.push_back(
        platform::InitOciHook{h.path, h.args, h.env, h.timeout_s});
  }
  if (!proc.create_container_hooks.empty()) {
    proc.create_hook_state = StateJson(g.root, *rec);  // creating, this pid
  }
  init.oci_process = platform::InitOciProcessToJson(proc);
  init.cgroup_join = platform::CgroupLayout::JoinFiles(rec->backend_state, cgroup_fd >= 0);
  std::string json = platform::InitConfigToJson(init);
  (void)!write(cfg[1], json.data(), json.size());
  close(cfg[1]);
  // The host's create hooks, with the state (status "creating", the pid)
  // on stdin. The record says `creating` until they, createContainer and
  // the pid file are done, so a create killed in a hook is one `delete
  // --force` removes, never a `created` container whose hooks did not run.
  auto host_hooks = [&]() -> absl::Status {
    JW_RETURN_IF_ERROR(SaveRecord(g.root, *rec));
    for (const char* kind : {"prestart", "createRuntime"}) {
      JW_RETURN_IF_ERROR(RunHooks(kind, hooks_of(kind), StateJson(g.root, *rec)));
    }
    return absl::OkStatus();
  };
  absl::Status paused_steps = SetOomScoreAdj(plan, pid);
  if (paused_steps.ok() && sync[0] >= 0) {
    // 3. Init waits before its pivot_root: prestart and createRuntime
    //    now; createContainer runs in init once released.
    bool reached = false;
    paused_steps = AwaitHookPoint(sync[0], absl::Seconds(30), &reached);
    if (paused_steps.ok() && reached) {
      paused_steps = host_hooks();
      if (paused_steps.ok()) {
        paused_steps = ReleaseHookPoint(sync[0]);
      }
    }
  }
  if (sync[0] >= 0) close(sync[0]);  // without 'g': init ends its setup
  std::string report;
  if (paused_steps.ok()) {
    report = platform::ReadJailInitReport(rep[0], absl::Seconds(30));  // closes rep[0]
  } else {
    close(rep[0]);
  }
  if (!paused_steps.ok() || report != "ok") {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    close(pidfd);
    JW_RETURN_IF_ERROR(paused_steps);
    return absl::FailedPreconditionError(
        StrCat("container init: ", report.empty() ? "exited without a report" : report));
  }
  close(pidfd);
  rec->pid_starttime = ProcessStartTime(pid);
  // 4. The limits, once init has made the container's root and before its
  //    process can run: in the pause above /dev/pts is still the host's.
  //    No rules: the enforcer's start-up is skipped. Without create-phase
  //    hooks no record is saved before the final one (step 1's covers it).
  if (!plan.rules.empty()) JW_RETURN_IF_ERROR(ApplyLimits(o.id, *rec, plan.rules, g.debug));
  rec->rules = plan.rules;
  if (!o.pid_file.empty()) {
    JW_RETURN_IF_ERROR(WriteFileAtomically(o.pid_file, std::to_string(pid)));
  }
  rec->creating = false;
  return SaveRecord(g.root, *rec);
}

}  // namespace

absl::Status Create(const GlobalOptions& g, const CreateOptions& o) {
  if (o.id.empty() || o.id.find('/') != std::string::npos || o.id[0] == '.') {
    return absl::InvalidArgumentError(StrCat("invalid container id '", o.id, "'"));
  }
  std::string bundle = o.bundle;
  char resolved[PATH_MAX];
  if (realpath(bundle.c_str(), resolved) == nullptr) {
    return ErrnoStatus(errno, "--bundle " + bundle);
  }
  bundle = resolved;
  JW_ASSIGN_OR_RETURN(std::string config, ReadFile(bundle + "/config.json", 1 << 24));
  absl::StatusOr<OciPlan> plan = PlanFromConfig(config, bundle);
  if (!plan.ok()) {
    return absl::Status(plan.status().code(),
                        StrCat(bundle, "/config.json: ", std::string(plan.status().message())));
  }
  JW_RETURN_IF_ERROR(MakeDirs(g.root, 0700));
  const std::string dir = ContainerDir(g.root, o.id);
  if (mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(StrCat("container with id ", o.id, " already exists"));
    }
    return ErrnoStatus(errno, "mkdir " + dir);
  }
  ContainerRecord rec;
  rec.id = o.id;
  rec.bundle = bundle;
  rec.created = NowRfc3339();
  rec.annotations = plan->annotations;
  rec.name = ContainerName(plan->annotations, o.id);
  rec.seccomp_bpf_hex = plan->process.seccomp_bpf_hex;
  rec.capabilities = plan->init.capabilities;
  auto post = plan->hooks.find("poststop");
  if (post != plan->hooks.end()) {
    rec.poststop_hooks = HooksToJson(post->second);
  }
  if (auto ps = plan->hooks.find("poststart"); ps != plan->hooks.end()) {
    rec.poststart_hooks = HooksToJson(ps->second);
  }
  absl::Status st = CreateSteps(g, o, *plan, &rec);
  if (!st.ok()) {
    (void)Destroy(g, rec);  // nothing half-made stays
    if (rec.pid > 0) {
      // Our child, not yet reaped (so its pid is still its own): killed
      // (Destroy did, through the cgroup) and reaped here, so not even a
      // zombie of the failed container waits for a reaper.
      kill(static_cast<pid_t>(rec.pid), SIGKILL);
      (void)waitpid(static_cast<pid_t>(rec.pid), nullptr, 0);
    }
  }
  return st;
}

absl::Status Start(const GlobalOptions& g, const std::string& id) {
  JW_ASSIGN_OR_RETURN(ContainerRecord rec, LoadRecord(g.root, id));
  std::string status = StatusOf(g.root, rec);
  if (status != "created") {
    return absl::FailedPreconditionError(
        StrCat("cannot start container ", id, " in status ", status));
  }
  const std::string fifo = ContainerDir(g.root, id) + "/exec.fifo";
  int fd = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus(errno, "open " + fifo);
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, rec.pid, 0));
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::Status result = absl::DeadlineExceededError("the container did not start in 30 s");
  while (absl::Now() < deadline) {
    struct pollfd p[2] = {{fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
    poll(p, pidfd >= 0 ? 2 : 1, 100);
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n == 1) {
      result = absl::OkStatus();
      break;
    }
    if (pidfd >= 0 && (p[1].revents & POLLIN) != 0) {
      result = absl::FailedPreconditionError(StrCat("container ", id, " exited before start"));
      break;
    }
  }
  close(fd);
  if (pidfd >= 0) close(pidfd);
  unlink(fifo.c_str());
  JW_RETURN_IF_ERROR(result);
  // hooks.poststart, on the host once the process runs; a failure is
  // reported, not fatal (runtime spec).
  std::vector<Hook> poststart = HooksFromJson(rec.poststart_hooks);
  if (!poststart.empty()) {
    if (absl::Status s = RunHooks("poststart", poststart, StateJson(g.root, rec)); !s.ok()) {
      std::cerr << "jailwarden-oci: warning: " << s.message() << " (ignored: poststart)\n";
    }
  }
  return absl::OkStatus();
}

absl::Status State(const GlobalOptions& g, const std::string& id, std::ostream& out) {
  JW_ASSIGN_OR_RETURN(ContainerRecord rec, LoadRecord(g.root, id));
  out << StateJson(g.root, rec) << "\n";
  return absl::OkStatus();
}

absl::Status ParseSignal(const std::string& text, int* sig) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    int n = std::stoi(text);
    if (n > 0 && n < NSIG) {
      *sig = n;
      return absl::OkStatus();
    }
  } else {
    std::string name = text.rfind("SIG", 0) == 0 ? text.substr(3) : text;
    for (int s = 1; s < NSIG; ++s) {
      const char* abbrev = sigabbrev_np(s);
      if (abbrev != nullptr && name == abbrev) {
        *sig = s;
        return absl::OkStatus();
      }
    }
  }
  return absl::InvalidArgumentError(StrCat("unknown signal '", text, "'"));
}

absl::Status Kill(const GlobalOptions& g, const std::string& id, const std::string& signal,
                  bool all) {
  int sig = SIGTERM;
  JW_RETURN_IF_ERROR(ParseSignal(signal.empty() ? "TERM" : signal, &sig));
  JW_ASSIGN_OR_RETURN(ContainerRecord rec, LoadRecord(g.root, id));
  std::string status = StatusOf(g.root, rec);
  if (all) {
    JW_ASSIGN_OR_RETURN(std::vector<int64_t> pids,
                        platform::CgroupLayout::ReadProcs(
                            platform::CgroupLayout::MembershipDir(rec.backend_state)));
    for (int64_t pid : pids) {
      kill(static_cast<pid_t>(pid), sig);
    }
    return absl::OkStatus();
  }
  if (status == "stopped" || status == "creating") {
    return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, rec.pid, 0));
  if (pidfd < 0) {
    return ErrnoStatus(errno, StrCat("pidfd_open ", rec.pid));
  }
  // The start time is checked after the pidfd is held: the pidfd then
  // names the container's process, not a later one with its pid.
  if (ProcessStartTime(rec.pid) != rec.pid_starttime) {
    close(pidfd);
    return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
  }
  int rc = static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
  int err = errno;
  close(pidfd);
  if (rc != 0) {
    return ErrnoStatus(err, StrCat("kill ", rec.pid, " ", signal));
  }
  return absl::OkStatus();
}

absl::Status Delete(const GlobalOptions& g, const std::string& id, bool force) {
  absl::StatusOr<ContainerRecord> rec = LoadRecord(g.root, id);
  if (!rec.ok()) {
    if (force && absl::IsNotFound(rec.status())) {
      // A create killed between its mkdir and its first record left the
      // directory alone: nothing else of it exists yet.
      return RemoveContainerDir(ContainerDir(g.root, id));
    }
    return rec.status();
  }
  std::string status = StatusOf(g.root, *rec);
  if (!force && (status == "running" || status == "paused")) {
    return absl::FailedPreconditionError(
        StrCat("cannot delete container ", id, " that is not stopped: ", status));
  }
  if (status == "paused") {
    (void)Pause(g, id, false);
  }
  std::string state = StateJson(g.root, *rec);
  JW_RETURN_IF_ERROR(Destroy(g, *rec));
  std::vector<Hook> poststop = HooksFromJson(rec->poststop_hooks);
  (void)RunHooks("poststop", poststop, state);  // errors only logged (spec)
  return absl::OkStatus();
}

}  // namespace jailwarden::oci
