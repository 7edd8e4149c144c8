#pragma once

// What `jailwarden` knows beside the verb table (verbs.cc): the aliases,
// and the hidden verbs built from the table (`completion`).

#include <span>
#include <string_view>
#include <vector>

#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {

// Another name for a verb, with at most one argument put before the user's
// (`jls` is `list --jls`). An alias whose verb is not in the table is
// ignored.
struct VerbAlias {
  std::string_view name;
  std::string_view verb;
  std::string_view first_arg;  // empty: none
};

// The aliases, in --help order.
std::span<const VerbAlias> Aliases();

// `jailwarden completion bash|zsh`: prints a completion script for `verbs`
// and `aliases`, each verb's options read from its own CLI11 app
// (ScopedShapeRecorder, common.h), jail names at completion time from
// `jailwarden list --names` (quiet when the daemon cannot be reached).
// EX_USAGE for another shell.
int RunCompletionVerb(const std::vector<std::string>& args, CommandContext& ctx,
                      const std::vector<Verb>& verbs, std::span<const VerbAlias> aliases);

// `jailwarden --version [--json]`: version, git commit, build type,
// compiler, backends and libraries compiled in. Always EX_OK.
int PrintVersion(CommandContext& ctx, bool json);

}  // namespace jailwarden::cli
