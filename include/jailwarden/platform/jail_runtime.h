#pragma once

// The OS primitives the jail layer drives in jail(8)'s order
// (../shared/reference/freebsd-rctl.md §11.3). The jail layer owns ordering,
// hooks, rollback, `depend` and state; a backend only does each step.
// Implementations: platform/linux (namespaces, pivot_root, cgroups) and
// platform/freebsd (libjail, nmount, through the syscall seam).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/platform/jail_spec.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/platform/usage_reader.h"

namespace jailwarden::platform {

// A running (or half-made) jail as the backend knows it. Serializable by
// the jail layer into state; `backend_state` is the backend's own data
// (cgroup paths, veth names, mount list) needed to adopt and tear down.
struct JailInstance {
  JailRef ref;
  int64_t init_pid = -1;  // Linux: the jail's pid-1 supervisor on the host
  absl::Time started = absl::InfinitePast();  // wall clock
  std::map<std::string, std::string> backend_state;
};

// Where a hook command runs: the host ("system environment") or inside the
// jail ("jail environment").
enum class ExecWhere : uint8_t { kHost, kJail };

struct ExecRequest {
  std::vector<std::string> argv;         // argv[0] resolved with PATH
  std::map<std::string, std::string> env;  // added to (or, clean, replaces)
  bool clean_env = false;
  absl::Duration timeout = absl::ZeroDuration();  // 0 = none
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // -1 = /dev/null
  // A pseudo-terminal instead of the three fds above (jail commands only;
  // the Linux backend opens it from the jail's own devpts, never the
  // host's): the command gets the slave as its controlling terminal on
  // fds 0-2 (setsid, TIOCSCTTY), sized tty_rows x tty_cols (0: the
  // kernel's default). `on_tty` is called once, on the calling thread,
  // with the master after the command started and before the call waits
  // for it; the callee owns the fd (closes it). A backend without
  // terminals answers Unimplemented.
  bool tty = false;
  uint16_t tty_rows = 0, tty_cols = 0;
  std::function<void(int master_fd)> on_tty;
};

struct ExecResult {
  int exit_code = -1;    // valid when !signaled
  int term_signal = 0;   // host signal number when killed
  bool timed_out = false;
  // The errno execve(argv[0]) failed with, reported by the child itself
  // (ENOENT, EACCES, ENOEXEC...): the command never ran and exit_code is
  // 127 or 126 as a shell's. 0 when it ran, or the backend cannot tell.
  int exec_errno = 0;
  bool ok() const { return !timed_out && term_signal == 0 && exit_code == 0; }
};

// ---- issue 17: the supervised main process (`command:`) ----

// What the jail's supervisor knows about its main process. Times are wall
// clock.
struct MainProcessStatus {
  bool configured = false;  // a main process was started in this jail
  bool running = false;
  int64_t pid = 0;          // in the jail's pid namespace, when running
  int64_t starts = 0;       // the first start included
  int64_t restarts = 0;     // starts after the first
  bool gave_up = false;     // restart limit reached: stays down
  bool stopped = false;     // stopped by StopMain
  bool exited = false;      // the exit fields below are set
  int exit_code = -1;       // when it called exit
  int exit_signal = 0;      // when killed by a signal
  bool oom_killed = false;  // the jail's cgroup counted an OOM kill meanwhile
  absl::Time exit_time = absl::InfinitePast();
  absl::Time next_start = absl::InfinitePast();  // restart due (else past)
};

// ---- end issue 17 ----

// ---- issue 13: what isolates a running jail, as the kernel holds it ----

// One isolation layer of a jail (docs/security.md) and whether it is in
// force. `layer` is one of kIsolationLayers.
struct IsolationLayer {
  std::string layer;
  bool on = false;
};

// The layers, in the order reported (API and /metrics label values):
//   seccomp       the jail's processes run under jailwarden's filter
//   userns        no new user namespace can be made in the jail
//   keyring       the keyring calls are refused (the user keyring is host
//                 root's: no user namespace)
//   cgroup_ro     the jail's processes sit in a leaf below the cgroup that
//                 carries its limits, out of their reach
//   masked_paths  runc's masked /proc paths are hidden in the jail
//   disk_quota    linux.disk_quota is enforced on the writable layer
inline constexpr const char* kIsolationLayers[] = {"seccomp",   "userns",       "keyring",
                                                   "cgroup_ro", "masked_paths", "disk_quota"};

// A disk quota in force on a jail's writable layer. `mechanism` is one of
// "ext4_project", "xfs_project" (a project quota), "btrfs_qgroup" (the
// layer subvolume's qgroup limit); a layer on tmpfs is refused at start:
// its size= is the jail's own mount option. Bytes.
struct DiskQuotaStatus {
  std::string mechanism;
  uint64_t limit_bytes = 0;
  std::optional<uint64_t> used_bytes;  // the project's usage; none if unreadable
};

// The isolation of one running jail, as Enforcement is of a rule: what is
// on, and what the policy relaxed.
struct IsolationStatus {
  std::vector<IsolationLayer> layers;  // every kIsolationLayers entry, in order
  // The filter's relaxations by allow.* ("mount", "time", "quotas") and
  // linux.seccomp's lists of system call names.
  std::vector<std::string> seccomp_relaxed;
  std::vector<std::string> seccomp_allow;
  std::vector<std::string> seccomp_deny;
  std::optional<DiskQuotaStatus> disk_quota;
  // The jail's mount table was longer than the backend reads for this
  // report (Linux: 256 KiB of /proc/PID/mountinfo): what comes from it
  // (masked_paths) was read from its start only.
  bool mountinfo_truncated = false;
};

// ---- end issue 13 ----

class JailRuntime {
 public:
  virtual ~JailRuntime() = default;

  // Steps before the kernel jail exists: root filesystem (thin overlay),
  // addresses, mounts, copies. Idempotent; `instance` records what was done
  // so Teardown can undo exactly that.
  virtual absl::Status Prepare(const JailSpec& spec, JailInstance& instance) = 0;

  // Creates the kernel jail (jail_set(JAIL_CREATE) / namespaces + pid 1).
  // After this, ExecIn may run commands in it.
  virtual absl::Status Create(const JailSpec& spec, JailInstance& instance) = 0;

  // Moves vnet interfaces in and configures them (jail(8) step 12).
  virtual absl::Status AttachNetwork(const JailSpec& spec,
                                     JailInstance& instance) = 0;

  // Runs a command on the host or in the jail and waits for it.
  virtual absl::StatusOr<ExecResult> Exec(const JailInstance& instance,
                                          ExecWhere where,
                                          const ExecRequest& request) = 0;

  // Starts a command in the jail without waiting; returns its host pid.
  virtual absl::StatusOr<int64_t> Spawn(const JailInstance& instance,
                                        const ExecRequest& request) = 0;

  // Sends `host_signal` to every process in the jail except its pid 1.
  virtual absl::Status SignalAll(const JailInstance& instance,
                                 int host_signal) = 0;

  // An rctl signal action on a sampled memory resource (memoryuse,
  // vmemoryuse, swapuse): sends `host_signal` to the jail's biggest
  // consumer of that memory, never its pid 1, and returns its host pid.
  // NotFound when the jail has no other process; Unimplemented where the
  // backend cannot tell (the caller then signals every process but pid 1).
  virtual absl::StatusOr<int64_t> SignalBiggestConsumer(const JailInstance& instance,
                                                        rctl::Resource resource,
                                                        int host_signal) {
    (void)instance, (void)resource, (void)host_signal;
    return absl::UnimplementedError("this backend does not pick a process to signal");
  }

  // Number of processes in the jail, not counting the supervisor.
  virtual absl::StatusOr<int> CountProcesses(const JailInstance& instance) = 0;

  // Removes the kernel jail, killing whatever is left (jail_remove).
  virtual absl::Status Remove(JailInstance& instance) = 0;

  // Undoes Prepare: unmounts, removes addresses/veths, cgroups, overlay
  // work dirs. Tolerates parts already gone.
  virtual absl::Status Teardown(const JailSpec& spec,
                                JailInstance& instance) = 0;

  // After `destroy` stopped the jail (Teardown done): removes what the
  // backend made for it that outlives a stop (Linux: the btrfs subvolume
  // made for a thin jail's linux.disk_quota). Idempotent; OK when there is
  // nothing. The default has nothing to remove.
  virtual absl::Status Discard(const JailSpec& spec) {
    (void)spec;
    return absl::OkStatus();
  }

  // After a restart: is this recorded instance still running? Refreshes
  // `instance` (pids, handles) when it is.
  virtual absl::StatusOr<bool> Adopt(JailInstance& instance) = 0;

  // Ends jail(8)'s temporary persist after exec.poststart (clear_persist in
  // usr.sbin/jail/jail.c): from then on a jail whose spec has
  // persist=false goes away when its last process exits. Added for the
  // Linux backend, whose pid-1 supervisor holds the jail; the default does
  // nothing (a kernel that tracks persist itself needs no call).
  virtual absl::Status ClearPersist(JailInstance& instance) {
    (void)instance;
    return absl::OkStatus();
  }

  // ---- issue 17: the supervised main process ----

  // Starts `request` (argv, env, stdio fds) as the jail's supervised main
  // process, run as `user` (exec.jail_user, "" = root) and restarted per
  // `spec`. The supervisor lives in the jail's pid 1 and outlives the
  // daemon. Unimplemented where the backend has no supervisor.
  virtual absl::StatusOr<MainProcessStatus> StartMain(const JailInstance& instance,
                                                      const ExecRequest& request,
                                                      const MainSpec& spec,
                                                      const std::string& user) {
    (void)instance, (void)request, (void)spec, (void)user;
    return absl::UnimplementedError("this backend cannot supervise a command");
  }

  // The supervisor's record. Thread-safe; bounded by a short timeout.
  virtual absl::StatusOr<MainProcessStatus> MainStatus(const JailInstance& instance) {
    (void)instance;
    return absl::UnimplementedError("this backend cannot supervise a command");
  }

  // SIGTERM to the main process's group, SIGKILL after `timeout`; no
  // restart after. Returns once it is down.
  virtual absl::StatusOr<MainProcessStatus> StopMain(const JailInstance& instance,
                                                     absl::Duration timeout) {
    (void)instance, (void)timeout;
    return absl::UnimplementedError("this backend cannot supervise a command");
  }

  // ---- end issue 17 ----

  // Issue 13: the running jail's isolation, read from the kernel where it
  // can be (the filter mode of its pid 1, its mount table, the quota's
  // usage) and from the runtime state otherwise. Thread-safe; a few small
  // reads of /proc and one quotactl(2). nullopt where the backend does not
  // report isolation (FreeBSD: the jail(2) itself) or the jail is not
  // running.
  virtual std::optional<IsolationStatus> Isolation(const JailInstance& instance) {
    (void)instance;
    return std::nullopt;
  }
};

}  // namespace jailwarden::platform
