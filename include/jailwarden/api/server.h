#pragma once

// The REST API (v1) over a Daemon: routing, bearer-token auth, JSON bodies
// with a size limit, JSON errors with a proper HTTP status, chunked exec
// output and server-sent events.
//
// Routes (every /v1 route needs "Authorization: Bearer <token>"; with
// RouterOptions::public_reads, GET and HEAD from loopback do not; the
// health checks are open, subject to web-config basic auth):
//   GET    /healthz, /readyz                  liveness, readiness (503 until ready)
//   GET    /v1/status                         DaemonStatus
//   GET    /v1/jails                          {"jails": [JailInfo...]}
//   POST   /v1/jails                          create {"spec"|"template", "limits", "start"}
//   GET    /v1/jails/NAME                     JailInfo
//   DELETE /v1/jails/NAME                     destroy -> {"ok","changed","state","previous"}
//   POST   /v1/jails/NAME/{start,stop,restart} -> {"ok","changed","state","previous"}
//   POST   /v1/jails/NAME/exec                {"argv": [...]} -> NDJSON stream
//   GET    /v1/jails/NAME/usage               UsageRow
//   POST   /v1/run                            one-shot jail -> NDJSON stream
//   GET    /v1/rules?filter=F[&fidelity=1]    rctl_get_rules
//   POST   /v1/rules                          {"rule": R}: rctl_add_rule
//   DELETE /v1/rules?filter=F                 rctl_remove_rule
//   GET    /v1/limits?filter=F                rctl_get_limits
//   GET    /v1/usage?subject=F                rctl_get_racct (+ per resource, humanized)
//   GET    /v1/top                            {"jails": [UsageRow...]}
//   GET    /v1/events?since=ID[&jail=J&type=T,..&follow=0]  NDJSON event log (docs/events.md)
//   GET    /v1/events[?after=SEQ&max=N&timeout_ms=T]   text/event-stream of devctl lines
//   POST   /v1/apply                          {"policy": TEXT, "filename", "dry_run"}
// Errors: {"error": message, "code": "NOT_FOUND", "errno": "ESRCH"}.
//
// Thread-safety: Handle() is called concurrently from CivetWeb workers.

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/api/http.h"
#include "jailwarden/api/http_server.h"
#include "jailwarden/api/mhd_server.h"
#include "jailwarden/api/web_config.h"

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
  // GET/HEAD of /v1 from loopback without the token (the old behaviour;
  // server.public_reads). Off: a jail sharing the host's network reads
  // nothing.
  bool public_reads = false;
  // Concurrent event streams and exec/run streams; more get 503.
  int max_streams = 8;
  // Concurrent streams of one peer address; more get 429.
  int max_streams_per_peer = 4;
  // Where refusals are counted (jailwarden_api_rejected_total); may be null.
  std::shared_ptr<RejectCounters> rejected;
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
  // Takes a stream slot for `peer`: nullopt when taken (release with
  // ReleaseStream), else why not (kStreams or kPeerStreams).
  std::optional<RejectReason> AcquireStream(const std::string& peer);
  void ReleaseStream(const std::string& peer);
  // Counts a refusal when counters are configured.
  void Reject(RejectReason reason) {
    if (options_.rejected != nullptr) options_.rejected->Add(reason);
  }

 private:
  class Impl;
  Daemon& daemon_;
  RouterOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex streams_mu_;
  int streams_ = 0;                             // guarded by streams_mu_
  std::map<std::string, int> peer_streams_;     // guarded by streams_mu_
  friend class Impl;
};

struct ApiServerOptions {
  // The CivetWeb listeners (plain HTTP). Its admit is set by Start, and its
  // rejected when null (a caller that exports the counters before the
  // server starts passes its own). Empty listen: no CivetWeb server.
  HttpServerOptions http;
  // The libmicrohttpd listeners (the admin unix socket, TLS). Its admit,
  // rejected, max_body_bytes and io_timeout are set by Start from the
  // above. No listeners: none.
  MhdServerOptions mhd;
  // On the libmicrohttpd listeners, called before the router; true when
  // it answered (the /metrics collector, which CivetWeb mounts itself).
  std::function<bool(const HttpRequest&, ResponseWriter&)> mhd_first;
  RouterOptions router;    // its rejected is set by Start
  // Open connections per peer address before requests without valid
  // credentials (bearer token or basic auth) get 429.
  int max_connections_per_peer = 16;
  // Paths the budget does not apply to (exact match): health checks and
  // the metrics path, which a jail sharing the host's address must not be
  // able to make 429 for the host's own scraper.
  std::vector<std::string> budget_exempt_paths = {"/healthz", "/readyz"};
  // web-config basic_auth_users (user -> bcrypt hash). Not empty: every
  // request without a valid bearer token needs one of them.
  std::map<std::string, std::string> basic_auth_users;
};

// Router on a CivetWeb HttpServer (plain TCP) and/or a libmicrohttpd
// MhdServer (unix socket, TLS); at least one of them.
class ApiServer {
 public:
  // Errors as HttpServer::Start; InvalidArgument for an empty token.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(
      Daemon& daemon, ApiServerOptions options);
  ~ApiServer();
  // Ends streams, then stops CivetWeb. Idempotent.
  void Stop();
  // The CivetWeb server, or nullptr when it has no listeners.
  HttpServer* http() { return http_.get(); }
  // Refusals so far, per reason.
  const std::shared_ptr<RejectCounters>& rejected() const { return rejected_; }
  // The CivetWeb listeners' ports (empty without CivetWeb).
  std::vector<int> ports() const {
    return http_ != nullptr ? http_->ports() : std::vector<int>{};
  }
  // The libmicrohttpd listeners' ports (0 for the unix socket).
  std::vector<int> mhd_ports() const {
    return mhd_ != nullptr ? mhd_->ports() : std::vector<int>{};
  }

 private:
  ApiServer() = default;
  std::shared_ptr<RejectCounters> rejected_;
  std::unique_ptr<BasicAuthChecker> basic_auth_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<MhdServer> mhd_;
};

}  // namespace jailwarden::api
