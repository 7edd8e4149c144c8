#pragma once

// The daemon's HTTP side: /metrics (the collector over the rooms'
// published copies) and the REST API behind it, on the admin unix socket
// (server.api_socket; no token for root), on plain TCP listeners or, with
// TLS (server.tls or the web config's tls_server_config), on TLS TCP
// listeners: all of them one libmicrohttpd server (GnuTLS for TLS).
// Started last, stopped first. Basic auth (server.web_config) and the
// per-peer limits are set up here from the policy's server section;
// docs/api-security.md says why.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/api/http.h"
#include "jailwarden/api/server.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/policy/policy.h"
#include "metrics/page_pool.h"

namespace jailwarden::service {

// The /metrics route every listener of the daemon serves (and the e2e
// fixture's libmicrohttpd server, tests/e2e): false when `req` is not for
// `path`; else GET and HEAD answer 200 with the collector's page, in
// OpenMetrics 1.0.0 when the Accept header prefers
// application/openmetrics-text, the classic text otherwise, gzipped when
// Accept-Encoding allows gzip, with `Vary: Accept, Accept-Encoding`; other
// methods 405 with `Allow: GET, HEAD`. Thread-safe (the collector
// serialises renders).
//
// The page goes to the server without a copy (ResponseWriter::SendOwned).
// With `pool` it is rendered into (and gzipped or converted into) the
// pool's buffers, which come back to it once sent; without, into fresh
// strings.
bool ServeMetrics(metrics::MetricsCollector& collector, const std::string& path,
                  const api::HttpRequest& req, api::ResponseWriter& out);
bool ServeMetrics(metrics::MetricsCollector& collector, const std::string& path,
                  const api::HttpRequest& req, api::ResponseWriter& out,
                  const std::shared_ptr<metrics::PagePool>& pool);

class HttpEndpoints {
 public:
  // Listens on `listen` (empty: server.listen) and server.api_socket.
  // FailedPrecondition when there is nothing to listen on, when the socket's
  // directory is unsafe or its path holds something else; AlreadyExists when a live daemon answers
  // on the socket; Unavailable when a listener cannot bind; InvalidArgument
  // for a bad web config (FILE:LINE:COL).
  absl::Status Start(api::Daemon& daemon, const policy::ServerConfig& server,
                     const std::vector<std::string>& listen, const std::string& token,
                     metrics::MetricsSources sources, std::string backend_name);
  // Stops serving; idempotent.
  void Stop();
  // The bound TCP ports in listen order (empty before Start).
  std::vector<int> ports() const;

 private:
  std::shared_ptr<api::RejectCounters> rejected_;
  std::unique_ptr<metrics::MetricsCollector> collector_;
  std::unique_ptr<api::ApiServer> api_;
};

}  // namespace jailwarden::service
