#pragma once

// The verbs that talk to the daemon (architecture.md §4) and the local
// ones (validate, mkroot). Each parses its own flags, answers --help, and
// with --json prints the daemon's JSON instead of text.

#include <string>
#include <vector>

#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {

int RunListVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunGetVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunStartVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunStopVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunRestartVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunDestroyVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunCreateVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunExecVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunConsoleVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunRunVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunUsageVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunTopVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunStatusVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunApplyVerb(const std::vector<std::string>& args, CommandContext& ctx);
// set NAME KEY=VALUE...: a policy jail's keys through PATCH /v1/jails/NAME.
int RunSetVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunValidateVerb(const std::vector<std::string>& args, CommandContext& ctx);
int RunMkrootVerb(const std::vector<std::string>& args, CommandContext& ctx);
// logs_verb.cc (issue 17)
int RunLogsVerb(const std::vector<std::string>& args, CommandContext& ctx);

}  // namespace jailwarden::cli
