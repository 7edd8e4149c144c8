#pragma once

// The CivetWeb server behind /metrics and the REST API: one instance, one
// set of listeners. This is the only code that touches CivetWeb's request
// API; it turns each request into an HttpRequest (body read with a size
// limit) and hands it to one handler. CivetWeb's C++ wrapper throws on
// start failure; that is caught here.
//
// Debian 12's libcivetweb (1.15) is built without USE_X_DOM_SOCKET and
// without USE_IPV6, so listeners are IPv4 TCP only (no unix sockets, no
// "[::1]:port"). Its TLS is not used: on Debian 12 (civetweb 1.15 with
// OpenSSL 3) a worker calls a null function on the first TLS connection
// and the process dies (the packaged `civetweb` binary does the same), so
// this server is the plain-HTTP TCP listener only; the admin unix socket
// and TLS listeners are libmicrohttpd's (mhd_server.h). Its ResponseWriter
// cannot Upgrade (Unimplemented). docs/api-security.md.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/api/http.h"

class CivetServer;
class CivetHandler;

namespace jailwarden::api {

// Why a connection or request was turned away, for
// jailwarden_api_rejected_total{reason}.
enum class RejectReason {
  kPeerConnections,  // the peer had max_connections_per_peer open
  kPeerStreams,      // the peer had max_streams_per_peer streams open
  kStreams,          // every stream slot was taken
  kUnauthenticated,  // no or a wrong bearer token
  kBasicAuth,        // web-config basic auth missing or wrong
  kNoRequest,        // closed without a complete request: idle past the
                     // request timeout, a failed TLS handshake, garbage
};
inline constexpr int kRejectReasonCount = 6;
// "peer_connections", "peer_streams", "streams", "unauthenticated",
// "basic_auth", "no_request".
std::string_view RejectReasonName(RejectReason reason);

// Counters per RejectReason. Thread-safe, lock-free.
class RejectCounters {
 public:
  void Add(RejectReason r) {
    counts_[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t Get(RejectReason r) const {
    return counts_[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  }
  // Every reason with its count (zeros included), in enum order.
  std::vector<std::pair<std::string, uint64_t>> Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kRejectReasonCount> counts_{};
};

// An answer given instead of the handler's (the request is not handled).
struct Rejection {
  int status = 429;
  RejectReason reason = RejectReason::kPeerConnections;
  std::string body;  // JSON
  std::vector<std::pair<std::string, std::string>> headers;
};

// Decides, once a request's head is read and before any handler (the
// /metrics handler included) runs, whether it is served. `peer_connections`
// is how many connections of the request's peer address are open and have
// sent a request head, this one included (CivetWeb 1.15 does not know the
// peer when a connection is accepted; idle ones are bounded by io_timeout
// and counted as kNoRequest when they close). Called on CivetWeb worker threads concurrently.
using AdmitFunction = std::function<std::optional<Rejection>(
    const HttpRequest& head, int peer_connections)>;

struct HttpServerOptions {
  // "IPv4:PORT" listeners ("127.0.0.1:9814"); port 0 lets the kernel pick
  // (ports() tells which). At least one.
  std::vector<std::string> listen = {"127.0.0.1:9814"};
  // Worker threads: the bound on concurrent requests, streams included.
  int num_threads = 16;
  // Bodies larger than this are not read: the handler gets
  // body_too_large set and answers 413.
  std::size_t max_body_bytes = std::size_t{1} << 20;
  // Socket send/receive timeout, and the time a client has to send a
  // whole request head once a worker took its connection.
  absl::Duration io_timeout = absl::Seconds(60);
  // Runs before every handler; unset: everything is admitted.
  AdmitFunction admit;
  // Where rejections are counted (admit's, and connections closed without
  // a request). nullptr: not counted.
  std::shared_ptr<RejectCounters> rejected;
  // Called once the server listens and before the catch-all handler is
  // mounted, to mount handlers of other layers (/metrics). CivetWeb 1.15
  // takes the first registered handler whose pattern matches, so these must
  // come first. An error stops the server and fails Start.
  std::function<absl::Status(CivetServer&)> mount_first;
};

// Called on a CivetWeb worker thread for every request no other handler
// (e.g. /metrics) claimed.
using HttpHandler = std::function<void(const HttpRequest&, ResponseWriter&)>;

class HttpServer {
 public:
  // Starts listening. InvalidArgument for a bad listen string, Unavailable
  // when CivetWeb cannot start (port in use: the message says which).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting and waits for running handlers (which must end by
  // themselves: streams watch their own stop flag). Idempotent. Handlers
  // mounted on civet() may be destroyed after this, before the server.
  void Stop();

  // The bound ports, in listen order.
  std::vector<int> ports() const;

  // Open connections of `peer` ("127.0.0.1") that sent a request head.
  int PeerConnections(const std::string& peer) const;

  // The CivetWeb server, to mount more handlers (the /metrics collector).
  // Valid until destruction; serves nothing after Stop().
  CivetServer* civet() { return server_.get(); }

 private:
  HttpServer() = default;
  class Adapter;
  friend class Hooks;
  HttpServerOptions options_;
  mutable std::mutex peers_mu_;
  std::map<std::string, int> peers_;  // guarded by peers_mu_
  HttpHandler handler_;
  std::unique_ptr<Adapter> adapter_;
  std::unique_ptr<CivetServer> server_;
  bool stopped_ = false;
};

// True for 127.0.0.0/8 and ::1 textual addresses.
bool IsLoopbackAddress(std::string_view addr);

}  // namespace jailwarden::api
