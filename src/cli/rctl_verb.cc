#include "cli/rctl_verb.h"

#include <sysexits.h>

#include <fstream>
#include <ostream>

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

Display and update the resource limits database, exactly as rctl(8):
  -a   add each rule          -l   show limits applying to a process
  -r   remove matching rules  -u   show resource usage of a subject
  -h   human-readable amounts -n   numeric user ids
Rules: subject:subject-id:resource:action=amount[/per], for example
  jailwarden rctl -a jail:www:memoryuse:deny=512m
  jailwarden rctl -hu jail:www

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
  ctx.err << kProgram
          << ": no daemon connection is available in this build; use "
             "--check to validate rules offline\n";
  return EX_UNAVAILABLE;
}

}  // namespace jailwarden::cli
