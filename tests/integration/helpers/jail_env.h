#pragma once

// Shared set-up for the root-only Linux jail integration tests: the root
// check (skip, or fail under CI=true), a busybox base root built once per
// test binary, a Manager on the real LinuxJailRuntime with its own state
// dir and cgroup parent, and a snapshot of what the host has (mounts,
// cgroup dirs, network interfaces, child processes) to prove a test left
// nothing behind.

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "jailwarden/jail/manager.h"
#include "jailwarden/platform/linux/linux_jail_runtime.h"
#include "jailwarden/platform/linux/rootfs.h"

namespace jailwarden::testing {

// Skips (or, when CI=true, fails) a test that needs root.
#define JW_REQUIRE_ROOT()                                                          \
  do {                                                                             \
    if (geteuid() != 0) {                                                          \
      const char* ci = getenv("CI");                                               \
      if (ci != nullptr && std::string(ci) == "true") {                            \
        FAIL() << "jail integration tests need root, and CI=true forbids skipping"; \
      }                                                                            \
      GTEST_SKIP() << "jail integration tests need root (run as root, or CI=true)"; \
    }                                                                              \
  } while (false)

// Skips a test that cannot run on this host with `why` (streamable), or,
// when CI=true, fails it: what CI must provide (tools, loop devices).
#define JW_SKIP_OR_FAIL_UNDER_CI(why)                        \
  do {                                                       \
    const char* ci_ = getenv("CI");                          \
    if (ci_ != nullptr && std::string(ci_) == "true") {      \
      FAIL() << why << " (CI=true: this test must run)";     \
    }                                                        \
    GTEST_SKIP() << why;                                     \
  } while (false)

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline bool PathExists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string l;
  while (std::getline(in, l)) {
    out.push_back(l);
  }
  return out;
}

inline std::set<std::string> ListDir(const std::string& dir) {
  std::set<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (auto* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") {
        out.insert(n);
      }
    }
    closedir(d);
  }
  return out;
}

inline std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  char* p = mkdtemp(tmpl.data());
  return p == nullptr ? "" : std::string(p);
}

inline void RemoveTree(const std::string& dir) {
  if (!dir.empty() && dir.rfind("/tmp/", 0) == 0) {
    (void)!system(("rm -rf '" + dir + "'").c_str());
  }
}

// The busybox base root, built once per process under /tmp.
inline const std::string& BusyboxBase() {
  static const std::string* base = [] {
    auto* dir = new std::string(MakeTempDir("jw-it-base"));
    static std::string top = *dir;
    atexit([] { RemoveTree(top); });
    absl::Status st = platform::BuildBusyboxRoot(*dir + "/root");
    if (!st.ok()) {
      ADD_FAILURE() << st;
    }
    *dir += "/root";
    return dir;
  }();
  return *base;
}

// Paths a jail test works in; everything under one /tmp directory.
struct JailWorkspace {
  std::string top;        // /tmp/jw-it-XXXXXX
  std::string state_dir;  // top/state
  std::string run_dir;    // top/run
  std::string cgroup_parent;

  static JailWorkspace Make(const std::string& tag) {
    JailWorkspace w;
    w.top = MakeTempDir("jw-it-" + tag);
    w.state_dir = w.top + "/state";
    w.run_dir = w.top + "/run";
    w.cgroup_parent = "jailwarden-it-" + std::to_string(getpid());
    return w;
  }
  // A private copy of the busybox root for one jail (cp -a: 2 MB).
  std::string CopyRoot(const std::string& name) const {
    std::string dst = top + "/roots/" + name;
    (void)!system(("mkdir -p '" + top + "/roots' && cp -a '" + BusyboxBase() + "' '" + dst +
                   "'")
                      .c_str());
    return dst;
  }
};

inline std::string InitPath() { return std::string(JW_BINARY_DIR) + "/src/jailwarden-init"; }

inline platform::LinuxJailRuntimeOptions RuntimeOptions(const JailWorkspace& w) {
  platform::LinuxJailRuntimeOptions o;
  o.run_dir = w.run_dir;
  o.init_path = InitPath();
  o.cgroup_parent = w.cgroup_parent;
  return o;
}

inline std::unique_ptr<jail::Manager> OpenManager(
    const JailWorkspace& w, std::function<void(const jail::LifecycleEvent&)> observer = {}) {
  auto rt = platform::NewLinuxJailRuntime(RuntimeOptions(w));
  EXPECT_TRUE(rt.ok()) << rt.status();
  if (!rt.ok()) {
    return nullptr;
  }
  jail::ManagerOptions o;
  o.state_dir = w.state_dir;
  o.observer = std::move(observer);
  auto m = jail::Manager::Open(o, *std::move(rt));
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : nullptr;
}

// Runs `script` with /bin/sh -c in the jail; returns exit code and stdout.
struct ShellResult {
  int exit_code = -1;
  std::string out;
};

inline ShellResult JailShell(jail::Manager& m, const std::string& jail,
                             const std::string& script) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return {};
  }
  platform::ExecRequest req;
  req.argv = {"/bin/sh", "-c", script};
  req.stdout_fd = fds[1];
  req.timeout = absl::Seconds(20);
  auto r = m.Exec(jail, req);
  close(fds[1]);
  ShellResult out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    out.out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) {
    out.exit_code = r->term_signal != 0 ? 128 + r->term_signal : r->exit_code;
  }
  return out;
}

// Host shell with captured stdout.
inline ShellResult HostShell(const std::string& script) {
  ShellResult r;
  FILE* f = popen(script.c_str(), "r");
  if (f == nullptr) {
    return r;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
    r.out.append(buf, n);
  }
  int st = pclose(f);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// What the host has that a jail could leave behind.
struct HostSnapshot {
  std::set<std::string> mounts;      // /proc/self/mountinfo: mount point + source
  std::set<std::string> interfaces;  // /sys/class/net
  std::set<std::string> cgroup_dirs; // <hierarchy>/<own>/<cgroup_parent> that exist
  std::set<int> children;            // our child processes (any state)

  static HostSnapshot Take(const std::string& cgroup_parent) {
    HostSnapshot s;
    for (const std::string& l : ReadLines("/proc/self/mountinfo")) {
      std::istringstream in(l);
      std::string id, parent, dev, root, point;
      in >> id >> parent >> dev >> root >> point;
      s.mounts.insert(point + " " + root);
    }
    s.interfaces = ListDir("/sys/class/net");
    std::string own_mem;
    for (const std::string& l : ReadLines("/proc/self/cgroup")) {
      if (l.find(":memory:") != std::string::npos) {
        own_mem = l.substr(l.rfind(':') + 1);
      }
    }
    for (const char* h : {"pids", "cpu", "cpuacct", "blkio", "freezer", "unified"}) {
      std::string p = std::string("/sys/fs/cgroup/") + h + "/" + cgroup_parent;
      if (PathExists(p)) {
        s.cgroup_dirs.insert(p);
      }
    }
    std::string pm = "/sys/fs/cgroup/memory" + own_mem + "/" + cgroup_parent;
    if (PathExists(pm)) {
      s.cgroup_dirs.insert(pm);
    }
    std::string me = std::to_string(getpid());
    for (const std::string& pid : ListDir("/proc")) {
      if (pid[0] < '0' || pid[0] > '9') {
        continue;
      }
      std::string stat = ReadText("/proc/" + pid + "/stat");
      size_t rp = stat.rfind(')');
      if (rp == std::string::npos) {
        continue;
      }
      std::istringstream in(stat.substr(rp + 2));
      std::string state, ppid;
      in >> state >> ppid;
      if (ppid == me) {
        s.children.insert(std::stoi(pid));
      }
    }
    return s;
  }
};

// Expects `after` to hold nothing `before` did not (waiting up to 3 s for
// asynchronous teardown such as netns destruction).
// Interfaces are compared only when `check_interfaces` (the network tests):
// other tests create none, and comparing would race with a concurrent
// network test under ctest -j.
inline void ExpectNothingLeft(const HostSnapshot& before, const std::string& cgroup_parent,
                              bool check_interfaces = false) {
  HostSnapshot after;
  for (int i = 0; i < 60; ++i) {
    after = HostSnapshot::Take(cgroup_parent);
    if (!check_interfaces) {
      after.interfaces = before.interfaces;
    }
    if (after.mounts == before.mounts && after.interfaces == before.interfaces &&
        after.cgroup_dirs.empty() && after.children == before.children) {
      return;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (const std::string& m : after.mounts) {
    EXPECT_TRUE(before.mounts.count(m)) << "mount left behind: " << m;
  }
  for (const std::string& i : after.interfaces) {
    EXPECT_TRUE(before.interfaces.count(i)) << "interface left behind: " << i;
  }
  for (const std::string& c : after.cgroup_dirs) {
    ADD_FAILURE() << "cgroup left behind: " << c;
  }
  for (int pid : after.children) {
    EXPECT_TRUE(before.children.count(pid))
        << "process left behind: " << pid << " " << ReadText("/proc/" + std::to_string(pid) + "/stat");
  }
}

}  // namespace jailwarden::testing
