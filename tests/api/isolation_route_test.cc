// Issue 13: GET /v1/jails/NAME reports what isolates a running jail
// ("isolation": the layers in force, the seccomp filter's relaxations and
// linux.seccomp lists, the disk quota with its mechanism, limit and usage),
// and the client reads it back as the daemon sent it. A jail without a
// report (stopped, or a backend that gives none) has no "isolation" key.

#include <memory>
#include <optional>
#include <string>

#include "api/fake_daemon.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/server.h"
#include "jailwarden/base/strings.h"
#include "nlohmann/json.hpp"

namespace jailwarden::api {
namespace {

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

platform::IsolationStatus Relaxed() {
  platform::IsolationStatus iso;
  const bool on[] = {true, false, false, true, true, true};
  std::size_t i = 0;
  for (const char* layer : platform::kIsolationLayers) {
    iso.layers.push_back({layer, on[i++]});
  }
  iso.seccomp_relaxed = {"mount"};
  iso.seccomp_allow = {"keyctl", "unshare"};
  iso.seccomp_deny = {"ptrace"};
  iso.disk_quota = platform::DiskQuotaStatus{
      .mechanism = "ext4_project", .limit_bytes = 8u << 20, .used_bytes = 4096};
  return iso;
}

class IsolationRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.AddJail("web", "running", 3);
    daemon_.AddJail("db", "stopped");
    daemon_.SetIsolation("web", Relaxed());
    ApiServerOptions options;
    options.http.listen = {"127.0.0.1:0"};
    options.router.token = kToken;
    absl::StatusOr<std::unique_ptr<ApiServer>> s = ApiServer::Start(daemon_, options);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    ClientOptions o;
    o.server = StrCat("http://127.0.0.1:", server_->ports()[0]);
    o.token = kToken;
    o.timeout = absl::Seconds(10);
    client_.emplace(o);
  }

  testing::FakeDaemon daemon_;
  std::unique_ptr<ApiServer> server_;
  std::optional<Client> client_;
};

TEST_F(IsolationRouteTest, GetJailShowsLayersSeccompAndDiskQuota) {
  absl::StatusOr<HttpResponse> r = client_->Do("GET", "/v1/jails/web", "");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << r->body;
  const nlohmann::json j = nlohmann::json::parse(r->body);
  const nlohmann::json& iso = j.at("isolation");
  EXPECT_EQ(iso.at("layers"),
            nlohmann::json::parse(R"({"seccomp":true,"userns":false,"keyring":false,)"
                                  R"("cgroup_ro":true,"masked_paths":true,"disk_quota":true})"));
  EXPECT_EQ(iso.at("seccomp"),
            nlohmann::json::parse(
                R"({"relaxed":["mount"],"allow":["keyctl","unshare"],"deny":["ptrace"]})"));
  EXPECT_EQ(iso.at("disk_quota"),
            nlohmann::json::parse(
                R"({"mechanism":"ext4_project","limit_bytes":8388608,"used_bytes":4096})"));
}

TEST_F(IsolationRouteTest, ClientReadsTheReportBack) {
  absl::StatusOr<JailInfo> info = client_->GetJail("web");
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_TRUE(info->isolation.has_value());
  const platform::IsolationStatus want = Relaxed();
  ASSERT_EQ(info->isolation->layers.size(), want.layers.size());
  for (std::size_t i = 0; i < want.layers.size(); ++i) {
    EXPECT_EQ(info->isolation->layers[i].layer, want.layers[i].layer);
    EXPECT_EQ(info->isolation->layers[i].on, want.layers[i].on) << want.layers[i].layer;
  }
  EXPECT_EQ(info->isolation->seccomp_relaxed, want.seccomp_relaxed);
  EXPECT_EQ(info->isolation->seccomp_allow, want.seccomp_allow);
  EXPECT_EQ(info->isolation->seccomp_deny, want.seccomp_deny);
  ASSERT_TRUE(info->isolation->disk_quota.has_value());
  EXPECT_EQ(info->isolation->disk_quota->mechanism, "ext4_project");
  EXPECT_EQ(info->isolation->disk_quota->limit_bytes, 8u << 20);
  EXPECT_EQ(info->isolation->disk_quota->used_bytes, std::optional<uint64_t>(4096));
  EXPECT_FALSE(info->isolation->mountinfo_truncated);
}

TEST_F(IsolationRouteTest, TruncatedMountTableIsReportedAsTruncated) {
  platform::IsolationStatus iso = Relaxed();
  iso.mountinfo_truncated = true;
  daemon_.SetIsolation("web", iso);
  absl::StatusOr<HttpResponse> r = client_->Do("GET", "/v1/jails/web", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(nlohmann::json::parse(r->body).at("isolation").at("mountinfo_truncated"), true)
      << r->body;
  absl::StatusOr<JailInfo> info = client_->GetJail("web");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->isolation->mountinfo_truncated);
}

TEST_F(IsolationRouteTest, NoReportNoKeyAndAnUnreadUsageIsNull) {
  absl::StatusOr<HttpResponse> r = client_->Do("GET", "/v1/jails/db", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(nlohmann::json::parse(r->body).contains("isolation")) << r->body;
  // The quota's usage could not be read: null, the limit still there.
  platform::IsolationStatus iso = Relaxed();
  iso.disk_quota->used_bytes.reset();
  daemon_.SetIsolation("web", iso);
  r = client_->Do("GET", "/v1/jails/web", "");
  ASSERT_TRUE(r.ok()) << r.status();
  const nlohmann::json quota = nlohmann::json::parse(r->body).at("isolation").at("disk_quota");
  EXPECT_TRUE(quota.at("used_bytes").is_null()) << quota;
  EXPECT_EQ(quota.at("limit_bytes"), 8388608);
  absl::StatusOr<JailInfo> info = client_->GetJail("web");
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_TRUE(info->isolation->disk_quota.has_value());
  EXPECT_FALSE(info->isolation->disk_quota->used_bytes.has_value());
  // No quota: null.
  iso.disk_quota.reset();
  daemon_.SetIsolation("web", iso);
  r = client_->Do("GET", "/v1/jails/web", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(nlohmann::json::parse(r->body).at("isolation").at("disk_quota").is_null());
  info = client_->GetJail("web");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_FALSE(info->isolation->disk_quota.has_value());
}

}  // namespace
}  // namespace jailwarden::api
