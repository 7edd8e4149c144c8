#include "service/http_endpoints.h"

#include <algorithm>

#include "jailwarden/api/web_config.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::service {

namespace {

constexpr char kNoTls[] =
    "Debian 12's CivetWeb (1.15, OpenSSL 3) crashes on the first TLS connection, "
    "so this listener is plain HTTP; see docs/api-security.md";

}  // namespace

absl::Status HttpEndpoints::Start(api::Daemon& daemon, const policy::ServerConfig& server,
                                  const std::vector<std::string>& listen,
                                  const std::string& token, metrics::MetricsSources sources,
                                  std::string backend_name) {
  rejected_ = std::make_shared<api::RejectCounters>();
  sources.api_rejected = [rejected = rejected_] { return rejected->Snapshot(); };
  metrics::MetricsOptions mopts;
  mopts.backend = std::move(backend_name);
  collector_ = std::make_unique<metrics::MetricsCollector>(std::move(sources), mopts);
  if (!server.api_socket.empty()) {
    LogWarning(
        "server.api_socket is not served: Debian's CivetWeb is built without "
        "unix-socket support; the API is on the TCP listeners with the bearer token",
        {{"api_socket", server.api_socket}});
  }
  api::ApiServerOptions ao;
  ao.http.listen = listen.empty() ? server.listen : listen;
  if (ao.http.listen.empty()) {
    return absl::FailedPreconditionError(
        "server.listen is empty and this CivetWeb cannot serve a unix socket: "
        "nothing to listen on");
  }
  ao.router.token = token;
  ao.router.public_reads = server.public_reads;
  ao.router.max_streams_per_peer = static_cast<int>(server.max_streams_per_peer);
  ao.max_connections_per_peer = static_cast<int>(server.max_connections_per_peer);
  ao.http.io_timeout = server.request_timeout;
  // Workers are what idle connections occupy until request_timeout: enough
  // that a few peers' budgets (max_connections_per_peer) do not take them
  // all. Each is a thread with little memory touched.
  ao.http.num_threads = std::max(64, static_cast<int>(4 * server.max_connections_per_peer));
  ao.http.rejected = rejected_;
  ao.budget_exempt_paths.push_back(server.metrics_path);
  if (!server.web_config.empty()) {
    absl::StatusOr<api::WebConfig> wc = api::LoadWebConfig(server.web_config);
    if (!wc.ok()) {
      return absl::InvalidArgumentError(ToAbsl(StrCat(
          "web config: ", ToStd(wc.status().message()))));
    }
    if (wc->tls.has_value()) {
      return absl::FailedPreconditionError(ToAbsl(StrCat(
          "web config ", server.web_config, ": tls_server_config cannot be served: ",
          kNoTls)));
    }
    ao.basic_auth_users = wc->basic_auth_users;
  }
  if (server.tls) {
    return absl::FailedPreconditionError(
        ToAbsl(StrCat("server.tls: true cannot be served: ", kNoTls)));
  }
  const std::string metrics_path = server.metrics_path;
  ao.http.mount_first = [this, metrics_path](CivetServer& civet) -> absl::Status {
    JW_ASSIGN_OR_RETURN(metrics_endpoint_,
                        metrics::RegisterMetricsHandler(civet, *collector_, metrics_path));
    return absl::OkStatus();
  };
  JW_ASSIGN_OR_RETURN(api_, api::ApiServer::Start(daemon, ao));
  std::vector<std::string> where;
  const std::vector<int> bound = api_->ports();
  for (std::size_t i = 0; i < ao.http.listen.size() && i < bound.size(); ++i) {
    const std::string& l = ao.http.listen[i];
    where.push_back(StrCat(l.substr(0, l.rfind(':')), ":", bound[i]));
  }
  LogInfo("listening", {{"addresses", Join(where, ",")},
                        {"basic_auth", ao.basic_auth_users.empty() ? "off" : "on"},
                        {"metrics", server.metrics_path},
                        {"token_file", server.token_file}});
  return absl::OkStatus();
}

void HttpEndpoints::Stop() {
  if (api_ != nullptr) api_->Stop();
  metrics_endpoint_.reset();
  api_.reset();
}

std::vector<int> HttpEndpoints::ports() const {
  return api_ == nullptr ? std::vector<int>{} : api_->ports();
}

}  // namespace jailwarden::service
