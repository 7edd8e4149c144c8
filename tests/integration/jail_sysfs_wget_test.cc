// Root-only, issue 13's leftovers, from inside real jails:
// - linux.sysfs: the jail's /sys is a read-only sysfs (writes fail with
//   EROFS) with runc's masked paths empty; without the key a jail has no
//   sysfs at all.
// - busybox wget in a jail that shares the host's network fetches a page
//   from a loopback server this test runs; its crash with -T is busybox's
//   own (the same on the host).

#include <unistd.h>

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "fakes/loopback_http_page.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/isolation_fixture.h"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class JailSysfsTest : public JailIsolationTest {};

TEST_F(JailSysfsTest, MountSysfsIsReadOnlyWithRuncsMaskedPathsEmpty) {
  platform::JailSpec s = Spec("sysfs1", {{"linux.sysfs", "true"}});
  Up(*manager_, s);
  // A sysfs, mounted read-only.
  ShellResult mnt = JailShell(*manager_, "sysfs1", "grep ' /sys ' /proc/self/mountinfo");
  EXPECT_THAT(mnt.out, HasSubstr(" / /sys ro,nosuid,nodev,noexec")) << mnt.out;
  EXPECT_THAT(mnt.out, HasSubstr(" - sysfs sysfs ")) << mnt.out;
  // The jail sees sysfs (its kernel's attributes) ...
  ShellResult read = JailShell(*manager_, "sysfs1", "cat /sys/kernel/mm/transparent_hugepage/enabled"
                                                    " || ls /sys/kernel | head -3");
  EXPECT_EQ(read.exit_code, 0) << read.out;
  EXPECT_FALSE(read.out.empty());
  // ... and cannot change any of it: EROFS (busybox sh prints strerror).
  ShellResult write = JailShell(
      *manager_, "sysfs1",
      "for f in /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/uevent_helper "
      "/sys/power/state /sys/new; do [ -e \"$f\" ] || [ \"$f\" = /sys/new ] || continue; "
      "echo x > \"$f\" 2>&1; done; mkdir /sys/newdir 2>&1; echo done");
  EXPECT_THAT(write.out, HasSubstr("Read-only file system")) << write.out;
  EXPECT_THAT(write.out, Not(HasSubstr("Permission denied"))) << write.out;
  // runc's masked directories are empty where the host has them.
  for (const char* p : {"/sys/firmware", "/sys/devices/virtual/powercap", "/sys/kernel/debug",
                        "/sys/kernel/tracing", "/sys/kernel/security", "/sys/fs/bpf"}) {
    if (!PathExists(p)) {
      continue;
    }
    ShellResult ls = JailShell(*manager_, "sysfs1", absl::StrCat("ls -A ", p, " | wc -l"));
    EXPECT_EQ(ls.out, "0\n") << p;
  }
  // The host's /sys/firmware has entries: the mask hid something real.
  if (PathExists("/sys/firmware")) {
    EXPECT_FALSE(ListDir("/sys/firmware").empty());
  }
}

TEST_F(JailSysfsTest, WithoutTheKeyAJailHasNoSysfs) {
  platform::JailSpec s = Spec("sysfs0");
  Up(*manager_, s);
  ShellResult r = JailShell(*manager_, "sysfs0",
                            "grep -c ' - sysfs ' /proc/self/mountinfo; ls -A /sys 2>/dev/null | wc -l");
  EXPECT_EQ(r.out, "0\n0\n") << r.out;
}

TEST_F(JailSysfsTest, BusyboxWgetFetchesFromALoopbackServer) {
  fakes::LoopbackHttpPage page("hello from the host\n", "text/plain");
  ASSERT_GT(page.port(), 0);
  platform::JailSpec s = Spec("wget1");  // ip4: inherit (the host's network)
  Up(*manager_, s);
  ShellResult r = JailShell(*manager_, "wget1",
                            absl::StrCat("wget -q -O- http://127.0.0.1:", page.port(),
                                         "/; echo rc=$?"));
  EXPECT_EQ(r.out, "hello from the host\nrc=0\n");
  // By name too (/etc/hosts in the jail's root; the resolver reads it).
  r = JailShell(*manager_, "wget1",
                absl::StrCat("wget -q -O- http://localhost:", page.port(), "/; echo rc=$?"));
  EXPECT_EQ(r.out, "hello from the host\nrc=0\n");
}

// The reported segfault: Debian 12's busybox-static (1.35.0) wget crashes
// with SIGSEGV whenever -T (timeout) is given, on the host as in a jail,
// so neither the seccomp filter nor a missing /etc file is the cause.
// Whatever the host's busybox does, the jail's does the same.
TEST_F(JailSysfsTest, BusyboxWgetWithATimeoutBehavesAsOnTheHost) {
  fakes::LoopbackHttpPage page("hello\n", "text/plain");
  ASSERT_GT(page.port(), 0);
  const std::string args =
      absl::StrCat("wget -q -T 5 -O- http://127.0.0.1:", page.port(), "/ >/dev/null 2>&1; echo rc=$?");
  // The same binary, the one in the jail's root.
  const ShellResult host = HostShell(absl::StrCat(BusyboxBase(), "/bin/busybox ", args));
  const std::string cmd = absl::StrCat("/bin/busybox ", args);
  platform::JailSpec s = Spec("wget2");
  Up(*manager_, s);
  const ShellResult jail = JailShell(*manager_, "wget2", cmd);
  EXPECT_EQ(jail.out, host.out);
  std::cout << "busybox wget -T on the host: " << host.out;
}

}  // namespace
}  // namespace jailwarden::testing
