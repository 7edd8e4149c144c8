// /metrics as the daemon serves it (service::ServeMetrics on the one
// libmicrohttpd server, api::MhdServer): the classic text, OpenMetrics on
// request, gzip, HEAD, 405/404, and concurrent scrapes that keep no page
// per worker.

#include <arpa/inet.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes/snapshot_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/mhd_server.h"
#include "jailwarden/base/strings.h"
#include "metrics/snapshot_builder.h"
#include "service/http_endpoints.h"

namespace jailwarden::metrics {
namespace {

// The daemon's server with only the /metrics route, on 127.0.0.1.
std::unique_ptr<api::MhdServer> Serve(MetricsCollector& collector) {
  api::MhdServerOptions o;
  api::MhdListener loopback;
  loopback.address = "127.0.0.1:0";
  o.listeners.push_back(loopback);
  absl::StatusOr<std::unique_ptr<api::MhdServer>> s = api::MhdServer::Start(
      std::move(o), [&collector](const api::HttpRequest& req, api::ResponseWriter& out) {
        if (!service::ServeMetrics(collector, "/metrics", req, out)) {
          out.Send(404, "text/plain", "not found\n", {});
        }
      });
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// "HTTP/1.x NNN": the status code of a response.
int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return -1;
  return std::atoi(response.substr(9, 3).c_str());
}

using ::testing::HasSubstr;
using ::testing::Not;

// One HTTP/1.0 request to 127.0.0.1:port; the whole response.
std::string Fetch(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "connect failed";
  }
  EXPECT_EQ(write(fd, request.data(), request.size()),
            static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

TEST(MetricsRouteTest, ServesTextExpositionOnLoopback) {
  fakes::SnapshotBuilder b(absl::FromUnixSeconds(1700000000));
  auto snap = testing::BuildTicks(b, {testing::MakeJail("web", 3)});
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  std::unique_ptr<api::MhdServer> server = Serve(collector);
  ASSERT_NE(server, nullptr);
  const int port = server->ports().at(0);
  ASSERT_GT(port, 0);

  const std::string response = Fetch(port, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(StatusOf(response), 200) << response.substr(0, 200);
  EXPECT_THAT(response, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8"));
  EXPECT_THAT(response, HasSubstr("\r\n\r\n# HELP jailwarden_build_info "));
  EXPECT_THAT(response, HasSubstr("\njail_memoryuse_bytes{name=\"web\"} 67108864\n"));

  const std::string head = Fetch(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(StatusOf(head), 200);
  EXPECT_EQ(head.find("# HELP"), std::string::npos);

  EXPECT_EQ(StatusOf(Fetch(port, "GET /other HTTP/1.0\r\n\r\n")), 404);
  EXPECT_EQ(StatusOf(Fetch(port, "GET /metricsx HTTP/1.0\r\n\r\n")), 404);
  const std::string post = Fetch(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(StatusOf(post), 405);
  EXPECT_THAT(post, HasSubstr("Allow: GET, HEAD"));
}

TEST(MetricsRouteTest, OpenMetricsOnRequestAndGzip) {
  fakes::SnapshotBuilder b(absl::FromUnixSeconds(1700000000));
  auto snap = testing::BuildTicks(b, {testing::MakeJail("web", 3)});
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  std::unique_ptr<api::MhdServer> server = Serve(collector);
  ASSERT_NE(server, nullptr);
  const int port = server->ports().at(0);

  // Prometheus' default Accept: OpenMetrics, ending in # EOF.
  const std::string om = Fetch(
      port,
      "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;version=1.0.0,"
      "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n");
  EXPECT_EQ(StatusOf(om), 200);
  EXPECT_THAT(om, HasSubstr("Content-Type: application/openmetrics-text; version=1.0.0; "
                            "charset=utf-8\r\n"));
  EXPECT_THAT(om, HasSubstr("Vary: Accept, Accept-Encoding\r\n"));
  EXPECT_THAT(om, HasSubstr("\n# TYPE jail_cputime_seconds counter\n"));
  EXPECT_THAT(om, ::testing::EndsWith("\n# EOF\n"));
  const std::size_t body = om.find("\r\n\r\n") + 4;
  EXPECT_THAT(om, HasSubstr(StrCat("Content-Length: ", om.size() - body, "\r\n")));

  // curl's default: the classic text.
  const std::string classic = Fetch(port, "GET /metrics HTTP/1.0\r\nAccept: */*\r\n\r\n");
  EXPECT_THAT(classic, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8"));
  EXPECT_EQ(classic.find("# EOF"), std::string::npos);

  // gzip when asked: the gzip magic right after the headers.
  const std::string gz =
      Fetch(port, "GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
  EXPECT_THAT(gz, HasSubstr("Content-Encoding: gzip\r\n"));
  const std::size_t gz_body = gz.find("\r\n\r\n") + 4;
  ASSERT_LT(gz_body + 2, gz.size());
  EXPECT_EQ(static_cast<unsigned char>(gz[gz_body]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz[gz_body + 1]), 0x8b);
  EXPECT_LT(gz.size() - gz_body, classic.size() / 3);
  EXPECT_THAT(Fetch(port, "GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip;q=0\r\n\r\n"),
              Not(HasSubstr("Content-Encoding")));
}

#if defined(__GLIBC__)
// Bytes the allocator has handed out and not taken back, all arenas.
std::size_t HeldBytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Many workers serving scrapes at once: every answer is the whole page,
// and what stays allocated afterwards is a couple of pages, not one per
// worker that served a scrape (issue 16: per-worker buffers were most of
// the daemon's memory per jail).
TEST(MetricsRouteTest, ConcurrentScrapesKeepNoPagePerWorker) {
  fakes::SnapshotBuilder b(absl::FromUnixSeconds(1700000000));
  std::vector<testing::FakeJail> jails;
  for (int i = 0; i < 400; ++i) {
    jails.push_back(testing::MakeJail(StrCat("jail", i), i + 1));
  }
  auto snap = testing::BuildTicks(b, jails);
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  constexpr int kWorkers = 8;
  std::unique_ptr<api::MhdServer> server = Serve(collector);
  ASSERT_NE(server, nullptr);
  const int port = server->ports().at(0);
  const std::string first = Fetch(port, "GET /metrics HTTP/1.0\r\n\r\n");
  const std::size_t page = first.size() - (first.find("\r\n\r\n") + 4);
  ASSERT_GT(page, 100'000u);
  const std::size_t held_before = HeldBytes();

  std::vector<std::thread> clients;
  std::vector<std::string> bodies(kWorkers * 4);
  for (int c = 0; c < kWorkers; ++c) {
    clients.emplace_back([&, c] {
      for (int k = 0; k < 4; ++k) {
        const std::string r = Fetch(port, "GET /metrics HTTP/1.0\r\n\r\n");
        bodies[static_cast<std::size_t>(c * 4 + k)] = r.substr(r.find("\r\n\r\n") + 4);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  for (const std::string& body : bodies) {
    // Whole pages: the same size but for the render counters' digits.
    ASSERT_NEAR(static_cast<double>(body.size()), static_cast<double>(page), 200.0);
    EXPECT_THAT(body, HasSubstr("jail_memoryuse_bytes{name=\"jail399\"}"));
  }
  bodies.clear();
  bodies.shrink_to_fit();
  const std::size_t held_after = HeldBytes();
  EXPECT_LT(held_after, held_before + 3 * page)
      << "held " << held_before << " -> " << held_after << " bytes, page " << page;
}
#endif  // __GLIBC__

}  // namespace
}  // namespace jailwarden::metrics
