#pragma once

// Serving /metrics through CivetWeb. The daemon mounts MetricsCollector on
// the CivetWeb server it also uses for the REST API (RegisterMetricsHandler);
// MetricsHttpServer runs a server of its own (tests, the e2e fixture, a
// metrics-only deployment). All CivetWeb calls and exceptions stay in
// src/metrics/civetweb_adapter.cc.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "jailwarden/metrics/collector.h"

class CivetServer;  // CivetServer.h, global namespace

namespace jailwarden::metrics {

// A mounted /metrics handler. CivetWeb holds a pointer to it, so destroy it
// only when no request can be running in it: after CivetServer::close()
// (then it just goes away), or while the server runs but no scrape is in
// flight (then it unmounts itself). The server object must still exist.
class MetricsEndpoint {
 public:
  virtual ~MetricsEndpoint() = default;
  virtual const std::string& path() const = 0;
};

// Mounts `collector` at `path` ("/metrics") on `server`: GET and HEAD answer
// 200 with the classic text exposition (MetricsCollector::kContentType), or
// OpenMetrics 1.0.0 when the Accept header prefers
// application/openmetrics-text (Prometheus' default), gzip-compressed when
// Accept-Encoding names gzip (src/metrics/exposition.h); responses carry
// `Vary: Accept, Accept-Encoding`. Other methods get CivetWeb's 405. `collector` and `server` must outlive the
// returned endpoint. InvalidArgument if `path` does not start with '/'.
// Thread-safe with respect to requests (CivetWeb threads render
// concurrently; the collector serialises renders).
absl::StatusOr<std::unique_ptr<MetricsEndpoint>> RegisterMetricsHandler(
    CivetServer& server, MetricsCollector& collector, std::string_view path);

// A CivetWeb server of its own that serves only `path`.
class MetricsHttpServer {
 public:
  // Listens on `listen_address` ("127.0.0.1:9814", "[::1]:9814"; port 0
  // picks a free port, see port()). `collector` must outlive the server.
  // UnavailableError (with CivetWeb's message) when it cannot listen,
  // InvalidArgument for a bad path or address.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      MetricsCollector& collector, std::string_view listen_address,
      std::string_view path = "/metrics", int threads = 2);

  ~MetricsHttpServer();  // stops the server (waits for running requests)
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The TCP port actually bound.
  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;
  std::unique_ptr<CivetServer> server_;
  std::unique_ptr<MetricsEndpoint> endpoint_;
  int port_ = 0;
};

}  // namespace jailwarden::metrics
