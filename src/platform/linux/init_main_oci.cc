// jailwarden-init: the OCI container's process (init_main_oci.h).

#include "platform/linux/init_main_oci.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "jailwarden/platform/linux/seccomp.h"
#include "platform/linux/console_socket.h"
#include "platform/linux/init_main_setup.h"

namespace jailwarden::platform::jail_init {
namespace {

std::vector<sock_filter> DecodeBpf(const std::string& hex) {
  std::vector<unsigned char> bytes;
  bytes.reserve(hex.size() / 2);
  auto nibble = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      throw SetupError{"oci seccomp program: not hex", EINVAL};
    }
    bytes.push_back(static_cast<unsigned char>(hi << 4 | lo));
  }
  if (hex.size() % 2 != 0 || bytes.size() % sizeof(sock_filter) != 0) {
    throw SetupError{"oci seccomp program: truncated", EINVAL};
  }
  std::vector<sock_filter> program(bytes.size() / sizeof(sock_filter));
  memcpy(program.data(), bytes.data(), bytes.size());
  return program;
}

// args[0] as execvp would find it, in the container's PATH.
std::string FindExecutable(const InitOciProcess& p) {
  const std::string& name = p.args[0];
  if (name.find('/') != std::string::npos) {
    return name;
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& kv : p.env) {
    if (kv.rfind("PATH=", 0) == 0) {
      path = kv.substr(5);
    }
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}


void SetUpTerminal(int console_fd, int rows, int cols) {
  // The container's own devpts (MakeDev's newinstance): the pty's number
  // and its limit are the container's, not the host's.
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  JW_INIT_CHECK_SYS(master < 0 ? -1 : 0, "open /dev/ptmx");
  int unlock = 0;
  JW_INIT_CHECK_SYS(ioctl(master, TIOCSPTLCK, &unlock), "unlockpt");
  int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  JW_INIT_CHECK_SYS(peer < 0 ? -1 : 0, "TIOCGPTPEER");
  if (rows > 0 && cols > 0) {
    struct winsize ws = {static_cast<unsigned short>(rows), static_cast<unsigned short>(cols), 0,
                         0};
    JW_INIT_CHECK_SYS(ioctl(master, TIOCSWINSZ, &ws), "TIOCSWINSZ (process.consoleSize)");
  }
  JW_INIT_CHECK_SYS(SendConsoleMaster(console_fd, master) < 0 ? -1 : 0, "send console master");
  close(master);
  close(console_fd);
  JW_INIT_CHECK_SYS(setsid() < 0 ? -1 : 0, "setsid");
  JW_INIT_CHECK_SYS(ioctl(peer, TIOCSCTTY, 0), "TIOCSCTTY");
  for (int fd = 0; fd <= 2; ++fd) {
    JW_INIT_CHECK_SYS(dup2(peer, fd) < 0 ? -1 : 0, "dup2 terminal");
  }
  if (peer > 2) {
    close(peer);
  }
}

// c.oci_process into *p; a SetupError when it does not parse.
void ParseOciProcess(const InitConfig& c, InitOciProcess* p) {
  std::string error;
  if (!InitOciProcessFromJson(c.oci_process, p, &error)) {
    throw SetupError{"oci process: " + error, EINVAL};
  }
}

}  // namespace

void OciBeforePivotRoot(const InitConfig& c) {
  if (c.oci_process.empty()) {
    return;
  }
  InitOciProcess p;
  ParseOciProcess(c, &p);
  if (p.hook_sync_fd < 0) {
    return;
  }
  // Paused for the runtime's prestart and createRuntime hooks.
  JW_INIT_CHECK_SYS(write(p.hook_sync_fd, "h", 1) == 1 ? 0 : -1, "oci hook sync: write");
  char go = 0;
  ssize_t n;
  while ((n = read(p.hook_sync_fd, &go, 1)) < 0 && errno == EINTR) {
  }
  close(p.hook_sync_fd);
  if (n != 1 || go != 'g') {
    throw SetupError{"oci hook sync", n < 0 ? errno : ECANCELED,
                     "the runtime ended the create before createContainer"};
  }
  // hooks.createContainer: the container's namespaces and mounts, the
  // runtime's root (pivot_root has not happened yet).
  for (std::size_t i = 0; i < p.create_container_hooks.size(); ++i) {
    const InitOciHook& h = p.create_container_hooks[i];
    bool timed_out = false;
    if (std::string why = RunOciHook(h, p.create_hook_state, &timed_out); !why.empty()) {
      throw SetupError{"hook createContainer[" + std::to_string(i) + "] " + h.path,
                       timed_out ? ETIMEDOUT : ECANCELED, why};
    }
  }
}

void OciBeforeCapabilityDrop(const InitConfig& c) {
  if (c.oci_process.empty()) {
    return;
  }
  InitOciProcess p;
  ParseOciProcess(c, &p);
  if (p.root_readonly) {
    JW_INIT_CHECK_SYS(mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr),
                      "remount / read-only (root.readonly)");
  }
  for (const std::string& path : p.masked_paths) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      JW_INIT_CHECK_SYS(mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV |
                              MS_NOEXEC, "size=0,mode=555"),
                        "mask " + path + " (linux.maskedPaths)");
    } else {
      JW_INIT_CHECK_SYS(mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr),
                        "mask " + path + " (linux.maskedPaths)");
    }
  }
  for (const std::string& path : p.readonly_paths) {
    if (access(path.c_str(), F_OK) != 0) {
      continue;
    }
    JW_INIT_CHECK_SYS(mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr),
                      "bind " + path + " (linux.readonlyPaths)");
    JW_INIT_CHECK_SYS(mount(nullptr, path.c_str(), nullptr,
                            MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                            nullptr),
                      "read-only " + path + " (linux.readonlyPaths)");
  }
  // The process's groups while init still holds CAP_SETGID (the
  // container's set may not have it); the uid follows at exec.
  std::vector<gid_t> groups(p.additional_gids.begin(), p.additional_gids.end());
  JW_INIT_CHECK_SYS(setgroups(groups.size(), groups.data()),
                    "setgroups(process.user.additionalGids)");
  JW_INIT_CHECK_SYS(setgid(p.gid), "setgid(process.user.gid)");
  if (p.seccomp_bpf_hex.empty()) {
    return;
  }
  std::vector<sock_filter> program = DecodeBpf(p.seccomp_bpf_hex);
  if (int err = InstallSeccompFilter(program); err != 0) {
    throw SetupError{"seccomp(SECCOMP_SET_MODE_FILTER) linux.seccomp", err};
  }
}

void PrepareOciProcess(const InitConfig& c, InitOciProcess* p) {
  ParseOciProcess(c, p);
  struct stat st;
  if (stat(p->cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw SetupError{"process.cwd " + p->cwd, errno != 0 ? errno : ENOTDIR};
  }
  std::string exe = FindExecutable(*p);
  if (exe.empty() || access(exe.c_str(), X_OK) != 0) {
    throw SetupError{"process.args[0] " + p->args[0] + ": executable file not found in $PATH",
                     ENOENT};
  }
  if (p->console_fd >= 0) {
    SetUpTerminal(p->console_fd, p->console_rows, p->console_cols);
    p->console_fd = -1;
  }
}

int ExecOciProcess(const InitOciProcess& p) {
  auto fail = [](const std::string& step) {
    int err = errno;
    const char* name = strerrorname_np(err);
    std::string line = "jailwarden-init: " + step + ": " + (name != nullptr ? name : "E?") +
                       " (" + strerror(err) + ")\n";
    (void)!write(2, line.data(), line.size());
    return 127;
  };
  std::string fifo = "/proc/self/fd/" + std::to_string(p.fifo_fd);
  int w = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // blocks until `start`
  if (w < 0) {
    return fail("open exec fifo");
  }
  // hooks.startContainer: in the container, before the process runs and
  // before `start` reads the fifo's byte, so they are done when `start`
  // runs poststart; a failure ends init, and `start` sees it exit.
  for (std::size_t i = 0; i < p.start_container_hooks.size(); ++i) {
    const InitOciHook& h = p.start_container_hooks[i];
    bool timed_out = false;
    if (std::string why = RunOciHook(h, p.hook_state, &timed_out); !why.empty()) {
      std::string line = "jailwarden-init: hook startContainer[" + std::to_string(i) + "] " +
                         h.path + ": " + why + "\n";
      (void)!write(2, line.data(), line.size());
      return 127;
    }
  }
  if (write(w, "0", 1) != 1) {
    return fail("write exec fifo");
  }
  close(w);
  close(p.fifo_fd);
  // Groups were set before the capability drop (OciBeforeCapabilityDrop);
  // a uid other than 0 needs CAP_SETUID in the container's set.
  if (getuid() != p.uid && setuid(p.uid) != 0) {
    return fail("setuid(process.user.uid)");
  }
  for (const auto& [resource, soft, hard] : p.rlimits) {
    struct rlimit rl = {static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
    if (setrlimit(static_cast<int>(resource), &rl) != 0) {
      return fail("setrlimit(process.rlimits " + std::to_string(resource) + ")");
    }
  }
  if (p.no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return fail("prctl(PR_SET_NO_NEW_PRIVS)");
  }
  if (p.umask >= 0) {
    umask(static_cast<mode_t>(p.umask));
  }
  if (chdir(p.cwd.c_str()) != 0) {
    return fail("chdir(process.cwd)");
  }
  std::string exe = FindExecutable(p);
  std::vector<char*> argv, envp;
  for (const std::string& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : p.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // Everything past stdio and the preserved descriptors closes at execve.
  syscall(SYS_close_range, 3 + p.preserve_fds, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; ++sig) {
    signal(sig, SIG_DFL);
  }
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(exe.c_str(), argv.data(), envp.data());
  return fail("execve " + p.args[0]);
}

}  // namespace jailwarden::platform::jail_init
