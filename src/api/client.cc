#include "jailwarden/api/client.h"

#include <string>
#include <vector>

#include "api/codec.h"
#include "api/json.h"
#include "jailwarden/api/http.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

// The typed calls of Client and RctlClientBackend: one endpoint each, JSON
// through the codec. Transport is in client_transport.cc.

namespace jailwarden::api {

namespace {

// A 2xx answer's body as JSON. A body that is not JSON comes from
// something that is not the daemon (a proxy, a captive portal, a process
// squatting the port): "malformed JSON from <server>: <parse error>".
// Aborted (exit 1): the request failed and nothing is known of its effect.
absl::StatusOr<Json> ParseAnswer(std::string_view server, std::string_view text) {
  absl::StatusOr<Json> j = ParseJson(text);
  if (!j.ok()) {
    // ParseJson says "malformed JSON at line L, column C: ...": keep the
    // position and the parser's words after the address.
    std::string_view why = ToStd(j.status().message());
    if (StartsWith(why, "malformed JSON at ")) why.remove_prefix(18);
    return absl::AbortedError(ToAbsl(StrCat("malformed JSON from ", server, ": ", why)));
  }
  return j;
}

absl::StatusOr<Json> CallJson(Client& c, std::string_view method,
                              std::string_view target, std::string_view body = {}) {
  JW_ASSIGN_OR_RETURN(std::string text, c.Call(method, target, body));
  return ParseAnswer(c.options().server, text);
}

std::string JailPath(std::string_view name) {
  return StrCat("/v1/jails/", UrlEncode(name));
}

}  // namespace

absl::StatusOr<std::vector<JailInfo>> Client::ListJails() {
  JW_ASSIGN_OR_RETURN(Json j, CallJson(*this, "GET", "/v1/jails"));
  std::vector<JailInfo> out;
  auto it = j.find("jails");
  if (it == j.end() || !it->is_array()) {
    return absl::DataLossError("daemon answer has no 'jails' list");
  }
  for (const Json& item : *it) {
    JW_ASSIGN_OR_RETURN(JailInfo info, JailInfoFromJson(item));
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<JailInfo> Client::GetJail(std::string_view name) {
  JW_ASSIGN_OR_RETURN(Json j, CallJson(*this, "GET", JailPath(name)));
  return JailInfoFromJson(j);
}

absl::StatusOr<JailChange> Client::JailAction(std::string_view name, std::string_view action) {
  JW_ASSIGN_OR_RETURN(Json j, CallJson(*this, "POST", StrCat(JailPath(name), "/", action), "{}"));
  return JailChangeFromJson(j);
}

absl::StatusOr<JailChange> Client::DestroyJail(std::string_view name) {
  JW_ASSIGN_OR_RETURN(Json j, CallJson(*this, "DELETE", JailPath(name)));
  return JailChangeFromJson(j);
}

absl::Status Client::CreateJail(std::string_view request_json) {
  return Call("POST", "/v1/jails", request_json).status();
}

absl::StatusOr<DaemonStatus> Client::Status() {
  JW_ASSIGN_OR_RETURN(Json j, CallJson(*this, "GET", "/v1/status"));
  return StatusFromJson(j);
}

absl::StatusOr<UsageRow> Client::Usage(std::string_view jail) {
  JW_ASSIGN_OR_RETURN(Json j, CallJson(*this, "GET", StrCat(JailPath(jail), "/usage")));
  return UsageRowFromJson(j);
}

absl::StatusOr<std::vector<UsageRow>> Client::Top() {
  JW_ASSIGN_OR_RETURN(Json j, CallJson(*this, "GET", "/v1/top"));
  std::vector<UsageRow> out;
  auto it = j.find("jails");
  if (it == j.end() || !it->is_array()) {
    return absl::DataLossError("daemon answer has no 'jails' list");
  }
  for (const Json& item : *it) {
    JW_ASSIGN_OR_RETURN(UsageRow row, UsageRowFromJson(item));
    out.push_back(std::move(row));
  }
  return out;
}

// The answer of POST /v1/apply and PATCH /v1/jails/NAME: 422 carries every
// policy error, one per line.
absl::StatusOr<ApplyResult> Client::ApplyAnswer(const HttpResponse& r) {
  last_body_ = r.body;
  if (r.status == 422) {
    std::vector<std::string> lines;
    absl::StatusOr<Json> j = ParseJson(r.body);
    if (j.ok()) (void)ReadStringList(*j, "errors", &lines);
    if (lines.empty()) return StatusFromError(r.status, r.body);
    return absl::InvalidArgumentError(ToAbsl(Join(lines, "\n")));
  }
  if (r.status < 200 || r.status >= 300) return StatusFromError(r.status, r.body);
  JW_ASSIGN_OR_RETURN(Json j, ParseAnswer(options_.server, r.body));
  ApplyResult result;
  JW_RETURN_IF_ERROR(ReadBool(j, "changed", &result.changed));
  JW_RETURN_IF_ERROR(ReadString(j, "diff", &result.diff));
  JW_RETURN_IF_ERROR(ReadStringList(j, "failures", &result.failures));
  return result;
}

absl::StatusOr<ApplyResult> Client::Apply(std::string_view policy_text,
                                          std::string_view filename,
                                          bool dry_run) {
  Json body = Json::object();
  body["policy"] = std::string(policy_text);
  body["filename"] = std::string(filename);
  body["dry_run"] = dry_run;
  JW_ASSIGN_OR_RETURN(HttpResponse r, Do("POST", "/v1/apply", DumpJson(body)));
  return ApplyAnswer(r);
}

absl::StatusOr<ApplyResult> Client::SetJailKeys(
    std::string_view name, const std::vector<std::pair<std::string, std::string>>& keys,
    bool dry_run) {
  Json set = Json::object();
  for (const auto& [k, v] : keys) set[k] = v;
  Json body = Json::object();
  body["set"] = std::move(set);
  body["dry_run"] = dry_run;
  JW_ASSIGN_OR_RETURN(HttpResponse r, Do("PATCH", JailPath(name), DumpJson(body)));
  return ApplyAnswer(r);
}

absl::StatusOr<std::vector<RuleInfo>> Client::RulesWithFidelity(
    std::string_view filter) {
  JW_ASSIGN_OR_RETURN(
      Json j, CallJson(*this, "GET",
                       StrCat("/v1/rules?fidelity=1&filter=", UrlEncode(filter))));
  std::vector<RuleInfo> out;
  auto it = j.find("list");
  if (it != j.end() && it->is_array()) {
    for (const Json& item : *it) {
      JW_ASSIGN_OR_RETURN(RuleInfo r, RuleInfoFromJson(item));
      out.push_back(std::move(r));
    }
  }
  return out;
}

absl::StatusOr<ExecOutcome> Client::StreamExec(
    std::string_view target, std::string_view body,
    const std::function<void(std::string_view)>& on_stdout,
    const std::function<void(std::string_view)>& on_stderr) {
  ExecOutcome outcome;
  bool finished = false;
  std::string pending;
  absl::Status parse_error;
  auto handle_line = [&](std::string_view line) {
    if (on_exec_line_) on_exec_line_(line);
    absl::StatusOr<Json> j = ParseAnswer(options_.server, line);
    if (!j.ok()) {
      parse_error = j.status();
      return;
    }
    std::string stream, data, error;
    (void)ReadString(*j, "stream", &stream);
    if (!stream.empty()) {
      (void)ReadString(*j, "data", &data);
      (stream == "stderr" ? on_stderr : on_stdout)(data);
      return;
    }
    (void)ReadString(*j, "error", &error);
    if (!error.empty()) {
      outcome.error = error;
      finished = true;
      return;
    }
    int64_t v = -1;
    (void)ReadInt(*j, "exit_code", &v);
    outcome.result.exit_code = static_cast<int>(v);
    v = 0;
    (void)ReadInt(*j, "signal", &v);
    outcome.result.term_signal = static_cast<int>(v);
    (void)ReadBool(*j, "timed_out", &outcome.result.timed_out);
    (void)ReadString(*j, "exec_error", &outcome.exec_error);
    finished = true;
  };
  std::string error_body;
  JW_ASSIGN_OR_RETURN(
      int status, Stream("POST", target, body,
                         [&](std::string_view d) {
                           pending.append(d);
                           std::size_t nl;
                           while ((nl = pending.find('\n')) != std::string::npos) {
                             handle_line(std::string_view(pending).substr(0, nl));
                             pending.erase(0, nl + 1);
                           }
                           return true;
                         },
                         &error_body));
  if (status < 200 || status >= 300) {
    last_body_ = error_body;
    return StatusFromError(status, error_body);
  }
  JW_RETURN_IF_ERROR(parse_error);
  if (!finished) {
    return absl::DataLossError("the daemon ended the output without an exit status");
  }
  return outcome;
}

absl::Status Client::Events(std::string_view query,
                            const std::function<bool(std::string_view)>& on_line) {
  std::string pending;
  std::string error_body;
  JW_ASSIGN_OR_RETURN(
      int status, Stream("GET", StrCat("/v1/events?format=ndjson&", query), "",
                         [&](std::string_view d) {
                           pending.append(d);
                           std::size_t nl;
                           while ((nl = pending.find('\n')) != std::string::npos) {
                             if (!on_line(std::string_view(pending).substr(0, nl))) return false;
                             pending.erase(0, nl + 1);
                           }
                           return true;
                         },
                         &error_body));
  if (status < 200 || status >= 300) {
    last_body_ = error_body;
    return StatusFromError(status, error_body);
  }
  return absl::OkStatus();
}

absl::StatusOr<ExecOutcome> Client::Exec(
    std::string_view name, const std::vector<std::string>& argv,
    const std::function<void(std::string_view)>& on_stdout,
    const std::function<void(std::string_view)>& on_stderr) {
  Json body = Json::object();
  body["argv"] = argv;
  return StreamExec(StrCat(JailPath(name), "/exec"), DumpJson(body), on_stdout,
                    on_stderr);
}

absl::StatusOr<ExecOutcome> Client::Run(
    std::string_view run_json,
    const std::function<void(std::string_view)>& on_stdout,
    const std::function<void(std::string_view)>& on_stderr) {
  return StreamExec("/v1/run", run_json, on_stdout, on_stderr);
}

absl::StatusOr<std::string> RctlClientBackend::GetText(std::string_view path,
                                                       std::string_view param,
                                                       std::string_view filter,
                                                       std::string_view field) {
  JW_ASSIGN_OR_RETURN(
      std::string text,
      client_.Call("GET", StrCat(path, "?", param, "=", UrlEncode(filter))));
  JW_ASSIGN_OR_RETURN(Json j, ParseAnswer(client_.options().server, text));
  std::string out;
  JW_RETURN_IF_ERROR(ReadString(j, field, &out));
  return out;
}

absl::Status RctlClientBackend::AddRule(std::string_view rule) {
  Json body = Json::object();
  body["rule"] = std::string(rule);
  return client_.Call("POST", "/v1/rules", DumpJson(body)).status();
}

absl::Status RctlClientBackend::RemoveRule(std::string_view filter) {
  return client_.Call("DELETE", StrCat("/v1/rules?filter=", UrlEncode(filter)))
      .status();
}

absl::StatusOr<std::string> RctlClientBackend::GetRules(std::string_view filter) {
  return GetText("/v1/rules", "filter", filter, "rules");
}

absl::StatusOr<std::string> RctlClientBackend::GetLimits(std::string_view filter) {
  return GetText("/v1/limits", "filter", filter, "limits");
}

absl::StatusOr<std::string> RctlClientBackend::GetRacct(std::string_view filter) {
  return GetText("/v1/usage", "subject", filter, "usage");
}

}  // namespace jailwarden::api
