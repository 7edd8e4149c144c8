#pragma once

// The libmicrohttpd server behind every listener of the API: plain TCP,
// TLS and the admin unix socket (Debian 12's libmicrohttpd 0.9.75,
// GnuTLS). It serves one HttpHandler/ResponseWriter on all of them, with
// the AdmitFunction, RejectCounters, body limit and I/O timeout, and
// ResponseWriter::Upgrade (HTTP/1.1 101 hand-over). Only this file's
// implementation (src/api/mhd_*.cc) touches libmicrohttpd.
//
// Threads: one MHD thread per connection; each request's handler runs on a
// thread of its own (the connection thread turns what it writes into the
// response), upgraded connections get one relay thread. Stop() waits for
// all of them; handlers must end by themselves (streams watch their stop
// flag).
//
// The unix socket: its directory is created 0700 if missing and must be a
// real directory (never a symlink) owned by root or the daemon's user and
// writable by nobody else; the socket is bound through that directory's
// fd under umask 0177 (mode 0600). A leftover socket nobody answers on is
// replaced; one a live daemon answers on is AlreadyExists ("already
// running"); anything else there is FailedPrecondition. Only peers whose
// SO_PEERCRED uid is 0 or the socket owner are served (others get 403);
// their requests carry HttpRequest::peer_is_admin.

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/api/http.h"
#include "jailwarden/api/http_server.h"

struct MHD_Daemon;

namespace jailwarden::api {

struct MhdListener {
  // "unix:/run/jailwarden/api.sock" or "IPv4:PORT" ("127.0.0.1:0": the
  // kernel picks, ports() tells).
  std::string address;
  // PEM files; cert_file set (TCP only) makes the listener TLS.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle the clients' certificates are verified against (TLS
  // only; needed by the *Verify* client_auth_types).
  std::string client_ca_file;
  // exporter-toolkit's client_auth_type, checked after the handshake and
  // before anything else of a request (a refused request gets 403 and is
  // counted as kUnauthenticated):
  //   NoClientCert               none asked for
  //   RequestClientCert          asked for, neither required nor verified
  //   RequireAnyClientCert       required, not verified
  //   VerifyClientCertIfGiven    verified against client_ca_file if given
  //   RequireAndVerifyClientCert required and verified
  std::string client_auth_type = "NoClientCert";
  // The lowest TLS version a handshake may agree on: TLS10, TLS11, TLS12
  // or TLS13 (GnuTLS priorities; a version the host's GnuTLS
  // configuration disables stays disabled).
  std::string min_version = "TLS12";
};

struct MhdServerOptions {
  std::vector<MhdListener> listeners;  // at least one
  std::size_t max_body_bytes = std::size_t{1} << 20;
  // Idle time before a connection (no request yet, or no progress) is
  // closed; also the SO_SNDTIMEO of upgraded sockets' relay.
  absl::Duration io_timeout = absl::Seconds(60);
  // Open connections per listener; more are refused at accept.
  int max_connections = 256;
  AdmitFunction admit;                        // unset: all admitted
  std::shared_ptr<RejectCounters> rejected;  // nullptr: not counted
};

class MhdServer {
 public:
  // Binds every listener and starts serving. InvalidArgument for a bad
  // address, unreadable TLS files (naming the file and errno), an unknown
  // client_auth_type or min_version, a *Verify* type without
  // client_ca_file, or TLS settings on a plain listener;
  // AlreadyExists / FailedPrecondition for the unix socket (above);
  // Unavailable when a port cannot be bound (errno name).
  static absl::StatusOr<std::unique_ptr<MhdServer>> Start(MhdServerOptions options,
                                                          HttpHandler handler);
  ~MhdServer();  // Stop()s
  MhdServer(const MhdServer&) = delete;
  MhdServer& operator=(const MhdServer&) = delete;

  // Stops accepting, ends upgraded relays, waits for handlers and removes
  // the unix sockets it created. Idempotent.
  void Stop();

  // Per listener, in order: the TCP port bound, or 0 for a unix socket.
  std::vector<int> ports() const { return ports_; }

  // Open connections of `peer` ("127.0.0.1", "unix:uid=0").
  int PeerConnections(const std::string& peer) const;

 private:
  MhdServer() = default;
  friend class MhdGlue;
  struct Daemon;
  MhdServerOptions options_;
  HttpHandler handler_;
  std::vector<std::unique_ptr<Daemon>> daemons_;
  std::vector<int> ports_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> peers_;  // guarded by mu_
  int threads_ = 0;                   // handler threads, guarded by mu_
  int relays_ = 0;                    // upgraded-connection relays, guarded by mu_
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
};

}  // namespace jailwarden::api
