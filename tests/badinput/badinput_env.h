#pragma once

// The bad-input suite's daemon: the real service::Daemon (its rooms, rule
// database, state store and runtime-rule record in a temporary state
// directory) behind the real api::ApiServer (libmicrohttpd, the router) on a
// loopback port, over the service tests' fake platform
// (tests/service/fake_host_backend.h: FakeJailRuntime, FakeUsageReader, an
// enforcer that records), so that no
// root or kernel jail is needed. Every case compares State() before and
// after: nothing a refused input touches may change.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/mhd_server.h"
#include "jailwarden/api/server.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/service/daemon.h"
#include "service/fake_host_backend.h"

namespace jailwarden::badinput {

inline constexpr char kToken[] = "badinput-token-0123456789abcdef";

using service::testing_support::FakeHostBackend;

// The policy every case starts from: one jail, one template, one rule.
inline constexpr char kBasePolicy[] = R"(server:
  state_dir: STATE
  sample_interval: 100ms
templates:
  small:
    persist: true
    limits:
      memoryuse: deny=64M
jails:
  db:
    path: /srv/db
    persist: true
    limits:
      memoryuse: deny=64M
rules:
  - jail:db:nthr:deny=50
)";

// Everything a refused input must leave as it was.
struct State {
  std::string rules;                           // rctl -l ::
  std::vector<std::string> jails;              // "name state" each
  std::map<std::string, std::string> files;    // state_dir, path -> content
  std::map<std::string, std::vector<std::string>> applied;  // the enforcer's
  friend bool operator==(const State&, const State&) = default;
};

inline std::string Describe(const State& s) {
  std::string out = StrCat("rules: ", s.rules, "\njails:");
  for (const std::string& j : s.jails) StrAppend(&out, " [", j, "]");
  StrAppend(&out, "\nfiles:");
  for (const auto& [path, content] : s.files) {
    StrAppend(&out, " ", path, "(", content.size(), ")");
  }
  return out;
}

class Env {
 public:
  Env() {
    char dir[] = "/tmp/jw-badinput-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    state_dir_ = dir;
    std::string text = kBasePolicy;
    text.replace(text.find("STATE"), 5, state_dir_);
    policy_text_ = text;
    absl::StatusOr<policy::Policy> p = policy::LoadPolicyText(text, "base.yaml");
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      return;
    }
    auto backend = std::make_unique<FakeHostBackend>();
    host_ = backend.get();
    service::DaemonOptions o;
    o.serve_http = false;
    o.run_sampler = false;
    o.maintenance_interval = absl::Hours(1);
    absl::StatusOr<std::unique_ptr<service::Daemon>> d =
        service::Daemon::Start(o, *std::move(p), std::move(backend));
    if (!d.ok()) {
      ADD_FAILURE() << d.status();
      return;
    }
    daemon_ = *std::move(d);
    api::ApiServerOptions options;
    options.http.listen = {"127.0.0.1:0"};
    options.router.token = kToken;
    absl::StatusOr<std::unique_ptr<api::ApiServer>> s =
        api::ApiServer::Start(*daemon_, options);
    if (!s.ok()) {
      ADD_FAILURE() << s.status();
      return;
    }
    server_ = *std::move(s);
    url_ = StrCat("http://127.0.0.1:", server_->ports()[0]);
    // Something that is not jailwarden, for --server mismatches: a plain
    // web server answering every request with an HTML 404.
    api::MhdServerOptions other;
    other.listeners = {api::MhdListener{"127.0.0.1:0", "", "", ""}};
    absl::StatusOr<std::unique_ptr<api::MhdServer>> web = api::MhdServer::Start(
        other, [](const api::HttpRequest&, api::ResponseWriter& out) {
          out.Send(404, "text/html", "<html><body>Not Found</body></html>");
        });
    if (!web.ok()) {
      ADD_FAILURE() << web.status();
      server_.reset();
      return;
    }
    other_ = *std::move(web);
    other_url_ = StrCat("http://127.0.0.1:", other_->ports()[0]);
  }
  ~Env() {
    if (other_ != nullptr) other_->Stop();
    other_.reset();
    server_.reset();
    daemon_.reset();
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }

  bool ok() const { return server_ != nullptr; }
  const std::string& url() const { return url_; }
  // A web server that is not jailwarden (every answer an HTML 404).
  const std::string& other_url() const { return other_url_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& policy_text() const { return policy_text_; }
  service::Daemon& daemon() { return *daemon_; }

  api::Client MakeClient() const {
    api::ClientOptions o;
    o.server = url_;
    o.token = kToken;
    o.timeout = absl::Seconds(20);
    return api::Client(o);
  }

  State Snapshot() {
    State s;
    absl::StatusOr<std::string> rules = daemon_->Rctl().GetRules("::");
    s.rules = rules.ok() ? *rules : StrCat("error: ", std::string(rules.status().message()));
    for (const api::JailInfo& j : daemon_->ListJails()) {
      s.jails.push_back(StrCat(j.name, " ", j.state, " ", j.path));
    }
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(state_dir_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::string path = it->path().string();
      if (it->is_regular_file(ec)) {
        absl::StatusOr<std::string> content = ReadFile(path, 1 << 20);
        s.files[path] = content.ok() ? *content : "(unreadable)";
      } else {
        s.files[path] = "(dir)";
      }
    }
    s.applied = host_->enforcer_.AppliedAll();
    return s;
  }

 private:
  std::string state_dir_;
  std::string policy_text_;
  std::string url_;
  FakeHostBackend* host_ = nullptr;
  std::unique_ptr<service::Daemon> daemon_;
  std::unique_ptr<api::ApiServer> server_;
  std::string other_url_;
  std::unique_ptr<api::MhdServer> other_;
};

}  // namespace jailwarden::badinput
