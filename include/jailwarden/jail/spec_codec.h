#pragma once

// The one JSON form of a platform::JailSpec: the jail layer's config.json
// (jails/<name>/config.json, the "spec" of a transient record) and the
// "spec" object of the HTTP API. Pure; thread-safe.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::jail {

// Serializes a JailSpec as config.json text (pretty, stable key order,
// durations in milliseconds: exec.timeout_ms, stop_timeout_ms).
std::string SpecToJson(const platform::JailSpec& spec);

// Parses config.json text. Missing (or null) keys take JailSpec's defaults
// except "name" and each mount's "target" and each copy's "source" and
// "target", which are required; unknown keys are ignored. Errors:
// InvalidArgument, "config.json: parse error at line L, column C: ..." for
// text that is not JSON, otherwise naming the field, e.g.
// "spec.exec.start: expected an array of strings",
// "spec.mounts[0].target: missing",
// "spec.network.mode: unknown value \"bridge\"".
absl::StatusOr<platform::JailSpec> SpecFromJson(std::string_view text);

}  // namespace jailwarden::jail
