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
//   PATCH  /v1/jails/NAME                     {"set": {KEY: YAML}, "dry_run"} -> as /v1/apply
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
// Thread-safety: Handle() is called concurrently from the server's handler
// threads.

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
  // The plain-HTTP TCP listeners and what all listeners share: its admit
  // is set by Start, and its rejected when null (a caller that exports the
  // counters before the server starts passes its own). Empty listen: only
  // mhd's listeners.
  HttpServerOptions http;
  // The listeners with more than plain HTTP (the admin unix socket, TLS).
  // Its admit, rejected, max_body_bytes and io_timeout are set by Start
  // from the above. Both lists are served by one libmicrohttpd server.
  MhdServerOptions mhd;
  // Called before the router on every listener; true when it answered (the
  // /metrics collector).
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

// Router on one libmicrohttpd MhdServer serving every listener.
class ApiServer {
 public:
  // Errors as MhdServer::Start; InvalidArgument for an empty token or no
  // listener at all.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(
      Daemon& daemon, ApiServerOptions options);
  ~ApiServer();
  // Ends streams, then stops the server. Idempotent.
  void Stop();
  // Refusals so far, per reason.
  const std::shared_ptr<RejectCounters>& rejected() const { return rejected_; }
  // The plain-HTTP listeners' ports, in options.http.listen order.
  std::vector<int> ports() const;
  // options.mhd's listeners' ports, in order (0 for a unix socket).
  std::vector<int> mhd_ports() const;

 private:
  ApiServer() = default;
  std::shared_ptr<RejectCounters> rejected_;
  std::unique_ptr<BasicAuthChecker> basic_auth_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<MhdServer> mhd_;
  std::size_t mhd_listeners_ = 0;  // how many of mhd_'s listeners are options.mhd's
};

}  // namespace jailwarden::api
