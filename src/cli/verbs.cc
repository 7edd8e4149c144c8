#include "jailwarden/cli/verbs.h"

#include <sysexits.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/common.h"
#include "cli/daemon_verbs.h"
#include "cli/dispatch.h"
#include "cli/events_verb.h"
#include "cli/global_flags.h"
#include "cli/rctl_verb.h"
#include "cli/selftest_verb.h"
#include "jailwarden/base/strings.h"
#ifdef __linux__
#include "jailwarden/oci/oci.h"
#endif
#include "jailwarden/version.h"

namespace jailwarden::cli {
namespace {

// One row per verb: a verb added here gets --help, "did you mean" and
// shell completion (its options from its own CLI11 app) with no other
// change.
const std::vector<Verb>& VerbTable() {
  static const std::vector<Verb>* verbs = new std::vector<Verb>{
      {"apply", "replace the daemon's policy by a file (-f FILE)", RunApplyVerb},
      {"validate", "check a policy file: FILE:LINE:COL: message per error",
       RunValidateVerb},
      {"list", "list jails (JID, NAME, STATE, RELEASE/ROOT, IP4)", RunListVerb},
      {"get", "a jail's keys: get NAME [KEY...]", RunGetVerb},
      {"set", "change a policy jail's keys: set NAME KEY=VALUE... (validated, kept)",
       RunSetVerb},
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

constexpr VerbAlias kAliases[] = {
    {"ls", "list", ""},      // iocage, ls(1) habit
    {"jls", "list", "--jls"},  // jls(8)'s table: JID, IP Address, Hostname, Path
};

// Words that are not verbs but that users type, with what to do instead.
struct NotAVerb {
  std::string_view word;
  std::string_view instead;
};
constexpr NotAVerb kNotVerbs[] = {
    {"", ""},  // none at present; an entry here answers instead of "did you mean"
};

std::vector<Verb> AllOf(std::span<const Verb> extra) {
  std::vector<Verb> all(extra.begin(), extra.end());
  all.insert(all.end(), VerbTable().begin(), VerbTable().end());
  return all;
}

const Verb* Find(const std::vector<Verb>& verbs, std::string_view name) {
  for (const Verb& v : verbs) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

void PrintHelp(std::ostream& out, const std::vector<Verb>& verbs) {
  out << "jailwarden " << kVersion
      << " - jails, RCTL limits and RACCT metrics from one daemon\n\n"
         "usage: jailwarden [global options] <verb> [options] [args...]\n"
         "       jailwarden <verb> --help\n"
         "       jailwarden --version [--json]\n\n"
         "global options (before or after the verb, same meaning):\n";
  for (const GlobalFlag& f : GlobalFlags()) {
    std::string names = StrCat(f.names, f.value_name.empty() ? "" : " ", f.value_name);
    for (std::size_t p = names.find(','); p != std::string::npos; p = names.find(',', p + 2)) {
      names.replace(p, 1, ", ");
    }
    out << "  " << names;
    for (std::size_t i = names.size(); i < 24; ++i) out << ' ';
    out << " " << f.help << "\n";
  }
  out << "\nverbs:\n";
  for (const Verb& v : verbs) {
    out << "  " << v.name;
    for (std::size_t i = v.name.size(); i < 10; ++i) out << ' ';
    out << v.summary << "\n";
  }
  out << "\naliases:\n";
  for (const VerbAlias& a : kAliases) {
    if (Find(verbs, a.verb) == nullptr) continue;
    out << "  " << a.name;
    for (std::size_t i = a.name.size(); i < 10; ++i) out << ' ';
    out << a.verb << (a.first_arg.empty() ? "" : " ") << a.first_arg << "\n";
  }
  out << "\nexit status (sysexits(3), see jailwarden(8)):\n"
         "  0   success\n"
         "  1   the operation failed on the state of things (no such jail,\n"
         "      already defined); rctl: the number of rules that failed\n"
         "  64  EX_USAGE: bad command line (unknown verb or option)\n"
         "  66  EX_NOINPUT: an input file cannot be read\n"
         "  69  EX_UNAVAILABLE: the daemon cannot be reached, or the host lacks it\n"
         "  70  EX_SOFTWARE: internal error\n"
         "  75  EX_TEMPFAIL: serve: another daemon holds the state directory\n"
         "  77  EX_NOPERM: not root, or the API refused the token\n"
         "  78  EX_CONFIG: the policy, a jail definition or a rule is invalid\n"
         "  exec, run: the command's own status; 126 when it could not run,\n"
         "      124 on timeout, 128+N when killed by signal N\n";
}

// The first global option given before the verb that `verb` does not take
// (mkroot, validate take no connection options), read from the verb's own
// CLI11 app; nullopt when it takes them all or parses by hand (serve,
// rctl: their parsers judge).
std::optional<std::string> RefusedGlobal(const Verb& verb,
                                         const std::vector<std::string>& global) {
  if (global.empty()) return std::nullopt;
  VerbShape shape;
  {
    std::ostringstream out, err;
    CommandContext quiet{out, err};
    ScopedShapeRecorder recorder(&shape);
    (void)verb.run({"--help"}, quiet);
  }
  if (!shape.recorded) return std::nullopt;
  for (const std::string& g : global) {
    if (!StartsWith(g, "-")) continue;  // a value
    const std::string name = g.substr(0, g.find('='));
    bool taken = false;
    for (const OptionShape& o : shape.options) {
      taken = taken || std::find(o.names.begin(), o.names.end(), name) != o.names.end();
    }
    if (!taken) return name;
  }
  return std::nullopt;
}

}  // namespace

std::span<const Verb> AllVerbs() { return VerbTable(); }

std::span<const VerbAlias> Aliases() { return kAliases; }

int Main(int argc, char** argv, std::span<const Verb> extra_verbs) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  CommandContext ctx{std::cout, std::cerr};
  return Run(args, ctx, extra_verbs);
}

int Run(const std::vector<std::string>& args, CommandContext& ctx,
        std::span<const Verb> extra_verbs) {
  const std::vector<Verb> verbs = AllOf(extra_verbs);
  absl::StatusOr<SplitCommandLine> split = SplitAtVerb(args);
  if (!split.ok()) {
    ctx.err << "jailwarden: " << split.status().message() << "\nsee 'jailwarden --help'\n";
    return EX_USAGE;
  }
  const bool json =
      std::find(split->global.begin(), split->global.end(), "--json") != split->global.end();
  if (split->version || split->verb == "version") {
    const bool rest_json =
        std::find(split->rest.begin(), split->rest.end(), "--json") != split->rest.end();
    return PrintVersion(ctx, json || rest_json);
  }
  if (split->verb.empty() || split->verb == "help") {
    // `jailwarden help VERB` is `jailwarden VERB --help`.
    if (split->verb == "help" && !split->rest.empty()) {
      split->verb = split->rest[0];
      split->rest = {"--help"};
    } else {
      PrintHelp(split->help || split->verb == "help" ? ctx.out : ctx.err, verbs);
      return split->help || split->verb == "help" ? EX_OK : EX_USAGE;
    }
  }
  std::vector<std::string> verb_args = split->global;
  if (split->help) verb_args.push_back("--help");
  if (split->verb == "completion") {
    verb_args.insert(verb_args.end(), split->rest.begin(), split->rest.end());
    return RunCompletionVerb(verb_args, ctx, verbs, kAliases);
  }
  const Verb* verb = Find(verbs, split->verb);
  for (const VerbAlias& a : kAliases) {
    if (verb == nullptr && a.name == split->verb) {
      verb = Find(verbs, a.verb);
      if (verb != nullptr && !a.first_arg.empty()) verb_args.emplace_back(a.first_arg);
    }
  }
  if (verb == nullptr) {
    ctx.err << "jailwarden: unknown verb '" << split->verb << "'";
    for (const NotAVerb& n : kNotVerbs) {
      if (n.word == split->verb && !n.instead.empty()) {
        ctx.err << ": " << n.instead << "\n";
        return EX_USAGE;
      }
    }
    std::vector<std::string> known;
    for (const Verb& v : verbs) known.emplace_back(v.name);
    for (const VerbAlias& a : kAliases) {
      if (Find(verbs, a.verb) != nullptr) known.emplace_back(a.name);
    }
    if (std::string s = Suggest(split->verb, known); !s.empty()) {
      ctx.err << "; did you mean '" << s << "'?\n";
    } else {
      ctx.err << "; see 'jailwarden --help'\n";
    }
    return EX_USAGE;
  }
  if (std::optional<std::string> refused = RefusedGlobal(*verb, split->global)) {
    ctx.err << "jailwarden: option '" << *refused << "' does not apply to '" << verb->name
            << "'; see 'jailwarden " << verb->name << " --help'\n";
    return EX_USAGE;
  }
  verb_args.insert(verb_args.end(), split->rest.begin(), split->rest.end());
  return verb->run(verb_args, ctx);
}

}  // namespace jailwarden::cli
