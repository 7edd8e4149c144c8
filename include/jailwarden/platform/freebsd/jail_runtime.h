#pragma once

// FreeBsdJailRuntime: jail(8)'s steps (../shared/reference/freebsd-rctl.md
// §11.3, §11.4) done through the FreeBsdKernel seam. The jail layer calls
// them in jail(8)'s order and runs the exec.* hooks; this class does each
// kernel-facing step the way jail(8) does it:
//   Prepare   exec.consolelog recorded; for vnet without network.interface
//             a jib-style epair (SIOCIFCREATE2, both ends renamed: e0a_NAME
//             on the host, vnet.interface or e0b_NAME for the jail); the
//             spec's copies written below the root (root_files.h, never
//             through a symlink the jail made); then
//             IPv4 then IPv6 aliases (ifconfig IFACE inet ADDR netmask
//             255.255.255.255 alias, as usr.sbin/jail/command.c), then the
//             mounts with nmount(2): thin-jail base (nullfs ro), the spec's
//             mounts (nullfs rw/ro, tmpfs, ...), mount.devfs (devfs with
//             ruleset devfs_ruleset, default 4), mount.fdescfs, mount.procfs
//   Create    jail_setv(JAIL_CREATE, jid, name, path, host.hostname,
//             ip4.addr, ..., persist) — jid is the manager's (instance.ref.jid
//             on entry) unless a foreign jail holds it; a temporary persist,
//             as jail(8) adds when the spec has no persist, is cleared by
//             ClearPersist
//   AttachNetwork  the epair's jail end moved in (SIOCSIFVNET), or a named
//             network.interface (ifconfig IFACE vnet JID); its addresses
//             set inside the jail, vnet.host_ip4 on the host end
//   Exec      with exec.consolelog, output that would be discarded is
//             appended to that file (created 0600)
//   Remove    jail_remove(2)
//   Teardown  unmount in reverse order, the epair destroyed (SIOCIFDESTROY
//             of the host end), then IPv6 and IPv4 aliases removed
//   Adopt     jail_getv by name after a restart
// What was done is recorded in JailInstance::backend_state ("mounts",
// "ip4_aliases", "ip6_aliases": newline-separated; "temporary_persist",
// "vnet_interface", "epair_host", "epair_jail", "consolelog") so Teardown
// undoes exactly that, also after a restart.
//
// Thread-compatible per instance; the kernel must outlive it.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

class FreeBsdMainLauncher;  // jailwarden/platform/freebsd/main_host.h

struct FreeBsdJailRuntimeOptions {
  std::string ifconfig = "/sbin/ifconfig";  // _PATH_IFCONFIG
  int default_devfs_ruleset = 4;            // devfsrules_jail
  Clock* clock = nullptr;                   // for `started`; null = wall clock
  // command: (issue 17): each jail's main-process host binds
  // <main_dir>/<name>.sock and keeps its record in <main_dir>/<name>.status
  // (main_host.h). Absolute, 0700, outside every jail. Empty: StartMain
  // answers FailedPrecondition.
  std::string main_dir;
  // Starts the hosts. Null: SpawningMainLauncher (jailwarden-supervise)
  // on FreeBSD; elsewhere an InProcessMainLauncher over the runtime's
  // kernel (only the fake runs there), which ends with the runtime.
  std::shared_ptr<FreeBsdMainLauncher> main_launcher;
};

class FreeBsdJailRuntime final : public JailRuntime {
 public:
  explicit FreeBsdJailRuntime(FreeBsdKernel& kernel,
                              FreeBsdJailRuntimeOptions options = {});
  ~FreeBsdJailRuntime() override;

  // Errors: InvalidArgument (path not absolute, an address jail(8) would
  // reject), FailedPrecondition (an ifconfig alias command failed, with
  // its exit status), the nmount errno with the kernel's errmsg.
  absl::Status Prepare(const JailSpec& spec, JailInstance& instance) override;
  // Errors carry jail_setv's errno and libjail's jail_errmsg: AlreadyExists
  // (EEXIST), NotFound (ENOENT: parent jail, unknown parameter),
  // InvalidArgument (EINVAL), PermissionDenied (EPERM).
  absl::Status Create(const JailSpec& spec, JailInstance& instance) override;
  absl::Status AttachNetwork(const JailSpec& spec,
                             JailInstance& instance) override;
  absl::StatusOr<ExecResult> Exec(const JailInstance& instance, ExecWhere where,
                                  const ExecRequest& request) override;
  absl::StatusOr<int64_t> Spawn(const JailInstance& instance,
                                const ExecRequest& request) override;
  // kill(2) to every process whose ki_jid is the jail's (jail(8)
  // term_procs). FreeBSD jails have no supervisor, so none is spared.
  absl::Status SignalAll(const JailInstance& instance, int host_signal) override;
  absl::StatusOr<int> CountProcesses(const JailInstance& instance) override;
  // A jail already gone (EINVAL), or whose jid now belongs to another name,
  // is not an error.
  absl::Status Remove(JailInstance& instance) override;
  absl::Status Teardown(const JailSpec& spec, JailInstance& instance) override;
  absl::StatusOr<bool> Adopt(JailInstance& instance) override;
  // jail_setv(JAIL_UPDATE, jid, nopersist) when Create added a temporary
  // persist; nothing otherwise. The jail dies if it has no process left.
  // A jail whose main process is configured keeps it: the supervisor
  // holds the jail, as jailwarden-init does on Linux.
  absl::Status ClearPersist(JailInstance& instance) override;

  // command: (issue 17), supervised by the jail's host process
  // (main_host.h: launched if none answers at <main_dir>/<name>.sock),
  // which outlives the daemon; a daemon restarted after a kill -9 finds it
  // at the same socket. MainStatus falls back to the host's last written
  // record when the host is gone. Errors: FailedPrecondition (no
  // main_dir; one is running already; none started: no host and no
  // record), the host's start error, the spawn's errno.
  absl::StatusOr<MainProcessStatus> StartMain(const JailInstance& instance,
                                              const ExecRequest& request, const MainSpec& spec,
                                              const std::string& user) override;
  absl::StatusOr<MainProcessStatus> MainStatus(const JailInstance& instance) override;
  absl::StatusOr<MainProcessStatus> StopMain(const JailInstance& instance,
                                             absl::Duration timeout) override;

  // The jail_setv parameters Create passes for `spec` (tests, --dry-run).
  // Errors: InvalidArgument for a bad address or path.
  static absl::StatusOr<std::vector<JailParam>> CreateParams(
      const JailSpec& spec, bool temporary_persist);

 private:
  absl::Status Mount(JailInstance& instance, const std::string& fstype,
                     const std::string& from, const std::string& fspath,
                     bool read_only,
                     const std::vector<std::pair<std::string, std::string>>& opts);
  absl::Status Ifconfig(int jid, const std::vector<std::string>& argv);
  // jib-style: an epair whose ends are renamed for the jail (recorded in
  // "epair_host"/"epair_jail"); the jail end goes in at AttachNetwork.
  absl::Status MakeEpair(const JailSpec& spec, JailInstance& instance);
  // Whether a jail other than `name` has `jid` (jail_getv by jid).
  bool JidHeldByOther(int64_t jid, const std::string& name);

  FreeBsdKernel& kernel_;
  FreeBsdJailRuntimeOptions options_;
  std::string MainSocket(const std::string& jail) const;
  std::string MainRecord(const std::string& jail) const;
  // Asks the jail's host `verb` (status, quit); Unavailable when none.
  absl::StatusOr<MainProcessStatus> AskMain(const std::string& jail, const char* verb,
                                            absl::Duration timeout);
  std::shared_ptr<FreeBsdMainLauncher> launcher_;
};

}  // namespace jailwarden::platform
