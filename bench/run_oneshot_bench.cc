// One-shot `run` of /bin/true in a busybox jail (jail::Manager::Run on the
// Linux runtime: cgroups, namespaces, pid-1 supervisor, pivot_root, state
// files, teardown) against the baseline
//   unshare -fpmuin --mount-proc /bin/true
// measured in the same binary, alternating, so the ratio is fair.
// Needs root; skips otherwise. Goal (issue #4): ratio <= 1.5.

#include <fcntl.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "jailwarden/jail/manager.h"
#include "jailwarden/platform/linux/linux_jail_runtime.h"
#include "jailwarden/platform/linux/rootfs.h"

namespace {

using namespace jailwarden;

struct Fixture {
  std::string top, run, root;
  std::unique_ptr<jail::Manager> manager;
  std::string error;
};

// Fixtures live until exit; then their managers go first (the runtime
// removes its parent cgroup) and their directories after.
std::vector<Fixture*>& AllFixtures() {
  static std::vector<Fixture*>* all = new std::vector<Fixture*>;
  return *all;
}

void RemoveFixtures() {
  for (Fixture* f : AllFixtures()) {
    f->manager.reset();
    for (const std::string& d : {f->top, f->run}) {
      if (!d.empty()) {
        (void)!system(("rm -rf '" + d + "'").c_str());
      }
    }
  }
}

std::string MakeTempDir(const std::string& parent, const char* prefix) {
  std::string tmpl = parent + "/" + prefix + "XXXXXX";
  return mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
}

// `fsync`: state files fsync'd (ManagerOptions::fsync). `tmpfs_run`: the
// runtime directory (the jail's socket, the one-shot run's record) on a
// tmpfs — /dev/shm standing in for /run/jailwarden, which is tmpfs on
// systemd hosts but a plain directory of the root file system on this VM —
// instead of beside the state on /tmp (see bench/README.md for why the
// file system matters).
Fixture& Get(bool fsync, bool tmpfs_run) {
  static Fixture* fx[2][2] = {{nullptr, nullptr}, {nullptr, nullptr}};
  Fixture*& f = fx[fsync ? 1 : 0][tmpfs_run ? 1 : 0];
  if (f != nullptr) {
    return *f;
  }
  f = new Fixture;
  if (AllFixtures().empty()) {
    atexit(RemoveFixtures);
  }
  AllFixtures().push_back(f);
  f->top = MakeTempDir("/tmp", "jw-bench-");
  if (tmpfs_run) {
    struct statfs sf;
    if (statfs("/dev/shm", &sf) != 0 || sf.f_type != TMPFS_MAGIC) {
      f->error = "/dev/shm is not a tmpfs";
      return *f;
    }
    f->run = MakeTempDir("/dev/shm", "jw-bench-run-");
  } else {
    f->run = f->top + "/run";
  }
  if (f->top.empty() || f->run.empty()) {
    f->error = "mkdtemp failed";
    return *f;
  }
  f->root = f->top + "/root";
  if (absl::Status st = platform::BuildBusyboxRoot(f->root); !st.ok()) {
    f->error = std::string(st.message());
    return *f;
  }
  platform::LinuxJailRuntimeOptions ro;
  ro.run_dir = f->run;
  ro.cgroup_parent = "jailwarden-bench";
  auto rt = platform::NewLinuxJailRuntime(ro);
  if (!rt.ok()) {
    f->error = std::string(rt.status().message());
    return *f;
  }
  jail::ManagerOptions mo;
  mo.state_dir = f->top + "/state";
  mo.transient_dir = f->run + "/.transient";
  mo.fsync = fsync;
  auto m = jail::Manager::Open(mo, *std::move(rt));
  if (!m.ok()) {
    f->error = std::string(m.status().message());
    return *f;
  }
  f->manager = *std::move(m);
  return *f;
}

bool RunJail(Fixture& f) {
  platform::JailSpec s;
  s.path = f.root;
  s.network.mode = platform::NetworkMode::kNew;  // as unshare -n
  platform::ExecRequest req;
  req.argv = {"/bin/true"};
  auto r = f.manager->Run(s, req);
  return r.ok() && r->ok();
}

bool RunUnshare() {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    execl("/usr/bin/unshare", "unshare", "-fpmuin", "--mount-proc", "/bin/true",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

void BM_Unshare_Baseline(benchmark::State& state) {
  if (geteuid() != 0) {
    state.SkipWithError("needs root");
    return;
  }
  for (auto _ : state) {
    if (!RunUnshare()) {
      state.SkipWithError("unshare failed");
      return;
    }
  }
}
BENCHMARK(BM_Unshare_Baseline)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Args: {fsync, tmpfs_run} as Get().
void BM_JailRun_OneShotTrue(benchmark::State& state) {
  if (geteuid() != 0) {
    state.SkipWithError("needs root");
    return;
  }
  Fixture& f = Get(state.range(0) != 0, state.range(1) != 0);
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  for (auto _ : state) {
    if (!RunJail(f)) {
      state.SkipWithError("jail run failed");
      return;
    }
  }
}
BENCHMARK(BM_JailRun_OneShotTrue)
    ->Args({1, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

// Both, alternating within each iteration; reports the ratio jail/unshare.
void BM_JailRun_VsUnshareRatio(benchmark::State& state) {
  if (geteuid() != 0) {
    state.SkipWithError("needs root");
    return;
  }
  Fixture& f = Get(state.range(0) != 0, state.range(1) != 0);
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  double jail_s = 0, base_s = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    bool a = RunUnshare();
    auto t1 = std::chrono::steady_clock::now();
    bool b = RunJail(f);
    auto t2 = std::chrono::steady_clock::now();
    if (!a || !b) {
      state.SkipWithError("run failed");
      return;
    }
    base_s += Seconds(t1 - t0);
    jail_s += Seconds(t2 - t1);
  }
  double n = static_cast<double>(state.iterations());
  state.counters["unshare_ms"] = base_s / n * 1e3;
  state.counters["jail_ms"] = jail_s / n * 1e3;
  state.counters["ratio"] = jail_s / base_s;
}
BENCHMARK(BM_JailRun_VsUnshareRatio)
    ->Args({1, 0})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);

}  // namespace

BENCHMARK_MAIN();
