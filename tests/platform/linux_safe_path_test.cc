// safe_path.h: resolution beneath a jail root, with openat2 and with the
// component walk (forced, and reached through a real ENOSYS from a seccomp
// filter in a child process). Every case runs on a scratch tree made by
// the test: root/ (the jail root) beside outside/ (the "host").

#include "platform/linux/safe_path.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

std::string Errno(int r) {
  if (r >= 0) {
    return "ok";
  }
  const char* n = strerrorname_np(-r);
  return n != nullptr ? n : std::to_string(-r);
}

class SafePathTest : public ::testing::TestWithParam<ResolveMethod> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-safepath-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    root_ = top_ + "/root";
    outside_ = top_ + "/outside";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(outside_.c_str(), 0755), 0);
    Sh("mkdir -p root/etc root/usr/lib root/var && echo jail > root/etc/hosts && "
       "echo host > outside/secret && "
       "ln -s usr/lib root/lib && "                 // relative, inside
       "ln -s ../usr root/etc/up && "               // relative with .., inside
       "ln -s /etc root/abs && "                    // absolute: out
       "ln -s ../../outside root/var/rel_out && "   // relative, out
       "ln -s " + outside_ + "/secret root/etc/resolv.conf && "
       "ln -s loop2 root/loop1 && ln -s loop1 root/loop2 && "
       "ln -s missing root/dangling && mkfifo root/fifo");
    root_fd_ = open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd_, 0);
    SetResolveMethod(GetParam());
  }
  void TearDown() override {
    SetResolveMethod(ResolveMethod::kAuto);
    if (root_fd_ >= 0) {
      close(root_fd_);
    }
    if (!top_.empty()) {
      Sh("rm -rf '" + top_ + "'");
    }
  }
  void Sh(const std::string& cmd) {
    ASSERT_EQ(system(("cd '" + top_ + "' && " + cmd).c_str()), 0) << cmd;
  }
  // The result of OpenBeneath, closing a descriptor.
  std::string Open(const std::string& path, int flags = O_PATH) {
    int fd = OpenBeneath(root_fd_, path, flags);
    if (fd >= 0) {
      close(fd);
    }
    return Errno(fd);
  }
  // Where `fd` is, relative to the scratch directory.
  std::string Where(int fd) {
    char buf[4096];
    ssize_t n = readlink(FdPath(fd).c_str(), buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
      return "?";
    }
    std::string p(buf, static_cast<size_t>(n));
    return p.rfind(top_, 0) == 0 ? p.substr(top_.size()) : p;
  }
  bool Exists(const std::string& rel) {
    struct stat st;
    return lstat((top_ + "/" + rel).c_str(), &st) == 0;
  }

  std::string top_, root_, outside_;
  int root_fd_ = -1;
};

TEST_P(SafePathTest, PlainAndInsideLinksResolve) {
  EXPECT_EQ(Where(OpenBeneath(root_fd_, "/etc/hosts", O_RDONLY)), "/root/etc/hosts");
  EXPECT_EQ(Where(OpenBeneath(root_fd_, "lib", O_PATH)), "/root/usr/lib");
  EXPECT_EQ(Where(OpenBeneath(root_fd_, "/etc/up/lib", O_PATH)), "/root/usr/lib");
  EXPECT_EQ(Where(OpenBeneath(root_fd_, "/etc/../usr/./lib", O_PATH)), "/root/usr/lib");
  EXPECT_EQ(Where(OpenBeneath(root_fd_, "/", O_PATH | O_DIRECTORY)), "/root");
  EXPECT_EQ(Where(OpenBeneath(root_fd_, "", O_PATH)), "/root");
  // O_NOFOLLOW: the link itself.
  int fd = OpenBeneath(root_fd_, "/abs", O_PATH | O_NOFOLLOW);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  close(fd);
  EXPECT_EQ(Open("/abs", O_RDONLY | O_NOFOLLOW), "ELOOP");
}

TEST_P(SafePathTest, DotDotEscapesFail) {
  EXPECT_EQ(Open("../outside/secret"), "EXDEV");
  EXPECT_EQ(Open("/etc/../../outside/secret"), "EXDEV");
  EXPECT_EQ(Open("/var/rel_out/secret"), "EXDEV");
  EXPECT_EQ(Open("/var/rel_out"), "EXDEV");
  EXPECT_EQ(Open(".."), "EXDEV");
}

TEST_P(SafePathTest, AbsoluteSymlinksFail) {
  EXPECT_EQ(Open("/abs"), "EXDEV");
  EXPECT_EQ(Open("/abs/hosts"), "EXDEV");
  EXPECT_EQ(Open("/etc/resolv.conf", O_RDONLY), "EXDEV");
  EXPECT_EQ(Open("/etc/resolv.conf", O_WRONLY | O_TRUNC), "EXDEV");
  EXPECT_EQ(OpenFileBeneath(root_fd_, "/etc/resolv.conf", O_WRONLY | O_TRUNC, 0644), -EXDEV);
  EXPECT_EQ(MkdirAllBeneath(root_fd_, "/abs/new/dir", 0755), -EXDEV);
  EXPECT_EQ(MkdirAllBeneath(root_fd_, "/var/rel_out/new", 0755), -EXDEV);
  EXPECT_FALSE(Exists("outside/new"));
  EXPECT_FALSE(Exists("new"));
  // The host file is untouched.
  std::string cmd = "grep -qx host '" + outside_ + "/secret'";
  EXPECT_EQ(system(cmd.c_str()), 0);
}

TEST_P(SafePathTest, SymlinkLoopsFail) {
  EXPECT_EQ(Open("/loop1"), "ELOOP");
  EXPECT_EQ(Open("/loop1/x"), "ELOOP");
  EXPECT_EQ(MkdirAllBeneath(root_fd_, "/loop2/x", 0755), -ELOOP);
}

TEST_P(SafePathTest, MagicLinksFail) {
  // /proc/self as the "root": cwd, root and exe are magic links.
  int proc = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(proc, 0);
  for (const char* p : {"cwd", "root", "exe", "cwd/etc", "root/etc/passwd"}) {
    int fd = OpenBeneath(proc, p, O_PATH);
    EXPECT_EQ(Errno(fd), "ELOOP") << p;
    if (fd >= 0) {
      close(fd);
    }
  }
  close(proc);
}

TEST_P(SafePathTest, MkdirAllMakesOnlyBelowTheRoot) {
  mode_t old = umask(022);
  int fd = MkdirAllBeneath(root_fd_, "/a/b/c", 0750);
  umask(old);
  EXPECT_EQ(Where(fd), "/root/a/b/c");
  struct stat st;
  ASSERT_EQ(stat((root_ + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  // Through an inside link: made where it points.
  EXPECT_EQ(Where(MkdirAllBeneath(root_fd_, "/lib/x/y", 0755)), "/root/usr/lib/x/y");
  EXPECT_EQ(MkdirAllBeneath(root_fd_, "/etc/hosts/x", 0755), -ENOTDIR);
  EXPECT_EQ(MkdirAllBeneath(root_fd_, "/dangling/x", 0755), -ENOENT);
  EXPECT_FALSE(Exists("root/missing"));
}

TEST_P(SafePathTest, OpenFileCreatesAndRefusesSpecialFiles) {
  int fd = OpenFileBeneath(root_fd_, "/new/dir/file", O_WRONLY | O_TRUNC, 0640);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "x", 1), 1);
  EXPECT_EQ(Where(fd), "/root/new/dir/file");
  // A fifo is never opened (would block), a directory is no file.
  EXPECT_EQ(OpenFileBeneath(root_fd_, "/fifo", O_WRONLY, 0644), -ENXIO);
  EXPECT_EQ(OpenFileBeneath(root_fd_, "/etc", O_RDONLY, 0644), -EISDIR);
  EXPECT_EQ(OpenFileBeneath(root_fd_, "/dangling", O_RDONLY, 0644), -ENOENT);
  EXPECT_EQ(OpenFileBeneath(root_fd_, "/etc/..", O_RDONLY, 0644), -EINVAL);
  // An inside link is followed.
  EXPECT_EQ(Where(OpenFileBeneath(root_fd_, "/lib/../../etc/hosts", O_RDONLY, 0644)),
            "/root/etc/hosts");
  EXPECT_EQ(Open("/x", O_CREAT | O_WRONLY), "EINVAL");
}

INSTANTIATE_TEST_SUITE_P(Methods, SafePathTest,
                         ::testing::Values(ResolveMethod::kOpenat2, ResolveMethod::kWalk),
                         [](const ::testing::TestParamInfo<ResolveMethod>& i) {
                           return i.param == ResolveMethod::kWalk ? "Walk" : "Openat2";
                         });

// kAuto on a kernel without openat2: a seccomp filter in a child makes
// openat2 answer ENOSYS; the same rules then hold through the walk.
TEST(SafePathFallbackTest, EnosysFromOpenat2FallsBackToTheWalk) {
  char tmpl[] = "/tmp/jw-safepath-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string top = tmpl;
  ASSERT_EQ(system(("mkdir -p " + top + "/root/etc && ln -s /etc " + top + "/root/abs").c_str()),
            0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = {sizeof(prog) / sizeof(prog[0]), prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) {
      _exit(10);
    }
    int root = open((top + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    SetResolveMethod(ResolveMethod::kOpenat2);
    if (OpenBeneath(root, "etc", O_PATH) != -ENOSYS) {
      _exit(11);  // the filter is not in the way
    }
    SetResolveMethod(ResolveMethod::kAuto);
    int fd = OpenBeneath(root, "etc", O_PATH | O_DIRECTORY);
    if (fd < 0) {
      _exit(12);
    }
    if (OpenBeneath(root, "abs", O_PATH) != -EXDEV) {
      _exit(13);
    }
    if (OpenBeneath(root, "../", O_PATH) != -EXDEV) {
      _exit(14);
    }
    _exit(0);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  ASSERT_EQ(system(("rm -rf '" + top + "'").c_str()), 0);
}

TEST(SafePathFallbackTest, SplitLast) {
  EXPECT_EQ(SplitLast("/a/b/c").parent, "/a/b");
  EXPECT_EQ(SplitLast("/a/b/c").name, "c");
  EXPECT_EQ(SplitLast("/a/b/").name, "b");
  EXPECT_EQ(SplitLast("c").parent, "");
  EXPECT_EQ(SplitLast("/c").parent, "");
  EXPECT_EQ(SplitLast("/c").name, "c");
}

}  // namespace
}  // namespace jailwarden::platform
