#pragma once

// spec_codec.cc's reader on an already parsed JSON value, for state_store.cc
// whose transient records hold a spec inside a larger document. Private to
// the jail layer.

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::jail::internal {

// The spec's JSON object. Errors as SpecFromJson's, field paths starting
// with "spec". Throws nothing.
absl::StatusOr<platform::JailSpec> SpecFromJsonValue(const nlohmann::json& j);

// SpecToJson's object, not yet rendered as text.
nlohmann::json SpecToJsonValue(const platform::JailSpec& spec);

}  // namespace jailwarden::jail::internal
