#include "jailwarden/cli/verbs.h"

#include <sysexits.h>

#include <iostream>

#include "cli/rctl_verb.h"
#include "jailwarden/version.h"

namespace jailwarden::cli {
namespace {

const std::vector<Verb>& VerbTable() {
  static const std::vector<Verb>* verbs = new std::vector<Verb>{
      {"rctl",
       "display and update resource limits database, as rctl(8); --check "
       "validates rules offline",
       RunRctlVerb},
  };
  return *verbs;
}

void PrintHelp(std::ostream& out) {
  out << "jailwarden " << kVersion
      << " - jails, RCTL limits and RACCT metrics from one daemon\n\n"
         "usage: jailwarden [--help] [--version] <verb> [args...]\n"
         "       jailwarden <verb> --help\n\nverbs:\n";
  for (const Verb& v : VerbTable()) {
    out << "  " << v.name;
    for (std::size_t i = v.name.size(); i < 10; ++i) out << ' ';
    out << v.summary << "\n";
  }
}

}  // namespace

std::span<const Verb> AllVerbs() { return VerbTable(); }

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  CommandContext ctx{std::cout, std::cerr};
  if (args.empty()) {
    PrintHelp(ctx.err);
    return EX_USAGE;
  }
  const std::string& first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    PrintHelp(ctx.out);
    return EX_OK;
  }
  if (first == "--version" || first == "version") {
    ctx.out << "jailwarden " << kVersion << "\n";
    return EX_OK;
  }
  for (const Verb& v : VerbTable()) {
    if (v.name == first) {
      return v.run(std::vector<std::string>(args.begin() + 1, args.end()), ctx);
    }
  }
  ctx.err << "jailwarden: unknown verb '" << first
          << "'; see 'jailwarden --help'\n";
  return EX_USAGE;
}

}  // namespace jailwarden::cli
