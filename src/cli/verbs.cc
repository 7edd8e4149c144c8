#include "jailwarden/cli/verbs.h"

#include <sysexits.h>

#include <iostream>

#include "cli/daemon_verbs.h"
#include "cli/events_verb.h"
#include "cli/rctl_verb.h"
#include "cli/selftest_verb.h"
#ifdef __linux__
#include "jailwarden/oci/oci.h"
#endif
#include "jailwarden/version.h"

namespace jailwarden::cli {
namespace {

const std::vector<Verb>& VerbTable() {
  static const std::vector<Verb>* verbs = new std::vector<Verb>{
      {"apply", "replace the daemon's policy by a file (-f FILE)", RunApplyVerb},
      {"validate", "check a policy file: FILE:LINE:COL: message per error",
       RunValidateVerb},
      {"list", "list jails (JID, NAME, STATE, RELEASE/ROOT, IP4)", RunListVerb},
      {"create", "define a jail from a template or a root, with limits",
       RunCreateVerb},
      {"start", "start jails (dependencies first)", RunStartVerb},
      {"stop", "stop jails (dependents first)", RunStopVerb},
      {"restart", "stop, then start jails", RunRestartVerb},
      {"destroy", "stop jails and forget them", RunDestroyVerb},
      {"exec", "run a command in a running jail: exec NAME -- CMD...", RunExecVerb},
      {"console", "log in to a running jail (root's login shell on a terminal)",
       RunConsoleVerb},
      {"run", "one-shot jail: run [--rm] TEMPLATE -- CMD...", RunRunVerb},
      {"usage", "a jail's resource usage, as rctl -hu jail:NAME", RunUsageVerb},
      {"logs", "a jail's captured output: logs NAME [-f] [--since T] [--tail N]", RunLogsVerb},
      {"top", "live per-jail usage view", RunTopVerb},
      {"status", "the daemon's readiness, policy and last reload", RunStatusVerb},
      {"events", "the daemon's event log; -f follows and resumes by id", RunEventsVerb},
      {"rctl",
       "display and update resource limits database, as rctl(8); --check "
       "validates rules offline",
       RunRctlVerb},
      {"mkroot", "build a jail root directory (busybox DIR, freebsd-base --from base.txz DIR)",
       RunMkrootVerb},
      {"selftest", "this kernel's answers beside jailwarden's assumptions", RunSelftestVerb},
#ifdef __linux__
      {"oci", "an OCI runtime with runc's command line, for podman and containerd (docs/oci.md)",
       [](const std::vector<std::string>& a, CommandContext& c) { return oci::OciMain(a, c.out, c.err); }},
#endif
  };
  return *verbs;
}

void PrintHelp(std::ostream& out, std::span<const Verb> extra) {
  out << "jailwarden " << kVersion
      << " - jails, RCTL limits and RACCT metrics from one daemon\n\n"
         "usage: jailwarden [--help] [--version] <verb> [args...]\n"
         "       jailwarden <verb> --help\n\n"
         "Verbs that talk to the daemon take --server URL, --token TOKEN,\n"
         "--token-file FILE, -c FILE (a policy to read both from) and --json.\n"
         "\nverbs:\n";
  auto line = [&](const Verb& v) {
    out << "  " << v.name;
    for (std::size_t i = v.name.size(); i < 10; ++i) out << ' ';
    out << v.summary << "\n";
  };
  for (const Verb& v : extra) line(v);
  for (const Verb& v : VerbTable()) line(v);
}

}  // namespace

std::span<const Verb> AllVerbs() { return VerbTable(); }

int Main(int argc, char** argv, std::span<const Verb> extra_verbs) {
  std::vector<std::string> args(argv + 1, argv + argc);
  CommandContext ctx{std::cout, std::cerr};
  if (args.empty()) {
    PrintHelp(ctx.err, extra_verbs);
    return EX_USAGE;
  }
  const std::string& first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    PrintHelp(ctx.out, extra_verbs);
    return EX_OK;
  }
  if (first == "--version" || first == "version") {
    ctx.out << "jailwarden " << kVersion << "\n";
    return EX_OK;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const Verb& v : extra_verbs) {
    if (v.name == first) return v.run(rest, ctx);
  }
  for (const Verb& v : VerbTable()) {
    if (v.name == first) return v.run(rest, ctx);
  }
  ctx.err << "jailwarden: unknown verb '" << first
          << "'; see 'jailwarden --help'\n";
  return EX_USAGE;
}

}  // namespace jailwarden::cli
