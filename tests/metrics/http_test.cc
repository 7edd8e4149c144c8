#include "jailwarden/metrics/http.h"

#include <arpa/inet.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "fakes/snapshot_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "metrics/snapshot_builder.h"

namespace jailwarden::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

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

TEST(MetricsHttpServerTest, ServesTextExpositionOnLoopback) {
  fakes::SnapshotBuilder b(absl::FromUnixSeconds(1700000000));
  auto snap = testing::BuildTicks(b, {testing::MakeJail("web", 3)});
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  auto server = MetricsHttpServer::Start(collector, "127.0.0.1:0", "/metrics");
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  const std::string response = Fetch(port, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_THAT(response, StartsWith("HTTP/1.0 200 OK"));
  EXPECT_THAT(response, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8"));
  EXPECT_THAT(response, HasSubstr("\r\n\r\n# HELP jailwarden_build_info "));
  EXPECT_THAT(response, HasSubstr("\njail_memoryuse_bytes{name=\"web\"} 67108864\n"));

  const std::string head = Fetch(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.0 200 OK"));
  EXPECT_EQ(head.find("# HELP"), std::string::npos);

  EXPECT_THAT(Fetch(port, "GET /other HTTP/1.0\r\n\r\n"), StartsWith("HTTP/1.0 404"));
  EXPECT_THAT(Fetch(port, "GET /metricsx HTTP/1.0\r\n\r\n"), StartsWith("HTTP/1.0 404"));
}

TEST(MetricsHttpServerTest, OpenMetricsOnRequestAndGzip) {
  fakes::SnapshotBuilder b(absl::FromUnixSeconds(1700000000));
  auto snap = testing::BuildTicks(b, {testing::MakeJail("web", 3)});
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  auto server = MetricsHttpServer::Start(collector, "127.0.0.1:0", "/metrics");
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();

  // Prometheus' default Accept: OpenMetrics, ending in # EOF.
  const std::string om = Fetch(
      port,
      "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;version=1.0.0,"
      "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n");
  EXPECT_THAT(om, StartsWith("HTTP/1.0 200 OK"));
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
TEST(MetricsHttpServerTest, ConcurrentScrapesKeepNoPagePerWorker) {
  fakes::SnapshotBuilder b(absl::FromUnixSeconds(1700000000));
  std::vector<testing::FakeJail> jails;
  for (int i = 0; i < 400; ++i) {
    jails.push_back(testing::MakeJail(StrCat("jail", i), i + 1));
  }
  auto snap = testing::BuildTicks(b, jails);
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  constexpr int kWorkers = 8;
  auto server = MetricsHttpServer::Start(collector, "127.0.0.1:0", "/metrics", kWorkers);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
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

TEST(MetricsHttpServerTest, RefusesBadAddressAndPath) {
  MetricsCollector collector({});
  auto no_port = MetricsHttpServer::Start(collector, "localhost");
  EXPECT_EQ(no_port.status().code(), absl::StatusCode::kInvalidArgument);
  auto bad_path = MetricsHttpServer::Start(collector, "127.0.0.1:0", "metrics");
  EXPECT_EQ(bad_path.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_path.status().message()), HasSubstr("must start with '/'"));
}

TEST(MetricsHttpServerTest, ReportsAPortInUse) {
  MetricsCollector collector({});
  auto first = MetricsHttpServer::Start(collector, "127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsHttpServer::Start(collector, taken);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(taken));
}

}  // namespace
}  // namespace jailwarden::metrics
