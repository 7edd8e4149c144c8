#include "cli/selftest_verb.h"

#include <sysexits.h>

#include <string>
#include <vector>

#include "cli/common.h"
#include "jailwarden/selftest/selftest.h"

namespace jailwarden::cli {

int RunSelftestVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  CLI::App app(
      "Probe this host's kernel the way jailwarden's backend uses it and print, "
      "per call, what it answered beside what jailwarden assumes. FreeBSD: every "
      "jail/rctl/racct call against a throwaway jail, next to FakeFreeBsdKernel's "
      "expectations. Linux: namespaces, the cgroup layout, seccomp, openat2 and "
      "how each of the 25 resources is enforced here (as root also a throwaway "
      "set of namespaces and cgroups).",
      "jailwarden selftest");
  bool json = false;
  std::string jail_name;
  app.add_flag("--json", json, "print JSON instead of a table");
#if defined(__FreeBSD__)
  app.add_option("--jail-name", jail_name, "name of the throwaway jail (jwselftestPID)");
#endif
  if (auto rc = ParseArgs(app, args, ctx)) return *rc;
#if defined(__FreeBSD__)
  std::unique_ptr<platform::FreeBsdKernel> kernel = platform::SystemFreeBsdKernel();
  selftest::FreeBsdSelftestOptions options;
  options.jail_name = jail_name;
  const selftest::Report report = selftest::RunFreeBsdSelftest(*kernel, options);
#elif defined(__linux__)
  const selftest::Report report = selftest::RunLinuxSelftest();
#else
  ctx.err << "jailwarden selftest: no backend on this system\n";
  return EX_UNAVAILABLE;
#endif
  if (json) {
    ctx.out << selftest::ToJson(report).dump(2) << "\n";
  } else {
    ctx.out << selftest::RenderTable(report);
  }
  const bool clean = report.Count(selftest::Verdict::kDiffers) == 0 &&
                     report.Count(selftest::Verdict::kMissing) == 0;
  return clean ? EX_OK : 1;
}

}  // namespace jailwarden::cli
