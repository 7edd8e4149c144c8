// jail_run: one-shot run of a command in a jail from the command line, with
// per-step timings on stderr (-v). For benchmarking and debugging the Linux
// runtime; the product CLI is `jailwarden run`.
//
//   jail_run [-v] [-n] [--no-fsync] ROOT -- CMD [ARG...]
//   -n: own network stack (loopback only)

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "jailwarden/jail/manager.h"
#include "jailwarden/platform/linux/linux_jail_runtime.h"

int main(int argc, char** argv) {
  using namespace jailwarden;
  bool verbose = false, netns = false, fsync = true;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; ++i) {
    std::string a = argv[i];
    if (a == "-v") verbose = true;
    else if (a == "-n") netns = true;
    else if (a == "--no-fsync") fsync = false;
  }
  if (i + 2 >= argc || strcmp(argv[i + 1], "--") != 0) {
    fprintf(stderr, "usage: jail_run [-v] [-n] [--no-fsync] ROOT -- CMD [ARG...]\n");
    return 64;
  }
  std::string root = argv[i];
  std::vector<std::string> cmd(argv + i + 2, argv + argc);
  char tmpl[] = "/tmp/jw-run-XXXXXX";
  std::string top = mkdtemp(tmpl);
  auto t0 = std::chrono::steady_clock::now();
  auto ms = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
        .count();
  };
  platform::LinuxJailRuntimeOptions ro;
  ro.run_dir = top + "/run";
  ro.cgroup_parent = "jailwarden-run";
  auto rt = platform::NewLinuxJailRuntime(ro);
  if (!rt.ok()) {
    fprintf(stderr, "%s\n", std::string(rt.status().message()).c_str());
    return 70;
  }
  jail::ManagerOptions mo;
  mo.state_dir = top + "/state";
  mo.fsync = fsync;
  if (verbose) {
    mo.observer = [&](const jail::LifecycleEvent& e) {
      fprintf(stderr, "%8.2f ms  %s %s\n", ms(), e.step.c_str(), e.ok ? "" : "FAILED");
    };
  }
  auto m = jail::Manager::Open(mo, *std::move(rt));
  if (!m.ok()) {
    fprintf(stderr, "%s\n", std::string(m.status().message()).c_str());
    return 70;
  }
  if (verbose) fprintf(stderr, "%8.2f ms  manager open\n", ms());
  platform::JailSpec s;
  s.path = root;
  s.network.mode = netns ? platform::NetworkMode::kNew : platform::NetworkMode::kInherit;
  platform::ExecRequest req;
  req.argv = cmd;
  req.stdout_fd = 1;
  req.stderr_fd = 2;
  auto r = (*m)->Run(s, req);
  if (verbose) fprintf(stderr, "%8.2f ms  run done\n", ms());
  m->reset();
  (void)!system(("rm -rf '" + top + "'").c_str());
  if (!r.ok()) {
    fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
    return 70;
  }
  return r->term_signal != 0 ? 128 + r->term_signal : r->exit_code;
}
