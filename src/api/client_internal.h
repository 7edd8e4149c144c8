#pragma once

// libcurl pieces shared by the client's request path (client_transport.cc)
// and its Upgrade (client_upgrade.cc). Thread-compatible.

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/api/client.h"

namespace jailwarden::api::client_internal {

struct Target {
  std::string url_base;     // "https://127.0.0.1:9814"
  std::string unix_socket;  // or "" for TCP
  bool tls = false;
};

// "https://H:P", "http://H:P", "H:P", "unix:PATH" -> Target.
// InvalidArgument for anything else.
absl::StatusOr<Target> ParseServer(std::string_view server);

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// A curl handle for `url` with everything but the request itself set:
// no proxy, timeouts, the unix socket, TLS verification (pin and/or CA,
// client certificate). InvalidArgument for a pin/CA on a non-https target
// or a malformed pin.
absl::StatusOr<std::unique_ptr<CURL, EasyDeleter>> NewEasy(const ClientOptions& o,
                                                          const Target& t,
                                                          const std::string& url);

// A libcurl error as the CLI reports it (Unavailable, DeadlineExceeded,
// PermissionDenied for TLS/pin failures).
absl::Status TransportError(int curl_code, const char* detail, const ClientOptions& o);

long Millis(absl::Duration d);

}  // namespace jailwarden::api::client_internal
