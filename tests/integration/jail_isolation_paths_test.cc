// Root-only: issue 13's escapes through host paths (items 3, 4, 5, 7 and
// the session keyring), each test named after the escape it stops. The
// jail's root plants the links from inside a real jail; the next start
// must fail with the error naming the jail path and the errno, and the
// scratch "host" directories the test made must be exactly as before.
// Never the real /etc: the "host" is a directory of the test's workspace.

#include <grp.h>
#include <linux/keyctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/isolation_fixture.h"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

void MakeHostDir(const std::string& dir) {
  ASSERT_EQ(system(("mkdir -p '" + dir + "'").c_str()), 0);
}

// Starts `name` after its spec changed; the failed start's message.
std::string StartFails(jail::Manager& m, const platform::JailSpec& s) {
  EXPECT_TRUE(m.Update(s).ok());
  absl::Status st = m.Start(s.name);
  EXPECT_FALSE(st.ok());
  return std::string(st.message());
}

// Issue 13, item 3: the jail links /etc/resolv.conf to a host file; a
// restart with `copy: /etc/resolv.conf` overwrote the host file. Now the
// start fails (EXDEV, naming the jail path), the host file is unchanged;
// the same through a linked directory. With the link gone the copy works.
TEST_F(JailIsolationTest, CopyOntoSymlinkToHostFileFails) {
  const std::string host = ws_.top + "/host";
  MakeHostDir(host);
  WriteText(host + "/secret", "host-original\n");
  WriteText(ws_.top + "/resolv.src", "nameserver 192.0.2.1\n");
  platform::JailSpec s = Spec("cp1");
  Up(*manager_, s);
  EXPECT_EQ(JailShell(*manager_, "cp1",
                      "rm -f /etc/resolv.conf && ln -s " + host +
                          "/secret /etc/resolv.conf && ln -s " + host +
                          " /etc/conf.d && echo ok")
                .out,
            "ok\n");
  ASSERT_TRUE(manager_->Stop("cp1").ok());

  s.copies = {{ws_.top + "/resolv.src", "/etc/resolv.conf"}};
  std::string msg = StartFails(*manager_, s);
  EXPECT_THAT(msg, HasSubstr("copy target /etc/resolv.conf: EXDEV"));
  EXPECT_THAT(msg, HasSubstr("leads out of the jail's root"));
  s.copies = {{ws_.top + "/resolv.src", "/etc/conf.d/x.conf"}};
  EXPECT_THAT(StartFails(*manager_, s), HasSubstr("copy target /etc/conf.d/x.conf: EXDEV"));
  EXPECT_EQ(ReadText(host + "/secret"), "host-original\n");
  EXPECT_EQ(ListDir(host), std::set<std::string>{"secret"});

  // The jail's link removed: the copy replaces the file.
  ASSERT_EQ(unlink((s.path + "/etc/resolv.conf").c_str()), 0);
  s.copies = {{ws_.top + "/resolv.src", "/etc/resolv.conf"}};
  ASSERT_TRUE(manager_->Update(s).ok());
  ASSERT_TRUE(manager_->Start("cp1").ok());
  EXPECT_EQ(JailShell(*manager_, "cp1", "cat /etc/resolv.conf").out, "nameserver 192.0.2.1\n");
  ASSERT_TRUE(manager_->Destroy("cp1").ok());
}

// Issue 13, item 4: with /var/cache linked to a host path, a directory
// mount on it made the directory on the host (and a file mount an empty
// file) and the mount went missing. Now the start fails naming the mount
// target and EXDEV; nothing appears on the host.
TEST_F(JailIsolationTest, MountTargetSymlinkedToHostDirFails) {
  const std::string host = ws_.top + "/hostmnt";
  const std::string src = ws_.top + "/srcdir";
  MakeHostDir(host);
  MakeHostDir(src);
  WriteText(src + "/data", "x\n");
  WriteText(ws_.top + "/motd.src", "hello\n");
  platform::JailSpec s = Spec("mt1");
  Up(*manager_, s);
  EXPECT_EQ(JailShell(*manager_, "mt1",
                      "rm -rf /var/cache && ln -s " + host + "/made /var/cache && ln -s " + host +
                          "/file.conf /etc/motd && echo ok")
                .out,
            "ok\n");
  ASSERT_TRUE(manager_->Stop("mt1").ok());

  s.mounts = {{src, "/var/cache", "nullfs", true, ""}};
  EXPECT_THAT(StartFails(*manager_, s),
              HasSubstr("mount target /var/cache: EXDEV (Invalid cross-device link): a symbolic "
                        "link or \"..\" on the path leads out of the jail's root"));
  s.mounts = {{src, "/var/cache/sub", "nullfs", false, ""}};
  std::string msg = StartFails(*manager_, s);
  EXPECT_THAT(msg, HasSubstr("mount target /var/cache/sub: EXDEV"));
  s.mounts = {{ws_.top + "/motd.src", "/etc/motd", "nullfs", true, ""}};
  msg = StartFails(*manager_, s);
  EXPECT_THAT(msg, HasSubstr("mount target /etc/motd: EXDEV"));
  EXPECT_TRUE(ListDir(host).empty());
  ASSERT_TRUE(manager_->Destroy("mt1").ok());
}

// Issue 13, item 4: /tmp linked to /etc lost its `tmpfs size=4m` silently
// and the jail wrote into the host's /etc. Here the "host /etc" is a
// scratch directory: the start fails (mount target /tmp, EXDEV) and it is
// unchanged. A jail with such a /tmp and no mount on it still starts (the
// /tmp init makes is a convenience: nothing is made anywhere); with the
// link gone the tmpfs is there with its size.
TEST_F(JailIsolationTest, TmpSymlinkedToEtcWithTmpfsFails) {
  const std::string etc = ws_.top + "/hostetc";
  MakeHostDir(etc);
  WriteText(etc + "/passwd", "root:x:0:0::/root:/bin/sh\n");
  platform::JailSpec s = Spec("tmp1");
  Up(*manager_, s);
  EXPECT_EQ(JailShell(*manager_, "tmp1", "rm -rf /tmp && ln -s " + etc + " /tmp && echo ok").out,
            "ok\n");
  ASSERT_TRUE(manager_->Stop("tmp1").ok());

  s.mounts = {{"tmpfs", "/tmp", "tmpfs", false, "size=4m"}};
  std::string msg = StartFails(*manager_, s);
  EXPECT_THAT(msg, HasSubstr("mount target /tmp: EXDEV"));
  EXPECT_EQ(ListDir(etc), std::set<std::string>{"passwd"});
  EXPECT_EQ(ReadText(etc + "/passwd"), "root:x:0:0::/root:/bin/sh\n");

  platform::JailSpec plain = s;
  plain.mounts.clear();
  ASSERT_TRUE(manager_->Update(plain).ok());
  ASSERT_TRUE(manager_->Start("tmp1").ok());
  ASSERT_TRUE(manager_->Stop("tmp1").ok());
  EXPECT_EQ(ListDir(etc), std::set<std::string>{"passwd"});

  ASSERT_EQ(unlink((s.path + "/tmp").c_str()), 0);
  ASSERT_TRUE(manager_->Update(s).ok());
  ASSERT_TRUE(manager_->Start("tmp1").ok());
  EXPECT_EQ(JailShell(*manager_, "tmp1", "grep -c ' /tmp tmpfs .*size=4096k' /proc/mounts").out,
            "1\n");
  ASSERT_TRUE(manager_->Destroy("tmp1").ok());
}

// Runs `path` (with "euid") as host user nobody; the errno of execve, 0
// if it ran (its output then goes to `out`).
int ExecAsNobody(const std::string& path, std::string* out) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
      _exit(100);
    }
    execl(path.c_str(), "suid_probe", "euid", static_cast<char*>(nullptr));
    _exit(errno);
  }
  close(fds[1]);
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    out->append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Issue 13, item 5: a set-user-ID root binary made in a thin jail's
// writable layer ran as euid 0 for host user nobody (roots 0755). The
// directory holding the layers is closed to host users at every start
// (an old 0755 one included), so execve fails with EACCES, also through
// /proc/PID/root (pid 1 is not dumpable).
TEST_F(JailIsolationTest, SetuidBinaryInLayerNotExecutableByHostUser) {
  // The workspace as an old state directory would be: open to everyone.
  ASSERT_EQ(chmod(ws_.top.c_str(), 0755), 0);
  MakeHostDir(ws_.top + "/roots");
  ASSERT_EQ(chmod((ws_.top + "/roots").c_str(), 0755), 0);
  platform::JailSpec s;
  s.name = "suid1";
  s.base_root = BusyboxBase();
  s.path = ws_.top + "/roots/suid1";  // the writable layer
  s.persist = true;
  s.stop_timeout = absl::Seconds(2);
  ASSERT_EQ(system(("cp '" + EscapeProbePath() + "' '" + ws_.top + "/probe'").c_str()), 0);
  s.mounts = {{ws_.top + "/probe", "/probe", "nullfs", true, ""}};
  Up(*manager_, s);
  EXPECT_EQ(JailShell(*manager_, "suid1",
                      "cp /probe /bin/suid_probe && chmod 4755 /bin/suid_probe && "
                      "/bin/suid_probe euid")
                .out,
            "euid 0\n");
  struct stat st;
  ASSERT_EQ(stat((ws_.top + "/roots").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  const std::string in_layer = s.path + "/bin/suid_probe";
  ASSERT_EQ(stat(in_layer.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  std::string out;
  EXPECT_EQ(ExecAsNobody(in_layer, &out), EACCES);
  const int64_t init = manager_->Get("suid1")->instance.init_pid;
  EXPECT_EQ(ExecAsNobody("/proc/" + std::to_string(init) + "/root/bin/suid_probe", &out), EACCES);
  EXPECT_EQ(out, "");
  ASSERT_TRUE(manager_->Destroy("suid1").ok());
}

// Issue 13, item 7: the jail's mountinfo showed the overlay's host paths
// (lower, upper and work directories). A thin jail's overlay is mounted
// from short staging names; no line names the workspace (state, run and
// roots directories) or the base root. What the kernel does not let us
// hide (docs/security.md): a plain jail's root is a bind mount, whose
// mountinfo root field is its path within its file system.
TEST_F(JailIsolationTest, MountinfoShowsNoHostPathOfStateDir) {
  platform::JailSpec s;
  s.name = "mi1";
  s.base_root = BusyboxBase();
  s.path = ws_.top + "/roots/mi1";
  s.persist = true;
  s.stop_timeout = absl::Seconds(2);
  Up(*manager_, s);
  const std::string info = JailShell(*manager_, "mi1", "cat /proc/self/mountinfo").out;
  EXPECT_THAT(info, HasSubstr(" / / "));
  EXPECT_THAT(info, HasSubstr("lowerdir=l,upperdir=u/mi1,workdir=u/.mi1.jw-work"));
  const std::string base_dir = BusyboxBase().substr(0, BusyboxBase().rfind('/'));
  const std::string top_name = ws_.top.substr(ws_.top.rfind('/'));
  EXPECT_THAT(info, Not(HasSubstr(top_name))) << info;
  EXPECT_THAT(info, Not(HasSubstr(base_dir.substr(base_dir.rfind('/'))))) << info;
  ASSERT_TRUE(manager_->Destroy("mi1").ok());

  // A plain jail: only the root's own line carries its path.
  Up(*manager_, Spec("mi2"));
  const std::string plain = JailShell(*manager_, "mi2", "cat /proc/self/mountinfo").out;
  int lines_with_path = 0;
  std::istringstream lines(plain);
  for (std::string l; std::getline(lines, l);) {
    if (l.find(top_name) != std::string::npos) {
      ++lines_with_path;
      EXPECT_THAT(l, HasSubstr("/roots/mi2 / ")) << l;
    }
  }
  EXPECT_EQ(lines_with_path, 1) << plain;
  ASSERT_TRUE(manager_->Destroy("mi2").ok());
}

// Issue 13, item 2 (the keyring's other half): a jail's processes had the
// daemon's session keyring. Each jail now gets a new one, through pid 1's
// command socket and through the setns helper alike: with keyctl allowed
// it is not the host's, and a key host root put in its own session
// keyring is not found. With the default filter keyctl is refused.
TEST_F(JailIsolationTest, FreshSessionKeyring) {
  const std::string desc = "jw-it-session-" + std::to_string(getpid());
  long host_session = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1);
  ASSERT_GT(host_session, 0) << strerror(errno);
  long key = syscall(SYS_add_key, "user", desc.c_str(), "x", 1, KEY_SPEC_SESSION_KEYRING);
  ASSERT_GT(key, 0) << strerror(errno);
  const std::string probe = "escape_probe session " + desc + " " + std::to_string(host_session);
  Up(*manager_, Spec("ses1", {{"linux.seccomp", "allow:keyctl"}}));
  EXPECT_EQ(JailShell(*manager_, "ses1", probe).out, "session errno=0 host=0\nsearch errno=126\n");
  Up(*manager_, Spec("ses2"));
  EXPECT_EQ(JailShell(*manager_, "ses2", probe).out, "session errno=1 host=0\n");
  jail::Manager& hm = HelperManager();
  Up(hm, Spec("ses3", {{"linux.seccomp", "allow:keyctl"}}));
  ASSERT_EQ(hm.Get("ses3")->instance.backend_state.count("init.socket"), 0u);
  EXPECT_EQ(JailShell(hm, "ses3", probe).out, "session errno=0 host=0\nsearch errno=126\n");
  syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
  ASSERT_TRUE(hm.Destroy("ses3").ok());
  ASSERT_TRUE(manager_->Destroy("ses2").ok());
  ASSERT_TRUE(manager_->Destroy("ses1").ok());
}

}  // namespace
}  // namespace jailwarden::testing
