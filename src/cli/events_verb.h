#pragma once

#include <string>
#include <vector>

#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {

// `jailwarden events [-f] [--jail NAME] [--type T,...] [--since ID]
// [--count N] [--json]`: the daemon's event log (GET /v1/events as NDJSON),
// one line per event ("ID TIME TYPE JAIL key=value..."), or the daemon's
// JSON lines with --json. Without -f: the events the daemon still holds
// (after --since) and exit. With -f: then every new one; when the
// connection breaks it reconnects and resumes after the last id it printed,
// so nothing is printed twice and a loss is said ("events ... missed").
int RunEventsVerb(const std::vector<std::string>& args, CommandContext& ctx);

}  // namespace jailwarden::cli
