#include "service/http_endpoints.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "jailwarden/api/tls.h"
#include "jailwarden/api/web_config.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "metrics/exposition.h"

namespace jailwarden::service {

bool ServeMetrics(metrics::MetricsCollector& collector, const std::string& path,
                  const api::HttpRequest& req, api::ResponseWriter& out) {
  return ServeMetrics(collector, path, req, out, nullptr);
}

bool ServeMetrics(metrics::MetricsCollector& collector, const std::string& path,
                  const api::HttpRequest& req, api::ResponseWriter& out,
                  const std::shared_ptr<metrics::PagePool>& pool) {
  if (req.path != path) return false;
  if (req.method != "GET" && req.method != "HEAD") {
    out.Send(405, "text/plain", "only GET and HEAD\n", {{"Allow", "GET, HEAD"}});
    return true;
  }
  auto acquire = [&pool] { return pool != nullptr ? pool->Acquire() : std::string(); };
  auto give_back = [&pool](std::string& buffer) {
    if (pool != nullptr) pool->Release(std::move(buffer));
  };
  // The page is rendered into a pooled buffer and each conversion into
  // another; the one that is sent goes to the server as is (SendOwned) and
  // comes back to the pool when the last byte went out.
  std::string payload = acquire();
  collector.RenderInto(payload);
  const metrics::ExpositionFormat format = metrics::NegotiateFormat(req.Header("accept"));
  if (format == metrics::ExpositionFormat::kOpenMetrics) {
    std::string converted = acquire();
    metrics::ClassicToOpenMetrics(payload, converted);
    std::swap(payload, converted);
    give_back(converted);
  }
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Vary", "Accept, Accept-Encoding"}};
  if (metrics::AcceptsGzip(req.Header("accept-encoding"))) {
    std::string compressed = acquire();
    if (metrics::Gzip(payload, compressed).ok()) {
      std::swap(payload, compressed);
      headers.emplace_back("Content-Encoding", "gzip");
    }
    give_back(compressed);
  }
  api::ResponseBody body =
      pool != nullptr
          ? api::ResponseBody(std::move(payload),
                              [pool](std::string&& buffer) { pool->Release(std::move(buffer)); })
          : api::ResponseBody(std::move(payload));
  out.SendOwned(200,
                format == metrics::ExpositionFormat::kOpenMetrics
                    ? metrics::kOpenMetricsContentType
                    : metrics::kClassicContentType,
                std::move(body), headers);
  return true;
}

absl::Status HttpEndpoints::Start(api::Daemon& daemon, const policy::ServerConfig& server,
                                  const std::vector<std::string>& listen,
                                  const std::string& token, metrics::MetricsSources sources,
                                  std::string backend_name) {
  rejected_ = std::make_shared<api::RejectCounters>();
  sources.api_rejected = [rejected = rejected_] { return rejected->Snapshot(); };
  metrics::MetricsOptions mopts;
  mopts.backend = std::move(backend_name);
  collector_ = std::make_unique<metrics::MetricsCollector>(std::move(sources), mopts);
  const std::vector<std::string> tcp = listen.empty() ? server.listen : listen;
  if (tcp.empty() && server.api_socket.empty()) {
    return absl::FailedPreconditionError(
        "server.listen and server.api_socket are both empty: nothing to listen on");
  }
  api::ApiServerOptions ao;
  ao.http.listen.clear();  // set below when plain HTTP is served
  ao.router.token = token;
  ao.router.public_reads = server.public_reads;
  ao.router.max_streams_per_peer = static_cast<int>(server.max_streams_per_peer);
  ao.max_connections_per_peer = static_cast<int>(server.max_connections_per_peer);
  ao.http.io_timeout = server.request_timeout;
  ao.http.rejected = rejected_;
  ao.mhd.max_connections = std::max(256, static_cast<int>(8 * server.max_connections_per_peer));
  ao.budget_exempt_paths.push_back(server.metrics_path);
  std::optional<api::TlsServerSettings> tls;
  if (!server.web_config.empty()) {
    absl::StatusOr<api::WebConfig> wc = api::LoadWebConfig(server.web_config);
    if (!wc.ok()) {
      return absl::InvalidArgumentError(ToAbsl(StrCat(
          "web config: ", ToStd(wc.status().message()))));
    }
    tls = wc->tls;
    ao.basic_auth_users = wc->basic_auth_users;
  }
  if (!tls.has_value() && server.tls) {
    // The daemon's own key pair; the CLI pins it (<state_dir>/api-tls/pin).
    absl::StatusOr<api::SelfSignedFiles> own =
        api::LoadOrCreateSelfSigned(api::DaemonTlsDir(server.state_dir));
    if (!own.ok()) return own.status();
    tls = api::TlsServerSettings{};
    tls->cert_file = own->cert_file;
    tls->key_file = own->key_file;
  }
  if (tls.has_value()) {
    // Every TCP listener is TLS (GnuTLS), with the web config's client
    // certificate policy and lowest version.
    for (const std::string& l : tcp) {
      api::MhdListener listener;
      listener.address = l;
      listener.cert_file = tls->cert_file;
      listener.key_file = tls->key_file;
      listener.client_ca_file = tls->client_ca_file;
      listener.client_auth_type = tls->client_auth_type;
      listener.min_version = tls->min_version;
      ao.mhd.listeners.push_back(std::move(listener));
    }
  } else {
    ao.http.listen = tcp;  // plain HTTP
  }
  if (!server.api_socket.empty()) {
    api::MhdListener admin;
    admin.address = StrCat("unix:", server.api_socket);
    ao.mhd.listeners.insert(ao.mhd.listeners.begin(), std::move(admin));
  }
  const std::string metrics_path = server.metrics_path;
  metrics::MetricsCollector* collector = collector_.get();
  // Two pages wait between scrapes (a Prometheus pair scraping at once);
  // more concurrent scrapes each hold one only while in flight.
  std::shared_ptr<metrics::PagePool> pool = metrics::PagePool::Create(2);
  ao.mhd_first = [collector, metrics_path, pool](const api::HttpRequest& req,
                                                 api::ResponseWriter& out) {
    return ServeMetrics(*collector, metrics_path, req, out, pool);
  };
  JW_ASSIGN_OR_RETURN(api_, api::ApiServer::Start(daemon, ao));
  std::vector<std::string> where;
  const std::vector<int> bound = ports();
  for (std::size_t i = 0; i < tcp.size() && i < bound.size(); ++i) {
    where.push_back(StrCat(tls.has_value() ? "https://" : "http://",
                           tcp[i].substr(0, tcp[i].rfind(':')), ":", bound[i]));
  }
  if (!server.api_socket.empty()) where.push_back(StrCat("unix:", server.api_socket));
  LogInfo("listening", {{"addresses", Join(where, ",")},
                        {"basic_auth", ao.basic_auth_users.empty() ? "off" : "on"},
                        {"metrics", server.metrics_path},
                        {"token_file", server.token_file}});
  return absl::OkStatus();
}

void HttpEndpoints::Stop() {
  if (api_ != nullptr) api_->Stop();
  api_.reset();
}

std::vector<int> HttpEndpoints::ports() const {
  if (api_ == nullptr) return {};
  std::vector<int> out = api_->ports();
  for (int p : api_->mhd_ports()) {
    if (p != 0) out.push_back(p);  // TLS listeners; 0 is the unix socket
  }
  return out;
}

}  // namespace jailwarden::service
