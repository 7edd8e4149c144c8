#pragma once

// The hot-path reader of rctl_get_racct(2) output
// (../shared/reference/freebsd-rctl.md §8.5): "name=value" pairs in resource
// order, comma separated, IN_MILLIONS values divided by 10^6. Portable and
// pure; built and tested on every OS against real output strings
// (tests/testdata/freebsd/). Agrees with rctl::ParseUsage, which it stands
// in for on the sampler's path because it does not allocate on success.

#include <string_view>

#include "absl/status/status.h"
#include "jailwarden/platform/usage_reader.h"

namespace jailwarden::platform {

// Parses `text` (which may end at a NUL) into `out` in kernel units: every
// value is zeroed first, then each resource named in the text is set and
// marked present (never cumulative: the kernel gives pcpu and the IO
// resources as rates already). A process's text leaves the eight sloppy
// resources not present. An empty text is valid and sets nothing.
// Errors (InvalidArgument, errno EINVAL): an element without '=', an
// unknown resource name, a value that is not a base-10 integer; ERANGE
// (OutOfRange) when a value ×10^6 would overflow. Allocates only on error.
// Thread-safe.
absl::Status ParseRacctOutput(std::string_view text, RawUsage& out);

}  // namespace jailwarden::platform
