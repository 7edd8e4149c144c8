// GET /v1/jails/NAME/logs (issue 17): NDJSON records filtered by since,
// tail and stream; follow streams what is written later; bad parameters
// are 400 naming the parameter; an unknown jail 404.

#include <stdlib.h>

#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "api/fake_daemon.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/server.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/logs.h"

namespace jailwarden::api {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

class LogsRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-logs-api-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    daemon_.log_root = root_;
    daemon_.AddJail("web", "running", 3);
    absl::StatusOr<jail::LogFileWriter> w =
        jail::LogFileWriter::Open(jail::LogDirFor(root_, "web"), {});
    ASSERT_TRUE(w.ok()) << w.status();
    writer_.emplace(*std::move(w));
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(writer_->Append({absl::FromUnixSeconds(1700000000 + i),
                                   i % 2 ? "stderr" : "stdout", "main", StrCat("line ", i)})
                      .ok());
    }
    ApiServerOptions options;
    options.http.listen = {"127.0.0.1:0"};
    options.router.token = kToken;
    options.router.stream_poll = absl::Milliseconds(10);
    absl::StatusOr<std::unique_ptr<ApiServer>> s = ApiServer::Start(daemon_, options);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    url_ = StrCat("http://127.0.0.1:", server_->ports()[0]);
  }
  void TearDown() override {
    server_.reset();
    (void)!system(("rm -rf '" + root_ + "'").c_str());
  }

  Client MakeClient() {
    ClientOptions o;
    o.server = url_;
    o.token = kToken;
    o.timeout = absl::Seconds(10);
    return Client(o);
  }

  testing::FakeDaemon daemon_;
  std::string root_;
  std::optional<jail::LogFileWriter> writer_;
  std::unique_ptr<ApiServer> server_;
  std::string url_;
};

TEST_F(LogsRouteTest, RecordsAsNdjsonWithTailAndStream) {
  Client c = MakeClient();
  absl::StatusOr<HttpResponse> r = c.Do("GET", "/v1/jails/web/logs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body,
            "{\"line\":\"line 0\",\"source\":\"main\",\"stream\":\"stdout\",\"time\":"
            "\"2023-11-14T22:13:20.000000000Z\"}\n"
            "{\"line\":\"line 1\",\"source\":\"main\",\"stream\":\"stderr\",\"time\":"
            "\"2023-11-14T22:13:21.000000000Z\"}\n"
            "{\"line\":\"line 2\",\"source\":\"main\",\"stream\":\"stdout\",\"time\":"
            "\"2023-11-14T22:13:22.000000000Z\"}\n"
            "{\"line\":\"line 3\",\"source\":\"main\",\"stream\":\"stderr\",\"time\":"
            "\"2023-11-14T22:13:23.000000000Z\"}\n");
  r = c.Do("GET", "/v1/jails/web/logs?stream=stderr&tail=1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body,
            "{\"line\":\"line 3\",\"source\":\"main\",\"stream\":\"stderr\",\"time\":"
            "\"2023-11-14T22:13:23.000000000Z\"}\n");
  r = c.Do("GET", "/v1/jails/web/logs?since=2023-11-14T22:13:22Z&stream=stdout");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body,
            "{\"line\":\"line 2\",\"source\":\"main\",\"stream\":\"stdout\",\"time\":"
            "\"2023-11-14T22:13:22.000000000Z\"}\n");
}

TEST_F(LogsRouteTest, BadParametersAre400AndUnknownJail404) {
  Client c = MakeClient();
  absl::StatusOr<HttpResponse> r = c.Do("GET", "/v1/jails/web/logs?stream=both");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("query parameter 'stream'"));
  r = c.Do("GET", "/v1/jails/web/logs?tail=-1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("query parameter 'tail'"));
  r = c.Do("GET", "/v1/jails/web/logs?since=yesterday");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("query parameter 'since'"));
  r = c.Do("GET", "/v1/jails/ghost/logs");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  r = c.Do("POST", "/v1/jails/web/logs");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
  r = MakeClient().Do("GET", "/v1/jails/web/logs?tail=0");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "");
}

TEST_F(LogsRouteTest, FollowStreamsWhatIsWrittenLater) {
  Client c = MakeClient();
  std::string got;
  std::thread later([this] {
    absl::SleepFor(absl::Milliseconds(100));
    ASSERT_TRUE(writer_->Append({absl::Now(), "stdout", "exec.start", "late line"}).ok());
  });
  absl::StatusOr<int> st = c.Stream("GET", "/v1/jails/web/logs?follow=1&tail=0", "",
                                    [&](std::string_view d) {
                                      got.append(d);
                                      return got.find("late line") == std::string::npos;
                                    });
  later.join();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(*st, 200);
  EXPECT_THAT(got, HasSubstr("\"source\":\"exec.start\""));
  EXPECT_THAT(got, HasSubstr("\"line\":\"late line\""));
}

}  // namespace
}  // namespace jailwarden::api
