// The pure parts of sampled-deny enforcement (src/platform/linux/
// sampled_deny.h): which (pid, rlimit) pairs a set of at-or-over denies
// asks for, and the clamp/restore bookkeeping against a fake process table.

#include "platform/linux/sampled_deny.h"

#include <fcntl.h>
#include <unistd.h>

#include <map>

#include "gtest/gtest.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::platform {
namespace {

using rctl::Resource;

// Processes with rlimits and a current use per RLIMIT_*.
class FakeProcessLimits : public ProcessLimits {
 public:
  struct Proc {
    std::map<int, LinuxRlimit> limits;
    std::map<int, uint64_t> use;
  };

  absl::StatusOr<LinuxRlimit> Get(int64_t pid, int resource) override {
    ++gets;
    auto it = procs.find(pid);
    if (it == procs.end()) {
      return absl::NotFoundError("gone");
    }
    auto l = it->second.limits.find(resource);
    if (l == it->second.limits.end()) {
      return LinuxRlimit{resource, RLIM_INFINITY, RLIM_INFINITY};
    }
    return l->second;
  }
  absl::Status Set(int64_t pid, const LinuxRlimit& limit) override {
    ++sets;
    auto it = procs.find(pid);
    if (it == procs.end()) {
      return absl::NotFoundError("gone");
    }
    if (fail_set) {
      return absl::PermissionDeniedError("EPERM");
    }
    const LinuxRlimit cur = *Get(pid, limit.resource);
    if (limit.soft > limit.hard || limit.hard > cur.hard) {
      // Raising a hard limit needs CAP_SYS_RESOURCE: the clamp never does.
      return absl::PermissionDeniedError("would raise the hard limit");
    }
    it->second.limits[limit.resource] = limit;
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> ClampValue(int64_t pid, int resource) override {
    auto it = procs.find(pid);
    if (it == procs.end()) {
      return absl::NotFoundError("gone");
    }
    return it->second.use[resource];
  }

  rlim_t Soft(int64_t pid, int resource) { return Get(pid, resource)->soft; }

  std::map<int64_t, Proc> procs;
  bool fail_set = false;
  int gets = 0, sets = 0;
};

SampledDeny Deny(const std::string& text, const std::string& jail, int64_t pid = -1) {
  absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(text);
  EXPECT_TRUE(rule.ok()) << text << ": " << rule.status();
  return SampledDeny{rule.ok() ? *rule : rctl::Rule{}, jail, pid};
}

TEST(SampledDenyTest, ClampRlimitAndErrnoPerResource) {
  EXPECT_EQ(SampledDenyRlimit(Resource::kOpenfiles), RLIMIT_NOFILE);
  EXPECT_EQ(SampledDenyRlimit(Resource::kVmemoryuse), RLIMIT_AS);
  EXPECT_EQ(SampledDenyRlimit(Resource::kDatasize), RLIMIT_DATA);
  EXPECT_EQ(SampledDenyRlimit(Resource::kStacksize), RLIMIT_STACK);
  EXPECT_EQ(SampledDenyRlimit(Resource::kMemorylocked), RLIMIT_MEMLOCK);
  EXPECT_EQ(SampledDenyRlimit(Resource::kMemoryuse), std::nullopt);
  EXPECT_EQ(SampledDenyRlimit(Resource::kCoredumpsize), std::nullopt);
  EXPECT_EQ(SampledDenyRlimit(Resource::kNthr), std::nullopt);
  EXPECT_EQ(SampledDenyErrno(Resource::kOpenfiles), EMFILE);
  EXPECT_EQ(SampledDenyErrno(Resource::kVmemoryuse), ENOMEM);
  EXPECT_EQ(SampledDenyErrno(Resource::kDatasize), ENOMEM);
  EXPECT_EQ(SampledDenyErrno(Resource::kMemorylocked), ENOMEM);
  EXPECT_EQ(SampledDenyErrno(Resource::kStacksize), 0) << "SIGSEGV";
}

TEST(SampledDenyTest, LowestFreeFdFillsHolesFirst) {
  EXPECT_EQ(LowestFreeFd(std::vector<int64_t>{}), 0);
  EXPECT_EQ(LowestFreeFd(std::vector<int64_t>{0, 1, 2}), 3);
  EXPECT_EQ(LowestFreeFd(std::vector<int64_t>{2, 0, 1, 4, 5}), 3);
  EXPECT_EQ(LowestFreeFd(std::vector<int64_t>{1, 2}), 0);
  EXPECT_EQ(LowestFreeFd(std::vector<int64_t>{0, 0, 1, 7}), 2) << "duplicates ignored";
}

TEST(SampledDenyTest, WantedClampsReachTheJailsProcessesButNotItsInit) {
  const std::set<int64_t> pids = {10, 11, 12};
  std::vector<SampledDeny> d = {Deny("jail:web:openfiles:deny=100", "web")};
  EXPECT_EQ(WantedClamps(d, pids, 10),
            (std::set<ClampKey>{{11, RLIMIT_NOFILE}, {12, RLIMIT_NOFILE}}));
  // One process of a user's deny, only while it is in the jail.
  d = {Deny("user:1000:vmemoryuse:deny=1073741824", "web", 12),
       Deny("user:1000:vmemoryuse:deny=1073741824", "web", 99)};
  EXPECT_EQ(WantedClamps(d, pids, 10), (std::set<ClampKey>{{12, RLIMIT_AS}}));
  // No clamp for resources without an rlimit; the jail's pid 1 never.
  d = {Deny("jail:web:memoryuse:deny=1073741824/user", "web", 11),
       Deny("user:0:datasize:deny=1073741824", "web", 10)};
  EXPECT_TRUE(WantedClamps(d, pids, 10).empty());
  // Several resources at once.
  d = {Deny("jail:web:openfiles:deny=100", "web"), Deny("jail:web:datasize:deny=1073741824", "web")};
  EXPECT_EQ(WantedClamps(d, {11}, 10),
            (std::set<ClampKey>{{11, RLIMIT_NOFILE}, {11, RLIMIT_DATA}}));
}

TEST(SampledDenyTest, ClampSavesLowersReclampsAndRestores) {
  FakeProcessLimits ops;
  ops.procs[11].limits[RLIMIT_NOFILE] = {RLIMIT_NOFILE, 1024, 4096};
  ops.procs[11].use[RLIMIT_NOFILE] = 40;
  ops.procs[12].limits[RLIMIT_NOFILE] = {RLIMIT_NOFILE, 30, 30};
  ops.procs[12].use[RLIMIT_NOFILE] = 12;
  SampledDenyClamps c;
  const std::set<int64_t> present = {11, 12};
  const std::set<ClampKey> want = {{11, RLIMIT_NOFILE}, {12, RLIMIT_NOFILE}};
  ASSERT_TRUE(c.Update(want, present, ops).ok());
  EXPECT_EQ(ops.Soft(11, RLIMIT_NOFILE), 40u);
  EXPECT_EQ(ops.Soft(12, RLIMIT_NOFILE), 12u);
  EXPECT_EQ(ops.Get(11, RLIMIT_NOFILE)->hard, 4096u) << "hard limits never move";
  EXPECT_EQ(c.clamps().at({11, RLIMIT_NOFILE}).saved_soft, 1024u);
  EXPECT_EQ(c.clamps().at({12, RLIMIT_NOFILE}).saved_soft, 30u);

  // Still over: a process that freed some is clamped lower; the saved
  // limit is the first one, not the clamp.
  ops.procs[11].use[RLIMIT_NOFILE] = 35;
  ASSERT_TRUE(c.Update(want, present, ops).ok());
  EXPECT_EQ(ops.Soft(11, RLIMIT_NOFILE), 35u);
  EXPECT_EQ(c.clamps().at({11, RLIMIT_NOFILE}).saved_soft, 1024u);

  // A use above the saved limit never raises the soft limit past it.
  ops.procs[12].use[RLIMIT_NOFILE] = 500;
  ASSERT_TRUE(c.Update(want, present, ops).ok());
  EXPECT_EQ(ops.Soft(12, RLIMIT_NOFILE), 30u);

  // Under again: everything saved comes back.
  ASSERT_TRUE(c.Update({}, present, ops).ok());
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(ops.Soft(11, RLIMIT_NOFILE), 1024u);
  EXPECT_EQ(ops.Soft(12, RLIMIT_NOFILE), 30u);
}

TEST(SampledDenyTest, ProcessesThatLeaveAreForgottenNotTouched) {
  FakeProcessLimits ops;
  ops.procs[11].limits[RLIMIT_AS] = {RLIMIT_AS, RLIM_INFINITY, RLIM_INFINITY};
  ops.procs[11].use[RLIMIT_AS] = 1 << 20;
  ops.procs[12] = ops.procs[11];
  SampledDenyClamps c;
  ASSERT_TRUE(c.Update({{11, RLIMIT_AS}, {12, RLIMIT_AS}}, {11, 12}, ops).ok());
  EXPECT_EQ(c.clamps().size(), 2u);
  // 12 left the jail (its pid may now be someone else's): forgotten,
  // not restored; 11 vanished mid-update: forgotten.
  ops.procs.erase(11);
  const int sets = ops.sets;
  ASSERT_TRUE(c.Update({}, {11}, ops).ok());
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(ops.sets, sets) << "no prlimit on a pid that left the jail or is gone";
  EXPECT_EQ(ops.Soft(12, RLIMIT_AS), static_cast<rlim_t>(1 << 20));
}

TEST(SampledDenyTest, NewProcessesJoinWhileOthersStay) {
  FakeProcessLimits ops;
  for (int64_t pid : {11, 12}) {
    ops.procs[pid].limits[RLIMIT_NOFILE] = {RLIMIT_NOFILE, 1024, 1024};
    ops.procs[pid].use[RLIMIT_NOFILE] = 5;
  }
  SampledDenyClamps c;
  ASSERT_TRUE(c.Update({{11, RLIMIT_NOFILE}}, {11}, ops).ok());
  EXPECT_EQ(ops.Soft(12, RLIMIT_NOFILE), 1024u);
  ASSERT_TRUE(c.Update({{11, RLIMIT_NOFILE}, {12, RLIMIT_NOFILE}}, {11, 12}, ops).ok());
  EXPECT_EQ(ops.Soft(11, RLIMIT_NOFILE), 5u);
  EXPECT_EQ(ops.Soft(12, RLIMIT_NOFILE), 5u);
  EXPECT_EQ(c.clamps().at({12, RLIMIT_NOFILE}).saved_soft, 1024u);
}

TEST(SampledDenyTest, AdjustWriteKeepsTheClampAndUpdatesTheSavedLimit) {
  FakeProcessLimits ops;
  ops.procs[11].limits[RLIMIT_NOFILE] = {RLIMIT_NOFILE, 100, 100};
  ops.procs[11].use[RLIMIT_NOFILE] = 40;
  SampledDenyClamps c;
  ASSERT_TRUE(c.Update({{11, RLIMIT_NOFILE}}, {11}, ops).ok());
  // The rule's amount changed to 80: the enforcer writes 80/80.
  LinuxRlimit w{RLIMIT_NOFILE, 80, 80};
  c.AdjustWrite(11, w);
  EXPECT_EQ(w.soft, 40u) << "the clamp stays";
  EXPECT_EQ(w.hard, 80u);
  EXPECT_EQ(c.clamps().at({11, RLIMIT_NOFILE}).saved_soft, 80u);
  // Lower than the clamp: the written limit wins.
  LinuxRlimit lower{RLIMIT_NOFILE, 20, 20};
  c.AdjustWrite(11, lower);
  EXPECT_EQ(lower.soft, 20u);
  // Unclamped pairs are not touched.
  LinuxRlimit other{RLIMIT_AS, 7, 9};
  c.AdjustWrite(11, other);
  EXPECT_EQ(other.soft, 7u);
  c.AdjustWrite(12, w);
  EXPECT_EQ(w.soft, 40u);
}

TEST(SampledDenyTest, RestoreIsCappedAtTheCurrentHardLimit) {
  FakeProcessLimits ops;
  ops.procs[11].limits[RLIMIT_DATA] = {RLIMIT_DATA, RLIM_INFINITY, RLIM_INFINITY};
  ops.procs[11].use[RLIMIT_DATA] = 4096;
  SampledDenyClamps c;
  ASSERT_TRUE(c.Update({{11, RLIMIT_DATA}}, {11}, ops).ok());
  // Meanwhile a per-process deny lowered the hard limit.
  ops.procs[11].limits[RLIMIT_DATA] = {RLIMIT_DATA, 4096, 1 << 20};
  ASSERT_TRUE(c.Update({}, {11}, ops).ok());
  EXPECT_EQ(ops.Soft(11, RLIMIT_DATA), static_cast<rlim_t>(1 << 20));
}

TEST(SampledDenyTest, ErrorsAreReportedAfterDoingTheRest) {
  FakeProcessLimits ops;
  for (int64_t pid : {11, 12}) {
    ops.procs[pid].limits[RLIMIT_NOFILE] = {RLIMIT_NOFILE, 1024, 1024};
    ops.procs[pid].use[RLIMIT_NOFILE] = 5;
  }
  ops.fail_set = true;
  SampledDenyClamps c;
  absl::Status st = c.Update({{11, RLIMIT_NOFILE}, {12, RLIMIT_NOFILE}}, {11, 12}, ops);
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  EXPECT_TRUE(c.empty()) << "a clamp that did not happen is not recorded";
  EXPECT_EQ(ops.sets, 2) << "both tried";
}

TEST(ProcfsProcessLimitsTest, ClampValuesOfThisProcess) {
  ProcfsProcessLimits limits;
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  absl::StatusOr<uint64_t> free_fd = limits.ClampValue(getpid(), RLIMIT_NOFILE);
  ASSERT_TRUE(free_fd.ok()) << free_fd.status();
  EXPECT_NE(*free_fd, static_cast<uint64_t>(fd)) << "in use";
  EXPECT_GE(*free_fd, 3u);
  close(fd);
  absl::StatusOr<uint64_t> vm_size = limits.ClampValue(getpid(), RLIMIT_AS);
  ASSERT_TRUE(vm_size.ok()) << vm_size.status();
  EXPECT_GT(*vm_size, 0u);
  absl::StatusOr<uint64_t> vm_data = limits.ClampValue(getpid(), RLIMIT_DATA);
  ASSERT_TRUE(vm_data.ok()) << vm_data.status();
  EXPECT_LE(*vm_data, *vm_size);
  EXPECT_TRUE(absl::IsInvalidArgument(limits.ClampValue(getpid(), RLIMIT_CPU).status()))
      << "cputime has no clamp";
  EXPECT_TRUE(absl::IsNotFound(limits.ClampValue(0x3fffffff, RLIMIT_AS).status()));
}

}  // namespace
}  // namespace jailwarden::platform
