#pragma once

// The Prometheus exporter-toolkit web configuration file
// (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md),
// as `server.web_config` or `serve --web.config.file` name it:
//
//   tls_server_config:
//     cert_file: server.crt          # relative to the file's directory
//     key_file: server.key
//     client_auth_type: RequireAndVerifyClientCert
//     client_ca_file: clients.pem
//     min_version: TLS12              # TLS10, TLS11, TLS12, TLS13
//   basic_auth_users:
//     prometheus: $2y$10$...          # bcrypt only
//
// Both sections apply to every path of the listener (/metrics, /healthz,
// the API). Keys exporter-toolkit knows but jailwarden cannot honour
// (cipher_suites, curve_preferences, max_version,
// prefer_server_cipher_suites, http_server_config) are refused rather than
// ignored, as are unknown keys.
//
// Thread-safety: a parsed WebConfig is immutable; BasicAuthChecker is
// thread-safe.

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "jailwarden/api/tls.h"

namespace jailwarden::api {

struct WebConfig {
  // Set when the file has tls_server_config (then the listener is TLS with
  // these files instead of the generated key pair).
  std::optional<TlsServerSettings> tls;
  // User name -> bcrypt hash ($2a$, $2b$ or $2y$). Empty: no basic auth.
  std::map<std::string, std::string> basic_auth_users;
};

// Parses `text` as the web config file `filename` (relative paths are
// resolved against its directory). InvalidArgument with
// "FILE:LINE:COL: message" on the first problem: YAML syntax, unknown key,
// wrong type, a client_auth_type or min_version exporter-toolkit does not
// know, cert_file without key_file, a *Verify* auth type without
// client_ca_file, a user whose hash is not bcrypt.
absl::StatusOr<WebConfig> ParseWebConfig(std::string_view text,
                                         const std::string& filename);
// Reads and parses the file; errno statuses when it cannot be read.
absl::StatusOr<WebConfig> LoadWebConfig(const std::string& path);

// Checks "Authorization: Basic ..." values against the users' bcrypt hashes
// (libxcrypt's crypt_r). A successful check is remembered (as a SHA-256 of
// user, password and hash) so scrapes do not pay bcrypt's cost each time,
// as exporter-toolkit does; the memory holds at most 256 entries.
class BasicAuthChecker {
 public:
  explicit BasicAuthChecker(std::map<std::string, std::string> users)
      : users_(std::move(users)) {}
  bool enabled() const { return !users_.empty(); }
  // True when `authorization` (the header's value) names a user with its
  // password. False for anything else, including a malformed header.
  bool Check(std::string_view authorization);

 private:
  const std::map<std::string, std::string> users_;
  std::mutex mu_;
  std::set<std::string> verified_;  // guarded by mu_
};

// True when `password` matches the bcrypt `hash` (crypt_r). False for a
// hash libxcrypt does not accept.
bool BcryptMatches(std::string_view password, const std::string& hash);

}  // namespace jailwarden::api
