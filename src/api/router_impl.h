#pragma once

// Router::Impl: the handler of one request, split by concern over
// router.cc (dispatch, authorization, jail and rule calls, apply),
// router_streams.cc (exec/run output and the events stream, which hold a
// worker for their whole life) and router_views.cc (usage and top read
// from the latest snapshot). Private to src/api. One Impl per request, on
// the handler thread that serves it; not shared between threads.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/json.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/api/http.h"
#include "jailwarden/api/server.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::api {

class Router::Impl {
 public:
  Impl(Router& router, const HttpRequest& request, ResponseWriter& out)
      : r_(router), d_(router.daemon_), req_(request), out_(out) {}

  // Answers the request (every path ends in one response or stream).
  void Run();

 private:
  // Responses. SendError(status) uses the codec's HTTP status and error
  // body; the other form spells both out (401 adds WWW-Authenticate).
  void SendJson(int status, const Json& body,
                const std::vector<std::pair<std::string, std::string>>& headers = {});
  void SendError(const absl::Status& status);
  void SendError(int http, std::string_view code, std::string_view message);
  static Json Ok();

  // Every /v1 request needs the token; with public_reads, GET and HEAD
  // from loopback do not. Answers 401/403 (counted) when not.
  bool Authorized();
  // 503 (every slot taken) or 429 (the peer's slots taken).
  void RefuseStream(RejectReason why);
  void MethodNotAllowed(std::string_view allowed);
  // The body as a JSON object (an empty body is {}).
  absl::StatusOr<Json> Body();
  std::string FilterParam(std::string_view key);
  void Jails(const std::vector<std::string>& seg);
  void Done(const absl::Status& status);
  // {"ok":true,"changed":B,"state":S} for start, stop, restart, destroy.
  void Done(const absl::StatusOr<JailChange>& change);
  // {"spec": {config.json form}} or {"template": T}, plus "name",
  // "limits" and "start".
  absl::Status ParseJailSource(const Json& body, platform::JailSpec* spec,
                               std::string* template_name,
                               std::vector<std::string>* limits);
  void CreateJail();
  absl::Status ParseExec(const Json& body, platform::ExecRequest* exec);
  void Exec(const std::string& name, const Json& body);
  // POST /v1/jails/NAME/exec with "Upgrade: jailwarden-exec.v1": the
  // interactive session (exec_session.h) on the handed-over connection.
  void ExecSession(const std::string& name);
  void RunOneShot();
  void Rules();
  void RctlText(std::string_view field, const absl::StatusOr<std::string>& text);
  void Apply();
  // PATCH /v1/jails/NAME: Daemon::SetJailKeys.
  void SetJailKeys(const std::string& name);
  // An ApplyResult as /v1/apply answers it (422 with "errors" lines for
  // InvalidArgument).
  void SendApplyResult(const absl::StatusOr<ApplyResult>& result, bool dry_run);

  // Runs `call` on its own thread with stdout/stderr on pipes and streams
  // NDJSON lines: {"stream":"stdout","data":...} ... then one final
  // {"exit_code":N,"signal":S,"timed_out":B} or {"error":...}.
  void StreamCommand(
      platform::ExecRequest exec,
      const std::function<absl::StatusOr<platform::ExecResult>(
          const platform::ExecRequest&)>& call);
  void Events();
  // GET /v1/jails/NAME/logs (issue 17, router_logs.cc): NDJSON records,
  // ?since=RFC3339|DURATION&tail=N&stream=stdout|stderr&follow=1.
  void JailLogs(const std::string& name);
  void EventsNdjson();

  void Usage();
  // Every jail's usage from the latest snapshot, in user units.
  std::vector<UsageRow> UsageRows(std::string_view only);
  void JailUsage(const std::string& name);
  void Top();

  Router& r_;
  Daemon& d_;
  const HttpRequest& req_;
  ResponseWriter& out_;
};

// Why `name`, a jail name taken from a request's path or query (already
// percent-decoded), is refused before any lookup ("is empty", "contains a
// NUL byte", "is longer than 64 bytes", ...), or nullopt. The one check
// every route applies; callers prefix where the name came from.
std::optional<std::string> JailNameProblem(std::string_view name);

}  // namespace jailwarden::api
