#pragma once

#include <string>

#include "jailwarden/cli/verbs.h"

namespace jailwarden::cli {

// `jailwarden mkroot freebsd-base --from base.txz DIR`: extracts a FreeBSD
// release's base.txz into the new jail root DIR (platform::
// ExtractBaseRelease). Progress on stderr when it is a terminal. Exit
// status: 0, EX_NOINPUT (no archive), EX_DATAERR (an unsafe or corrupt
// archive: nothing written), EX_CANTCREAT (DIR exists or a write failed).
int RunMkrootFreeBsdBase(const std::string& from, const std::string& dir,
                         CommandContext& ctx);

}  // namespace jailwarden::cli
