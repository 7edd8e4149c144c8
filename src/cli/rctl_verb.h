#pragma once

#include <string>
#include <vector>

#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {

// `jailwarden rctl`: rctl(8)'s flags and output. With --check, validates
// rules offline; otherwise talks to the daemon (when the api layer exists).
int RunRctlVerb(const std::vector<std::string>& args, CommandContext& ctx);

}  // namespace jailwarden::cli
