#pragma once

// The REST API (v1) over a Daemon: routing, bearer-token auth, JSON bodies
// with a size limit, JSON errors with a proper HTTP status, chunked exec
// output and server-sent events.
//
// Routes (GET is open to loopback clients; everything else, and any
// request from a non-loopback address except the health checks, needs
// "Authorization: Bearer <token>"):
//   GET    /healthz, /readyz                  liveness, readiness (503 until ready)
//   GET    /v1/status                         DaemonStatus
//   GET    /v1/jails                          {"jails": [JailInfo...]}
//   POST   /v1/jails                          create {"spec"|"template", "limits", "start"}
//   GET    /v1/jails/NAME                     JailInfo
//   DELETE /v1/jails/NAME                     destroy
//   POST   /v1/jails/NAME/{start,stop,restart}
//   POST   /v1/jails/NAME/exec                {"argv": [...]} -> NDJSON stream
//   GET    /v1/jails/NAME/usage               UsageRow
//   POST   /v1/run                            one-shot jail -> NDJSON stream
//   GET    /v1/rules?filter=F[&fidelity=1]    rctl_get_rules
//   POST   /v1/rules                          {"rule": R}: rctl_add_rule
//   DELETE /v1/rules?filter=F                 rctl_remove_rule
//   GET    /v1/limits?filter=F                rctl_get_limits
//   GET    /v1/usage?subject=F                rctl_get_racct (+ per resource, humanized)
//   GET    /v1/top                            {"jails": [UsageRow...]}
//   GET    /v1/events[?after=SEQ&max=N&timeout_ms=T]   text/event-stream of devctl lines
//   POST   /v1/apply                          {"policy": TEXT, "filename", "dry_run"}
// Errors: {"error": message, "code": "NOT_FOUND", "errno": "ESRCH"}.
//
// Thread-safety: Handle() is called concurrently from CivetWeb workers.

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/api/http.h"
#include "jailwarden/api/http_server.h"

namespace jailwarden::api {

struct RouterOptions {
  // The bearer token. Must not be empty.
  std::string token;
  // 413 above this (the HttpServer enforces it while reading, so no
  // request holds more). 8 MiB: twice the bound on a policy
  // (policy::kMaxPolicyBytes, 4 MiB), so any policy within its bound fits
  // POST /v1/apply once JSON-escaped unless most of it needs \u escapes;
  // the policy's own bound is then checked on the decoded text.
  std::size_t max_body_bytes = std::size_t{8} << 20;
  // Concurrent event streams and exec/run streams; more get 503.
  int max_streams = 8;
  // How often a stream looks for new events / output and for Shutdown().
  absl::Duration stream_poll = absl::Milliseconds(50);
  // SSE comment line interval, to notice gone clients.
  absl::Duration keepalive = absl::Seconds(15);
};

class Router {
 public:
  Router(Daemon& daemon, RouterOptions options);
  void Handle(const HttpRequest& request, ResponseWriter& out);
  // Ends every open stream within one stream_poll. Idempotent.
  void Shutdown() { stopping_.store(true); }

 private:
  class Impl;
  Daemon& daemon_;
  RouterOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> streams_{0};
  friend class Impl;
};

struct ApiServerOptions {
  HttpServerOptions http;
  RouterOptions router;
};

// HttpServer + Router on one CivetWeb instance.
class ApiServer {
 public:
  // Errors as HttpServer::Start; InvalidArgument for an empty token.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(
      Daemon& daemon, ApiServerOptions options);
  ~ApiServer();
  // Ends streams, then stops CivetWeb. Idempotent.
  void Stop();
  HttpServer& http() { return *http_; }
  std::vector<int> ports() const { return http_->ports(); }

 private:
  ApiServer() = default;
  std::unique_ptr<Router> router_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace jailwarden::api
