#pragma once

// The TLS settings of a libmicrohttpd listener (MhdListener's
// client_auth_type, min_version) and the client-certificate check run
// before a TLS request is served. Private to src/api/mhd_*.cc.
// Thread-safe (no shared state).

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "jailwarden/api/mhd_server.h"

struct MHD_Connection;

namespace jailwarden::api::mhd_internal {

// What a TLS listener asks of its clients' certificates.
struct ClientAuth {
  bool request = false;  // ask for one in the handshake
  bool require = false;  // refuse requests without one
  bool verify = false;   // refuse one client_ca_file did not sign
};

// The listener's client_auth_type. InvalidArgument for a name
// exporter-toolkit does not define, or a *Verify* type without
// client_ca_file.
absl::StatusOr<ClientAuth> ParseClientAuth(const MhdListener& l);

// GnuTLS priorities allowing the listener's min_version and every later
// version ("NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" for TLS12).
// InvalidArgument for anything but TLS10, TLS11, TLS12, TLS13.
absl::StatusOr<std::string> PrioritiesFor(const MhdListener& l);

// Why the client of TLS connection `c` may not be served under `auth`, or
// nullopt. GnuTLS verifies the chain against the listener's trust list
// (client_ca_file): signatures, validity dates, CA flags.
std::optional<std::string> ClientCertProblem(MHD_Connection* c, const ClientAuth& auth);

}  // namespace jailwarden::api::mhd_internal
