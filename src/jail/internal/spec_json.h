#pragma once

// spec_codec.cc's reader on an already parsed JSON value, for state_store.cc
// whose transient records hold a spec inside a larger document. Private to
// the jail layer.

#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::jail::internal {

// The spec's JSON object. Errors as SpecFromJson's, field paths starting
// with "spec". Throws nothing.
absl::StatusOr<platform::JailSpec> SpecFromJsonValue(const nlohmann::json& j);

// e.what() without nlohmann's "[json.exception.parse_error.101] " tag, so
// a message keeps its position ("parse error at line 1, column 10: ...")
// and reads as ours.
std::string JsonExceptionText(const std::exception& e);

// SpecToJson's object, not yet rendered as text.
nlohmann::json SpecToJsonValue(const platform::JailSpec& spec);

}  // namespace jailwarden::jail::internal
