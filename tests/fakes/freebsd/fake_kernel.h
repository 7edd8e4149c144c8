#pragma once

// A FreeBSD kernel in memory behind the FreeBsdKernel seam, following
// ../shared/reference/freebsd-rctl.md: prisons (jid allocation up to
// JAIL_MAX, unique names, hierarchical "a.b" names, CREATE/UPDATE/ATTACH,
// errmsg texts, persist: a jail without processes and without persist
// dies), a process table with per-process racct charged to the real-uid,
// login-class and every ancestor prison container (§2 Containers), the five
// rctl(2) calls with the errno order of §8.2-§8.3 over rctl::RuleSet,
// kern.racct.enable as an int, a bool or missing (§1, §10), security.jail.jailed
// (1 after SetCallerJail), nmount/unmount bookkeeping, kill(2), network
// interfaces (epair cloning, rename, vnet moves; a removed vnet jail's
// interfaces return to the host), and jail(8)'s
// commands (ifconfig aliases and vnet moves are modelled; anything else goes
// to a test-supplied handler).
//
// Tests drive it: processes, usage, interfaces, the caller's credentials,
// and faults (the next call of a kind fails with a chosen errno). Every
// call is appended to calls() so tests can check order.
//
// Thread-safe (one mutex). Not a security model: it trusts its caller.
// Tests may subclass it to script one call and keep the rest.
//
// Test-only (library jw_testing_freebsd), one file per facility:
// fake_kernel.cc (set-up, faults, inspection), fake_kernel_jails.cc and
// fake_jail_params.cc (libjail, kern_jail), fake_kernel_processes.cc
// (processes, racct containers, kill, kinfo), fake_kernel_rctl.cc (rctl(2),
// kern.racct sysctls), fake_kernel_mounts.cc, fake_kernel_commands.cc,
// fake_kernel_ifaces.cc.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/rctl/rule.h"
#include "jailwarden/rctl/rule_set.h"

namespace jailwarden::platform {

// A prison as the fake holds it.
struct FakePrison {
  int jid = 0;
  std::string name;   // full hierarchical name ("a.b")
  int parent = 0;     // parent jid, 0 = prison0
  std::string path = "/";
  bool persist = false;
  bool vnet = false;
  std::vector<std::string> ip4, ip6;  // ip4.addr / ip6.addr
  // Every other parameter as last set (allow.* as "true"/"false").
  std::map<std::string, std::string> params;
};

struct FakeProcess {
  pid_t pid = 0;
  pid_t ppid = 0;
  int jid = 0;
  uid_t ruid = 0, euid = 0;
  std::string comm;
  std::string loginclass = "default";
  bool ignores_sigterm = false;
  rctl::UsageVector usage{};   // kernel units
  std::vector<int> signals;    // every signal delivered, in order
};

struct FakeMount {
  std::string fstype;
  std::string fspath;
  std::string from;           // "from" or nullfs "target"
  bool read_only = false;
  std::map<std::string, std::string> options;  // every other iovec pair
  friend bool operator==(const FakeMount&, const FakeMount&) = default;
};

// A command the fake was asked to run (RunCommand/SpawnCommand).
struct FakeCommand {
  int jid = 0;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  bool clean_env = false;
  int stdout_fd = -1;  // the request's; a handler may write to it
  int stderr_fd = -1;
  // With request.tty: a real pty's slave (platform/freebsd/pty.h), also in
  // stdout_fd/stderr_fd; the master goes to on_tty after the handler ran.
  bool tty = false;
  int stdin_fd = -1;
};

class FakeFreeBsdKernel : public FreeBsdKernel {
 public:
  // How kern.racct.enable exists: absent (kernel without RACCT: the sysctl
  // is ENOENT, every rctl call ENOSYS), an int (older kernels) or a bool.
  enum class RacctSysctl : uint8_t { kMissing, kInt, kBool };

  // The calls that can be made to fail with FailNext().
  enum class Call : uint8_t {
    kJailSetv, kJailGetv, kJailRemove, kJailAttachCall, kNmount, kUnmount,
    kRctlGetRacct, kRctlGetRules, kRctlGetLimits, kRctlAddRule,
    kRctlRemoveRule, kSysctlbyname, kKill, kKinfoGetallproc, kRunCommand,
    kIfCreate, kIfDestroy, kIfRename, kIfMoveToJail,
  };

  // Handles a command that is not ifconfig. Returns the exit status; may
  // call back into the kernel (e.g. AddProcess for a daemon exec.start
  // leaves running). Runs without the fake's lock held.
  using CommandHandler = std::function<int(const FakeCommand&)>;
  // Called when SpawnMain has started a main process `pid`, without the
  // lock held, with the request's fds in `cmd`: what the program does at
  // start (write to its stdout, exit at once through ExitProcessWithCode).
  using MainHandler = std::function<void(pid_t pid, const FakeCommand& cmd)>;

  // The pid the daemon itself has (host, root).
  static constexpr pid_t kSelfPid = 100;

  FakeFreeBsdKernel();

  // --- configuration -----------------------------------------------------
  void SetRacct(RacctSysctl form, bool enabled);
  void SetCallerUid(uid_t uid);       // euid of the caller (0 = root)
  void SetCallerJail(int jid);        // the caller runs jailed (EPERM)
  void SetMaxBufSize(std::size_t n);  // kern.racct.rctl.maxbufsize
  void SetNextJid(int jid);           // where jid allocation resumes
  void AddInterface(const std::string& name);
  void MarkPathMissing(const std::string& path);  // nmount/jail path ENOENT
  void SetCommandHandler(CommandHandler handler);
  void SetMainHandler(MainHandler handler);
  // The next `count` calls of `call` fail with `errnum` (and `errmsg` for
  // jail calls) before doing anything.
  void FailNext(Call call, int errnum, std::string errmsg = "", int count = 1);

  // --- processes and usage -----------------------------------------------
  // A new process in jail `jid` (0 = host). Charges maxproc and nthr 1.
  pid_t AddProcess(int jid, uid_t ruid, uid_t euid, std::string comm,
                   std::string loginclass = "default");
  // fork(): the child inherits the parent's inheritable usage and its
  // process rules duplicated with the child's pid (§4, §6.7).
  pid_t Fork(pid_t parent);
  void SetIgnoresSigterm(pid_t pid, bool ignores);
  // exit(): reclaimable usage goes back to 0 in every container, process
  // rules are released, a jail left empty without persist dies.
  void ExitProcess(pid_t pid);
  // The same with exit(code): what WaitChild reports for a SpawnMain child.
  void ExitProcessWithCode(pid_t pid, int code);
  // SpawnMain children: the user each was started as, by pid ("" = root).
  std::map<pid_t, std::string> MainChildren() const;
  // racct_set_force: sets the process's usage (kernel units) and moves every
  // container by the difference. Sloppy container values clamp at 0.
  void SetProcessUsage(pid_t pid, rctl::Resource r, int64_t value);
  // Sets a container value directly (kernel units), for what racctd writes
  // to containers (pcpu, the IO windows) and sloppy charges.
  void SetContainerUsage(rctl::SubjectType subject, const std::string& id,
                         rctl::Resource r, int64_t value);

  // --- inspection -----------------------------------------------------------
  std::vector<std::string> calls() const;  // "jail_setv(create) name=web1 ..."
  void ClearCalls();
  std::optional<FakePrison> PrisonByName(const std::string& name) const;
  std::optional<FakePrison> PrisonByJid(int jid) const;
  std::vector<FakePrison> Prisons() const;
  std::optional<FakeProcess> Process(pid_t pid) const;
  std::vector<pid_t> ProcessesInJail(int jid) const;
  std::vector<FakeMount> Mounts() const;
  // "inet 192.0.2.10 netmask 255.255.255.255" / "inet6 2001:db8::10
  // prefixlen 128" per alias on `iface`, in the order added.
  std::vector<std::string> Aliases(const std::string& iface) const;
  int InterfaceJail(const std::string& iface) const;  // vnet owner, 0 = host
  std::vector<std::string> Interfaces() const;        // every name, sorted
  std::vector<std::string> Rules() const;  // every rule, kernel form
  int RacctCalls() const;  // rctl_get_racct calls so far

  // --- FreeBsdKernel ---------------------------------------------------------
  int JailSetv(int flags, const std::vector<JailParam>& params) override;
  int JailGetv(int flags, std::vector<JailParam>& params) override;
  int JailRemove(int jid) override;
  int JailAttach(int jid) override;
  std::string JailErrmsg() const override;
  int Nmount(struct iovec* iov, unsigned int niov, int flags) override;
  int Unmount(const char* dir, int flags) override;
  int RctlGetRacct(const char* inbufp, std::size_t inbuflen, char* outbufp,
                   std::size_t outbuflen) override;
  int RctlGetRules(const char* inbufp, std::size_t inbuflen, char* outbufp,
                   std::size_t outbuflen) override;
  int RctlGetLimits(const char* inbufp, std::size_t inbuflen, char* outbufp,
                    std::size_t outbuflen) override;
  int RctlAddRule(const char* inbufp, std::size_t inbuflen, char* outbufp,
                  std::size_t outbuflen) override;
  int RctlRemoveRule(const char* inbufp, std::size_t inbuflen, char* outbufp,
                     std::size_t outbuflen) override;
  int Sysctlbyname(const char* name, void* oldp, std::size_t* oldlenp,
                   const void* newp, std::size_t newlen) override;
  int Kill(pid_t pid, int sig) override;
  int KinfoGetallproc(std::vector<KinfoProc>& out) override;
  int IfCreate(const std::string& cloner, std::string& created) override;
  int IfDestroy(const std::string& name) override;
  int IfRename(const std::string& name, const std::string& new_name) override;
  int IfMoveToJail(const std::string& name, int jid) override;
  int RunCommand(int jid, const ExecRequest& request,
                 ExecResult& result) override;
  int SpawnCommand(int jid, const ExecRequest& request, pid_t& pid) override;
  // A SpawnMain child is a process of the jail (comm argv[0]'s basename)
  // whose end (ExitProcess*, a kill, the jail's removal) WaitChild reports
  // once. A user the jail's passwd lacks cannot be modelled: any is taken.
  int SpawnMain(int jid, const ExecRequest& request, const std::string& user,
                pid_t& pid) override;
  int WaitChild(pid_t pid, int& status) override;

 private:
  struct Fault {
    int errnum = 0;
    std::string errmsg;
    int count = 0;
  };
  enum class RctlCall : uint8_t { kGetRacct, kGetRules, kGetLimits, kAdd, kRemove };

  // FreeBSD signal numbers the fake acts on (sys/sys/signal.h).
  static constexpr int kSigKill = 9;
  static constexpr int kSigTerm = 15;

  // Each returns -1 with errno set, as the call does.
  int FailLocked(int errnum) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int JailFailLocked(int errnum, std::string msg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool TakeFaultLocked(Call call, int& errnum) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool CallerIsRootLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int RctlCommon(RctlCall which, const char* inbufp, std::size_t inbuflen,
                 char* outbufp, std::size_t outbuflen);
  int WriteOutLocked(const std::string& text, char* outbufp,
                     std::size_t outbuflen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FakePrison* FindByNameLocked(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::string> PrisonChainLocked(int jid) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rctl::UsageVector& ContainerLocked(rctl::SubjectType s, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddToContainersLocked(const FakeProcess& p, rctl::Resource r,
                             int64_t diff) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  pid_t NewProcessLocked(int jid, uid_t ruid, uid_t euid, std::string comm,
                         std::string loginclass) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `wait_status`: what WaitChild reports for a SpawnMain child.
  void ExitLocked(pid_t pid, int wait_status = 0) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemovePrisonLocked(int jid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeDieLocked(int jid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int AllocJidLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int IfconfigLocked(const FakeCommand& cmd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LogLocked(std::string entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  RacctSysctl racct_form_ ABSL_GUARDED_BY(mu_) = RacctSysctl::kBool;
  bool racct_enabled_ ABSL_GUARDED_BY(mu_) = true;
  uid_t caller_uid_ ABSL_GUARDED_BY(mu_) = 0;
  int caller_jail_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t maxbufsize_ ABSL_GUARDED_BY(mu_) = 16 * 1024 * 1024;
  int last_jid_ ABSL_GUARDED_BY(mu_) = 0;  // lastprid
  pid_t next_pid_ ABSL_GUARDED_BY(mu_) = 1000;
  std::map<int, FakePrison> prisons_ ABSL_GUARDED_BY(mu_);
  std::map<pid_t, FakeProcess> processes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, rctl::UsageVector> prison_racct_ ABSL_GUARDED_BY(mu_);
  std::map<uid_t, rctl::UsageVector> uid_racct_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, rctl::UsageVector> loginclass_racct_ ABSL_GUARDED_BY(mu_);
  rctl::RuleSet rules_ ABSL_GUARDED_BY(mu_);
  std::vector<FakeMount> mounts_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> missing_paths_ ABSL_GUARDED_BY(mu_);
  // interface -> (owning jid, aliases)
  std::map<std::string, std::pair<int, std::vector<std::string>>> interfaces_
      ABSL_GUARDED_BY(mu_);
  // epair ends, each to the other (SIOCIFDESTROY of one takes both).
  std::map<std::string, std::string> epair_peer_ ABSL_GUARDED_BY(mu_);
  int next_epair_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<Call, Fault> faults_ ABSL_GUARDED_BY(mu_);
  std::string errmsg_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  int racct_calls_ ABSL_GUARDED_BY(mu_) = 0;
  CommandHandler handler_ ABSL_GUARDED_BY(mu_);
  MainHandler main_handler_ ABSL_GUARDED_BY(mu_);
  std::map<pid_t, std::string> main_children_ ABSL_GUARDED_BY(mu_);  // pid -> user
  std::map<pid_t, int> ended_children_ ABSL_GUARDED_BY(mu_);  // pid -> wait status
};

}  // namespace jailwarden::platform
