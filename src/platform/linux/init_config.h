#pragma once

// What jailwarden-init (the jail's pid 1) sets up before it supervises,
// sent by the runtime as JSON over a pipe. Shared by linux_jail_runtime.cc
// and init_main.cc. Deliberately free of abseil so the init binary stays
// small and starts fast (it is on the one-shot `run` path).

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace jailwarden::platform {

struct InitMount {
  std::string source;
  std::string target;  // inside the jail, absolute
  std::string fstype;  // "nullfs" (bind) or "tmpfs"
  bool read_only = false;
  std::string options;
};

struct InitConfig {
  std::string root;  // directory to pivot_root into (mount point for overlay)
  std::string overlay_lower, overlay_upper, overlay_work;  // thin jail
  std::string hostname;
  bool persist = false;  // after clear-persist (SIGUSR1), stay with no processes
  bool new_net = false;  // bring lo up
  int devpts_max = 0;    // 0 = kernel default
  // CgroupLayout::JoinFiles: "0" written to each, from init's only thread,
  // before unshare(CLONE_NEWCGROUP).
  std::vector<std::string> cgroup_join;
  std::vector<InitMount> mounts;
  // Host path of the SOCK_SEQPACKET socket init listens on for commands to
  // run in the jail (bound before pivot_root). "" = none.
  std::string socket_path;
  // The jail's privileges (JailPrivileges, capabilities.h). After
  // pivot_root init drops to `capabilities` (bounding, permitted,
  // effective; inheritable and ambient emptied) unless `caps_unrestricted`,
  // so everything it starts afterwards has at most that set.
  uint64_t capabilities = 0;
  bool caps_unrestricted = false;  // linux.capabilities: all
  // In the jail's /proc, /proc/sys (and sysrq-trigger, irq, bus, fs, acpi)
  // are read-only; these stay writable: kernel/hostname (allow.set_hostname)
  // and net (vnet: the jail's own stack).
  bool hostname_writable = false;
  bool net_sysctls_writable = false;
  // linux.sysfs: a sysfs at the jail's /sys, read-only, with runc's masked
  // paths hidden (/sys/firmware, /sys/devices/virtual/powercap, ...).
  bool mount_sysfs = false;
  // The jail's seccomp filter as SeccompSettingsToText writes it
  // (jailwarden/platform/linux/seccomp.h). Init builds and installs it
  // after pivot_root, before dropping capabilities; everything it starts
  // inherits it. "" = no filter (a runtime from before the filter).
  std::string seccomp;
  // ---- issue 17: the main process ----
  // Host path of the jail cgroup's OOM counter file (v2 memory.events, v1
  // memory.oom_control; both have an "oom_kill N" line), opened read-only
  // before pivot_root so a main process's exit can be told apart as an OOM
  // kill. "" = none (no memory controller).
  std::string oom_events_path;
  // An OCI container (init_oci.h): InitOciProcessToJson of its process.
  // Init then execs that process after `oci start` instead of
  // supervising. "" = a native jail.
  std::string oci_process;
};

// How init supervises the jail's main process (`command:`,
// platform::MainSpec), sent with the "main.start" request.
struct InitMainSpec {
  std::string user;           // exec.jail_user: name or uid; "" = root
  int restart = 1;            // 0 no, 1 on-failure, 2 always
  int64_t backoff_initial_ms = 1000;
  int64_t backoff_max_ms = 60000;
  int limit_count = 5;        // restarts allowed within limit_window_ms
  int64_t limit_window_ms = 60000;
};

// What init knows about the main process: answered to "main.status" and
// "main.stop" as JSON. Times are wall clock, Unix milliseconds.
struct InitMainStatus {
  bool configured = false;   // a main.start was accepted
  bool running = false;
  int32_t pid = 0;           // in the jail's pid namespace, when running
  int64_t starts = 0;        // times started (the first included)
  int64_t restarts = 0;      // starts after the first
  bool gave_up = false;      // restart limit reached: stays down
  bool stopped = false;      // main.stop asked it down
  bool exited = false;       // the fields below describe an exit
  int exit_code = -1;        // when exited by exit()
  int exit_signal = 0;       // when killed (jail's signal number)
  bool oom_killed = false;   // the cgroup's oom_kill counter rose meanwhile
  int64_t exit_time_ms = 0;
  int64_t next_start_ms = 0;  // a restart is due then (0 = none)
};

std::string InitMainStatusToJson(const InitMainStatus& status);
bool InitMainStatusFromJson(const std::string& text, InitMainStatus* status, std::string* error);
// ---- end issue 17 ----

// A command init runs for the runtime: one request message, with the
// command's stdin/stdout/stderr passed as SCM_RIGHTS. Init answers with the
// child's pid (int32, in the jail's pid namespace) and, unless `spawn`,
// later with its wait status (int32); closing the connection before that
// SIGKILLs the child (exec.timeout).
struct InitRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "K=V"
  bool spawn = false;            // detach: no status, new session
  // setrlimit before exec: {RLIMIT_*, soft, hard}.
  std::vector<std::array<uint64_t, 3>> rlimits;
  // Issue 17: "" runs argv as above; "main.start" makes argv the supervised
  // main process (with `main`; fds as for a command, kept for restarts),
  // answered with InitMainStatus JSON; "main.status" answers it;
  // "main.stop" sends SIGTERM to the main process group, SIGKILL after
  // `stop_timeout_ms`, and answers once it is down.
  std::string op;
  InitMainSpec main;
  int64_t stop_timeout_ms = 0;
};

std::string InitRequestToJson(const InitRequest& request);
bool InitRequestFromJson(const std::string& text, InitRequest* request, std::string* error);

std::string InitConfigToJson(const InitConfig& config);
// Returns false and sets *error on bad JSON.
bool InitConfigFromJson(const std::string& text, InitConfig* config, std::string* error);

}  // namespace jailwarden::platform
