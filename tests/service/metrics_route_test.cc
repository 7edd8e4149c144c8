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

#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes/gunzip.h"
#include "fakes/snapshot_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/mhd_server.h"
#include "jailwarden/base/strings.h"
#include "metrics/page_pool.h"
#include "metrics/snapshot_builder.h"
#include "service/http_endpoints.h"

namespace jailwarden::metrics {
namespace {

// The daemon's server with only the /metrics route, on 127.0.0.1 (pages
// from `pool` when given, as the daemon serves them).
std::unique_ptr<api::MhdServer> Serve(MetricsCollector& collector,
                                      std::shared_ptr<PagePool> pool = nullptr) {
  api::MhdServerOptions o;
  api::MhdListener loopback;
  loopback.address = "127.0.0.1:0";
  o.listeners.push_back(loopback);
  absl::StatusOr<std::unique_ptr<api::MhdServer>> s = api::MhdServer::Start(
      std::move(o), [&collector, pool](const api::HttpRequest& req, api::ResponseWriter& out) {
        if (!service::ServeMetrics(collector, "/metrics", req, out, pool)) {
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

// A body handed to a writer comes back to its owner exactly once, moved
// or not, and the default SendOwned (a writer that cannot take it) still
// sends the text.
TEST(ResponseBodyTest, ReleasesExactlyOnce) {
  int released = 0;
  std::string back;
  {
    api::ResponseBody a(std::string(5000, 'x'), [&](std::string&& s) {
      ++released;
      back = std::move(s);
    });
    api::ResponseBody b(std::move(a));
    api::ResponseBody c;
    c = std::move(b);
    EXPECT_EQ(c.text().size(), 5000u);
    EXPECT_EQ(released, 0);
  }
  EXPECT_EQ(released, 1);
  EXPECT_EQ(back.size(), 5000u);
}

TEST(PagePoolTest, ReusesBuffersAndKeepsAtMostMaxIdle) {
  std::shared_ptr<PagePool> pool = PagePool::Create(2);
  std::vector<std::string> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(pool->Acquire());
    held.back().assign(100'000, 'a');
  }
  EXPECT_EQ(pool->stats().outstanding, 5u);
  EXPECT_EQ(pool->stats().created, 5u);
  for (std::string& h : held) pool->Release(std::move(h));
  PagePool::Stats st = pool->stats();
  EXPECT_EQ(st.idle, 2u);
  EXPECT_EQ(st.outstanding, 0u);
  EXPECT_EQ(st.largest, 100'000u);
  // Reused: empty, capacity kept, nothing new made.
  std::string again = pool->Acquire();
  EXPECT_TRUE(again.empty());
  EXPECT_GE(again.capacity(), 100'000u);
  EXPECT_EQ(pool->stats().created, 5u);
  // Once the idle ones are taken, a new buffer comes reserved to the
  // largest page.
  std::string second = pool->Acquire();
  std::string fresh = pool->Acquire();
  EXPECT_EQ(pool->stats().created, 6u);
  EXPECT_GE(fresh.capacity(), 100'000u);
  pool->Release(std::move(again));
  pool->Release(std::move(second));
  pool->Release(std::move(fresh));
  EXPECT_EQ(pool->stats().idle, 2u);
}


// The daemon's way: pages rendered into a bounded pool and handed to MHD
// without a copy. Concurrent scrapes, plain, gzip and OpenMetrics mixed,
// each get a whole, correct page; afterwards every buffer is back, at most
// two wait, and sequential scrapes reuse them instead of making new ones.
TEST(MetricsRouteTest, PooledPagesAreWholeUnderConcurrentScrapes) {
  fakes::SnapshotBuilder b(absl::FromUnixSeconds(1700000000));
  std::vector<testing::FakeJail> jails;
  for (int i = 0; i < 300; ++i) {
    jails.push_back(testing::MakeJail(StrCat("jail", i), i + 1));
  }
  auto snap = testing::BuildTicks(b, jails);
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  std::shared_ptr<PagePool> pool = PagePool::Create(2);
  std::unique_ptr<api::MhdServer> server = Serve(collector, pool);
  ASSERT_NE(server, nullptr);
  const int port = server->ports().at(0);
  auto body_of = [](const std::string& r) { return r.substr(r.find("\r\n\r\n") + 4); };
  const std::string page = body_of(Fetch(port, "GET /metrics HTTP/1.0\r\n\r\n"));
  ASSERT_GT(page.size(), 100'000u);

  constexpr int kClients = 6;
  constexpr int kEach = 5;
  const std::vector<std::string> requests = {
      "GET /metrics HTTP/1.0\r\n\r\n",
      "GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n",
      "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text\r\n"
      "Accept-Encoding: gzip\r\n\r\n",
  };
  std::vector<std::string> got(kClients * kEach);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int k = 0; k < kEach; ++k) {
        got[static_cast<std::size_t>(c * kEach + k)] =
            Fetch(port, requests[static_cast<std::size_t>(c + k) % requests.size()]);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  for (const std::string& r : got) {
    ASSERT_EQ(StatusOf(r), 200) << r.substr(0, 200);
    const std::size_t at = r.find("\r\n\r\n") + 4;
    EXPECT_THAT(r.substr(0, at), HasSubstr(StrCat("Content-Length: ", r.size() - at, "\r\n")));
    std::string body = r.substr(at);
    if (r.substr(0, at).find("Content-Encoding: gzip") != std::string::npos) {
      body = fakes::Gunzip(body);
    }
    // Whole: from the first family to the last series (the classic page's
    // render counters differ only in their digits).
    EXPECT_EQ(body.rfind("# HELP jailwarden_build_info ", 0), 0u) << body.substr(0, 100);
    EXPECT_THAT(body, HasSubstr("\njail_memoryuse_bytes{name=\"jail299\"} "));
    if (r.find("openmetrics") != std::string::npos) {
      EXPECT_THAT(body, ::testing::EndsWith("\n# EOF\n"));
    } else {
      EXPECT_NEAR(static_cast<double>(body.size()), static_cast<double>(page.size()), 200.0);
    }
  }
  // Every buffer comes back once MHD is done with its response (on its
  // thread, just after the client saw the last byte).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pool->stats().outstanding != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  PagePool::Stats st = pool->stats();
  EXPECT_EQ(st.outstanding, 0u);
  EXPECT_LE(st.idle, 2u);
  // One at a time: the waiting buffers serve every scrape.
  for (int k = 0; k < 10; ++k) {
    ASSERT_EQ(StatusOf(Fetch(port, requests[static_cast<std::size_t>(k) % 2])), 200);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pool->stats().outstanding != 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  EXPECT_EQ(pool->stats().created, st.created);
  EXPECT_LE(pool->stats().idle, 2u);
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
