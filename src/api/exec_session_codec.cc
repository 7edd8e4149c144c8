// The upgraded exec request's JSON body (exec_session.h).

#include "api/codec.h"
#include "api/json.h"
#include "jailwarden/api/exec_session.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {

std::string ExecSessionRequestToJson(const ExecSessionRequest& r) {
  Json j = Json::object();
  j["argv"] = r.exec.argv;
  if (!r.exec.env.empty()) j["env"] = r.exec.env;
  if (r.exec.clean_env) j["clean_env"] = true;
  if (r.exec.timeout > absl::ZeroDuration()) {
    j["timeout_ms"] = absl::ToInt64Milliseconds(r.exec.timeout);
  }
  j["tty"] = r.tty;
  j["stdin"] = r.stdin;
  if (r.rows > 0) j["rows"] = r.rows;
  if (r.cols > 0) j["cols"] = r.cols;
  if (!r.term.empty()) j["term"] = r.term;
  return DumpJson(j);
}

absl::StatusOr<ExecSessionRequest> ExecSessionRequestFromJson(std::string_view body) {
  JW_ASSIGN_OR_RETURN(Json j, ParseJson(body));
  JW_RETURN_IF_ERROR(RequireObject(j, "request body"));
  JW_RETURN_IF_ERROR(RejectUnknownFields(j, {"argv", "env", "clean_env", "timeout_ms", "tty",
                                             "stdin", "rows", "cols", "term"}));
  ExecSessionRequest r;
  JW_RETURN_IF_ERROR(ReadStringList(j, "argv", &r.exec.argv));
  JW_RETURN_IF_ERROR(ReadStringMap(j, "env", &r.exec.env));
  JW_RETURN_IF_ERROR(ReadBool(j, "clean_env", &r.exec.clean_env));
  int64_t timeout_ms = 0, rows = 0, cols = 0;
  JW_RETURN_IF_ERROR(ReadInt(j, "timeout_ms", &timeout_ms));
  if (timeout_ms < 0) {
    return absl::InvalidArgumentError("field 'timeout_ms' must be >= 0");
  }
  r.exec.timeout = absl::Milliseconds(timeout_ms);
  JW_RETURN_IF_ERROR(ReadBool(j, "tty", &r.tty));
  JW_RETURN_IF_ERROR(ReadBool(j, "stdin", &r.stdin));
  JW_RETURN_IF_ERROR(ReadInt(j, "rows", &rows));
  JW_RETURN_IF_ERROR(ReadInt(j, "cols", &cols));
  for (auto [name, v] : {std::pair<const char*, int64_t>{"rows", rows}, {"cols", cols}}) {
    if (v < 0 || v > 65535) {
      return absl::InvalidArgumentError(
          StrCat("field '", name, "' must be 0..65535, got ", v));
    }
  }
  r.rows = static_cast<uint16_t>(rows);
  r.cols = static_cast<uint16_t>(cols);
  JW_RETURN_IF_ERROR(ReadString(j, "term", &r.term));
  if (r.term.size() > 64 || r.term.find_first_of(std::string_view("\0\n=", 3)) != std::string::npos) {
    return absl::InvalidArgumentError("field 'term' must be a terminal name (at most 64 "
                                      "characters, no NUL, newline or '=')");
  }
  JW_RETURN_IF_ERROR(CheckExecArguments(r.exec));
  return r;
}

}  // namespace jailwarden::api
