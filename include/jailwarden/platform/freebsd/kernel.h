#pragma once

// The FreeBSD backend's syscall seam: every kernel (and libjail/libutil)
// call the backend makes, and nothing else. On FreeBSD SystemFreeBsdKernel()
// binds each method to the real call (freebsd_kernel_system.cc, a thin
// pass-through); in tests FakeFreeBsdKernel (tests/fakes/freebsd/, a
// test-only library) stands in, so the backend's logic compiles and is
// tested on Linux (../shared/reference/freebsd-rctl.md §8, §10, §11).
//
// Contract, the C one: a method returns what the real call returns (a jid,
// 0, or -1) and on failure sets `errno` to what the real call would set.
// Callers capture errno at once (ErrnoStatus). jail_setv/jail_getv also leave
// a text in JailErrmsg(), as libjail's `jail_errmsg`.
//
// Thread-safety: implementations are thread-safe per call; errno is
// thread-local as in C. JailErrmsg() reads the text of the last failed
// jail call in any thread (libjail's buffer is a global too).

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

// sys/sys/jail.h (FreeBSD 14; the FreeBSD 15 descriptor flags are not used).
inline constexpr int kJailCreate = 0x01;
inline constexpr int kJailUpdate = 0x02;
inline constexpr int kJailAttach = 0x04;
inline constexpr int kJailDying = 0x08;
inline constexpr int kJailSetMask = 0x0f;
inline constexpr int kJailGetMask = 0x08;
inline constexpr int kJailMaxJid = 999999;     // JAIL_MAX
inline constexpr std::size_t kJailErrmsgLen = 1024;  // JAIL_ERRMSGLEN
// jailsys parameter values (ip4, ip6, host, vnet, sysvmsg, ...).
inline constexpr int kJailSysDisable = 0;
inline constexpr int kJailSysNew = 1;
inline constexpr int kJailSysInherit = 2;

// net/if.h IFNAMSIZ: interface names are shorter than this.
inline constexpr std::size_t kIfNameMax = 16;

// sys/sys/mount.h flags passed to nmount(2)/unmount(2).
inline constexpr int kMntRdonly = 0x00000001;  // MNT_RDONLY
inline constexpr int kMntForce = 0x00080000;   // MNT_FORCE

// One name/value pair of jail_setv(3)/jail_getv(3), values as strings (the
// libjail text forms). For jail_setv a boolean parameter is given by name
// ("persist", "nopersist", "allow.nomount") with no value; for jail_getv the
// key ("jid", "name" or "lastjid") carries a value and every other entry is
// filled in (booleans as "true"/"false", lists comma separated).
struct JailParam {
  std::string name;
  std::optional<std::string> value;
  friend bool operator==(const JailParam&, const JailParam&) = default;
};

// The fields of libutil's struct kinfo_proc the backend reads.
struct KinfoProc {
  pid_t pid = 0;      // ki_pid
  pid_t ppid = 0;     // ki_ppid
  int jid = 0;        // ki_jid (0 = host)
  uid_t ruid = 0;     // ki_ruid
  uid_t uid = 0;      // ki_uid (effective)
  std::string comm;   // ki_comm
};

class FreeBsdKernel {
 public:
  virtual ~FreeBsdKernel() = default;

  // libjail (lib/libjail/jail.3; §11.1, §11.2). jail_setv(flags, name,
  // value, ..., NULL) and jail_getv(flags, ...): return the jid or -1.
  virtual int JailSetv(int flags, const std::vector<JailParam>& params) = 0;
  virtual int JailGetv(int flags, std::vector<JailParam>& params) = 0;
  // jail_remove(2), jail_attach(2): 0 or -1 (EINVAL for an unknown jid).
  virtual int JailRemove(int jid) = 0;
  virtual int JailAttach(int jid) = 0;
  // libjail's `jail_errmsg` after the last failed jail_setv/jail_getv.
  virtual std::string JailErrmsg() const = 0;

  // nmount(2) with name/value iovec pairs (values NUL-terminated, a boolean
  // option has a NULL value) and unmount(2).
  virtual int Nmount(struct iovec* iov, unsigned int niov, int flags) = 0;
  virtual int Unmount(const char* dir, int flags) = 0;

  // rctl(2) (sys/sys/rctl.h; §8.1). inbuflen counts the NUL; 0 or -1.
  virtual int RctlGetRacct(const char* inbufp, std::size_t inbuflen,
                           char* outbufp, std::size_t outbuflen) = 0;
  virtual int RctlGetRules(const char* inbufp, std::size_t inbuflen,
                           char* outbufp, std::size_t outbuflen) = 0;
  virtual int RctlGetLimits(const char* inbufp, std::size_t inbuflen,
                            char* outbufp, std::size_t outbuflen) = 0;
  virtual int RctlAddRule(const char* inbufp, std::size_t inbuflen,
                          char* outbufp, std::size_t outbuflen) = 0;
  virtual int RctlRemoveRule(const char* inbufp, std::size_t inbuflen,
                             char* outbufp, std::size_t outbuflen) = 0;

  // sysctlbyname(3).
  virtual int Sysctlbyname(const char* name, void* oldp, std::size_t* oldlenp,
                           const void* newp, std::size_t newlen) = 0;

  // kill(2).
  virtual int Kill(pid_t pid, int sig) = 0;

  // Network interfaces, by ioctl(2) on an AF_LOCAL datagram socket, as
  // ifconfig(8) does (sbin/ifconfig; jib(8) runs these through ifconfig).
  // Names are at most kIfNameMax - 1 bytes. 0 or -1 with errno.
  // SIOCIFCREATE2: a new interface of the cloner `cloner` ("epair" makes a
  // pair); `created` gets its name ("epair0a"; an epair's other end is the
  // same name ending in 'b'). EINVAL: no such cloner.
  virtual int IfCreate(const std::string& cloner, std::string& created) = 0;
  // SIOCIFDESTROY (an epair end destroys both). ENXIO: no such interface.
  virtual int IfDestroy(const std::string& name) = 0;
  // SIOCSIFNAME. ENXIO: no such interface; EEXIST: the new name is taken.
  virtual int IfRename(const std::string& name, const std::string& new_name) = 0;
  // SIOCSIFVNET: moves the interface into jail `jid`'s vnet. ENXIO: no such
  // interface or jail; EEXIST: the jail has no vnet of its own.
  virtual int IfMoveToJail(const std::string& name, int jid) = 0;

  // libutil kinfo_getallproc(3) (sysctl kern.proc.proc): every process.
  // 0 or -1.
  virtual int KinfoGetallproc(std::vector<KinfoProc>& out) = 0;

  // How jail(8) runs a command (usr.sbin/jail/command.c run_command): fork;
  // in the child jail_attach(jid) when jid > 0, chdir, execve argv[0]
  // (resolved with PATH); the parent waits, killing the child after
  // request.timeout. With request.tty the command gets a pseudo-terminal
  // instead of the three fds (platform/freebsd/pty.h: the slave as its
  // controlling terminal on fds 0-2, in a session of its own, sized
  // tty_rows x tty_cols) and request.on_tty the master once it started.
  // Returns 0 with `result` filled, or -1 when the command could not be
  // started (EINVAL: no such jail; ENOENT: no such program; a pty errno).
  virtual int RunCommand(int jid, const ExecRequest& request,
                         ExecResult& result) = 0;
  // The same without waiting: the child's pid in `pid`.
  virtual int SpawnCommand(int jid, const ExecRequest& request, pid_t& pid) = 0;

  // A jail's supervised main process (`command:`, issue 17), started as
  // jexec(8) -U starts one: fork; in the child its own process group,
  // jail_attach(jid), chdir("/"), and for a non-empty `user` that user's
  // entry in the jail's own passwd database (getpwnam after the attach)
  // through setusercontext(3) (groups, login class, uid); then execvp
  // argv[0]. A user the jail does not know ends the child with 126 before
  // the exec. `pid` gets the child, which the caller reaps with WaitChild.
  // 0 or -1 (EINVAL: no such jail; ENOENT: empty argv).
  virtual int SpawnMain(int jid, const ExecRequest& request, const std::string& user,
                        pid_t& pid) = 0;
  // waitpid(2) with WNOHANG on a child SpawnMain started: 1 with `status`
  // (a wait(2) status word) when it has ended (it is reaped), 0 while it
  // runs, -1 with errno (ECHILD: not a child of ours, or reaped already).
  virtual int WaitChild(pid_t pid, int& status) = 0;
};

#if defined(__FreeBSD__)
// The real kernel. One per process is enough; thread-safe.
std::unique_ptr<FreeBsdKernel> SystemFreeBsdKernel();
#endif

}  // namespace jailwarden::platform
