#pragma once

// What every listener of the API shares, whichever transport serves it:
// why a request was turned away (RejectReason, RejectCounters, Rejection),
// the admission hook run before any handler (AdmitFunction), the
// listener options the ApiServer takes (HttpServerOptions) and the handler
// type. Every listener (plain TCP, TLS, the admin unix socket) is served by
// libmicrohttpd (mhd_server.h); CivetWeb is no longer used by the API
// (Debian 12's civetweb 1.15 crashed on TLS connections and had no unix
// sockets, so one server does all of it; docs/api-security.md).

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
// is how many connections of the request's peer address are open, this
// one included (idle ones are bounded by io_timeout and
// counted as kNoRequest when they close). Called on the server's handler
// threads concurrently.
using AdmitFunction = std::function<std::optional<Rejection>(
    const HttpRequest& head, int peer_connections)>;

struct HttpServerOptions {
  // Plain-HTTP "IPv4:PORT" listeners ("127.0.0.1:9814"); port 0 lets the
  // kernel pick (ApiServer::ports() tells which). Served by libmicrohttpd
  // beside ApiServerOptions::mhd's listeners.
  std::vector<std::string> listen = {"127.0.0.1:9814"};
  // Bodies larger than this are not read: the handler gets
  // body_too_large set and answers 413.
  std::size_t max_body_bytes = std::size_t{1} << 20;
  // Idle time before a connection without a request (or without progress)
  // is closed.
  absl::Duration io_timeout = absl::Seconds(60);
  // Runs before every handler; unset: everything is admitted.
  AdmitFunction admit;
  // Where rejections are counted (admit's, and connections closed without
  // a request). nullptr: not counted.
  std::shared_ptr<RejectCounters> rejected;
};

// Called on a handler thread for every request.
using HttpHandler = std::function<void(const HttpRequest&, ResponseWriter&)>;

// True for 127.0.0.0/8 and ::1 textual addresses.
bool IsLoopbackAddress(std::string_view addr);

}  // namespace jailwarden::api
