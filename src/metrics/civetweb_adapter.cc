// Every CivetWeb call of the metrics layer. CivetServer's constructor throws
// CivetException; handler code must not let anything escape into CivetWeb's
// C threads, so each entry point catches here (style.md "Errors").

#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "CivetServer.h"
#include "civetweb.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/metrics/http.h"
#include "metrics/exposition.h"

namespace jailwarden::metrics {
namespace {

// The response buffers of one scrape (the page, its OpenMetrics form, its
// gzip form), each as large as the page: ~5 KB per jail.
struct ScrapeBuffers {
  std::string body;
  std::string converted;
  std::string compressed;
};

// A few ScrapeBuffers shared by every CivetWeb worker. Buffers kept per
// worker thread (thread_local) cost one page per worker that ever served a
// scrape, which with the API's 60+ workers was most of the daemon's memory
// per jail (bench/README.md, issue 16). Renders are serialised by the
// collector, so more than kKeep sets are needed only while slow clients
// are still being written to; those extra sets are freed after use.
// Thread-safe.
class BufferPool {
 public:
  static constexpr std::size_t kKeep = 2;

  std::unique_ptr<ScrapeBuffers> Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<ScrapeBuffers> b = std::move(idle_.back());
        idle_.pop_back();
        return b;
      }
    }
    return std::make_unique<ScrapeBuffers>();
  }

  void Give(std::unique_ptr<ScrapeBuffers> b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kKeep) {
      idle_.push_back(std::move(b));
    }
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<ScrapeBuffers>> idle_;
};

class MetricsHandler final : public CivetHandler, public MetricsEndpoint {
 public:
  MetricsHandler(CivetServer& server, MetricsCollector& collector, std::string path)
      : server_(server), collector_(collector), path_(std::move(path)) {}

  ~MetricsHandler() override {
    // After CivetServer::close() the context is gone and removeHandler would
    // dereference it; the handler is unreachable then anyway.
    if (server_.getContext() != nullptr) {
      server_.removeHandler(StrCat(path_, "$"));
    }
  }

  const std::string& path() const override { return path_; }

  bool handleGet(CivetServer* /*server*/, mg_connection* conn) override {
    return Respond(conn, /*with_body=*/true);
  }
  bool handleHead(CivetServer* /*server*/, mg_connection* conn) override {
    return Respond(conn, /*with_body=*/false);
  }

 private:
  bool Respond(mg_connection* conn, bool with_body) {
    std::unique_ptr<ScrapeBuffers> buffers;
    try {
      buffers = pool_.Take();
    } catch (const std::exception& e) {
      LogError("metrics: no memory for a scrape", {{"error", e.what()}});
      mg_send_http_error(conn, 500, "%s", "out of memory");
      return true;
    }
    const bool answered = RespondWith(conn, with_body, *buffers);
    pool_.Give(std::move(buffers));
    return answered;
  }

  bool RespondWith(mg_connection* conn, bool with_body, ScrapeBuffers& buffers) {
    std::string& body = buffers.body;
    std::string& converted = buffers.converted;
    std::string& compressed = buffers.compressed;
    const char* accept = mg_get_header(conn, "Accept");
    const char* encoding = mg_get_header(conn, "Accept-Encoding");
    const ExpositionFormat format = NegotiateFormat(accept != nullptr ? accept : "");
    try {
      collector_.RenderInto(body);
    } catch (const std::exception& e) {
      LogError("metrics: render failed", {{"error", e.what()}});
      mg_send_http_error(conn, 500, "%s", "render failed");
      return true;
    }
    const std::string* payload = &body;
    if (format == ExpositionFormat::kOpenMetrics) {
      ClassicToOpenMetrics(body, converted);
      payload = &converted;
    }
    bool gzip = AcceptsGzip(encoding != nullptr ? encoding : "");
    if (gzip) {
      if (absl::Status st = Gzip(*payload, compressed); st.ok()) {
        payload = &compressed;
      } else {
        LogError("metrics: gzip failed, answering uncompressed",
                 {{"error", std::string(st.message())}});
        gzip = false;
      }
    }
    const std::string type(format == ExpositionFormat::kOpenMetrics ? kOpenMetricsContentType
                                                                    : kClassicContentType);
    const std::string length = StrCat(payload->size());
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type", type.c_str(), -1);
    if (gzip) {
      mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
    }
    mg_response_header_add(conn, "Vary", "Accept, Accept-Encoding", -1);
    mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
    mg_response_header_send(conn);
    if (with_body) {
      mg_write(conn, payload->data(), payload->size());
    }
    return true;
  }

  CivetServer& server_;
  MetricsCollector& collector_;
  std::string path_;
  BufferPool pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> RegisterMetricsHandler(
    CivetServer& server, MetricsCollector& collector, std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("metrics path must start with '/': \"", path, "\"")));
  }
  auto handler = std::make_unique<MetricsHandler>(server, collector, std::string(path));
  // addHandler does not throw; "$" anchors the URI so /metricsfoo is not ours.
  server.addHandler(StrCat(path, "$"), handler.get());
  return std::unique_ptr<MetricsEndpoint>(std::move(handler));
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    MetricsCollector& collector, std::string_view listen_address, std::string_view path,
    int threads) {
  if (listen_address.empty() || listen_address.find(':') == std::string_view::npos) {
    return absl::InvalidArgumentError(ToAbsl(
        StrCat("listen address must be HOST:PORT or [IPv6]:PORT: \"", listen_address, "\"")));
  }
  std::unique_ptr<MetricsHttpServer> self(new MetricsHttpServer());
  const std::vector<std::string> options = {
      "listening_ports", std::string(listen_address),
      "num_threads", StrCat(threads < 1 ? 1 : threads),
      "enable_keep_alive", "yes",
      "request_timeout_ms", "10000",
  };
  try {
    self->server_ = std::make_unique<CivetServer>(options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        ToAbsl(StrCat("metrics: cannot listen on ", listen_address, ": ", e.what())));
  }
  const std::vector<int> ports = self->server_->getListeningPorts();
  self->port_ = ports.empty() ? 0 : ports.front();
  auto endpoint = RegisterMetricsHandler(*self->server_, collector, path);
  if (!endpoint.ok()) {
    return endpoint.status();
  }
  self->endpoint_ = std::move(*endpoint);
  return self;
}

MetricsHttpServer::~MetricsHttpServer() {
  // Stop the worker threads first so no request is inside the handler when
  // it is destroyed.
  if (server_ != nullptr) {
    server_->close();
  }
  endpoint_.reset();
}

}  // namespace jailwarden::metrics
