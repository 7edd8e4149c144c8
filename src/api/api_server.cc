// ApiServer: the Router on one libmicrohttpd MhdServer (plain TCP, TLS and
// the admin unix socket), with the admission step that runs before every
// handler (per-peer connection budget, web-config basic
// auth). docs/api-security.md says why.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/json.h"
#include "jailwarden/api/server.h"
#include "jailwarden/api/token.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

std::string ErrorBody(std::string_view code, std::string_view message) {
  Json j = Json::object();
  j["error"] = std::string(message);
  j["code"] = std::string(code);
  return DumpJson(j);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(
    Daemon& daemon, ApiServerOptions options) {
  if (options.router.token.empty()) {
    return absl::InvalidArgumentError("the API needs a token");
  }
  options.http.max_body_bytes = options.router.max_body_bytes;
  std::unique_ptr<ApiServer> server(new ApiServer());
  server->rejected_ = options.http.rejected != nullptr ? options.http.rejected
                                                      : std::make_shared<RejectCounters>();
  options.router.rejected = server->rejected_;
  options.http.rejected = server->rejected_;
  server->basic_auth_ =
      std::make_unique<BasicAuthChecker>(std::move(options.basic_auth_users));
  BasicAuthChecker* basic = server->basic_auth_.get();
  const std::string token = options.router.token;
  const int max_connections = options.max_connections_per_peer;
  const std::vector<std::string> exempt = options.budget_exempt_paths;
  // Before any handler (the /metrics one included): a peer over its
  // connection budget is served only with credentials (health checks and
  // scrapes excepted: they are short and must answer whoever shares the
  // address), and web-config basic auth guards everything a bearer token
  // does not.
  options.http.admit = [basic, token, max_connections, exempt](
                           const HttpRequest& head,
                           int peer_connections) -> std::optional<Rejection> {
    // Root on the admin unix socket: the socket's mode is its credential.
    if (head.peer_is_admin) return std::nullopt;
    const std::string auth = head.Header("authorization");
    const bool bearer = BearerMatches(auth, token);
    std::optional<bool> basic_ok;
    auto basic_passes = [&] {
      if (!basic_ok.has_value()) basic_ok = basic->enabled() && basic->Check(auth);
      return *basic_ok;
    };
    bool exempt_path = false;
    for (const std::string& p : exempt) exempt_path = exempt_path || head.path == p;
    if (peer_connections > max_connections && !exempt_path && !bearer && !basic_passes()) {
      Rejection r;
      r.status = 429;
      r.reason = RejectReason::kPeerConnections;
      r.body = ErrorBody("RESOURCE_EXHAUSTED",
                         StrCat("too many connections from ", head.remote_addr,
                                " (at most ", max_connections, " without credentials)"));
      r.headers = {{"Retry-After", "1"}};
      return r;
    }
    if (basic->enabled() && !bearer && !basic_passes()) {
      Rejection r;
      r.status = 401;
      r.reason = RejectReason::kBasicAuth;
      r.body = ErrorBody("UNAUTHENTICATED", "this listener needs basic auth or a bearer token");
      r.headers = {{"WWW-Authenticate", "Basic realm=\"jailwarden\""}};
      return r;
    }
    return std::nullopt;
  };
  server->router_ = std::make_unique<Router>(daemon, options.router);
  Router* router = server->router_.get();
  if (options.http.listen.empty() && options.mhd.listeners.empty()) {
    return absl::InvalidArgumentError("no listen address");
  }
  // One server for every listener: the mhd listeners first, then the
  // plain-HTTP ones (ports() and mhd_ports() split the bound ports back).
  server->mhd_listeners_ = options.mhd.listeners.size();
  for (const std::string& l : options.http.listen) {
    MhdListener plain;
    plain.address = l;
    options.mhd.listeners.push_back(std::move(plain));
  }
  options.mhd.admit = options.http.admit;
  options.mhd.rejected = server->rejected_;
  options.mhd.max_body_bytes = options.http.max_body_bytes;
  options.mhd.io_timeout = options.http.io_timeout;
  auto first = options.mhd_first;
  JW_ASSIGN_OR_RETURN(
      server->mhd_,
      MhdServer::Start(options.mhd,
                       [router, first](const HttpRequest& req, ResponseWriter& out) {
                         if (first && first(req, out)) return;
                         router->Handle(req, out);
                       }));
  return server;
}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Stop() {
  if (router_ != nullptr) router_->Shutdown();
  if (mhd_ != nullptr) mhd_->Stop();
}

std::vector<int> ApiServer::ports() const {
  if (mhd_ == nullptr) return {};
  const std::vector<int> all = mhd_->ports();
  return std::vector<int>(all.begin() + static_cast<std::ptrdiff_t>(mhd_listeners_), all.end());
}

std::vector<int> ApiServer::mhd_ports() const {
  if (mhd_ == nullptr) return {};
  const std::vector<int> all = mhd_->ports();
  return std::vector<int>(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(mhd_listeners_));
}

}  // namespace jailwarden::api
