// datasize, vmemoryuse, stacksize, coredumpsize, memoryuse, swapuse,
// memorylocked: provoked in a real jail, outcome as linux-mapping.md §1/§7
// names it, and the sampler's reading compared with what the probe did.

#include <sys/stat.h>

#include "resources_env.h"

namespace jailwarden::testing {
namespace {

using platform::Fidelity;
using rctl::Resource;

constexpr int64_t kMiB = 1 << 20;

TEST_F(ResourceTest, DatasizePerProcessIsRlimitDataOnALiveProcess) {
  StartJail("rdata");
  {
    // Sampler: VmData of a probe holding a 128 MiB RW mapping.
    ProbeRun p(*manager_, name_, {"--hold", "3", "mmap", "128"});
    ASSERT_EQ(p.LineStarting("mmap"), "mmap mb=128 errno=0");
    std::vector<platform::ProcessUsage> procs;
    platform::RawUsage jail = Slow(&procs);
    const platform::ProcessUsage* probe = Probe(procs);
    ASSERT_NE(probe, nullptr);
    int64_t data = probe->usage.value[rctl::Index(Resource::kDatasize)];
    Measured("datasize_sampled_for_128MiB", data);
    EXPECT_GE(data, 128 * kMiB);
    EXPECT_LE(data, 128 * kMiB + 4 * kMiB) << "tolerance: the probe's own heap, 4 MiB";
    EXPECT_GE(Get(jail, Resource::kDatasize), data);
    EXPECT_EQ(p.Finish(), 0);
  }
  auto e = Apply({"datasize:deny=268435456/process"});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].fidelity, Fidelity::kExact);
  EXPECT_EQ(e[0].mechanism, "RLIMIT_DATA");
  ProbeRun p(*manager_, name_, {"--wait", "mmap", "512"});
  ASSERT_EQ(p.Line().rfind("ready", 0), 0u);
  ASSERT_TRUE(enforcer_->Reconcile(name_).ok());  // prlimit on the new process
  p.Go();
  EXPECT_EQ(p.LineStarting("mmap"), "mmap mb=512 errno=12");  // ENOMEM
  EXPECT_EQ(p.Finish(), 0);
}

TEST_F(ResourceTest, VmemoryusePerProcessIsRlimitAs) {
  StartJail("rvmem");
  {
    ProbeRun p(*manager_, name_, {"--hold", "3", "mmapro", "128"});
    ASSERT_EQ(p.LineStarting("mmap"), "mmap mb=128 errno=0");
    std::vector<platform::ProcessUsage> procs;
    Slow(&procs);
    const platform::ProcessUsage* probe = Probe(procs);
    ASSERT_NE(probe, nullptr);
    int64_t vm = probe->usage.value[rctl::Index(Resource::kVmemoryuse)];
    Measured("vmemoryuse_sampled_for_128MiB", vm);
    EXPECT_GE(vm, 128 * kMiB);
    EXPECT_LE(vm, 128 * kMiB + 8 * kMiB) << "tolerance: static binary + stack, 8 MiB";
    EXPECT_EQ(p.Finish(), 0);
  }
  Apply({"vmemoryuse:deny=268435456/process"});
  ProbeRun p(*manager_, name_, {"--wait", "mmapro", "512"});
  ASSERT_EQ(p.Line().rfind("ready", 0), 0u);
  ASSERT_TRUE(enforcer_->Reconcile(name_).ok());
  p.Go();
  EXPECT_EQ(p.LineStarting("mmap"), "mmap mb=512 errno=12");
  EXPECT_EQ(p.Finish(), 0);
}

TEST_F(ResourceTest, StacksizePerProcessGivesSigsegv) {
  StartJail("rstack");
  {
    ProbeRun p(*manager_, name_, {"--hold", "3", "stack", "2048"});
    ASSERT_EQ(p.LineStarting("stack kb=2048 errno"), "stack kb=2048 errno=0");
    std::vector<platform::ProcessUsage> procs;
    Slow(&procs);
    const platform::ProcessUsage* probe = Probe(procs);
    ASSERT_NE(probe, nullptr);
    int64_t stk = probe->usage.value[rctl::Index(Resource::kStacksize)];
    Measured("stacksize_sampled_for_2048KiB", stk);
    EXPECT_GE(stk, 2 * kMiB) << "2048 levels of 1 KiB";
    EXPECT_LE(stk, 3 * kMiB) << "tolerance: frames are a little larger than 1 KiB";
    EXPECT_EQ(p.Finish(), 0);
  }
  auto e = Apply({"stacksize:deny=1048576/process"});
  EXPECT_EQ(e[0].mechanism, "RLIMIT_STACK");
  ProbeRun p(*manager_, name_, {"--wait", "stack", "4096"});
  ASSERT_EQ(p.Line().rfind("ready", 0), 0u);
  ASSERT_TRUE(enforcer_->Reconcile(name_).ok());
  p.Go();
  EXPECT_EQ(p.Finish(), 128 + SIGSEGV);
}

TEST_F(ResourceTest, CoredumpsizeIsRlimitCore) {
  std::string pattern = ReadText("/proc/sys/kernel/core_pattern");
  if (pattern.empty() || pattern[0] == '|' || pattern[0] == '/') {
    GTEST_SKIP() << "kernel.core_pattern is \"" << pattern
                 << "\": cores do not land in the jail's cwd on this host";
  }
  StartJail("rcore");
  EXPECT_FALSE(reader_->Supported()[rctl::Index(Resource::kCoredumpsize)])
      << "no usage: known only at dump time";
  std::string root = ws_.top + "/roots/rcore";
  auto cores = [&] {
    std::vector<std::string> out;
    for (const std::string& n : ListDir(root)) {
      if (n.rfind("core", 0) == 0) {
        out.push_back(root + "/" + n);
      }
    }
    return out;
  };
  Apply({"coredumpsize:deny=0/process"});
  {
    ProbeRun p(*manager_, name_, {"--wait", "abort"});
    ASSERT_EQ(p.Line().rfind("ready", 0), 0u);
    ASSERT_TRUE(enforcer_->Reconcile(name_).ok());
    p.Go();
    EXPECT_EQ(p.LineStarting("abort"), "abort core_soft=0");
    EXPECT_EQ(p.Finish(), 128 + SIGABRT);
    EXPECT_TRUE(cores().empty()) << "limit 0: no core file";
  }
  auto e = Apply({"coredumpsize:deny=1048576/process"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kApproximate);
  ProbeRun p(*manager_, name_, {"--wait", "abort"});
  ASSERT_EQ(p.Line().rfind("ready", 0), 0u);
  ASSERT_TRUE(enforcer_->Reconcile(name_).ok());
  p.Go();
  EXPECT_EQ(p.LineStarting("abort"), "abort core_soft=1048576");
  EXPECT_EQ(p.Finish(), 128 + SIGABRT);
  std::vector<std::string> found = cores();
  ASSERT_EQ(found.size(), 1u) << "a 4 MiB process dumps a core truncated at the limit";
  struct stat st {};
  ASSERT_EQ(stat(found[0].c_str(), &st), 0);
  Measured("core_bytes_written_at_1MiB_limit", static_cast<double>(st.st_blocks) * 512);
  Measured("core_apparent_size", static_cast<double>(st.st_size));
  // The dumper stops writing at the limit; skipped (zero) pages are holes,
  // so the apparent size may be larger than what was written.
  EXPECT_GT(st.st_blocks, 0);
  EXPECT_LE(st.st_blocks * 512, 1048576 + 65536) << "tolerance: one 64 KiB fs allocation";
  EXPECT_LT(st.st_blocks * 512, 4 << 20) << "smaller than the untruncated 4 MiB core";
}

TEST_F(ResourceTest, MemoryuseLimitOomKillsInTheJail) {
  StartJail("rmem");
  {
    platform::RawUsage before = Fast();
    ProbeRun p(*manager_, name_, {"--hold", "3", "touch", "32"});
    ASSERT_EQ(p.LineStarting("touch"), "touch mb=32 errno=0");
    int64_t used = Get(Fast(), Resource::kMemoryuse) - Get(before, Resource::kMemoryuse);
    Measured("memoryuse_sampled_for_32MiB_touched", used);
    EXPECT_GE(used, 32 * kMiB - kMiB) << "RSS (total_rss + total_mapped_file)";
    EXPECT_LE(used, 32 * kMiB + 8 * kMiB) << "tolerance 8 MiB";
    EXPECT_EQ(p.Finish(), 0);
  }
  auto e = Apply({"memoryuse:deny=67108864"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kApproximate);
  EXPECT_EQ(ReadText(instance_.backend_state.at("cgroup.memory") + "/memory.limit_in_bytes"),
            "67108864\n");
  ProbeRun p(*manager_, name_, {"touch", "200"});
  int64_t last = 0;
  for (std::string l = p.Line(); !l.empty(); l = p.Line()) {
    last = std::max(last, Field(l, "mb"));
  }
  EXPECT_EQ(p.Finish(), 128 + SIGKILL) << "OOM-killed in the jail's memory cgroup";
  Measured("memoryuse_64MiB_limit_last_progress_mb", last);
  EXPECT_LT(last, 64);
  // Lifting the rule on the running jail.
  Apply({});
  EXPECT_EQ(ReadText(instance_.backend_state.at("cgroup.memory") + "/memory.limit_in_bytes"),
            "9223372036854771712\n");
}

TEST_F(ResourceTest, SwapuseIsMemswOnV1AndReadsZeroWithoutSwap) {
  StartJail("rswap");
  auto e = Apply({"swapuse:deny=33554432"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kSampled) << "v1 without a memoryuse rule";
  EXPECT_TRUE(enforcer_->DenyIsSampled(e[0].rule));
  e = Apply({"memoryuse:deny=67108864", "swapuse:deny=33554432"});
  EXPECT_EQ(e[1].fidelity, Fidelity::kApproximate);
  const std::string mem = instance_.backend_state.at("cgroup.memory");
  if (PathExists(mem + "/memory.memsw.limit_in_bytes")) {
    EXPECT_EQ(ReadText(mem + "/memory.memsw.limit_in_bytes"), std::to_string(96 * kMiB) + "\n");
  }
  bool have_swap = ReadLines("/proc/swaps").size() > 1;
  EXPECT_EQ(Get(Fast(), Resource::kSwapuse), 0);
  if (!have_swap) {
    // No swap device on this machine (linux-mapping.md §1 row 11): the
    // 64+32 MiB cap cannot be shown swapping; the hog is OOM-killed.
    ProbeRun p(*manager_, name_, {"touch", "200"});
    EXPECT_EQ(p.Finish(), 128 + SIGKILL);
  }
  Apply({});
  if (PathExists(mem + "/memory.memsw.limit_in_bytes")) {
    EXPECT_EQ(ReadText(mem + "/memory.memsw.limit_in_bytes"), "9223372036854771712\n");
  }
}

bool HasCapIpcLock(int64_t pid) {
  for (const std::string& l : ReadLines("/proc/" + std::to_string(pid) + "/status")) {
    if (l.rfind("CapEff:", 0) == 0) {
      uint64_t caps = std::stoull(l.substr(7), nullptr, 16);
      return (caps >> 14) & 1;  // CAP_IPC_LOCK
    }
  }
  return false;
}

TEST_F(ResourceTest, MemorylockedIsRlimitMemlockUnlessCapIpcLock) {
  StartJail("rlock");
  int64_t probe_pid = -1;
  {
    ProbeRun p(*manager_, name_, {"--hold", "3", "mlock", "1024"});
    ASSERT_EQ(p.LineStarting("mlock"), "mlock kb=1024 errno=0");
    std::vector<platform::ProcessUsage> procs;
    platform::RawUsage jail = Slow(&procs);
    const platform::ProcessUsage* probe = Probe(procs);
    ASSERT_NE(probe, nullptr);
    probe_pid = probe->pid;
    EXPECT_EQ(probe->usage.value[rctl::Index(Resource::kMemorylocked)], kMiB) << "VmLck exact";
    EXPECT_EQ(Get(jail, Resource::kMemorylocked), kMiB);
    bool cap = HasCapIpcLock(probe_pid);
    Measured("probe_has_cap_ipc_lock", cap);
    EXPECT_EQ(p.Finish(), 0);
    auto e = Apply({"memorylocked:deny=65536/process"});
    EXPECT_EQ(e[0].fidelity, Fidelity::kApproximate);
    ProbeRun q(*manager_, name_, {"--wait", "mlock", "1024"});
    ASSERT_EQ(q.Line().rfind("ready", 0), 0u);
    ASSERT_TRUE(enforcer_->Reconcile(name_).ok());
    q.Go();
    // With CAP_IPC_LOCK (root in the host user namespace) the rlimit is
    // bypassed, as the mapping measured; without it mlock fails.
    EXPECT_EQ(q.LineStarting("mlock"), cap ? "mlock kb=1024 errno=0" : "mlock kb=1024 errno=12")
        << "CAP_IPC_LOCK=" << cap;
    EXPECT_EQ(q.Finish(), 0);
  }
}

}  // namespace
}  // namespace jailwarden::testing
