#include "cli/rctl_verb.h"

#include <sysexits.h>

#include <fstream>
#include <ostream>

#include "cli/common.h"
#include "jailwarden/api/client.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/rctl_command.h"

namespace jailwarden::cli {
namespace {

constexpr char kProgram[] = "jailwarden rctl";

constexpr char kHelp[] =
    R"(usage: jailwarden rctl [-h] [-n] [filter ...]
       jailwarden rctl -a rule ...
       jailwarden rctl -l [-h] [-n] filter ...
       jailwarden rctl -r filter ...
       jailwarden rctl -u [-h] filter ...
       jailwarden rctl --check [-f FILE] [rule ...]
       jailwarden rctl --fidelity [filter]

Display and update the resource limits database, exactly as rctl(8):
  -a   add each rule          -l   show limits applying to a process
  -r   remove matching rules  -u   show resource usage of a subject
  -h   human-readable amounts -n   numeric user ids
Rules: subject:subject-id:resource:action=amount[/per], for example
  jailwarden rctl -a jail:www:memoryuse:deny=512m
  jailwarden rctl -hu jail:www

Talks to the jailwarden daemon, which holds the rule database the kernel
would (on Linux there is none in the kernel): the policy's jail limits and
rules are there, and rules added here take effect on running jails at once.
--server URL, --token TOKEN, --token-file FILE and --config FILE choose the
daemon as for the other verbs (give them before the rctl flags or after).
--fidelity lists the matching rules with how this host enforces each
(exact, approximate, sampled, unsupported), the mechanism and what differs.

--check parses each rule as rctl(8) would, validates it as the kernel's
rctl_add_rule(2) would, and prints its kernel storage form (one per line)
or rctl(8)'s error. Rules come from the arguments and, with -f, from FILE
(one per line, '#' starts a comment). The exit status is the number of
rules that failed, as rctl(8)'s.
)";

int RunCheck(std::vector<std::string> args, CommandContext& ctx) {
  std::vector<std::string> rules;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-f") {
      if (i + 1 >= args.size()) {
        ctx.err << kProgram << ": -f needs a file name\n";
        return EX_USAGE;
      }
      const std::string path = args[++i];
      std::ifstream in(path);
      if (!in) {
        ctx.err << kProgram << ": cannot open " << path << "\n";
        return EX_NOINPUT;
      }
      std::string line;
      while (std::getline(in, line)) {
        std::string_view text = line;
        if (const std::size_t hash = text.find('#'); hash != text.npos) {
          text = text.substr(0, hash);
        }
        text = StripWhitespace(text);
        if (!text.empty()) rules.emplace_back(text);
      }
    } else {
      rules.push_back(args[i]);
    }
  }
  if (rules.empty()) {
    ctx.err << kProgram << ": --check needs at least one rule\n";
    return EX_USAGE;
  }
  return rctl::RunRctlCheck(rules, kProgram, nullptr, ctx.out, ctx.err);
}

}  // namespace

int RunRctlVerb(const std::vector<std::string>& args, CommandContext& ctx) {
  for (const std::string& a : args) {
    if (a == "--help") {
      ctx.out << kHelp;
      return EX_OK;
    }
  }
  if (!args.empty() && args[0] == "--check") {
    return RunCheck(std::vector<std::string>(args.begin() + 1, args.end()), ctx);
  }
  // Our long options may sit anywhere before "--"; the rest is rctl(8)'s.
  ConnectionFlags flags;
  bool fidelity = false;
  std::vector<std::string> rctl_args;
  bool operands_only = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (operands_only || !StartsWith(a, "--") || a == "--") {
      if (a == "--") operands_only = true;
      rctl_args.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    if (const std::size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    std::string* dst = name == "--server"       ? &flags.server
                       : name == "--token"      ? &flags.token
                       : name == "--token-file" ? &flags.token_file
                       : name == "--config"     ? &flags.config
                                                : nullptr;
    if (dst != nullptr) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          ctx.err << kProgram << ": " << name << " needs a value\n";
          return EX_USAGE;
        }
        value = args[++i];
      }
      *dst = value;
    } else if (name == "--fidelity") {
      fidelity = true;
    } else if (name == "--json") {
      flags.json = true;
    } else {
      ctx.err << kProgram << ": unknown option " << name << "\n";
      return EX_USAGE;
    }
  }
  absl::StatusOr<api::Client> client = MakeClient(flags);
  if (!client.ok()) {
    ctx.err << kProgram << ": " << client.status().message() << "\n";
    return EX_USAGE;
  }
  if (fidelity || flags.json) {
    std::string filter = "::";
    for (const std::string& a : rctl_args) {
      if (!StartsWith(a, "-")) filter = a;
    }
    absl::StatusOr<std::vector<api::RuleInfo>> rules =
        client->RulesWithFidelity(filter);
    if (!rules.ok()) {
      ctx.err << kProgram << ": failed to show rules for '" << filter
              << "': " << rules.status().message() << "\n";
      return 1;
    }
    if (flags.json) {
      PrintJson(ctx, client->last_body());
      return EX_OK;
    }
    for (const api::RuleInfo& r : *rules) {
      ctx.out << r.rule << "\t" << r.fidelity << "\t"
              << (r.mechanism.empty() ? "-" : r.mechanism);
      if (!r.detail.empty()) ctx.out << "\t" << r.detail;
      ctx.out << "\n";
    }
    return EX_OK;
  }
  api::RctlClientBackend backend(*client);
  rctl::RctlInvocation inv;
  inv.args = rctl_args;
  inv.program = kProgram;
  return rctl::RunRctl(inv, backend, ctx.out, ctx.err);
}

}  // namespace jailwarden::cli
