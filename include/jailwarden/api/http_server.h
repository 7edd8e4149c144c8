#pragma once

// The CivetWeb server behind /metrics and the REST API: one instance, one
// set of listeners. This is the only code that touches CivetWeb's request
// API; it turns each request into an HttpRequest (body read with a size
// limit) and hands it to one handler. CivetWeb's C++ wrapper throws on
// start failure; that is caught here.
//
// Debian 12's libcivetweb (1.15) is built without USE_X_DOM_SOCKET and
// without USE_IPV6, so listeners are IPv4 TCP only (no unix sockets, no
// "[::1]:port").

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/api/http.h"

class CivetServer;
class CivetHandler;

namespace jailwarden::api {

struct HttpServerOptions {
  // "IPv4:PORT" listeners ("127.0.0.1:9814"); port 0 lets the kernel pick
  // (ports() tells which). At least one.
  std::vector<std::string> listen = {"127.0.0.1:9814"};
  // Worker threads: the bound on concurrent requests, streams included.
  int num_threads = 16;
  // Bodies larger than this are not read: the handler gets
  // body_too_large set and answers 413.
  std::size_t max_body_bytes = std::size_t{1} << 20;
  // Socket send/receive timeout.
  absl::Duration io_timeout = absl::Seconds(60);
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

  // The CivetWeb server, to mount more handlers (the /metrics collector).
  // Valid until destruction; serves nothing after Stop().
  CivetServer* civet() { return server_.get(); }

 private:
  HttpServer() = default;
  class Adapter;
  HttpServerOptions options_;
  HttpHandler handler_;
  std::unique_ptr<Adapter> adapter_;
  std::unique_ptr<CivetServer> server_;
  bool stopped_ = false;
};

// True for 127.0.0.0/8 and ::1 textual addresses.
bool IsLoopbackAddress(std::string_view addr);

}  // namespace jailwarden::api
