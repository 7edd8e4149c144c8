// Root-only: the attacks of issue 13 ("a jail's root stays in its jail"),
// run from inside real jails by the static escape_probe
// (helpers/escape_probe.cc), each test named after the attack. They assert
// the exact errno the seccomp filter gives (docs/security.md), that the
// jail's limits still hold and that nothing on the host changed; with the
// relaxing linux.seccomp key the documented behaviour.
//
// The probe runs both through the jail's pid 1 (the command socket) and
// through the setns helper (a run_dir too long for the socket), the two
// ways into a jail.

#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/isolation_fixture.h"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;

// The limit files the attack rewrote, as the host sees them.
struct LimitFiles {
  std::string pids_max, memory_limit;
};

LimitFiles ReadLimits(const std::map<std::string, std::string>& bs) {
  LimitFiles l;
  if (auto it = bs.find("cgroup.pids"); it != bs.end() && !it->second.empty()) {
    l.pids_max = ReadText(it->second + "/pids.max");
  }
  if (auto it = bs.find("cgroup.memory"); it != bs.end() && !it->second.empty()) {
    l.memory_limit = ReadText(it->second + "/memory.limit_in_bytes");
  }
  return l;
}

// Issue 13, item 1: unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWCGROUP),
// then mount the v1 memory and pids hierarchies to rewrite the jail's own
// limits. Both steps are refused with EPERM; a 32-process / 32 MiB jail
// keeps its limits.
TEST_F(JailIsolationTest, LimitsLiftedFromInsideViaUserNamespaceFails) {
  platform::JailSpec s = Spec("lift1");
  Up(*manager_, s);
  const std::map<std::string, std::string> bs = manager_->Get("lift1")->instance.backend_state;
  // The limits a 32-process / 32 MiB deny would write (the enforcer is
  // not part of this test; the files are the point).
  if (bs.count("cgroup.pids") != 0 && !bs.at("cgroup.pids").empty()) {
    WriteText(bs.at("cgroup.pids") + "/pids.max", "32");
  }
  if (bs.count("cgroup.memory") != 0 && !bs.at("cgroup.memory").empty()) {
    WriteText(bs.at("cgroup.memory") + "/memory.limit_in_bytes", "33554432");
  }
  const LimitFiles before = ReadLimits(bs);
  ShellResult r = JailShell(*manager_, "lift1", "escape_probe userns");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "unshare errno=1\nmount_memory errno=1\nmount_pids errno=1\n");
  const LimitFiles after = ReadLimits(bs);
  EXPECT_EQ(after.pids_max, before.pids_max);
  EXPECT_EQ(after.memory_limit, before.memory_limit);
  if (!before.pids_max.empty()) {
    EXPECT_EQ(before.pids_max, "32\n");
  }
  if (!before.memory_limit.empty()) {
    EXPECT_EQ(before.memory_limit, "33554432\n");
  }
  // The attack left nothing in the jail's mount table either.
  EXPECT_EQ(JailShell(*manager_, "lift1", "grep -c jw-cg /proc/mounts").out, "0\n");
  ASSERT_TRUE(manager_->Destroy("lift1").ok());
}

// Issue 13, item 2: host root's user keyring is the jail root's (no user
// namespace); every keyring call is refused, so the key cannot be found or
// read, and no key can be added.
TEST_F(JailIsolationTest, HostKeyringUnreadable) {
  const std::string desc = "jw-it-secret-" + std::to_string(getpid());
  long key = syscall(SYS_add_key, "user", desc.c_str(), "s3cret", 6, KEY_SPEC_USER_KEYRING);
  ASSERT_GT(key, 0) << "add_key on the host: " << strerror(errno);
  Up(*manager_, Spec("key1"));
  ShellResult r = JailShell(*manager_, "key1", "escape_probe keyring " + desc);
  EXPECT_EQ(r.out, "search errno=1\nadd_key errno=1\n");
  // The same through the setns helper, which installs the filter itself.
  jail::Manager& hm = HelperManager();
  Up(hm, Spec("key2"));
  ASSERT_EQ(hm.Get("key2")->instance.backend_state.count("init.socket"), 0u);
  r = JailShell(hm, "key2", "escape_probe keyring " + desc);
  EXPECT_EQ(r.out, "search errno=1\nadd_key errno=1\n");
  syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
  ASSERT_TRUE(hm.Destroy("key2").ok());
  ASSERT_TRUE(manager_->Destroy("key1").ok());
}

// Issue 13, item 7: a jail could create user namespaces (and, with them,
// every other kind). unshare and clone with a namespace flag fail with
// EPERM; clone3 with ENOSYS (its flags are out of the filter's reach), so
// libc falls back to clone. fork, exec and posix_spawn keep working. The
// same filter is on pid 1, its commands and setns-helper commands.
TEST_F(JailIsolationTest, JailCannotCreateUserNamespaces) {
  const std::string want =
      "unshare_user errno=1\nunshare_net errno=1\nunshare_time errno=1\n"
      "clone_user errno=1\nclone3_user errno=38\n";
  Up(*manager_, Spec("ns1"));
  EXPECT_EQ(JailShell(*manager_, "ns1", "escape_probe newns").out, want);
  EXPECT_EQ(JailShell(*manager_, "ns1", "escape_probe spawn").out,
            "fork_exec status=0\nposix_spawn rc=0 status=0\n");
  // Seccomp mode 2 (filter) in pid 1 and in the command.
  EXPECT_EQ(JailShell(*manager_, "ns1",
                      "grep Seccomp: /proc/1/status | cut -f2; "
                      "grep Seccomp: /proc/self/status | cut -f2")
                .out,
            "2\n2\n");
  EXPECT_EQ(manager_->Get("ns1")->instance.backend_state.at("seccomp"), "default");

  jail::Manager& hm = HelperManager();
  Up(hm, Spec("ns2"));
  EXPECT_EQ(JailShell(hm, "ns2", "escape_probe newns").out, want);
  EXPECT_EQ(JailShell(hm, "ns2", "escape_probe spawn").out,
            "fork_exec status=0\nposix_spawn rc=0 status=0\n");
  EXPECT_EQ(JailShell(hm, "ns2", "grep Seccomp: /proc/self/status | cut -f2").out, "2\n");
  ASSERT_TRUE(hm.Destroy("ns2").ok());
  ASSERT_TRUE(manager_->Destroy("ns1").ok());
}

// linux.seccomp: {allow: [keyctl]} takes keyctl off the filter, and with
// it that protection: the jail's root finds host root's key in the user
// keyring it shares with the host (documented in docs/security.md; the
// start warns). Its payload stays unreadable (EACCES): the jail has a
// session keyring of its own, so it does not possess host root's keyrings
// and gets only the "view" a user key gives its uid. add_key, not named,
// stays refused.
TEST_F(JailIsolationTest, AllowKeyctlFindsButCannotReadHostKeys) {
  const std::string desc = "jw-it-secret-" + std::to_string(getpid());
  long key = syscall(SYS_add_key, "user", desc.c_str(), "s3cret", 6, KEY_SPEC_USER_KEYRING);
  ASSERT_GT(key, 0) << "add_key on the host: " << strerror(errno);
  Up(*manager_, Spec("key3", {{"linux.seccomp", "allow:keyctl"}}));
  EXPECT_EQ(manager_->Get("key3")->instance.backend_state.at("seccomp"), "default allow:keyctl");
  ShellResult r = JailShell(*manager_, "key3", "escape_probe keyring " + desc);
  syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
  EXPECT_EQ(r.out, "search errno=0\nread errno=13\nadd_key errno=1\n");
  ASSERT_TRUE(manager_->Destroy("key3").ok());
}

// linux.seccomp: {allow: [unshare, clone, clone3]}: the jail may create
// user namespaces again (the kernel's own rules then apply: inside a new
// user namespace its root holds every capability over it).
TEST_F(JailIsolationTest, AllowUnshareLetsTheJailCreateUserNamespaces) {
  Up(*manager_, Spec("ns3", {{"linux.seccomp", "allow:unshare,clone,clone3"}}));
  ShellResult r = JailShell(*manager_, "ns3", "escape_probe newns");
  EXPECT_THAT(r.out, HasSubstr("unshare_user errno=0\n"));
  // Without CAP_SYS_ADMIN (default allow.*) a network namespace stays
  // refused by the kernel itself.
  EXPECT_THAT(r.out, HasSubstr("unshare_net errno=1\n"));
  EXPECT_THAT(r.out, HasSubstr("clone_user errno=0\n"));
  EXPECT_THAT(r.out, HasSubstr("clone3_user errno=0\n"));
  ASSERT_TRUE(manager_->Destroy("ns3").ok());
}

// A bad linux.seccomp fails the start before anything is made.
TEST_F(JailIsolationTest, UnknownSyscallNameFailsTheCreate) {
  platform::JailSpec s = Spec("bad1", {{"linux.seccomp", "allow:kyectl"}});
  absl::Status st = manager_->Create(s);
  if (st.ok()) {
    st = manager_->Start("bad1");
  }
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("linux.seccomp: \"kyectl\": not a system call"));
  (void)manager_->Destroy("bad1");
}

// Issue 13, item 7: /proc/keys, /proc/timer_list, /proc/kallsyms showed the
// host's kernel. runc's masked paths read as empty in a jail (a file with
// /dev/null over it, a directory as an empty read-only tmpfs), and the
// jail's root cannot unmount the mask (mount family refused).
TEST_F(JailIsolationTest, HostKernelFilesInProcReadEmpty) {
  const std::string desc = "jw-it-visible-" + std::to_string(getpid());
  long key = syscall(SYS_add_key, "user", desc.c_str(), "x", 1, KEY_SPEC_USER_KEYRING);
  ASSERT_GT(key, 0) << "add_key on the host: " << strerror(errno);
  // The host sees its key in /proc/keys.
  EXPECT_THAT(ReadText("/proc/keys"), HasSubstr(desc));
  Up(*manager_, Spec("proc1"));
  ShellResult r = JailShell(*manager_, "proc1",
                            "for f in keys key-users kallsyms timer_list sched_debug kcore; do "
                            "[ -e /proc/$f ] && echo $f $(cat /proc/$f | wc -c); done; "
                            "[ -d /proc/acpi ] && echo acpi $(ls -A /proc/acpi | wc -l); "
                            "umount /proc/keys 2>/dev/null; echo umount=$?; "
                            "grep -c " +
                                desc + " /proc/keys");
  syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
  EXPECT_THAT(r.out, HasSubstr("keys 0\n"));
  EXPECT_THAT(r.out, HasSubstr("kallsyms 0\n"));
  EXPECT_THAT(r.out, HasSubstr("timer_list 0\n"));
  EXPECT_THAT(r.out, ::testing::Not(::testing::ContainsRegex("(keys|kallsyms|timer_list|"
                                                             "sched_debug|kcore) [1-9]")));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("acpi 1")));
  EXPECT_THAT(r.out, HasSubstr("umount=1\n0\n"));
  ASSERT_TRUE(manager_->Destroy("proc1").ok());
}

// A jail's root signals its pid 1 with the SIGUSR1 the runtime sends to end
// the temporary persist (jailwarden-init, "clear-persist"): with kill(1),
// and forged with rt_sigqueueinfo(2) as if from the host (si_pid 0). Before,
// either made init of a non-persist jail exit as soon as the sending
// exec.start command ended, so the next exec.start found no jail and the
// start failed. Now init counts a SIGUSR1 only from outside the jail's pid
// namespace: both attacks send the signal (their commands succeed) and the
// start goes on; the runtime's own clear-persist still ends the jail.
TEST_F(JailIsolationTest, SignalFromInsideCannotClearPersist) {
  const std::vector<std::pair<std::string, std::string>> attacks = {
      {"sig1", "kill -USR1 1"},
      {"sig2", "escape_probe sigqueue-init"},
  };
  for (const auto& [name, attack] : attacks) {
    SCOPED_TRACE(attack);
    platform::JailSpec s = Spec(name);
    s.persist = false;
    // The attack, then a command that needs init to still be there.
    s.exec.start = {attack, "test -d /proc/1"};
    absl::Status st = manager_->Create(s);
    ASSERT_TRUE(st.ok()) << st;
    st = manager_->Start(name);
    EXPECT_TRUE(st.ok()) << st;
    (void)manager_->Destroy(name);
  }
}

}  // namespace
}  // namespace jailwarden::testing
