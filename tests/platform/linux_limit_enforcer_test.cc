// The rule -> mechanism/fidelity table for all 25 resources, and the v2
// enforcer writing limit files in a copy of the fixture tree.

#include "jailwarden/platform/linux/linux_limit_enforcer.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "jailwarden/rctl/kernel_form.h"
#include "platform/linux/ipc_limits.h"
#include "platform/linux/rlimits.h"

namespace jailwarden::platform {
namespace {

using rctl::Action;
using rctl::Resource;
using rctl::SubjectType;

rctl::Rule MakeRule(Resource r, Action a, int64_t amount, SubjectType per = SubjectType::kJail,
                    SubjectType subject = SubjectType::kJail, std::string id = "j") {
  rctl::Rule rule;
  rule.subject = subject;
  rule.subject_id = std::move(id);
  rule.resource = r;
  rule.action = a;
  rule.amount = amount;
  rule.per = per;
  return rule;
}

struct Row {
  Resource resource;
  Action action;
  SubjectType per;
  Fidelity v1;
  const char* v1_mechanism;
  Fidelity v2;
};

// Every resource at least once, with the fidelity linux-mapping.md §1
// gives it.
const Row kRows[] = {
    {Resource::kCputime, Action::kSigxcpu, SubjectType::kJail, Fidelity::kSampled, "sampler",
     Fidelity::kSampled},
    {Resource::kCputime, Action::kDeny, SubjectType::kJail, Fidelity::kUnsupported, "none",
     Fidelity::kUnsupported},
    {Resource::kDatasize, Action::kDeny, SubjectType::kProcess, Fidelity::kExact, "RLIMIT_DATA",
     Fidelity::kExact},
    {Resource::kDatasize, Action::kDeny, SubjectType::kJail, Fidelity::kSampled,
     "sampler + RLIMIT_DATA", Fidelity::kSampled},
    {Resource::kStacksize, Action::kDeny, SubjectType::kProcess, Fidelity::kExact,
     "RLIMIT_STACK", Fidelity::kExact},
    {Resource::kCoredumpsize, Action::kDeny, SubjectType::kProcess, Fidelity::kApproximate,
     "RLIMIT_CORE", Fidelity::kApproximate},
    {Resource::kMemoryuse, Action::kDeny, SubjectType::kJail, Fidelity::kApproximate,
     "memory.limit_in_bytes", Fidelity::kApproximate},
    {Resource::kMemorylocked, Action::kDeny, SubjectType::kProcess, Fidelity::kApproximate,
     "RLIMIT_MEMLOCK", Fidelity::kApproximate},
    {Resource::kMaxproc, Action::kDeny, SubjectType::kJail, Fidelity::kApproximate, "pids.max",
     Fidelity::kApproximate},
    {Resource::kMaxproc, Action::kDeny, SubjectType::kUser, Fidelity::kApproximate,
     "RLIMIT_NPROC", Fidelity::kApproximate},
    {Resource::kOpenfiles, Action::kDeny, SubjectType::kProcess, Fidelity::kExact,
     "RLIMIT_NOFILE", Fidelity::kExact},
    {Resource::kOpenfiles, Action::kDeny, SubjectType::kJail, Fidelity::kSampled,
     "sampler + RLIMIT_NOFILE", Fidelity::kSampled},
    {Resource::kVmemoryuse, Action::kDeny, SubjectType::kProcess, Fidelity::kExact, "RLIMIT_AS",
     Fidelity::kExact},
    {Resource::kPseudoterminals, Action::kDeny, SubjectType::kJail, Fidelity::kExact,
     "devpts max=", Fidelity::kExact},
    {Resource::kSwapuse, Action::kDeny, SubjectType::kJail, Fidelity::kApproximate,
     "memory.memsw.limit_in_bytes", Fidelity::kExact},
    {Resource::kNthr, Action::kDeny, SubjectType::kJail, Fidelity::kExact, "pids.max",
     Fidelity::kExact},
    {Resource::kMsgqqueued, Action::kDeny, SubjectType::kJail, Fidelity::kApproximate,
     "kernel.msgmnb", Fidelity::kApproximate},
    {Resource::kMsgqsize, Action::kDeny, SubjectType::kJail, Fidelity::kApproximate,
     "kernel.msgmnb", Fidelity::kApproximate},
    {Resource::kNmsgq, Action::kDeny, SubjectType::kJail, Fidelity::kExact, "kernel.msgmni",
     Fidelity::kExact},
    {Resource::kNsem, Action::kDeny, SubjectType::kJail, Fidelity::kExact, "kernel.sem SEMMNS",
     Fidelity::kExact},
    {Resource::kNsemop, Action::kDeny, SubjectType::kProcess, Fidelity::kExact,
     "kernel.sem SEMOPM", Fidelity::kExact},
    {Resource::kNshm, Action::kDeny, SubjectType::kJail, Fidelity::kExact, "kernel.shmmni",
     Fidelity::kExact},
    {Resource::kShmsize, Action::kDeny, SubjectType::kJail, Fidelity::kApproximate,
     "kernel.shmall", Fidelity::kApproximate},
    {Resource::kWallclock, Action::kSigkill, SubjectType::kJail, Fidelity::kSampled, "sampler",
     Fidelity::kSampled},
    {Resource::kPcpu, Action::kDeny, SubjectType::kJail, Fidelity::kExact, "cpu.cfs_quota_us",
     Fidelity::kExact},
    {Resource::kPcpu, Action::kDeny, SubjectType::kProcess, Fidelity::kSampled, "sampler",
     Fidelity::kSampled},
    {Resource::kReadbps, Action::kThrottle, SubjectType::kJail, Fidelity::kExact,
     "blkio.throttle.read_bps_device", Fidelity::kExact},
    {Resource::kWritebps, Action::kThrottle, SubjectType::kJail, Fidelity::kApproximate,
     "blkio.throttle.write_bps_device", Fidelity::kExact},
    {Resource::kReadiops, Action::kThrottle, SubjectType::kJail, Fidelity::kExact,
     "blkio.throttle.read_iops_device", Fidelity::kExact},
    {Resource::kWriteiops, Action::kThrottle, SubjectType::kJail, Fidelity::kApproximate,
     "blkio.throttle.write_iops_device", Fidelity::kExact},
    {Resource::kWriteiops, Action::kDeny, SubjectType::kJail, Fidelity::kUnsupported, "none",
     Fidelity::kUnsupported},
};

TEST(LinuxEnforcementTest, TableCoversAllResources) {
  std::bitset<rctl::kResourceCount> seen;
  for (const Row& row : kRows) {
    seen.set(rctl::Index(row.resource));
    rctl::Rule rule = MakeRule(row.resource, row.action, 100, row.per);
    Enforcement v1 = DescribeLinuxEnforcement(rule, false);
    Enforcement v2 = DescribeLinuxEnforcement(rule, true);
    SCOPED_TRACE(rctl::FormatRule(rule));
    EXPECT_EQ(v1.fidelity, row.v1) << FidelityName(v1.fidelity) << " " << v1.detail;
    EXPECT_EQ(v1.mechanism, row.v1_mechanism);
    EXPECT_EQ(v2.fidelity, row.v2) << FidelityName(v2.fidelity);
    EXPECT_EQ(v1.rule, rule);
    if (v1.fidelity == Fidelity::kApproximate || v1.fidelity == Fidelity::kUnsupported) {
      EXPECT_FALSE(v1.detail.empty()) << "an approximation must say how";
    }
  }
  EXPECT_TRUE(seen.all()) << seen;
}

TEST(LinuxEnforcementTest, LoginclassIsUnsupportedWithReason) {
  rctl::Rule rule =
      MakeRule(Resource::kMemoryuse, Action::kDeny, 1, SubjectType::kLoginclass,
               SubjectType::kLoginclass, "daemon");
  Enforcement e = DescribeLinuxEnforcement(rule, false);
  EXPECT_EQ(e.fidelity, Fidelity::kUnsupported);
  EXPECT_NE(e.detail.find("login classes"), std::string::npos);
}

TEST(LinuxEnforcementTest, UserSubjectsReachOnlyJailedProcesses) {
  rctl::Rule rule = MakeRule(Resource::kOpenfiles, Action::kDeny, 20, SubjectType::kProcess,
                             SubjectType::kUser, "1000");
  Enforcement e = DescribeLinuxEnforcement(rule, false);
  EXPECT_EQ(e.fidelity, Fidelity::kExact);
  EXPECT_EQ(e.mechanism, "RLIMIT_NOFILE");
  EXPECT_NE(e.detail.find("jailwarden's jails only"), std::string::npos) << e.detail;
}

TEST(LinuxEnforcementTest, V2Mechanisms) {
  EXPECT_EQ(DescribeLinuxEnforcement(MakeRule(Resource::kMemoryuse, Action::kDeny, 1), true)
                .mechanism,
            "memory.max");
  EXPECT_EQ(DescribeLinuxEnforcement(MakeRule(Resource::kPcpu, Action::kDeny, 1), true).mechanism,
            "cpu.max");
  EXPECT_EQ(
      DescribeLinuxEnforcement(MakeRule(Resource::kWritebps, Action::kThrottle, 1), true).mechanism,
      "io.max wbps");
  EXPECT_EQ(DescribeLinuxEnforcement(MakeRule(Resource::kSwapuse, Action::kDeny, 1), true)
                .mechanism,
            "memory.swap.max");
}

TEST(LinuxEnforcementTest, NonDenyActionsAreSampled) {
  for (Action a : {Action::kLog, Action::kDevctl, Action::kSigterm}) {
    Enforcement e = DescribeLinuxEnforcement(MakeRule(Resource::kMemoryuse, a, 1), false);
    EXPECT_EQ(e.fidelity, Fidelity::kSampled);
  }
}

TEST(LinuxEnforcementTest, RlimitTable) {
  EXPECT_EQ(RlimitFor(Resource::kDatasize), RLIMIT_DATA);
  EXPECT_EQ(RlimitFor(Resource::kVmemoryuse), RLIMIT_AS);
  EXPECT_EQ(RlimitFor(Resource::kMemoryuse), std::nullopt);
  EXPECT_STREQ(RlimitName(RLIMIT_NOFILE), "RLIMIT_NOFILE");
}

TEST(IpcLimitsTest, SemSysctlRoundTrip) {
  std::optional<std::array<int64_t, 4>> sem = ParseSemSysctl("32000\t1024000000\t500\t32000\n");
  ASSERT_TRUE(sem.has_value());
  EXPECT_EQ((*sem)[1], 1024000000);
  EXPECT_EQ(FormatSemSysctl(*sem), "32000 1024000000 500 32000");
  EXPECT_EQ(ParseSemSysctl("1 2 3"), std::nullopt);
  EXPECT_EQ(ParseSemSysctl("1 2 3 x"), std::nullopt);
}

class V2EnforcerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-v2-enforcer-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::copy(std::string(JW_TESTDATA_DIR) + "/linux/v2/jail1", dir_);
    std::ofstream(dir_ + "/cgroup.procs").flush();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string File(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
};

TEST_F(V2EnforcerTest, WritesAndLiftsLimits) {
  LinuxLimitEnforcerOptions options;
  options.cgroup_version = "v2";
  options.block_devices = {"254:0"};
  absl::StatusOr<std::unique_ptr<LinuxLimitEnforcer>> enf = LinuxLimitEnforcer::Create(options);
  ASSERT_TRUE(enf.ok());
  JailInstance inst;
  inst.ref.name = "j";
  inst.backend_state["cgroup.unified"] = dir_;
  inst.backend_state["cgroup.version"] = "v2";
  ASSERT_TRUE((*enf)->AddJail(inst).ok());
  std::vector<rctl::Rule> rules = {
      MakeRule(Resource::kMemoryuse, Action::kDeny, 64 << 20),
      MakeRule(Resource::kSwapuse, Action::kDeny, 32 << 20),
      MakeRule(Resource::kNthr, Action::kDeny, 50),
      MakeRule(Resource::kMaxproc, Action::kDeny, 20),
      MakeRule(Resource::kPcpu, Action::kDeny, 20000000),  // 20 %
      MakeRule(Resource::kReadbps, Action::kThrottle, 5242880),
      MakeRule(Resource::kWriteiops, Action::kThrottle, 50),
      MakeRule(Resource::kMemoryuse, Action::kDeny, 1, SubjectType::kLoginclass,
               SubjectType::kLoginclass, "x"),
      MakeRule(Resource::kOpenfiles, Action::kDeny, 100),  // sampled
  };
  absl::StatusOr<std::vector<Enforcement>> applied = (*enf)->Apply(inst.ref, rules);
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_EQ(applied->size(), rules.size());
  EXPECT_EQ((*applied)[7].fidelity, Fidelity::kUnsupported);
  EXPECT_EQ((*applied)[8].fidelity, Fidelity::kSampled);
  EXPECT_TRUE((*enf)->DenyIsSampled(rules[8]));
  EXPECT_FALSE((*enf)->DenyIsSampled(rules[0]));
  EXPECT_EQ(File("memory.max"), "67108864");
  EXPECT_EQ(File("memory.swap.max"), "33554432");
  EXPECT_EQ(File("pids.max"), "20");  // min(nthr, maxproc)
  EXPECT_EQ(File("cpu.max"), "20000 100000");
  EXPECT_EQ(File("io.max"), "254:0 rbps=5242880 wbps=max riops=max wiops=50");
  std::vector<LinuxRlimit> exec = (*enf)->ExecRlimits("j");
  ASSERT_EQ(exec.size(), 1u);  // the sampled openfiles rule's per-process bound
  EXPECT_EQ(exec[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(exec[0].soft, 100u);

  // Removing every rule lifts every limit.
  ASSERT_TRUE((*enf)->Apply(inst.ref, {}).ok());
  EXPECT_EQ(File("memory.max"), "max");
  EXPECT_EQ(File("memory.swap.max"), "max");
  EXPECT_EQ(File("pids.max"), "max");
  EXPECT_EQ(File("cpu.max"), "max 100000");
  EXPECT_EQ(File("io.max"), "254:0 rbps=max wbps=max riops=max wiops=max");
  EXPECT_TRUE((*enf)->ExecRlimits("j").empty());
}

TEST_F(V2EnforcerTest, UnknownJailAndMissingController) {
  LinuxLimitEnforcerOptions options;
  options.cgroup_version = "v2";
  absl::StatusOr<std::unique_ptr<LinuxLimitEnforcer>> enf = LinuxLimitEnforcer::Create(options);
  ASSERT_TRUE(enf.ok());
  JailRef ref;
  ref.name = "nope";
  EXPECT_TRUE(absl::IsNotFound((*enf)->Apply(ref, {}).status()));
  JailInstance inst;
  inst.ref.name = "j";
  inst.backend_state["cgroup.unified"] = dir_;
  ASSERT_TRUE((*enf)->AddJail(inst).ok());
  std::filesystem::remove(dir_ + "/pids.max");  // pids controller not enabled
  absl::StatusOr<std::vector<Enforcement>> st =
      (*enf)->Apply(inst.ref, {MakeRule(Resource::kNthr, Action::kDeny, 5)});
  EXPECT_TRUE(absl::IsFailedPrecondition(st.status())) << st.status();
  EXPECT_NE(std::string(st.status().message()).find("pids.max"), std::string::npos);
  EXPECT_TRUE(absl::IsNotFound((*enf)->Reconcile("nope")));
}

}  // namespace
}  // namespace jailwarden::platform
