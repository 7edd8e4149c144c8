#pragma once

// The `jailwarden` command line (../shared/design/architecture.md §4): a
// table of verbs, each with its own --help.

#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace jailwarden::cli {

struct CommandContext {
  std::ostream& out;
  std::ostream& err;
};

struct Verb {
  std::string_view name;
  std::string_view summary;  // one line, for `jailwarden --help`
  // Runs the verb with the arguments after its name; returns the exit code
  // (sysexits(3) values for failures the verb itself detects).
  std::function<int(const std::vector<std::string>& args, CommandContext& ctx)>
      run;
};

// Every verb, in the order `jailwarden --help` lists them.
std::span<const Verb> AllVerbs();

// The command line `args` (argv without the program name) run against
// `ctx`: global options before or after the verb, aliases, "did you mean"
// for an unknown verb, --help, --version, the hidden `completion` verb.
// Returns the exit code (base/exit_code.h's table; EX_USAGE for a bad
// command line).
int Run(const std::vector<std::string>& args, CommandContext& ctx,
        std::span<const Verb> extra_verbs = {});

// Entry point behind main(): Run() on std::cout and std::cerr. `extra_verbs`
// (listed first in --help) come from layers the cli may not include, such
// as `serve` from the service layer; main() composes them.
int Main(int argc, char** argv, std::span<const Verb> extra_verbs = {});

}  // namespace jailwarden::cli
