#pragma once

// JSON forms of the API's values, shared by the server (encode) and the
// client (decode). Decoders return InvalidArgument naming the bad field.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/json.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/daemon.h"

namespace jailwarden::api {

Json RuleInfoToJson(const RuleInfo& rule);
absl::StatusOr<RuleInfo> RuleInfoFromJson(const Json& j);

Json JailInfoToJson(const JailInfo& jail);
absl::StatusOr<JailInfo> JailInfoFromJson(const Json& j);

// One event of the log as /v1/events sends it: {"id","time" (RFC 3339,
// ns),"type","jail","details":{...}}.
Json EventToJson(const engine::EventStream::Event& event);

// {"ok":true,"changed":B,"state":S}; an answer without "changed" (an
// older daemon) is changed=true.
absl::StatusOr<JailChange> JailChangeFromJson(const Json& j);

Json StatusToJson(const DaemonStatus& status);
absl::StatusOr<DaemonStatus> StatusFromJson(const Json& j);

Json UsageRowToJson(const UsageRow& row);
absl::StatusOr<UsageRow> UsageRowFromJson(const Json& j);

// exec/run arguments as the API takes them: InvalidArgument naming the
// field for no command, an empty argv[0], a NUL byte in an argument, or an
// env name that is empty or holds '=' or a NUL (or a value with a NUL).
absl::Status CheckExecArguments(const platform::ExecRequest& exec);

// RFC 3339 UTC ("2026-11-22T16:01:02Z"); "" for InfinitePast.
std::string FormatTimestamp(absl::Time t);
absl::Time ParseTimestamp(std::string_view text);

// The error body: {"error": message, "code": "NOT_FOUND", "errno": "ESRCH"}
// (errno only when the status carries one).
Json ErrorToJson(const absl::Status& status);
// The HTTP status for an absl status code; a status carrying EOPNOTSUPP
// (Unimplemented) answers 409, not 501.
int HttpStatusFor(const absl::Status& status);
// Back from an error response: the code from "code" (or the HTTP status),
// the message from "error", the errno from "errno" (ErrnoStatusWithMessage).
// A body that is not the daemon's error form (another server behind
// --server) gives "HTTP 404 without a jailwarden error body (is --server a
// jailwarden daemon?): <its first 120 characters>".
absl::Status StatusFromError(int http_status, std::string_view body);

// errno value for "EINVAL" etc., nullopt if unknown.
std::optional<int> ErrnoFromName(std::string_view name);

}  // namespace jailwarden::api
