// Root-only: the daemon's own placement in the unified cgroup tree
// (include/jailwarden/platform/linux/cgroup_placement.h) with the real
// kernel. The test makes a cgroup below its own on the unified tree,
// starts a real `jailwarden serve` in it (the child joins it before exec,
// as systemd puts a unit's main process in the unit's cgroup), and checks
// that the daemon moved itself into `<cgroup>/supervisor`, enabled every
// controller the cgroup offers (on this kind of hybrid host the unified
// tree offers what v1 does not bind: hugetlb here; possibly none) and that
// a jail's cgroup, beside the leaf, has them. Everything made is removed.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"
#include "helpers/serve.h"

namespace jailwarden::testing {
namespace {

std::set<std::string> Words(const std::string& text) {
  std::set<std::string> out;
  for (absl::string_view w : absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    out.insert(std::string(w));
  }
  return out;
}

// This process's path in the unified tree ("0::<path>").
std::string OwnUnifiedPath(pid_t pid) {
  for (const std::string& l : ReadLines(absl::StrCat("/proc/", pid, "/cgroup"))) {
    if (l.rfind("0::", 0) == 0) {
      return l.substr(3);
    }
  }
  return "";
}

std::string UnifiedMount() {
  if (PathExists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup";
  if (PathExists("/sys/fs/cgroup/unified/cgroup.controllers")) return "/sys/fs/cgroup/unified";
  return "";
}

// rmdir of `dir` and every cgroup below it, children first.
void RemoveCgroupTree(const std::string& dir) {
  for (const std::string& n : ListDir(dir)) {
    struct stat st;
    const std::string p = dir + "/" + n;
    if (lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      RemoveCgroupTree(p);
    }
  }
  rmdir(dir.c_str());
}

class DaemonCgroupPlacementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ASSERT_TRUE(PathExists(kJailwarden)) << kJailwarden;
    ASSERT_FALSE(BusyboxBase().empty());
    const std::string mount = UnifiedMount();
    if (mount.empty()) {
      GTEST_SKIP() << "no unified cgroup tree on this host (v1-only)";
    }
    own_ = OwnUnifiedPath(getpid());
    ASSERT_FALSE(own_.empty());
    rel_ = absl::StrCat(own_ == "/" ? "" : own_, "/jw-it-place-", getpid());
    cg_ = mount + rel_;
    ASSERT_EQ(mkdir(cg_.c_str(), 0755), 0) << cg_ << ": " << strerror(errno);
    top_ = MakeTempDir("jw-it-place");
    config_ = top_ + "/policy.yaml";
    WriteText(config_, absl::StrCat("server:\n  listen: 127.0.0.1:9815\n  api_socket: \"\"\n",
                                    "  state_dir: ", top_, "/state\n",
                                    "templates:\n  t:\n    base: ", BusyboxBase(),
                                    "\n    persist: true\n    stop.timeout: 2s\n",
                                    "jails:\n  pl:\n    template: t\n",
                                    "    exec.start: \"sleep 100000 </dev/null >/dev/null "
                                    "2>&1 &\"\n"));
  }

  void TearDown() override {
    Stop();
    if (!cg_.empty()) {
      RemoveCgroupTree(cg_);
      EXPECT_FALSE(PathExists(cg_)) << "left behind: " << cg_;
    }
    RemoveTree(top_);
  }

  // serve, started inside cg_ (joined between fork and exec); waits at
  // most 60 s for its port file.
  bool Start() {
    const std::string port_file = top_ + "/port";
    const std::string procs = cg_ + "/cgroup.procs";
    std::vector<std::string> args = {kJailwarden, "serve", "--config", config_,
                                     "--listen", "127.0.0.1:0", "--port-file", port_file,
                                     "--log-file", top_ + "/serve.log",
                                     "--stop-jails-on-exit"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, "0", 1) != 1) _exit(126);
      close(fd);
      execv(kJailwarden.c_str(), argv.data());
      _exit(127);
    }
    return WaitUntilReady(
        pid_,
        [&] {
          const std::string p = ReadText(port_file);
          return !p.empty() && p.back() == '\n';
        },
        absl::Seconds(60), absl::Milliseconds(50));
  }

  // SIGTERM (serve stops the jail: --stop-jails-on-exit), 60 s at most.
  void Stop() { TerminateChild(pid_); }

  std::string Log() const { return ReadText(top_ + "/serve.log"); }

  std::string own_, rel_, cg_, top_, config_;
  pid_t pid_ = -1;
};

TEST_F(DaemonCgroupPlacementTest, DaemonMovesIntoItsLeafAndJailsGetTheControllers) {
  const std::set<std::string> offered = Words(ReadText(cg_ + "/cgroup.controllers"));
  std::cout << "unified tree offers the test cgroup: "
            << (offered.empty() ? "(none)" : absl::StrJoin(offered, " ")) << "\n";
  ASSERT_TRUE(Start()) << Log();

  // The daemon, every thread of it, is in the leaf; the base is empty.
  EXPECT_EQ(OwnUnifiedPath(pid_), rel_ + "/supervisor") << Log();
  EXPECT_EQ(ReadText(cg_ + "/cgroup.procs"), "");
  for (const std::string& task : ListDir(absl::StrCat("/proc/", pid_, "/task"))) {
    EXPECT_EQ(Words(ReadText(cg_ + "/supervisor/cgroup.threads")).count(task), 1u) << task;
  }
  // Every offered controller is on for the children.
  EXPECT_EQ(Words(ReadText(cg_ + "/cgroup.subtree_control")), offered);

  // The jail's cgroup is beside the leaf: <cg>/<parent>/pl/jail.
  std::set<std::string> children;
  for (const std::string& n : ListDir(cg_)) {
    if (PathExists(cg_ + "/" + n + "/cgroup.procs")) children.insert(n);
  }
  ASSERT_EQ(children.size(), 2u) << absl::StrJoin(children, " ") << Log();
  ASSERT_EQ(children.count("supervisor"), 1u);
  children.erase("supervisor");
  const std::string parent = cg_ + "/" + *children.begin();
  EXPECT_EQ(children.begin()->rfind("jailwarden", 0), 0u) << *children.begin();
  const std::string jail = parent + "/pl";
  EXPECT_EQ(Words(ReadText(parent + "/cgroup.subtree_control")), offered);
  EXPECT_EQ(Words(ReadText(jail + "/cgroup.controllers")), offered);
  for (const std::string& c : offered) {
    bool has_knob = false;
    for (const std::string& f : ListDir(jail)) {
      has_knob = has_knob || f.rfind(c + ".", 0) == 0;
    }
    EXPECT_TRUE(has_knob) << "no " << c << ".* file in " << jail;
  }
  EXPECT_FALSE(Words(ReadText(jail + "/jail/cgroup.procs")).empty())
      << "the jail's processes are not in its leaf";

  // Stopped with its jails: the jails' cgroups go, the leaf stays empty.
  Stop();
  EXPECT_FALSE(PathExists(jail)) << jail;
  EXPECT_EQ(ReadText(cg_ + "/supervisor/cgroup.procs"), "");
}

}  // namespace
}  // namespace jailwarden::testing
