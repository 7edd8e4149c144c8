// jailwarden-init: the supervised main process (init_main_supervisor.h).

#include "platform/linux/init_main_supervisor.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace jailwarden::platform::jail_init {
namespace {

int64_t NowMs(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t MonoMs() { return NowMs(CLOCK_MONOTONIC); }
int64_t WallMs() { return NowMs(CLOCK_REALTIME); }

struct PasswdEntry {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name, home, shell;
};

// exec.jail_user in the jail's own /etc/passwd, read by hand: init is
// static and must not load the jail's NSS modules. A number is a uid.
bool LookUpUser(const std::string& user, PasswdEntry* out) {
  FILE* f = fopen("/etc/passwd", "re");
  bool numeric = !user.empty() && user.find_first_not_of("0123456789") == std::string::npos;
  char line[1024];
  bool found = false;
  while (f != nullptr && !found && fgets(line, sizeof(line), f) != nullptr) {
    std::vector<std::string> fields;
    std::string cur;
    for (const char* p = line; *p != '\0' && *p != '\n'; ++p) {
      if (*p == ':') {
        fields.push_back(cur);
        cur.clear();
      } else {
        cur += *p;
      }
    }
    fields.push_back(cur);
    if (fields.size() < 7) {
      continue;
    }
    if (numeric ? fields[2] == user : fields[0] == user) {
      out->name = fields[0];
      out->uid = static_cast<uid_t>(strtoul(fields[2].c_str(), nullptr, 10));
      out->gid = static_cast<gid_t>(strtoul(fields[3].c_str(), nullptr, 10));
      out->home = fields[5];
      out->shell = fields[6];
      found = true;
    }
  }
  if (f != nullptr) {
    fclose(f);
  }
  if (!found && numeric) {
    out->uid = static_cast<uid_t>(strtoul(user.c_str(), nullptr, 10));
    out->gid = static_cast<gid_t>(out->uid);
    out->name = user;
    out->home.assign(1, '/');
    found = true;
  }
  return found;
}

// The forked child: never returns. Exit 126 for a user that cannot be
// taken on, 127 for a program that cannot be executed (sh's convention).
[[noreturn]] void ExecMain(const InitRequest& r, const int fds[3]) {
  for (int i = 0; i < 3; ++i) {
    int fd = fds[i] >= 0 ? fds[i] : open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
    if (fd >= 0 && fd != i) {
      dup2(fd, i);
    } else if (fd == i) {
      fcntl(fd, F_SETFD, 0);  // received with MSG_CMSG_CLOEXEC
    }
  }
  syscall(SYS_close_range, 3, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  setsid();  // its own process group: a stop signals the whole service
  for (const std::array<uint64_t, 3>& l : r.rlimits) {
    const struct rlimit lim = {static_cast<rlim_t>(l[1]), static_cast<rlim_t>(l[2])};
    setrlimit(static_cast<__rlimit_resource>(l[0]), &lim);
  }
  std::vector<std::string> env = r.env;
  if (!r.main.user.empty()) {
    PasswdEntry pw;
    if (!LookUpUser(r.main.user, &pw)) {
      dprintf(2, "jailwarden-init: exec.jail_user %s: no such user in /etc/passwd\n",
              r.main.user.c_str());
      _exit(126);
    }
    if (setgroups(0, nullptr) != 0 || setgid(pw.gid) != 0 || setuid(pw.uid) != 0) {
      dprintf(2, "jailwarden-init: exec.jail_user %s: %s\n", r.main.user.c_str(),
              strerror(errno));
      _exit(126);
    }
    std::erase_if(env, [](const std::string& e) {
      return e.rfind("HOME=", 0) == 0 || e.rfind("USER=", 0) == 0 ||
             e.rfind("LOGNAME=", 0) == 0;
    });
    env.push_back("HOME=" + pw.home);
    env.push_back("USER=" + pw.name);
    env.push_back("LOGNAME=" + pw.name);
    if (chdir(pw.home.c_str()) != 0 && chdir("/") != 0) {
      _exit(126);
    }
  } else if (chdir("/") != 0) {
    _exit(126);
  }
  const int err = ExecSearchingPath(r.argv, env);
  dprintf(2, "jailwarden-init: command %s: %s\n", r.argv[0].c_str(), strerror(err));
  _exit(err == EACCES ? 126 : 127);
}

}  // namespace

int ExecSearchingPath(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<char*> argv, envp;
  for (const std::string& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::string path = "/bin:/usr/bin:/sbin:/usr/sbin";
  for (const std::string& e : env) {
    envp.push_back(const_cast<char*>(e.c_str()));
    if (e.rfind("PATH=", 0) == 0) {
      path = e.substr(5);
    }
  }
  envp.push_back(nullptr);
  const std::string& a0 = args[0];
  int err = ENOENT;
  if (a0.find('/') != std::string::npos) {
    execve(a0.c_str(), argv.data(), envp.data());
    err = errno;
  } else {
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) {
        end = path.size();
      }
      std::string dir = path.substr(start, end - start);
      std::string cand = (dir.empty() ? "." : dir) + "/" + a0;
      execve(cand.c_str(), argv.data(), envp.data());
      if (errno != ENOENT && errno != ENOTDIR) {
        err = errno;
      }
      start = end + 1;
    }
  }
  return err;
}

MainSupervisor::~MainSupervisor() {
  for (int fd : fds_) {
    if (fd >= 0) {
      close(fd);
    }
  }
}

bool MainSupervisor::Configure(const InitRequest& request, const int fds[3]) {
  if (status_.configured) {
    for (int i = 0; i < 3; ++i) {
      if (fds[i] >= 0) {
        close(fds[i]);
      }
    }
    return false;
  }
  request_ = request;
  for (int i = 0; i < 3; ++i) {
    fds_[i] = fds[i];
  }
  status_.configured = true;
  backoff_ms_ = std::max<int64_t>(request_.main.backoff_initial_ms, 1);
  Start();
  return true;
}

int64_t MainSupervisor::ReadOomKills() const {
  if (oom_fd_ < 0) {
    return 0;
  }
  char buf[1024];
  ssize_t n = pread(oom_fd_, buf, sizeof(buf) - 1, 0);
  if (n <= 0) {
    return 0;
  }
  buf[n] = '\0';
  const char* p = strstr(buf, "oom_kill ");
  // "oom_kill_disable" (v1) shares the prefix only without the space.
  return p != nullptr ? strtoll(p + strlen("oom_kill "), nullptr, 10) : 0;
}

void MainSupervisor::Start() {
  oom_kills_at_start_ = ReadOomKills();
  pid_t pid = fork();
  if (pid == 0) {
    ExecMain(request_, fds_);
  }
  due_mono_ms_ = 0;
  status_.next_start_ms = 0;
  if (pid < 0) {
    // No process: recorded as an exit with the errno as its code; the
    // restart policy applies as to any failure.
    status_.exited = true;
    status_.exit_code = 128 + errno;
    status_.exit_signal = 0;
    status_.exit_time_ms = WallMs();
    ++status_.starts;
    Reaped(-1, 0);
    return;
  }
  pid_ = pid;
  ++status_.starts;
  status_.restarts = status_.starts - 1;
  status_.running = true;
  status_.pid = pid;
  started_ms_ = MonoMs();
}

bool MainSupervisor::Reaped(pid_t pid, int st) {
  if (pid != -1) {
    if (pid_ == 0 || pid != pid_) {
      return false;
    }
    status_.exited = true;
    status_.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    status_.exit_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    status_.exit_time_ms = WallMs();
  }
  status_.oom_killed = ReadOomKills() > oom_kills_at_start_;
  status_.running = false;
  status_.pid = 0;
  pid_ = 0;
  const int64_t now = MonoMs();
  if (status_.stopped) {
    kill_at_mono_ms_ = 0;
    ReplyStopWaiters();
    return true;
  }
  const bool failed = status_.exit_code != 0 || status_.exit_signal != 0;
  const bool again = request_.main.restart == 2 || (request_.main.restart == 1 && failed);
  if (!again) {
    return true;
  }
  while (!restarts_mono_ms_.empty() &&
         now - restarts_mono_ms_.front() >= request_.main.limit_window_ms) {
    restarts_mono_ms_.pop_front();
  }
  if (static_cast<int>(restarts_mono_ms_.size()) >= request_.main.limit_count) {
    status_.gave_up = true;
    return true;
  }
  if (now - started_ms_ >= request_.main.backoff_max_ms) {
    backoff_ms_ = std::max<int64_t>(request_.main.backoff_initial_ms, 1);
  }
  due_mono_ms_ = now + backoff_ms_;
  status_.next_start_ms = WallMs() + backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, std::max<int64_t>(request_.main.backoff_max_ms, 1));
  return true;
}

void MainSupervisor::Tick() {
  const int64_t now = MonoMs();
  if (due_mono_ms_ != 0 && now >= due_mono_ms_ && !status_.stopped) {
    restarts_mono_ms_.push_back(now);
    Start();
  }
  if (kill_at_mono_ms_ != 0 && now >= kill_at_mono_ms_ && pid_ > 0) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    kill_at_mono_ms_ = 0;
  }
}

int MainSupervisor::TimeoutMs() const {
  int64_t next = 0;
  for (int64_t t : {due_mono_ms_, kill_at_mono_ms_}) {
    if (t != 0 && (next == 0 || t < next)) {
      next = t;
    }
  }
  if (next == 0) {
    return -1;
  }
  return static_cast<int>(std::clamp<int64_t>(next - MonoMs(), 0, 60000));
}

void MainSupervisor::Stop(int64_t timeout_ms, int conn) {
  status_.stopped = true;
  due_mono_ms_ = 0;
  status_.next_start_ms = 0;
  if (conn >= 0) {
    stop_waiters_.push_back(conn);
  }
  if (pid_ <= 0) {
    ReplyStopWaiters();
    return;
  }
  kill(-pid_, SIGTERM);
  kill(pid_, SIGTERM);
  kill_at_mono_ms_ = MonoMs() + std::max<int64_t>(timeout_ms, 0);
  if (timeout_ms <= 0) {
    Tick();
  }
}

void MainSupervisor::SendStatus(int conn) const {
  const std::string json = InitMainStatusToJson(status_);
  (void)!send(conn, json.data(), json.size(), MSG_NOSIGNAL);
}

void MainSupervisor::ReplyStopWaiters() {
  for (int conn : stop_waiters_) {
    SendStatus(conn);
    close(conn);
  }
  stop_waiters_.clear();
}

}  // namespace jailwarden::platform::jail_init
