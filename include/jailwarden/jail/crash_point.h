#pragma once

// Deterministic fault points for the crash harness (tests/crash): with
// JW_CRASH_AT=<name>:<n> in the daemon's environment, the n-th time (from
// 1) the code passes CrashPoint("<name>") the process ends at once with
// _exit(137), as a kill -9 there would leave it (no destructors, no
// flushing beyond what was written). The variable is read once, on the
// first call; unset or malformed (logged once) every call is one relaxed
// load and a compare. Only the daemon's journal and jail manager call it.
//
// Thread-safety: thread-safe.

#include <string_view>

namespace jailwarden::jail {

// Ends the process with _exit(137) when `name` is the armed point and this
// is its n-th pass. Otherwise does nothing.
void CrashPoint(std::string_view name);

}  // namespace jailwarden::jail
