#include "service/http_endpoints.h"

#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::service {

absl::Status HttpEndpoints::Start(api::Daemon& daemon, const policy::ServerConfig& server,
                                  const std::vector<std::string>& listen,
                                  const std::string& token, metrics::MetricsSources sources,
                                  std::string backend_name) {
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
