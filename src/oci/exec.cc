// exec (runtime.h): a new process in a running container's namespaces and
// cgroups, with the container's capability set and seccomp filter.
//
// The runtime forks a helper that joins the cgroups (writing "0" to the
// leaf's membership files), enters the namespaces, and forks the process
// itself (a pid namespace takes effect for children only); the helper then
// exits, so the process is reparented to the nearest subreaper (conmon,
// or this runtime without --detach).

#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/seccomp.h"
#include "oci/runtime.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "platform/linux/cap_drop.h"
#include "platform/linux/cgroup.h"
#include "platform/linux/console_socket.h"

namespace jailwarden::oci {
namespace {

std::vector<sock_filter> Bpf(const std::string& hex) {
  std::vector<sock_filter> program(hex.size() / 2 / sizeof(sock_filter));
  auto* out = reinterpret_cast<unsigned char*>(program.data());
  for (std::size_t i = 0; i + 1 < hex.size() && i / 2 < program.size() * sizeof(sock_filter);
       i += 2) {
    out[i / 2] = static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return program;
}

[[noreturn]] void Die(int report, const char* step) {
  int err = errno;
  std::string msg = StrCat("error ", step, ": ", strerrorname_np(err) ? strerrorname_np(err) : "E?",
                           " (", strerror(err), ")");
  (void)!write(report, msg.data(), msg.size());
  _exit(127);
}

}  // namespace

absl::Status Exec(const GlobalOptions& g, const ExecOptions& o, int* exit_code) {
  JW_ASSIGN_OR_RETURN(ContainerRecord rec, LoadRecord(g.root, o.id));
  if (StatusOf(g.root, rec) != "running") {
    return absl::FailedPreconditionError(StrCat("container ", o.id, " is not running"));
  }
  platform::InitOciProcess p;
  bool terminal = o.tty;
  uint64_t caps = rec.capabilities;
  if (!o.process_file.empty()) {
    JW_ASSIGN_OR_RETURN(std::string text, ReadFile(o.process_file, 1 << 20));
    JW_RETURN_IF_ERROR(ProcessFromJson(text, o.process_file, &p, &terminal, &caps));
  } else {
    p.args = o.args;
    if (p.args.empty()) {
      return absl::InvalidArgumentError("exec: no command (give --process or ARGS)");
    }
    p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  }
  int console = -1;
  if (terminal) {
    if (o.console_socket.empty()) {
      return absl::InvalidArgumentError("exec: a terminal needs --console-socket");
    }
    console = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, o.console_socket.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(console, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return ErrnoStatus(errno, "connect --console-socket " + o.console_socket);
    }
  }
  // Everything the children need, prepared before fork.
  std::vector<int> ns_fds;
  for (const char* ns : {"ipc", "uts", "net", "pid", "cgroup", "mnt"}) {
    int fd = open(StrCat("/proc/", rec.pid, "/ns/", ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return ErrnoStatus(errno, StrCat("open /proc/", rec.pid, "/ns/", ns));
    }
    ns_fds.push_back(fd);
  }
  std::vector<std::string> join = platform::CgroupLayout::JoinFiles(rec.backend_state, false);
  std::vector<sock_filter> filter = Bpf(rec.seccomp_bpf_hex);
  std::vector<sock_filter> jail_filter;
  std::string error;
  if (!platform::BuildSeccompFilter(platform::SeccompSettings{}, &jail_filter, &error)) {
    return absl::InternalError("seccomp: " + error);
  }
  std::vector<char*> argv, envp;
  for (std::string& a : p.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : p.env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int report[2], pidpipe[2];
  if (pipe2(report, O_CLOEXEC) != 0 || pipe2(pidpipe, O_CLOEXEC) != 0) {
    return ErrnoStatus(errno, "pipe2");
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  pid_t helper = fork();
  if (helper < 0) {
    return ErrnoStatus(errno, "fork");
  }
  if (helper == 0) {
    close(report[0]);
    close(pidpipe[0]);
    for (const std::string& f : join) {
      int fd = open(f.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, "0", 1) != 1) Die(report[1], "join cgroup");
      close(fd);
    }
    for (int fd : ns_fds) {
      if (setns(fd, 0) != 0) Die(report[1], "setns");
    }
    pid_t child = fork();
    if (child < 0) Die(report[1], "fork");
    if (child > 0) {
      int32_t v = child;
      (void)!write(pidpipe[1], &v, sizeof(v));
      _exit(0);
    }
    if (console >= 0) {
      int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
      int unlock = 0;
      if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) != 0) Die(report[1], "open /dev/ptmx");
      int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
      if (peer < 0) Die(report[1], "TIOCGPTPEER");
      (void)platform::SendConsoleMaster(console, master);
      close(master);
      setsid();
      ioctl(peer, TIOCSCTTY, 0);
      dup2(peer, 0);
      dup2(peer, 1);
      dup2(peer, 2);
    }
    if (platform::InstallSeccompFilter(jail_filter) != 0) Die(report[1], "seccomp (jail)");
    if (!filter.empty() && platform::InstallSeccompFilter(filter) != 0) {
      Die(report[1], "seccomp (linux.seccomp)");
    }
    const char* step = "";
    if (platform::DropToCapabilities(caps, &step) != 0) Die(report[1], "drop capabilities");
    std::vector<gid_t> groups(p.additional_gids.begin(), p.additional_gids.end());
    if (setgroups(groups.size(), groups.data()) != 0) Die(report[1], "setgroups");
    if (setgid(p.gid) != 0) Die(report[1], "setgid");
    if (setuid(p.uid) != 0) Die(report[1], "setuid");
    for (const auto& [resource, soft, hard] : p.rlimits) {
      struct rlimit rl = {soft, hard};
      if (setrlimit(static_cast<int>(resource), &rl) != 0) Die(report[1], "setrlimit");
    }
    if (p.no_new_privileges) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (p.umask >= 0) umask(static_cast<mode_t>(p.umask));
    if (chdir(p.cwd.c_str()) != 0) Die(report[1], "chdir(process.cwd)");
    execvpe(argv[0], argv.data(), envp.data());
    Die(report[1], "execve");
  }
  close(report[1]);
  close(pidpipe[1]);
  for (int fd : ns_fds) close(fd);
  if (console >= 0) close(console);
  int32_t child = -1;
  (void)!read(pidpipe[0], &child, sizeof(child));
  close(pidpipe[0]);
  waitpid(helper, nullptr, 0);
  std::string msg;
  char buf[512];
  ssize_t n;
  // The report pipe closes at the process's execve (CLOEXEC) or carries
  // why it failed.
  while ((n = read(report[0], buf, sizeof(buf))) > 0) msg.append(buf, static_cast<size_t>(n));
  close(report[0]);
  if (!msg.empty() || child <= 0) {
    if (child > 0) waitpid(child, nullptr, 0);
    return absl::FailedPreconditionError(StrCat("exec in ", o.id, ": ", msg));
  }
  if (!o.pid_file.empty()) {
    JW_RETURN_IF_ERROR(WriteFileAtomically(o.pid_file, std::to_string(child)));
  }
  if (o.detach) {
    *exit_code = 0;
    return absl::OkStatus();
  }
  int st = 0;
  while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return absl::OkStatus();
}

}  // namespace jailwarden::oci
