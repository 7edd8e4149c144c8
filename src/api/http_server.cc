#include "jailwarden/api/http_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>  // AF_INET, AF_INET6 (FreeBSD: not pulled in by arpa/inet.h)

#include <exception>
#include <mutex>

#include "CivetServer.h"
#include "civetweb.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

// CivetWeb reports why mg_start failed only through log_message; keep the
// messages of the starting thread.
thread_local std::string* g_start_error = nullptr;

int LogMessage(const struct mg_connection*, const char* message) {
  if (g_start_error != nullptr) {
    if (!g_start_error->empty()) g_start_error->append("; ");
    g_start_error->append(message);
  } else {
    LogWarning("civetweb", {{"message", message}});
  }
  return 1;  // handled: CivetWeb prints nothing itself
}

class ConnectionWriter final : public ResponseWriter {
 public:
  explicit ConnectionWriter(mg_connection* conn) : conn_(conn) {}

  void Send(int status, std::string_view content_type, std::string_view body,
            const std::vector<std::pair<std::string, std::string>>&
                extra_headers) override {
    if (started_) return;
    started_ = true;
    status_ = status;
    mg_response_header_start(conn_, status);
    const std::string type(content_type);
    const std::string length = StrCat(body.size());
    mg_response_header_add(conn_, "Content-Type", type.c_str(), -1);
    mg_response_header_add(conn_, "Content-Length", length.c_str(), -1);
    mg_response_header_add(conn_, "Cache-Control", "no-store", -1);
    for (const auto& [name, value] : extra_headers) {
      mg_response_header_add(conn_, name.c_str(), value.c_str(), -1);
    }
    mg_response_header_send(conn_);
    if (!body.empty()) mg_write(conn_, body.data(), body.size());
  }

  bool StartStream(int status, std::string_view content_type) override {
    if (started_) return false;
    started_ = true;
    streaming_ = true;
    status_ = status;
    mg_response_header_start(conn_, status);
    const std::string type(content_type);
    mg_response_header_add(conn_, "Content-Type", type.c_str(), -1);
    mg_response_header_add(conn_, "Transfer-Encoding", "chunked", -1);
    mg_response_header_add(conn_, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn_, "Connection", "close", -1);
    mg_response_header_add(conn_, "X-Accel-Buffering", "no", -1);
    return mg_response_header_send(conn_) == 0;
  }

  bool Write(std::string_view data) override {
    if (!streaming_ || broken_) return false;
    if (data.empty()) return true;
    if (mg_send_chunk(conn_, data.data(), static_cast<unsigned>(data.size())) <
        0) {
      broken_ = true;
      return false;
    }
    return true;
  }

  void Finish() override {
    if (streaming_ && !broken_ && !finished_) {
      mg_send_chunk(conn_, "", 0);  // "0\r\n\r\n"
    }
    finished_ = true;
  }

  bool started() const { return started_; }
  int status() const { return status_; }
  bool streaming() const { return streaming_; }

 private:
  mg_connection* conn_;
  bool started_ = false;
  bool streaming_ = false;
  bool broken_ = false;
  bool finished_ = false;
  int status_ = 0;
};

void FillHead(mg_connection* conn, HttpRequest& request) {
  const mg_request_info* ri = mg_get_request_info(conn);
  request.method = ri->request_method != nullptr ? ri->request_method : "";
  // The raw path: CivetWeb's decoded one is cut at a decoded NUL and has
  // "%2F" turned into a separator, so "j01%00x" would reach the router
  // as "j01". The router decodes each segment itself and refuses names
  // with NUL, '/', "..", control characters or over 255 bytes.
  request.path = ri->local_uri_raw != nullptr ? ri->local_uri_raw
                 : ri->local_uri != nullptr   ? ri->local_uri
                                              : "/";
  if (ri->query_string != nullptr) {
    request.query = ParseQuery(ri->query_string);
  }
  for (int i = 0; i < ri->num_headers; ++i) {
    request.headers[AsciiToLower(ri->http_headers[i].name)] =
        ri->http_headers[i].value != nullptr ? ri->http_headers[i].value : "";
  }
  request.remote_addr = ri->remote_addr;
  request.remote_is_loopback = IsLoopbackAddress(request.remote_addr);
}

// Per connection: its peer, counted in HttpServer::peers_ once known, and
// whether a request head arrived.
struct ConnState {
  std::string peer;
  bool counted = false;
  bool saw_request = false;
};

}  // namespace

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kPeerConnections:
      return "peer_connections";
    case RejectReason::kPeerStreams:
      return "peer_streams";
    case RejectReason::kStreams:
      return "streams";
    case RejectReason::kUnauthenticated:
      return "unauthenticated";
    case RejectReason::kBasicAuth:
      return "basic_auth";
    case RejectReason::kNoRequest:
      return "no_request";
  }
  return "unknown";
}

std::vector<std::pair<std::string, uint64_t>> RejectCounters::Snapshot() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (int i = 0; i < kRejectReasonCount; ++i) {
    const auto r = static_cast<RejectReason>(i);
    out.emplace_back(std::string(RejectReasonName(r)), Get(r));
  }
  return out;
}

// CivetWeb's per-connection callbacks, routed to the HttpServer that owns
// the context (CivetServer's user context).
class Hooks {
 public:
  static HttpServer* Owner(const mg_connection* conn) {
    const mg_context* ctx = mg_get_context(conn);
    auto* civet = static_cast<CivetServer*>(mg_get_user_data(ctx));
    if (civet == nullptr) return nullptr;
    return static_cast<HttpServer*>(const_cast<void*>(civet->getUserContext()));
  }

  static void Count(HttpServer& s, ConnState& st, const char* addr) {
    if (st.counted || addr == nullptr || addr[0] == '\0') return;
    st.peer = addr;
    st.counted = true;
    std::lock_guard<std::mutex> lock(s.peers_mu_);
    ++s.peers_[st.peer];
  }

  static int InitConnection(const mg_connection* conn, void** conn_data) {
    auto* st = new ConnState();
    *conn_data = st;
    HttpServer* s = Owner(conn);
    const mg_request_info* ri = mg_get_request_info(conn);
    if (s != nullptr && ri != nullptr) Count(*s, *st, ri->remote_addr);
    return 0;
  }

  static void ConnectionClose(const mg_connection* conn) {
    auto* st = static_cast<ConnState*>(mg_get_user_connection_data(conn));
    if (st == nullptr) return;
    HttpServer* s = Owner(conn);
    if (s != nullptr) {
      if (st->counted) {
        std::lock_guard<std::mutex> lock(s->peers_mu_);
        auto it = s->peers_.find(st->peer);
        if (it != s->peers_.end() && --it->second <= 0) s->peers_.erase(it);
      }
      if (!st->saw_request && s->options_.rejected != nullptr) {
        s->options_.rejected->Add(RejectReason::kNoRequest);
      }
    }
    mg_set_user_connection_data(conn, nullptr);
    delete st;
  }

  // Non-zero: answered here, no handler runs.
  static int BeginRequest(mg_connection* conn) {
    HttpServer* s = Owner(conn);
    if (s == nullptr) return 0;
    auto* st = static_cast<ConnState*>(mg_get_user_connection_data(conn));
    const mg_request_info* ri = mg_get_request_info(conn);
    if (st != nullptr) {
      st->saw_request = true;
      Count(*s, *st, ri->remote_addr);
    }
    if (!s->options_.admit) return 0;
    HttpRequest head;
    FillHead(conn, head);
    const int peers = s->PeerConnections(head.remote_addr);
    std::optional<Rejection> r = s->options_.admit(head, peers);
    if (!r.has_value()) return 0;
    if (s->options_.rejected != nullptr) s->options_.rejected->Add(r->reason);
    ConnectionWriter writer(conn);
    writer.Send(r->status, "application/json", r->body, r->headers);
    return r->status;
  }
};

int HttpServer::PeerConnections(const std::string& peer) const {
  std::lock_guard<std::mutex> lock(peers_mu_);
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second;
}

bool IsLoopbackAddress(std::string_view addr) {
  if (addr == "::1") return true;
  in_addr a{};
  const std::string text(addr);
  if (inet_pton(AF_INET, text.c_str(), &a) == 1) {
    return (ntohl(a.s_addr) >> 24) == 127;
  }
  // IPv4-mapped IPv6 (::ffff:127.x.y.z).
  if (StartsWith(addr, "::ffff:")) return IsLoopbackAddress(addr.substr(7));
  return false;
}

// Turns each CivetWeb request into an HttpRequest for the handler.
class HttpServer::Adapter final : public CivetHandler {
 public:
  Adapter(const HttpServerOptions& options, const HttpHandler& handler)
      : options_(options), handler_(handler) {}

  bool handleGet(CivetServer*, mg_connection* conn) override { return Serve(conn); }
  bool handlePost(CivetServer*, mg_connection* conn) override { return Serve(conn); }
  bool handlePut(CivetServer*, mg_connection* conn) override { return Serve(conn); }
  bool handleDelete(CivetServer*, mg_connection* conn) override { return Serve(conn); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return Serve(conn); }
  bool handleOptions(CivetServer*, mg_connection* conn) override { return Serve(conn); }
  bool handlePatch(CivetServer*, mg_connection* conn) override { return Serve(conn); }

 private:
  bool Serve(mg_connection* conn) {
    ConnectionWriter writer(conn);
    try {
      HttpRequest request;
      const mg_request_info* ri = mg_get_request_info(conn);
      FillHead(conn, request);
      ReadBody(conn, ri, request);
      handler_(request, writer);
    } catch (const std::exception& e) {
      LogError("api handler failed", {{"error", e.what()}});
    } catch (...) {
      LogError("api handler failed", {{"error", "unknown exception"}});
    }
    if (!writer.started()) {
      writer.Send(500, "application/json",
                  "{\"error\":\"internal error\",\"code\":\"INTERNAL\"}", {});
    }
    if (writer.streaming()) writer.Finish();
    return true;
  }

  void ReadBody(mg_connection* conn, const mg_request_info* ri,
                HttpRequest& request) {
    const std::size_t limit = options_.max_body_bytes;
    if (ri->content_length > 0 &&
        static_cast<uint64_t>(ri->content_length) > limit) {
      request.body_too_large = true;
      return;
    }
    const bool chunked = ri->content_length < 0 &&
                         request.Header("transfer-encoding").find("chunked") !=
                             std::string::npos;
    if (ri->content_length <= 0 && !chunked) return;
    char buf[16384];
    for (;;) {
      const int n = mg_read(conn, buf, sizeof(buf));
      if (n <= 0) break;
      if (request.body.size() + static_cast<std::size_t>(n) > limit) {
        request.body_too_large = true;
        request.body.clear();
        // Drain nothing more: the connection is closed after the answer.
        return;
      }
      request.body.append(buf, static_cast<std::size_t>(n));
    }
  }

  const HttpServerOptions& options_;
  const HttpHandler& handler_;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, HttpHandler handler) {
  if (options.listen.empty()) {
    return absl::InvalidArgumentError("no listen address");
  }
  std::vector<std::string> ports;
  for (const std::string& l : options.listen) {
    const std::size_t colon = l.rfind(':');
    if (colon == std::string::npos || colon == 0 ||
        !ParseInt<int>(std::string_view(l).substr(colon + 1)).has_value()) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("listen address '", l, "' is not IPv4:PORT")));
    }
    if (l[0] == '[') {
      return absl::InvalidArgumentError(ToAbsl(StrCat(
          "listen address '", l,
          "': this CivetWeb build has no IPv6 support; use an IPv4 address")));
    }
    in_addr a{};
    const std::string host = l.substr(0, colon);
    if (inet_pton(AF_INET, host.c_str(), &a) != 1) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("listen address '", l, "': '", host,
                        "' is not an IPv4 address")));
    }
    ports.push_back(l);
  }
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->options_ = std::move(options);
  server->handler_ = std::move(handler);
  server->adapter_ = std::make_unique<Adapter>(server->options_, server->handler_);

  const std::vector<std::string> civet_options = {
      "listening_ports", Join(ports, ","),
      "num_threads", StrCat(server->options_.num_threads),
      "request_timeout_ms",
      StrCat(absl::ToInt64Milliseconds(server->options_.io_timeout)),
      "enable_keep_alive", "no",
      "decode_url", "no",
      // No "linger_timeout_ms" of 0: that is an abortive close (RST), which
      // drops whatever of a large response (/metrics of a few dozen jails
      // and more) is still in the socket's send buffer.
  };
  CivetCallbacks callbacks;
  callbacks.log_message = LogMessage;
  callbacks.init_connection = Hooks::InitConnection;
  callbacks.connection_close = Hooks::ConnectionClose;
  callbacks.begin_request = Hooks::BeginRequest;
  std::string start_error;
  g_start_error = &start_error;
  auto done_starting = [] { g_start_error = nullptr; };
  try {
    server->server_ =
        std::make_unique<CivetServer>(civet_options, &callbacks, server.get());
  } catch (const std::exception& e) {
    done_starting();
    return absl::UnavailableError(ToAbsl(StrCat(
        "cannot listen on ", Join(ports, ","), ": ",
        start_error.empty() ? std::string(e.what()) : start_error)));
  }
  done_starting();
  if (server->server_->getContext() == nullptr) {
    return absl::UnavailableError(ToAbsl(
        StrCat("cannot listen on ", Join(ports, ","), ": ", start_error)));
  }
  if (server->options_.mount_first) {
    if (absl::Status s = server->options_.mount_first(*server->server_); !s.ok()) {
      server->Stop();
      return s;
    }
  }
  server->server_->addHandler("**", server->adapter_.get());
  return server;
}

HttpServer::~HttpServer() {
  Stop();
  server_.reset();
}

void HttpServer::Stop() {
  if (server_ != nullptr && !stopped_) {
    stopped_ = true;
    server_->close();
  }
}

std::vector<int> HttpServer::ports() const {
  std::vector<int> out;
  if (server_ == nullptr || stopped_ || server_->getContext() == nullptr) {
    return out;
  }
  mg_server_port p[16];
  const int n = mg_get_server_ports(server_->getContext(), 16, p);
  for (int i = 0; i < n; ++i) out.push_back(p[i].port);
  return out;
}

}  // namespace jailwarden::api
