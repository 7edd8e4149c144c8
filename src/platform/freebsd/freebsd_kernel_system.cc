// The real FreeBSD kernel behind the FreeBsdKernel seam: each method is a
// thin pass-through to libjail, libutil or the system call. Built only on
// FreeBSD (CMake links jail and util there). NEVER RUN against a real
// kernel so far: see src/platform/freebsd/NOT_RUN_ON_FREEBSD.md.

#if defined(__FreeBSD__)

#include <sys/param.h>
#include <sys/ioctl.h>
#include <sys/jail.h>
#include <sys/mount.h>
#include <sys/rctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <sys/sysctl.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <jail.h>
#include <net/if.h>
#include <libutil.h>
#include <login_cap.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "jailwarden/platform/freebsd/kernel.h"
#include "platform/freebsd/pty.h"

extern char** environ;

namespace jailwarden::platform {

static_assert(kJailCreate == JAIL_CREATE);
static_assert(kJailUpdate == JAIL_UPDATE);
static_assert(kJailAttach == JAIL_ATTACH);
static_assert(kJailDying == JAIL_DYING);
static_assert(kMntRdonly == static_cast<int>(MNT_RDONLY));
static_assert(kMntForce == static_cast<int>(MNT_FORCE));
static_assert(kJailErrmsgLen == JAIL_ERRMSGLEN);
static_assert(kIfNameMax == IFNAMSIZ);

namespace {

// Frees a jailparam array on every path, keeping errno.
struct JailParams {
  std::vector<struct jailparam> jp;
  unsigned n = 0;
  ~JailParams() {
    const int e = errno;
    jailparam_free(jp.data(), n);
    errno = e;
  }
};

// Everything the child needs, built before fork(): between fork and exec
// the child only makes system calls.
struct Prepared {
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  int fds[3] = {-1, -1, -1};
  int devnull = -1;
  bool tty = false;  // fds are a pty's slave: its controlling terminal
};

void PrepareExec(const ExecRequest& req, Prepared& p) {
  for (const std::string& a : req.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  if (!req.clean_env) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      const std::string entry(*e);
      const std::string key = entry.substr(0, entry.find('='));
      if (!req.env.contains(key)) p.env_storage.push_back(entry);
    }
  }
  for (const auto& [k, v] : req.env) p.env_storage.push_back(k + "=" + v);
  for (std::string& s : p.env_storage) p.envp.push_back(s.data());
  p.envp.push_back(nullptr);
  p.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  const int given[3] = {req.stdin_fd, req.stdout_fd, req.stderr_fd};
  for (int i = 0; i < 3; ++i) p.fds[i] = given[i] >= 0 ? given[i] : p.devnull;
}

[[noreturn]] void ChildExec(int jid, Prepared& p) {
  // A terminal's session leader, or else its own process group: a timeout
  // kills what the command started too (a health check's `sh -c`
  // children), not only the command.
  if (p.tty) {
    if (setsid() < 0 || ioctl(p.fds[0], TIOCSCTTY, 0) != 0) _exit(126);
  } else {
    (void)setpgid(0, 0);
  }
  for (int i = 0; i < 3; ++i) {
    if (p.fds[i] >= 0) dup2(p.fds[i], i);
  }
  if (jid > 0 && jail_attach(jid) != 0) _exit(126);
  if (jid > 0 && chdir("/") != 0) _exit(126);
  closefrom(3);
  environ = p.envp.data();
  execvp(p.argv[0], p.argv.data());
  _exit(127);
}

// The socket ifconfig(8) makes its ioctls on, closed on every path with
// errno kept.
struct IfSocket {
  int fd = ::socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ~IfSocket() {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    errno = e;
  }
};

// ifr_name set from `name`; false (errno EINVAL) when it does not fit.
bool NameInto(struct ifreq& ifr, const std::string& name) {
  if (name.empty() || name.size() >= sizeof ifr.ifr_name) {
    errno = EINVAL;
    return false;
  }
  std::memcpy(ifr.ifr_name, name.c_str(), name.size() + 1);
  return true;
}

int IfIoctl(unsigned long request, struct ifreq& ifr) {
  IfSocket s;
  if (s.fd < 0) return -1;
  return ::ioctl(s.fd, request, &ifr) < 0 ? -1 : 0;
}

class SystemKernel final : public FreeBsdKernel {
 public:
  int JailSetv(int flags, const std::vector<JailParam>& params) override {
    JailParams jp;
    jp.jp.resize(params.size());
    for (const JailParam& p : params) {
      if (jailparam_init(&jp.jp[jp.n], p.name.c_str()) < 0) return -1;
      ++jp.n;
      if (jailparam_import(&jp.jp[jp.n - 1],
                           p.value.has_value() ? p.value->c_str() : nullptr) < 0) {
        return -1;
      }
    }
    return jailparam_set(jp.jp.data(), jp.n, flags);
  }

  int JailGetv(int flags, std::vector<JailParam>& params) override {
    JailParams jp;
    jp.jp.resize(params.size());
    for (const JailParam& p : params) {
      if (jailparam_init(&jp.jp[jp.n], p.name.c_str()) < 0) return -1;
      ++jp.n;
      // The key (lastjid, jid or name) carries a value, as in jail_getv.
      if (p.value.has_value() &&
          jailparam_import(&jp.jp[jp.n - 1], p.value->c_str()) < 0) {
        return -1;
      }
    }
    const int jid = jailparam_get(jp.jp.data(), jp.n, flags);
    if (jid < 0) return -1;
    for (unsigned i = 0; i < jp.n; ++i) {
      if (params[i].name == "lastjid") continue;
      char* text = jailparam_export(&jp.jp[i]);
      if (text == nullptr) return -1;
      params[i].value = text;
      std::free(text);
    }
    return jid;
  }

  int JailRemove(int jid) override { return ::jail_remove(jid); }
  int JailAttach(int jid) override { return ::jail_attach(jid); }
  std::string JailErrmsg() const override { return std::string(jail_errmsg); }

  int Nmount(struct iovec* iov, unsigned int niov, int flags) override {
    return ::nmount(iov, niov, flags);
  }
  int Unmount(const char* dir, int flags) override { return ::unmount(dir, flags); }

  int RctlGetRacct(const char* in, std::size_t inlen, char* out,
                   std::size_t outlen) override {
    return ::rctl_get_racct(in, inlen, out, outlen);
  }
  int RctlGetRules(const char* in, std::size_t inlen, char* out,
                   std::size_t outlen) override {
    return ::rctl_get_rules(in, inlen, out, outlen);
  }
  int RctlGetLimits(const char* in, std::size_t inlen, char* out,
                    std::size_t outlen) override {
    return ::rctl_get_limits(in, inlen, out, outlen);
  }
  int RctlAddRule(const char* in, std::size_t inlen, char* out,
                  std::size_t outlen) override {
    return ::rctl_add_rule(in, inlen, out, outlen);
  }
  int RctlRemoveRule(const char* in, std::size_t inlen, char* out,
                     std::size_t outlen) override {
    return ::rctl_remove_rule(in, inlen, out, outlen);
  }

  int Sysctlbyname(const char* name, void* oldp, std::size_t* oldlenp,
                   const void* newp, std::size_t newlen) override {
    return ::sysctlbyname(name, oldp, oldlenp, newp, newlen);
  }

  int Kill(pid_t pid, int sig) override { return ::kill(pid, sig); }

  int IfCreate(const std::string& cloner, std::string& created) override {
    struct ifreq ifr = {};
    if (!NameInto(ifr, cloner)) return -1;
    if (IfIoctl(SIOCIFCREATE2, ifr) != 0) return -1;
    created.assign(ifr.ifr_name, strnlen(ifr.ifr_name, sizeof ifr.ifr_name));
    return 0;
  }
  int IfDestroy(const std::string& name) override {
    struct ifreq ifr = {};
    if (!NameInto(ifr, name)) return -1;
    return IfIoctl(SIOCIFDESTROY, ifr);
  }
  int IfRename(const std::string& name, const std::string& new_name) override {
    struct ifreq ifr = {};
    if (!NameInto(ifr, name)) return -1;
    char buf[IFNAMSIZ] = {};
    if (new_name.empty() || new_name.size() >= sizeof buf) {
      errno = EINVAL;
      return -1;
    }
    std::memcpy(buf, new_name.c_str(), new_name.size() + 1);
    ifr.ifr_data = buf;
    return IfIoctl(SIOCSIFNAME, ifr);
  }
  int IfMoveToJail(const std::string& name, int jid) override {
    struct ifreq ifr = {};
    if (!NameInto(ifr, name)) return -1;
    ifr.ifr_jid = jid;
    return IfIoctl(SIOCSIFVNET, ifr);
  }

  int KinfoGetallproc(std::vector<KinfoProc>& out) override {
    int count = 0;
    struct kinfo_proc* kp = kinfo_getallproc(&count);
    if (kp == nullptr) return -1;
    out.clear();
    out.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      out.push_back(KinfoProc{kp[i].ki_pid, kp[i].ki_ppid, kp[i].ki_jid,
                              kp[i].ki_ruid, kp[i].ki_uid, kp[i].ki_comm});
    }
    std::free(kp);
    return 0;
  }

  int RunCommand(int jid, const ExecRequest& request, ExecResult& result) override {
    pid_t pid = 0;
    if (request.tty) {
      if (SpawnWithTty(jid, request, pid) != 0) return -1;
    } else if (SpawnCommand(jid, request, pid) != 0) {
      return -1;
    }
    result = ExecResult{};
    const auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::microseconds(absl::ToInt64Microseconds(request.timeout));
    int status = 0;
    for (;;) {
      const pid_t r = waitpid(pid, &status, request.timeout > absl::ZeroDuration()
                                                 ? WNOHANG
                                                 : 0);
      if (r == pid) break;
      if (r < 0 && errno != EINTR) return -1;
      if (r == 0 && std::chrono::steady_clock::now() >= deadline) {
        ::kill(-pid, SIGKILL);  // the command's group (ChildExec)
        ::kill(pid, SIGKILL);
        result.timed_out = true;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      if (r == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (WIFSIGNALED(status)) {
      result.term_signal = WTERMSIG(status);
    } else if (WIFEXITED(status)) {
      result.exit_code = WEXITSTATUS(status);
    }
    return 0;
  }

  int SpawnCommand(int jid, const ExecRequest& request, pid_t& pid) override {
    if (request.argv.empty()) {
      errno = ENOENT;
      return -1;
    }
    Prepared p;
    PrepareExec(request, p);
    pid = fork();
    if (pid > 0) (void)setpgid(pid, pid);  // as the child does: no race with a kill
    if (pid < 0) {
      const int e = errno;
      if (p.devnull >= 0) close(p.devnull);
      errno = e;
      return -1;
    }
    if (pid == 0) ChildExec(jid, p);
    if (p.devnull >= 0) close(p.devnull);
    return 0;
  }

  // RunCommand with a terminal: the pty's slave on fds 0-2 as the child's
  // controlling terminal; the master to request.on_tty once it started.
  int SpawnWithTty(int jid, const ExecRequest& request, pid_t& pid) {
    if (request.argv.empty()) {
      errno = ENOENT;
      return -1;
    }
    int master = -1, slave = -1;
    if (OpenPty(request.tty_rows, request.tty_cols, &master, &slave) != 0) return -1;
    Prepared p;
    PrepareExec(request, p);
    for (int& fd : p.fds) fd = slave;
    p.tty = true;
    pid = fork();
    if (pid == 0) ChildExec(jid, p);
    const int e = errno;
    close(slave);
    if (p.devnull >= 0) close(p.devnull);
    if (pid < 0) {
      close(master);
      errno = e;
      return -1;
    }
    if (request.on_tty) {
      request.on_tty(master);
    } else {
      close(master);
    }
    return 0;
  }

  int SpawnMain(int jid, const ExecRequest& request, const std::string& user,
                pid_t& pid) override {
    if (request.argv.empty()) {
      errno = ENOENT;
      return -1;
    }
    Prepared p;
    PrepareExec(request, p);
    pid = fork();
    if (pid < 0) {
      const int e = errno;
      if (p.devnull >= 0) close(p.devnull);
      errno = e;
      return -1;
    }
    if (pid == 0) {
      // jexec -U: the user is looked up in the jail, after the attach.
      (void)setpgid(0, 0);
      if (jid > 0 && (jail_attach(jid) != 0 || chdir("/") != 0)) _exit(126);
      if (!user.empty()) {
        struct passwd* pw = getpwnam(user.c_str());
        if (pw == nullptr) _exit(126);
        if (setusercontext(nullptr, pw, pw->pw_uid, LOGIN_SETALL & ~LOGIN_SETLOGIN) != 0) {
          _exit(126);
        }
      }
      ChildExec(0, p);  // attached already
    }
    (void)setpgid(pid, pid);
    if (p.devnull >= 0) close(p.devnull);
    return 0;
  }

  int WaitChild(pid_t pid, int& status) override {
    for (;;) {
      const pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) return 1;
      if (r == 0) return 0;
      if (errno != EINTR) return -1;
    }
  }
};

}  // namespace

std::unique_ptr<FreeBsdKernel> SystemFreeBsdKernel() {
  return std::make_unique<SystemKernel>();
}

}  // namespace jailwarden::platform

#endif  // __FreeBSD__
