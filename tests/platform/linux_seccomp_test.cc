// The jail's seccomp filter (jailwarden/platform/linux/seccomp.h): the
// settings' text form, linux.seccomp's parameter, how allow.* relaxes the
// filter, and the built program installed in a forked child, where the
// refused calls fail with the documented errno and ordinary ones work.

#include <errno.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/platform/linux/capabilities.h"
#include "jailwarden/platform/linux/seccomp.h"
#include "platform/seccomp_under_filter.h"
#include "platform/linux/init_config.h"

namespace jailwarden::platform {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

JailSpec Spec(std::map<std::string, std::string> params) {
  JailSpec s;
  s.name = "j";
  s.path = "/tmp/j";
  s.parameters = std::move(params);
  return s;
}

TEST(SeccompTest, KnowsSyscallNames) {
  EXPECT_TRUE(IsKnownSyscallName("keyctl"));
  EXPECT_TRUE(IsKnownSyscallName("clone3"));
  EXPECT_TRUE(IsKnownSyscallName("vm86"));  // i386 only: still a name
  EXPECT_FALSE(IsKnownSyscallName("keyctll"));
  EXPECT_FALSE(IsKnownSyscallName(""));
  for (std::string_view name : DefaultDeniedSyscalls()) {
    EXPECT_TRUE(IsKnownSyscallName(name)) << name;
  }
}

TEST(SeccompTest, SettingsTextRoundTrips) {
  SeccompSettings s;
  EXPECT_EQ(SeccompSettingsToText(s), "default");
  s.allow_mount = true;
  s.allow_time = true;
  s.allow_quotas = true;
  s.allow = {"keyctl", "add_key"};
  s.deny = {"ptrace"};
  const std::string text = SeccompSettingsToText(s);
  EXPECT_EQ(text, "default mount time quotas allow:keyctl,add_key deny:ptrace");
  SeccompSettings back;
  std::string error;
  ASSERT_TRUE(SeccompSettingsFromText(text, &back, &error)) << error;
  EXPECT_EQ(back, s);
}

TEST(SeccompTest, SettingsTextRejectsUnknownTokensAndNames) {
  SeccompSettings s;
  std::string error;
  EXPECT_FALSE(SeccompSettingsFromText("", &s, &error));
  EXPECT_FALSE(SeccompSettingsFromText("mount", &s, &error));
  EXPECT_THAT(error, HasSubstr("start with \"default\""));
  EXPECT_FALSE(SeccompSettingsFromText("default fly", &s, &error));
  EXPECT_THAT(error, HasSubstr("\"fly\""));
  EXPECT_FALSE(SeccompSettingsFromText("default allow:keyctl,nosuchcall", &s, &error));
  EXPECT_THAT(error, HasSubstr("\"nosuchcall\""));
}

TEST(SeccompTest, InitConfigCarriesTheSettings) {
  InitConfig c;
  c.seccomp = "default mount allow:keyctl";
  InitConfig back;
  std::string error;
  ASSERT_TRUE(InitConfigFromJson(InitConfigToJson(c), &back, &error)) << error;
  EXPECT_EQ(back.seccomp, "default mount allow:keyctl");
}

TEST(SeccompTest, ParameterParsesAllowAndDeny) {
  SeccompSettings s;
  ASSERT_TRUE(ParseSeccompParameter("allow:keyctl,add_key  deny:ptrace allow:keyctl", &s).ok());
  EXPECT_THAT(s.allow, ElementsAre("keyctl", "add_key"));
  EXPECT_THAT(s.deny, ElementsAre("ptrace"));
  EXPECT_EQ(FormatSeccompParameter(s.allow, s.deny), "allow:keyctl,add_key deny:ptrace");

  absl::Status st = ParseSeccompParameter("allow:keyctl,kyectl", &s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("\"kyectl\": not a system call"));
  st = ParseSeccompParameter("permit:keyctl", &s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("\"permit:keyctl\""));
  st = ParseSeccompParameter("allow:keyctl deny:keyctl", &s);
  EXPECT_THAT(std::string(st.message()), HasSubstr("both allowed and denied"));
}

TEST(SeccompTest, PrivilegesCarryTheDefaultFilter) {
  absl::StatusOr<JailPrivileges> p = JailPrivilegesFor(Spec({}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->seccomp, SeccompSettings{});
  for (const std::string& w : p->warnings) {
    EXPECT_THAT(w, ::testing::Not(HasSubstr("linux.seccomp")));
  }
}

TEST(SeccompTest, AllowKeysRelaxTheMatchingCalls) {
  absl::StatusOr<JailPrivileges> p = JailPrivilegesFor(
      Spec({{"allow.mount", "true"}, {"allow.settime", "true"}, {"allow.quotas", "true"}}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->seccomp.allow_mount);
  EXPECT_TRUE(p->seccomp.allow_time);
  EXPECT_TRUE(p->seccomp.allow_quotas);
  // allow.suser: false — the root is an ordinary user; nothing relaxed.
  p = JailPrivilegesFor(Spec({{"allow.mount", "true"}, {"allow.suser", "false"}}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->seccomp.allow_mount);
}

TEST(SeccompTest, LinuxSeccompRelaxingWarnsAndBadValuesFail) {
  absl::StatusOr<JailPrivileges> p =
      JailPrivilegesFor(Spec({{"linux.seccomp", "allow:keyctl deny:ptrace"}}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->seccomp.allow, ElementsAre("keyctl"));
  EXPECT_THAT(p->seccomp.deny, ElementsAre("ptrace"));
  bool warned = false;
  for (const std::string& w : p->warnings) {
    warned = warned || w.find("linux.seccomp: allows keyctl") != std::string::npos;
  }
  EXPECT_TRUE(warned);
  // Only extending it is no warning.
  p = JailPrivilegesFor(Spec({{"linux.seccomp", "deny:ptrace"}}));
  ASSERT_TRUE(p.ok());
  for (const std::string& w : p->warnings) {
    EXPECT_THAT(w, ::testing::Not(HasSubstr("linux.seccomp")));
  }
  p = JailPrivilegesFor(Spec({{"linux.seccomp", "allow:nope"}}));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("linux.seccomp: \"nope\""));
}

TEST(SeccompTest, BuildFailsForAnUnknownName) {
  SeccompSettings s;
  s.deny = {"nosuchcall"};
  std::vector<sock_filter> program;
  std::string error;
  EXPECT_FALSE(BuildSeccompFilter(s, &program, &error));
  EXPECT_THAT(error, HasSubstr("nosuchcall"));
}

using seccomp_test::UnderFilter;

// errno of a failed call, 0 if it succeeded.
int Errno(long rc) { return rc < 0 ? errno : 0; }

TEST(SeccompTest, FilterRefusesWithTheDocumentedErrno) {
  SeccompSettings s;
  EXPECT_EQ(UnderFilter(s,
                        [] {
                          return Errno(
                              syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
                        }),
            EPERM);
  EXPECT_EQ(UnderFilter(s,
                        [] {
                          return Errno(
                              syscall(SYS_add_key, "user", "jw", "x", 1, KEY_SPEC_SESSION_KEYRING));
                        }),
            EPERM);
  EXPECT_EQ(UnderFilter(s, [] { return Errno(unshare(CLONE_NEWUSER)); }), EPERM);
  EXPECT_EQ(UnderFilter(s, [] { return Errno(unshare(CLONE_NEWNS | CLONE_NEWCGROUP)); }), EPERM);
  EXPECT_EQ(UnderFilter(s, [] { return Errno(syscall(SYS_setns, 0, 0)); }), EPERM);
  EXPECT_EQ(UnderFilter(s, [] { return Errno(syscall(SYS_clone3, nullptr, 0)); }), ENOSYS);
  EXPECT_EQ(UnderFilter(s, [] { return Errno(syscall(SYS_bpf, 0, nullptr, 0)); }), EPERM);
  EXPECT_EQ(UnderFilter(s, [] { return Errno(mount("none", "/mnt", "tmpfs", 0, nullptr)); }),
            EPERM);
  EXPECT_EQ(
      UnderFilter(s, [] { return Errno(syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0)); }),
      EPERM);
}

TEST(SeccompTest, FilterLetsOrdinaryProcessesWork) {
  SeccompSettings s;
  // fork (clone without namespace flags), a thread-free exec of /bin/true,
  // unshare(0) and an ordinary file system call.
  EXPECT_EQ(UnderFilter(s,
                        [] {
                          pid_t c = fork();
                          if (c == 0) {
                            execl("/bin/true", "true", static_cast<char*>(nullptr));
                            _exit(127);
                          }
                          int st = 0;
                          waitpid(c, &st, 0);
                          if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                            return 1;
                          }
                          if (unshare(0) != 0 || access("/", F_OK) != 0) {
                            return 2;
                          }
                          return system("/bin/sh -c 'true'") == 0 ? 0 : 3;
                        }),
            0);
}

TEST(SeccompTest, AllowTakesACallOffTheFilter) {
  SeccompSettings s;
  s.allow = {"keyctl", "unshare"};
  s.deny = {"getcpu"};
  EXPECT_NE(UnderFilter(s,
                        [] {
                          return Errno(
                              syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
                        }),
            EPERM);
  EXPECT_NE(UnderFilter(s, [] { return Errno(unshare(CLONE_NEWUTS)); }), EPERM);
  EXPECT_EQ(UnderFilter(s, [] { return Errno(syscall(SYS_getcpu, nullptr, nullptr, nullptr)); }),
            EPERM);
  // add_key was not named: still refused.
  EXPECT_EQ(UnderFilter(s,
                        [] {
                          return Errno(
                              syscall(SYS_add_key, "user", "jw", "x", 1, KEY_SPEC_SESSION_KEYRING));
                        }),
            EPERM);
}

TEST(SeccompTest, AllowMountLetsMountThrough) {
  SeccompSettings s;
  s.allow_mount = true;
  // Not EPERM from the filter: the kernel's own answer (ENOENT for a
  // missing target, or EPERM without CAP_SYS_ADMIN when not root).
  int err = UnderFilter(
      s, [] { return Errno(mount("none", "/nonexistent-jw-target", "tmpfs", 0, nullptr)); });
  if (geteuid() == 0) {
    EXPECT_EQ(err, ENOENT);
  }
}

}  // namespace
}  // namespace jailwarden::platform
