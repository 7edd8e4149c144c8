#pragma once

// The one adapter over nlohmann::json (which throws): every parse, dump and
// typed read of a JSON value in the api layer goes through here and never
// throws. Building values with nlohmann's operators does not throw and is
// done directly.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace jailwarden::api {

using Json = nlohmann::json;

// Parses `text`. InvalidArgument "malformed JSON at line L, column C: ..."
// (1-based) on a syntax error.
absl::StatusOr<Json> ParseJson(std::string_view text);

// Serializes; invalid UTF-8 in strings is replaced (U+FFFD), so it never
// fails. `indent` < 0: compact.
std::string DumpJson(const Json& value, int indent = -1);

// Typed reads of member `key` of `object` (which must be an object). An
// absent member or null leaves `*out` unchanged and returns OK; a member of
// another type is InvalidArgument "field 'key': expected a <type>, got
// <JSON type>" (e.g. "field 'rule': expected a string, got number").
absl::Status ReadString(const Json& object, std::string_view key,
                        std::string* out);
absl::Status ReadBool(const Json& object, std::string_view key, bool* out);
absl::Status ReadInt(const Json& object, std::string_view key, int64_t* out);
absl::Status ReadStringList(const Json& object, std::string_view key,
                            std::vector<std::string>* out);
absl::Status ReadStringMap(const Json& object, std::string_view key,
                           std::map<std::string, std::string>* out);
// A member that is an object (or absent: `*out` becomes null).
absl::Status ReadObject(const Json& object, std::string_view key, Json* out);

// The member of `allowed` that `key` is closest to (at most 2 edits,
// ignoring case), or "" when none is.
std::string SuggestField(std::string_view key,
                         const std::vector<std::string_view>& allowed);

// InvalidArgument for the first member of `object` not in `allowed`:
// "unknown field '<where>/<key>' in the request body; did you mean
// 'dry_run'?" (or "; expected a, b, c"). `where` is the JSON pointer of
// `object` ("" for the body itself). Nothing is read from a body with an
// unknown field, so a typo never passes silently (`dryrun` for `dry_run`).
absl::Status RejectUnknownFields(const Json& object,
                                 const std::vector<std::string_view>& allowed,
                                 std::string_view where = "");

// InvalidArgument "request body must be a JSON object" unless it is one.
absl::Status RequireObject(const Json& value, std::string_view what);

}  // namespace jailwarden::api
