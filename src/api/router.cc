#include "jailwarden/api/server.h"

#include <optional>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/json.h"
#include "api/router_impl.h"
#include "jailwarden/api/exec_frames.h"
#include "jailwarden/api/token.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/spec_codec.h"

namespace jailwarden::api {
namespace {

constexpr std::string_view kJson = "application/json";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding of one path segment ('+' stays '+', a '%' not
// followed by two hex digits stays as it is).
std::string DecodeSegment(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
        HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Path segments: "/v1/jails/web/start" -> {"v1", "jails", "web", "start"}.
// Split first, then each segment decoded, so an encoded '/' (%2F), NUL
// (%00) or dot segment (%2E%2E) stays inside its segment, where the name
// checks see it. The server passes the path undecoded (libmicrohttpd's
// raw URI); an already decoded path decodes to itself unless it
// holds a '%', which no jail name does.
std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  for (std::string_view s : Split(path, '/')) {
    if (!s.empty()) out.push_back(DecodeSegment(s));
  }
  return out;
}

// The longest jail name a request may carry: the one limit on jail names
// (policy::kMaxJailNameLength, which jail::Manager enforces too; the api
// layer does not include the policy layer's header), so no longer name is
// looked up.
constexpr std::size_t kMaxRequestNameLength = 64;

}  // namespace

// The path and query arrive percent-decoded, so %00, %2F and %2E%2E show up
// here as a NUL, a '/' or "..": a NUL would cut the name short in every C
// API below (DELETE /v1/jails/j01%00x destroyed j01).
std::optional<std::string> JailNameProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.size() > kMaxRequestNameLength) {
    return StrCat("is longer than ", kMaxRequestNameLength, " bytes");
  }
  if (name == "." || name == "..") return StrCat("is '", name, "'");
  for (char c : name) {
    if (c == '\0') return "contains a NUL byte";
    if (c == '/') return "contains '/'";
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return "contains a control character";
    }
  }
  return std::nullopt;
}

void Router::Impl::SendJson(
    int status, const Json& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  out_.Send(status, kJson, DumpJson(body) + "\n", headers);
}

void Router::Impl::SendError(const absl::Status& status) {
  SendJson(HttpStatusFor(status), ErrorToJson(status));
}

void Router::Impl::SendError(int http, std::string_view code,
                             std::string_view message) {
  Json j = Json::object();
  j["error"] = std::string(message);
  j["code"] = std::string(code);
  std::vector<std::pair<std::string, std::string>> headers;
  if (http == 401) headers.emplace_back("WWW-Authenticate", "Bearer");
  SendJson(http, j, headers);
}

Json Router::Impl::Ok() {
  Json j = Json::object();
  j["ok"] = true;
  return j;
}

void Router::Impl::Run() {
  const std::vector<std::string> seg = Segments(req_.path);
  const std::string& m = req_.method;
  // Health checks are always open.
  if (seg.size() == 1 && seg[0] == "healthz") {
    Json j = Json::object();
    j["status"] = "ok";
    return SendJson(200, j);
  }
  if (seg.size() == 1 && seg[0] == "readyz") {
    const bool ready = d_.Status().ready;
    Json j = Json::object();
    j["ready"] = ready;
    return SendJson(ready ? 200 : 503, j);
  }
  if (seg.empty() || seg[0] != "v1") {
    return SendError(404, "NOT_FOUND",
                     StrCat("no such endpoint: ", m, " ", req_.path));
  }
  if (!Authorized()) return;
  if (req_.body_too_large) {
    return SendError(413, "PAYLOAD_TOO_LARGE",
                     StrCat("request body exceeds ", r_.options_.max_body_bytes,
                            " bytes"));
  }
  if (seg.size() == 2 && seg[1] == "status") {
    if (m != "GET") return MethodNotAllowed("GET");
    return SendJson(200, StatusToJson(d_.Status()));
  }
  if (seg.size() >= 2 && seg[1] == "jails") return Jails(seg);
  if (seg.size() == 2 && seg[1] == "run") {
    if (m != "POST") return MethodNotAllowed("POST");
    return RunOneShot();
  }
  if (seg.size() == 2 && seg[1] == "rules") return Rules();
  if (seg.size() == 2 && seg[1] == "limits") {
    if (m != "GET") return MethodNotAllowed("GET");
    return RctlText("limits", d_.Rctl().GetLimits(FilterParam("filter")));
  }
  if (seg.size() == 2 && seg[1] == "usage") {
    if (m != "GET") return MethodNotAllowed("GET");
    return Usage();
  }
  if (seg.size() == 2 && seg[1] == "top") {
    if (m != "GET") return MethodNotAllowed("GET");
    return Top();
  }
  if (seg.size() == 2 && seg[1] == "events") {
    if (m != "GET") return MethodNotAllowed("GET");
    return Events();
  }
  if (seg.size() == 2 && seg[1] == "apply") {
    if (m != "POST") return MethodNotAllowed("POST");
    return Apply();
  }
  SendError(404, "NOT_FOUND",
            StrCat("no such endpoint: ", m, " ", req_.path));
}

bool Router::Impl::Authorized() {
  // Root (or the daemon's user) on the admin unix socket (SO_PEERCRED).
  if (req_.peer_is_admin) return true;
  const bool read_only = req_.method == "GET" || req_.method == "HEAD";
  if (read_only && r_.options_.public_reads && req_.remote_is_loopback) return true;
  const std::string auth = req_.Header("authorization");
  if (auth.empty() || !StartsWith(auth, "Bearer ")) {
    r_.Reject(RejectReason::kUnauthenticated);
    SendError(401, "UNAUTHENTICATED",
              "this request needs 'Authorization: Bearer <token>' (the "
              "daemon's token file)");
    return false;
  }
  if (!BearerMatches(auth, r_.options_.token)) {
    r_.Reject(RejectReason::kUnauthenticated);
    SendError(403, "PERMISSION_DENIED", "bad bearer token");
    return false;
  }
  return true;
}

void Router::Impl::RefuseStream(RejectReason why) {
  if (why == RejectReason::kPeerStreams) {
    return SendError(429, "RESOURCE_EXHAUSTED",
                     StrCat("too many open streams from ", req_.remote_addr, " (at most ",
                            r_.options_.max_streams_per_peer, ")"));
  }
  SendError(503, "UNAVAILABLE", "too many open streams");
}

void Router::Impl::MethodNotAllowed(std::string_view allowed) {
  Json j = Json::object();
  j["error"] = StrCat(req_.method, " not allowed on ", req_.path,
                      "; allowed: ", allowed);
  j["code"] = "METHOD_NOT_ALLOWED";
  SendJson(405, j, {{"Allow", std::string(allowed)}});
}

// The body as a JSON object (an empty body is {}).
absl::StatusOr<Json> Router::Impl::Body() {
  if (StripWhitespace(req_.body).empty()) return Json::object();
  JW_ASSIGN_OR_RETURN(Json j, ParseJson(req_.body));
  JW_RETURN_IF_ERROR(RequireObject(j, "request body"));
  return j;
}

std::string Router::Impl::FilterParam(std::string_view key) {
  return req_.Query(key).value_or("");
}

void Router::Impl::Jails(const std::vector<std::string>& seg) {
  const std::string& m = req_.method;
  if (seg.size() == 2) {
    if (m == "GET") {
      Json list = Json::array();
      for (const JailInfo& j : d_.ListJails()) list.push_back(JailInfoToJson(j));
      Json j = Json::object();
      j["jails"] = std::move(list);
      return SendJson(200, j);
    }
    if (m == "POST") return CreateJail();
    return MethodNotAllowed("GET, POST");
  }
  const std::string& name = seg[2];
  if (std::optional<std::string> why = JailNameProblem(name)) {
    return SendError(
        absl::InvalidArgumentError(ToAbsl(StrCat("jail name in the path ", *why))));
  }
  if (seg.size() == 3) {
    if (m == "GET") {
      absl::StatusOr<JailInfo> j = d_.GetJail(name);
      if (!j.ok()) return SendError(j.status());
      return SendJson(200, JailInfoToJson(*j));
    }
    if (m == "DELETE") return Done(d_.DestroyJail(name));
    if (m == "PATCH") return SetJailKeys(name);
    return MethodNotAllowed("GET, DELETE, PATCH");
  }
  if (seg.size() == 4) {
    const std::string& action = seg[3];
    if (action == "usage") {
      if (m != "GET") return MethodNotAllowed("GET");
      return JailUsage(name);
    }
    if (action == "logs") {  // issue 17, router_logs.cc
      if (m != "GET") return MethodNotAllowed("GET");
      return JailLogs(name);
    }
    if (m != "POST") return MethodNotAllowed("POST");
    absl::StatusOr<Json> body = Body();
    if (!body.ok()) return SendError(body.status());
    if (action == "start" || action == "stop" || action == "restart") {
      // These take no fields: anything in the body is a mistake.
      if (absl::Status s = RejectUnknownFields(*body, {}); !s.ok()) {
        return SendError(s);
      }
    }
    if (action == "start") return Done(d_.StartJail(name));
    if (action == "stop") return Done(d_.StopJail(name));
    if (action == "restart") return Done(d_.RestartJail(name));
    if (action == "exec") return Exec(name, *body);
  }
  SendError(404, "NOT_FOUND",
            StrCat("no such endpoint: ", m, " ", req_.path));
}

void Router::Impl::Done(const absl::Status& status) {
  if (!status.ok()) return SendError(status);
  SendJson(200, Ok());
}

void Router::Impl::Done(const absl::StatusOr<JailChange>& change) {
  if (!change.ok()) return SendError(change.status());
  Json j = Ok();
  j["changed"] = change->changed;
  j["state"] = change->state;
  j["previous"] = change->previous;
  SendJson(200, j);
}

// {"spec": {config.json form}} or {"template": T}, plus "name",
// "limits" and "start".
absl::Status Router::Impl::ParseJailSource(const Json& body, platform::JailSpec* spec,
                             std::string* template_name,
                             std::vector<std::string>* limits) {
  Json spec_json;
  JW_RETURN_IF_ERROR(ReadObject(body, "spec", &spec_json));
  JW_RETURN_IF_ERROR(ReadString(body, "template", template_name));
  JW_RETURN_IF_ERROR(ReadStringList(body, "limits", limits));
  if (!spec_json.is_null()) {
    JW_ASSIGN_OR_RETURN(*spec, jail::SpecFromJson(DumpJson(spec_json)));
  }
  std::string name;
  JW_RETURN_IF_ERROR(ReadString(body, "name", &name));
  if (!name.empty()) spec->name = name;
  if (spec_json.is_null() && template_name->empty() && spec->name.empty()) {
    return absl::InvalidArgumentError(
        "give a 'spec' (jail config) or a 'template', and a 'name'");
  }
  return absl::OkStatus();
}

void Router::Impl::CreateJail() {
  absl::StatusOr<Json> body = Body();
  if (!body.ok()) return SendError(body.status());
  CreateJailRequest request;
  absl::Status s =
      RejectUnknownFields(*body, {"spec", "template", "name", "limits", "start"});
  if (s.ok()) {
    s = ParseJailSource(*body, &request.spec, &request.template_name,
                        &request.limits);
  }
  if (s.ok()) s = ReadBool(*body, "start", &request.start);
  if (!s.ok()) return SendError(s);
  s = d_.CreateJail(request);
  if (!s.ok()) return SendError(s);
  absl::StatusOr<JailInfo> info = d_.GetJail(request.spec.name);
  if (!info.ok()) return SendJson(201, Ok());
  SendJson(201, JailInfoToJson(*info));
}

absl::Status Router::Impl::ParseExec(const Json& body, platform::ExecRequest* exec) {
  JW_RETURN_IF_ERROR(ReadStringList(body, "argv", &exec->argv));
  JW_RETURN_IF_ERROR(ReadStringMap(body, "env", &exec->env));
  JW_RETURN_IF_ERROR(ReadBool(body, "clean_env", &exec->clean_env));
  int64_t timeout_ms = 0;
  JW_RETURN_IF_ERROR(ReadInt(body, "timeout_ms", &timeout_ms));
  if (timeout_ms < 0) {
    return absl::InvalidArgumentError("field 'timeout_ms' must be >= 0");
  }
  exec->timeout = absl::Milliseconds(timeout_ms);
  // Refused here, before a stream starts, so the answer is a 400 and not
  // a 200 with the error inside the stream.
  return CheckExecArguments(*exec);
}

void Router::Impl::Exec(const std::string& name, const Json& body) {
  if (EqualsIgnoreCase(req_.Header("upgrade"), kExecProtocol)) return ExecSession(name);
  platform::ExecRequest exec;
  absl::Status s =
      RejectUnknownFields(body, {"argv", "env", "clean_env", "timeout_ms"});
  if (s.ok()) s = ParseExec(body, &exec);
  if (!s.ok()) {
    return SendError(s);
  }
  absl::StatusOr<JailInfo> info = d_.GetJail(name);
  if (!info.ok()) return SendError(info.status());
  if (info->state != "running") {
    return SendError(absl::FailedPreconditionError(
                               ToAbsl(StrCat("jail ", name, " is not running"))));
  }
  StreamCommand(exec, [this, name](const platform::ExecRequest& r) {
    return d_.Exec(name, r);
  });
}

void Router::Impl::RunOneShot() {
  absl::StatusOr<Json> body = Body();
  if (!body.ok()) return SendError(body.status());
  RunRequest run;
  platform::ExecRequest exec;
  absl::Status s = RejectUnknownFields(
      *body, {"spec", "template", "name", "limits", "argv", "env", "clean_env",
              "timeout_ms"});
  if (s.ok()) s = ParseJailSource(*body, &run.spec, &run.template_name, &run.limits);
  if (s.ok()) s = ParseExec(*body, &exec);
  // A bad template, name or limit is answered here, before the stream's
  // 200 (d_.Run checks again under its lock).
  if (s.ok()) s = d_.CheckRun(run);
  if (!s.ok()) return SendError(s);
  StreamCommand(exec, [this, run](const platform::ExecRequest& r) {
    return d_.Run(run, r);
  });
}

void Router::Impl::Rules() {
  const std::string& m = req_.method;
  if (m == "GET") {
    const std::string filter = FilterParam("filter");
    if (req_.Query("fidelity").value_or("") == "1") {
      absl::StatusOr<std::vector<RuleInfo>> rules =
          d_.DescribeRules(filter.empty() ? "::" : filter);
      if (!rules.ok()) return SendError(rules.status());
      Json list = Json::array();
      std::vector<std::string> texts;
      for (const RuleInfo& r : *rules) {
        list.push_back(RuleInfoToJson(r));
        texts.push_back(r.rule);
      }
      Json j = Json::object();
      j["rules"] = Join(texts, ",");
      j["list"] = std::move(list);
      return SendJson(200, j);
    }
    return RctlText("rules", d_.Rctl().GetRules(filter.empty() ? "::" : filter));
  }
  if (m == "POST") {
    absl::StatusOr<Json> body = Body();
    if (!body.ok()) return SendError(body.status());
    std::string rule;
    absl::Status s = RejectUnknownFields(*body, {"rule"});
    if (s.ok()) s = ReadString(*body, "rule", &rule);
    if (!s.ok()) {
      return SendError(s);
    }
    if (rule.empty()) {
      return SendError(ErrnoStatusWithMessage(
                                 EINVAL, "field 'rule' must be a rule"));
    }
    return Done(d_.Rctl().AddRule(rule));
  }
  if (m == "DELETE") {
    const std::optional<std::string> filter = req_.Query("filter");
    if (!filter.has_value()) {
      return SendError(ErrnoStatusWithMessage(
                                 EINVAL, "query parameter 'filter' is required"));
    }
    return Done(d_.Rctl().RemoveRule(*filter));
  }
  MethodNotAllowed("GET, POST, DELETE");
}

void Router::Impl::RctlText(std::string_view field, const absl::StatusOr<std::string>& text) {
  if (!text.ok()) return SendError(text.status());
  Json j = Json::object();
  j[std::string(field)] = *text;
  SendJson(200, j);
}

Router::Router(Daemon& daemon, RouterOptions options)
    : daemon_(daemon), options_(std::move(options)) {}

std::optional<RejectReason> Router::AcquireStream(const std::string& peer) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  if (streams_ >= options_.max_streams) return RejectReason::kStreams;
  int& mine = peer_streams_[peer];
  if (mine >= options_.max_streams_per_peer) {
    if (mine == 0) peer_streams_.erase(peer);
    return RejectReason::kPeerStreams;
  }
  ++mine;
  ++streams_;
  return std::nullopt;
}

void Router::ReleaseStream(const std::string& peer) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  --streams_;
  auto it = peer_streams_.find(peer);
  if (it != peer_streams_.end() && --it->second <= 0) peer_streams_.erase(it);
}

void Router::Handle(const HttpRequest& request, ResponseWriter& out) {
  Impl(*this, request, out).Run();
}

}  // namespace jailwarden::api

