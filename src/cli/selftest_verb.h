#pragma once

#include <string>
#include <vector>

#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {

// `jailwarden selftest [--json]`: what this host's kernel answers beside
// what jailwarden assumes (include/jailwarden/selftest/selftest.h). Prints
// a table, or JSON with --json. Exit status 0 when no row DIFFERS or is
// MISSING, 1 otherwise, EX_USAGE for bad flags.
int RunSelftestVerb(const std::vector<std::string>& args, CommandContext& ctx);

}  // namespace jailwarden::cli
