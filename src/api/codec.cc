#include "api/codec.h"

#include <cerrno>

#include "absl/time/time.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {

Json RuleInfoToJson(const RuleInfo& rule) {
  Json j = Json::object();
  j["rule"] = rule.rule;
  j["fidelity"] = rule.fidelity;
  j["mechanism"] = rule.mechanism;
  j["detail"] = rule.detail;
  return j;
}

absl::StatusOr<RuleInfo> RuleInfoFromJson(const Json& j) {
  JW_RETURN_IF_ERROR(RequireObject(j, "rule"));
  RuleInfo r;
  JW_RETURN_IF_ERROR(ReadString(j, "rule", &r.rule));
  JW_RETURN_IF_ERROR(ReadString(j, "fidelity", &r.fidelity));
  JW_RETURN_IF_ERROR(ReadString(j, "mechanism", &r.mechanism));
  JW_RETURN_IF_ERROR(ReadString(j, "detail", &r.detail));
  return r;
}

Json EventToJson(const engine::EventStream::Event& event) {
  Json j = Json::object();
  j["id"] = event.seq;
  j["time"] = engine::Rfc3339Nanos(event.time);
  j["type"] = event.type;
  j["jail"] = event.jail;
  Json details = Json::object();
  for (const engine::EventField& f : event.details) {
    if (const auto* n = std::get_if<int64_t>(&f.value)) {
      details[f.key] = *n;
    } else {
      details[f.key] = std::get<std::string>(f.value);
    }
  }
  j["details"] = std::move(details);
  return j;
}

absl::StatusOr<JailChange> JailChangeFromJson(const Json& j) {
  JW_RETURN_IF_ERROR(RequireObject(j, "answer"));
  JailChange c;
  JW_RETURN_IF_ERROR(ReadBool(j, "changed", &c.changed));
  JW_RETURN_IF_ERROR(ReadString(j, "state", &c.state));
  JW_RETURN_IF_ERROR(ReadString(j, "previous", &c.previous));
  return c;
}

std::string FormatTimestamp(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return "";
  return std::string(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()));
}

absl::Time ParseTimestamp(std::string_view text) {
  absl::Time t;
  std::string err;
  if (text.empty() ||
      !absl::ParseTime(absl::RFC3339_full, ToAbsl(text), &t, &err)) {
    return absl::InfinitePast();
  }
  return t;
}

Json JailInfoToJson(const JailInfo& jail) {
  Json j = Json::object();
  j["name"] = jail.name;
  j["state"] = jail.state;
  j["jid"] = jail.jid;
  j["path"] = jail.path;
  j["base_root"] = jail.base_root;
  j["hostname"] = jail.hostname;
  j["ip4"] = jail.ip4;
  j["depend"] = jail.depend;
  j["persist"] = jail.persist;
  j["in_policy"] = jail.in_policy;
  j["template"] = jail.template_name;
  if (!jail.health.empty()) j["health"] = jail.health;
  j["init_pid"] = jail.init_pid;
  j["started"] = FormatTimestamp(jail.started);
  Json limits = Json::array();
  for (const RuleInfo& r : jail.limits) limits.push_back(RuleInfoToJson(r));
  j["limits"] = std::move(limits);
  if (jail.main.has_value()) {  // command: (issue 17)
    const platform::MainProcessStatus& m = *jail.main;
    Json main = Json::object();
    main["running"] = m.running;
    main["pid"] = m.pid;
    main["starts"] = m.starts;
    main["restarts"] = m.restarts;
    main["gave_up"] = m.gave_up;
    main["stopped"] = m.stopped;
    if (m.exited) {
      main["last_exit"] = Json{{"code", m.exit_code},
                               {"signal", m.exit_signal},
                               {"oom_killed", m.oom_killed},
                               {"time", FormatTimestamp(m.exit_time)}};
    } else {
      main["last_exit"] = nullptr;
    }
    main["next_start"] = FormatTimestamp(m.next_start);
    j["main"] = std::move(main);
  }
  if (jail.isolation.has_value()) {  // issue 13
    const platform::IsolationStatus& iso = *jail.isolation;
    Json layers = Json::object();
    for (const platform::IsolationLayer& l : iso.layers) layers[l.layer] = l.on;
    Json seccomp = Json::object();
    seccomp["relaxed"] = iso.seccomp_relaxed;
    seccomp["allow"] = iso.seccomp_allow;
    seccomp["deny"] = iso.seccomp_deny;
    Json out = Json::object();
    out["layers"] = std::move(layers);
    out["seccomp"] = std::move(seccomp);
    if (iso.disk_quota.has_value()) {
      Json q = Json::object();
      q["mechanism"] = iso.disk_quota->mechanism;
      q["limit_bytes"] = iso.disk_quota->limit_bytes;
      if (iso.disk_quota->used_bytes.has_value()) {
        q["used_bytes"] = *iso.disk_quota->used_bytes;
      } else {
        q["used_bytes"] = nullptr;
      }
      out["disk_quota"] = std::move(q);
    } else {
      out["disk_quota"] = nullptr;
    }
    out["mountinfo_truncated"] = iso.mountinfo_truncated;
    j["isolation"] = std::move(out);
  }
  if (!jail.oci_root.empty()) {  // observed read-only (docs/oci.md)
    j["oci"] = Json{{"root", jail.oci_root}, {"bundle", jail.oci_bundle}, {"read_only", true}};
  }
  return j;
}

namespace {

// The "isolation" object of a jail (JailInfoToJson's form).
absl::StatusOr<platform::IsolationStatus> IsolationFromJson(const Json& j) {
  JW_RETURN_IF_ERROR(RequireObject(j, "isolation"));
  platform::IsolationStatus iso;
  if (auto l = j.find("layers"); l != j.end() && l->is_object()) {
    for (const char* name : platform::kIsolationLayers) {
      bool on = false;
      JW_RETURN_IF_ERROR(ReadBool(*l, name, &on));
      iso.layers.push_back(platform::IsolationLayer{name, on});
    }
  }
  if (auto s = j.find("seccomp"); s != j.end() && s->is_object()) {
    JW_RETURN_IF_ERROR(ReadStringList(*s, "relaxed", &iso.seccomp_relaxed));
    JW_RETURN_IF_ERROR(ReadStringList(*s, "allow", &iso.seccomp_allow));
    JW_RETURN_IF_ERROR(ReadStringList(*s, "deny", &iso.seccomp_deny));
  }
  if (auto q = j.find("disk_quota"); q != j.end() && q->is_object()) {
    platform::DiskQuotaStatus d;
    JW_RETURN_IF_ERROR(ReadString(*q, "mechanism", &d.mechanism));
    int64_t limit = 0;
    JW_RETURN_IF_ERROR(ReadInt(*q, "limit_bytes", &limit));
    d.limit_bytes = static_cast<uint64_t>(limit);
    if (auto u = q->find("used_bytes"); u != q->end() && u->is_number_unsigned()) {
      d.used_bytes = u->get<uint64_t>();
    }
    iso.disk_quota = d;
  }
  if (auto t = j.find("mountinfo_truncated"); t != j.end() && t->is_boolean()) {
    iso.mountinfo_truncated = t->get<bool>();  // absent from older daemons
  }
  return iso;
}

}  // namespace

absl::StatusOr<JailInfo> JailInfoFromJson(const Json& j) {
  JW_RETURN_IF_ERROR(RequireObject(j, "jail"));
  JailInfo r;
  JW_RETURN_IF_ERROR(ReadString(j, "name", &r.name));
  JW_RETURN_IF_ERROR(ReadString(j, "state", &r.state));
  JW_RETURN_IF_ERROR(ReadInt(j, "jid", &r.jid));
  JW_RETURN_IF_ERROR(ReadString(j, "path", &r.path));
  JW_RETURN_IF_ERROR(ReadString(j, "base_root", &r.base_root));
  JW_RETURN_IF_ERROR(ReadString(j, "hostname", &r.hostname));
  JW_RETURN_IF_ERROR(ReadStringList(j, "ip4", &r.ip4));
  JW_RETURN_IF_ERROR(ReadStringList(j, "depend", &r.depend));
  JW_RETURN_IF_ERROR(ReadBool(j, "persist", &r.persist));
  JW_RETURN_IF_ERROR(ReadBool(j, "in_policy", &r.in_policy));
  JW_RETURN_IF_ERROR(ReadString(j, "template", &r.template_name));
  JW_RETURN_IF_ERROR(ReadString(j, "health", &r.health));
  JW_RETURN_IF_ERROR(ReadInt(j, "init_pid", &r.init_pid));
  std::string started;
  JW_RETURN_IF_ERROR(ReadString(j, "started", &started));
  r.started = ParseTimestamp(started);
  if (auto m = j.find("main"); m != j.end() && m->is_object()) {  // issue 17
    platform::MainProcessStatus main;
    main.configured = true;
    JW_RETURN_IF_ERROR(ReadBool(*m, "running", &main.running));
    JW_RETURN_IF_ERROR(ReadInt(*m, "pid", &main.pid));
    JW_RETURN_IF_ERROR(ReadInt(*m, "starts", &main.starts));
    JW_RETURN_IF_ERROR(ReadInt(*m, "restarts", &main.restarts));
    JW_RETURN_IF_ERROR(ReadBool(*m, "gave_up", &main.gave_up));
    JW_RETURN_IF_ERROR(ReadBool(*m, "stopped", &main.stopped));
    if (auto e = m->find("last_exit"); e != m->end() && e->is_object()) {
      main.exited = true;
      int64_t code = -1, signal = 0;
      JW_RETURN_IF_ERROR(ReadInt(*e, "code", &code));
      JW_RETURN_IF_ERROR(ReadInt(*e, "signal", &signal));
      main.exit_code = static_cast<int>(code);
      main.exit_signal = static_cast<int>(signal);
      JW_RETURN_IF_ERROR(ReadBool(*e, "oom_killed", &main.oom_killed));
      std::string time;
      JW_RETURN_IF_ERROR(ReadString(*e, "time", &time));
      main.exit_time = ParseTimestamp(time);
    }
    r.main = main;
  }
  auto it = j.find("limits");
  if (it != j.end() && it->is_array()) {
    for (const Json& l : *it) {
      JW_ASSIGN_OR_RETURN(RuleInfo rule, RuleInfoFromJson(l));
      r.limits.push_back(std::move(rule));
    }
  }
  if (auto iso = j.find("isolation"); iso != j.end() && iso->is_object()) {  // issue 13
    JW_ASSIGN_OR_RETURN(platform::IsolationStatus s, IsolationFromJson(*iso));
    r.isolation = std::move(s);
  }
  if (auto o = j.find("oci"); o != j.end() && o->is_object()) {
    JW_RETURN_IF_ERROR(ReadString(*o, "root", &r.oci_root));
    JW_RETURN_IF_ERROR(ReadString(*o, "bundle", &r.oci_bundle));
  }
  return r;
}

Json StatusToJson(const DaemonStatus& s) {
  Json j = Json::object();
  j["ready"] = s.ready;
  j["version"] = s.version;
  j["backend"] = s.backend;
  j["policy_file"] = s.policy_file;
  j["policy_generation"] = s.policy_generation;
  j["last_reload"] = FormatTimestamp(s.last_reload);
  j["last_reload_ok"] = s.last_reload_ok;
  j["last_reload_error"] = s.last_reload_error;
  j["jails"] = s.jails;
  j["rules"] = s.rules;
  j["sampler_ticks"] = s.sampler_ticks;
  j["events"] = s.events;
  return j;
}

absl::StatusOr<DaemonStatus> StatusFromJson(const Json& j) {
  JW_RETURN_IF_ERROR(RequireObject(j, "status"));
  DaemonStatus s;
  int64_t n = 0;
  JW_RETURN_IF_ERROR(ReadBool(j, "ready", &s.ready));
  JW_RETURN_IF_ERROR(ReadString(j, "version", &s.version));
  JW_RETURN_IF_ERROR(ReadString(j, "backend", &s.backend));
  JW_RETURN_IF_ERROR(ReadString(j, "policy_file", &s.policy_file));
  JW_RETURN_IF_ERROR(ReadInt(j, "policy_generation", &n));
  s.policy_generation = static_cast<uint64_t>(n);
  std::string t;
  JW_RETURN_IF_ERROR(ReadString(j, "last_reload", &t));
  s.last_reload = ParseTimestamp(t);
  JW_RETURN_IF_ERROR(ReadBool(j, "last_reload_ok", &s.last_reload_ok));
  JW_RETURN_IF_ERROR(ReadString(j, "last_reload_error", &s.last_reload_error));
  n = 0;
  JW_RETURN_IF_ERROR(ReadInt(j, "jails", &n));
  s.jails = static_cast<std::size_t>(n);
  n = 0;
  JW_RETURN_IF_ERROR(ReadInt(j, "rules", &n));
  s.rules = static_cast<std::size_t>(n);
  n = 0;
  JW_RETURN_IF_ERROR(ReadInt(j, "sampler_ticks", &n));
  s.sampler_ticks = static_cast<uint64_t>(n);
  n = 0;
  JW_RETURN_IF_ERROR(ReadInt(j, "events", &n));
  s.events = static_cast<uint64_t>(n);
  return s;
}

Json UsageRowToJson(const UsageRow& row) {
  Json j = Json::object();
  j["name"] = row.name;
  j["jid"] = row.jid;
  j["state"] = row.state;
  Json usage = Json::object();
  for (const auto& [name, value] : row.usage) usage[name] = value;
  j["usage"] = std::move(usage);
  // Object key order is not kept by every reader; keep the resource order.
  Json order = Json::array();
  for (const auto& [name, value] : row.usage) order.push_back(name);
  j["resources"] = std::move(order);
  return j;
}

absl::StatusOr<UsageRow> UsageRowFromJson(const Json& j) {
  JW_RETURN_IF_ERROR(RequireObject(j, "usage row"));
  UsageRow row;
  JW_RETURN_IF_ERROR(ReadString(j, "name", &row.name));
  JW_RETURN_IF_ERROR(ReadInt(j, "jid", &row.jid));
  JW_RETURN_IF_ERROR(ReadString(j, "state", &row.state));
  std::vector<std::string> order;
  JW_RETURN_IF_ERROR(ReadStringList(j, "resources", &order));
  Json usage;
  JW_RETURN_IF_ERROR(ReadObject(j, "usage", &usage));
  for (const std::string& name : order) {
    int64_t v = 0;
    JW_RETURN_IF_ERROR(ReadInt(usage, name, &v));
    row.usage.emplace_back(name, v);
  }
  return row;
}

absl::Status CheckExecArguments(const platform::ExecRequest& exec) {
  if (exec.argv.empty()) {
    return absl::InvalidArgumentError("field 'argv' must name a command");
  }
  if (exec.argv[0].empty()) {
    return absl::InvalidArgumentError("field 'argv': the command (argv[0]) must not be empty");
  }
  for (std::size_t i = 0; i < exec.argv.size(); ++i) {
    if (exec.argv[i].find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("field 'argv': argv[", i, "] contains a NUL byte")));
    }
  }
  for (const auto& [key, value] : exec.env) {
    if (key.empty() || key.find('=') != std::string::npos ||
        key.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(ToAbsl(StrCat(
          "field 'env': '", key, "' is not a variable name (empty, '=' or a NUL byte)")));
    }
  }
  return absl::OkStatus();
}

namespace {

struct CodeName {
  absl::StatusCode code;
  const char* name;
  int http;
};

constexpr CodeName kCodes[] = {
    {absl::StatusCode::kCancelled, "CANCELLED", 499},
    {absl::StatusCode::kUnknown, "UNKNOWN", 500},
    {absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT", 400},
    {absl::StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED", 504},
    {absl::StatusCode::kNotFound, "NOT_FOUND", 404},
    {absl::StatusCode::kAlreadyExists, "ALREADY_EXISTS", 409},
    {absl::StatusCode::kPermissionDenied, "PERMISSION_DENIED", 403},
    {absl::StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED", 429},
    {absl::StatusCode::kFailedPrecondition, "FAILED_PRECONDITION", 409},
    {absl::StatusCode::kAborted, "ABORTED", 409},
    {absl::StatusCode::kOutOfRange, "OUT_OF_RANGE", 400},
    {absl::StatusCode::kUnimplemented, "UNIMPLEMENTED", 501},
    {absl::StatusCode::kInternal, "INTERNAL", 500},
    {absl::StatusCode::kUnavailable, "UNAVAILABLE", 503},
    {absl::StatusCode::kDataLoss, "DATA_LOSS", 500},
    {absl::StatusCode::kUnauthenticated, "UNAUTHENTICATED", 401},
};

}  // namespace

Json ErrorToJson(const absl::Status& status) {
  Json j = Json::object();
  j["error"] = std::string(status.message());
  const char* name = "UNKNOWN";
  for (const CodeName& c : kCodes) {
    if (c.code == status.code()) name = c.name;
  }
  j["code"] = name;
  if (const std::optional<int> e = StatusErrno(status); e.has_value()) {
    j["errno"] = std::string(ErrnoName(*e));
  }
  return j;
}

int HttpStatusFor(const absl::Status& status) {
  if (status.ok()) return 200;
  // An operation this daemon or host does not support (absl maps
  // EOPNOTSUPP/ENOTSUP to Unimplemented) is a conflict with what the
  // server can do, not a missing endpoint: 409 with the errno's name in
  // the body, never 501.
  if (const std::optional<int> e = StatusErrno(status);
      e.has_value() && (*e == EOPNOTSUPP || *e == ENOTSUP)) {
    return 409;
  }
  for (const CodeName& c : kCodes) {
    if (c.code == status.code()) return c.http;
  }
  return 500;
}

std::optional<int> ErrnoFromName(std::string_view name) {
  for (int e = 1; e < 134; ++e) {
    if (ErrnoName(e) == name) return e;
  }
  return std::nullopt;
}

absl::Status StatusFromError(int http_status, std::string_view body) {
  std::string message = StrCat("HTTP ", http_status);
  std::string code_name;
  std::string errno_name;
  absl::StatusOr<Json> j = ParseJson(body);
  if (j.ok() && j->is_object() && j->contains("error")) {
    (void)ReadString(*j, "error", &message);
    (void)ReadString(*j, "code", &code_name);
    (void)ReadString(*j, "errno", &errno_name);
  } else {
    // Not the daemon's error form: most likely --server names something
    // that is not jailwarden (or a proxy in between). Say so, with the
    // start of what came back.
    std::string_view text = StripWhitespace(body);
    const bool cut = text.size() > 120;
    message = StrCat("HTTP ", http_status,
                     " without a jailwarden error body (is --server a jailwarden daemon?)",
                     text.empty() ? "" : ": ", text.substr(0, 120), cut ? "..." : "");
  }
  if (!errno_name.empty()) {
    if (const std::optional<int> e = ErrnoFromName(errno_name); e.has_value()) {
      return ErrnoStatusWithMessage(*e, message);
    }
  }
  absl::StatusCode code = absl::StatusCode::kUnknown;
  bool found = false;
  for (const CodeName& c : kCodes) {
    if (code_name == c.name) {
      code = c.code;
      found = true;
    }
  }
  if (!found) {
    switch (http_status) {
      case 400: case 413: case 422: code = absl::StatusCode::kInvalidArgument; break;
      case 401: code = absl::StatusCode::kUnauthenticated; break;
      case 403: code = absl::StatusCode::kPermissionDenied; break;
      case 404: code = absl::StatusCode::kNotFound; break;
      case 409: code = absl::StatusCode::kFailedPrecondition; break;
      case 501: code = absl::StatusCode::kUnimplemented; break;
      case 503: code = absl::StatusCode::kUnavailable; break;
      default: code = absl::StatusCode::kUnknown; break;
    }
  }
  return absl::Status(code, ToAbsl(message));
}

}  // namespace jailwarden::api
