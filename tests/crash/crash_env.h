#pragma once

// What the crash harness (crash_test.cc) needs besides the daemon: running
// the real CLI and serve binaries as child processes, and reading the
// host's state (cgroups, processes, mounts, links, files) the invariants
// are checked against. Test-only; every process it ends is one it started,
// by pid.

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::crash {

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// stdout of `sh -c cmd` (bounded commands only: find, ip).
inline std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// A child process: execv(argv) with `env` added; stdout+stderr to `log`.
inline pid_t Spawn(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Waits up to `timeout` for `pid`; its exit code (128+signal), or -1 on
// timeout (the process is left running).
inline int WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(1);
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0 || absl::Now() >= deadline) return -1;
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
}

// Mount points of every cgroup and cgroup2 file system.
inline std::vector<std::string> CgroupMounts() {
  std::vector<std::string> out;
  for (const std::string& line : Lines(Slurp("/proc/self/mountinfo"))) {
    const std::size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::stringstream rest(line.substr(dash + 3));
    std::string fstype;
    rest >> fstype;
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::stringstream head(line);
    std::string f;
    for (int i = 0; i < 5 && head >> f; ++i) {
    }
    out.push_back(f);
  }
  return out;
}

// jail name → its cgroup directories (every hierarchy), for the jails
// under <...>/<parent>/.
inline std::map<std::string, std::vector<std::string>> JailCgroups(const std::string& parent) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& mnt : CgroupMounts()) {
    for (const std::string& dir :
         Lines(Shell(StrCat("find '", mnt, "' -xdev -maxdepth 8 -type d -path '*/", parent,
                            "/*' -prune 2>/dev/null")))) {
      out[dir.substr(dir.rfind('/') + 1)].push_back(dir);
    }
  }
  return out;
}

// Host pids (zombies aside) whose /proc/<pid>/cgroup names <parent>/<jail>,
// by jail.
inline std::map<std::string, std::set<int>> JailProcesses(const std::string& parent) {
  std::map<std::string, std::set<int>> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  const std::string needle = StrCat("/", parent, "/");
  while (struct dirent* e = readdir(d)) {
    const int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    // A zombie is dead already (it keeps only its pid, and its cgroup shows
    // "(deleted)"): whoever inherited it reaps it.
    const std::string stat = Slurp(StrCat("/proc/", pid, "/stat"));
    const std::size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') continue;
    for (const std::string& line : Lines(Slurp(StrCat("/proc/", pid, "/cgroup")))) {
      const std::size_t at = line.find(needle);
      if (at == std::string::npos) continue;
      std::string rest = line.substr(at + needle.size());
      out[rest.substr(0, rest.find('/'))].insert(pid);
    }
  }
  closedir(d);
  return out;
}

// Mount points in the host's mount namespace below `dir`.
inline std::vector<std::string> MountsBelow(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(Slurp("/proc/self/mountinfo"))) {
    std::stringstream head(line);
    std::string f;
    for (int i = 0; i < 5 && head >> f; ++i) {
    }
    if (StartsWith(f, dir + "/")) out.push_back(f);
  }
  return out;
}

// `args` joined by spaces.
inline std::string StrJoinArgs(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) StrAppend(&out, out.empty() ? "" : " ", a);
  return out;
}

// The rules a runtime-rules.json text lists under `key`.
inline std::set<std::string> RecordRules(const std::string& text, const std::string& key) {
  std::set<std::string> out;
  const std::size_t at = text.find(StrCat("\"", key, "\""));
  if (at == std::string::npos) return out;
  const std::size_t end = text.find(']', at);
  std::size_t p = text.find('[', at);
  while (p != std::string::npos && p < end) {
    const std::size_t q0 = text.find('"', p + 1);
    if (q0 == std::string::npos || q0 > end) break;
    const std::size_t q1 = text.find('"', q0 + 1);
    out.insert(text.substr(q0 + 1, q1 - q0 - 1));
    p = q1;
  }
  return out;
}

// The names of the host's network links, each on its own line, the text
// starting with a newline (so "\n" + name + "\n" finds one).
inline std::string HostLinks() {
  return "\n" + Shell("ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1");
}

}  // namespace jailwarden::crash
