// TLS settings and the client-certificate check of the libmicrohttpd
// listeners (mhd_tls.h). The only GnuTLS calls of the API.

#include "api/mhd_tls.h"

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include <iterator>
#include <string_view>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api::mhd_internal {

absl::StatusOr<ClientAuth> ParseClientAuth(const MhdListener& l) {
  const std::string& t = l.client_auth_type;
  ClientAuth a;
  if (t == "NoClientCert" || t.empty()) return a;
  a.request = true;
  if (t == "RequestClientCert") return a;
  a.require = t == "RequireAnyClientCert" || t == "RequireAndVerifyClientCert";
  a.verify = t == "VerifyClientCertIfGiven" || t == "RequireAndVerifyClientCert";
  if (!a.require && !a.verify) {
    return absl::InvalidArgumentError(ToAbsl(StrCat(
        "listener ", l.address, ": client_auth_type '", t,
        "' is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, "
        "VerifyClientCertIfGiven, RequireAndVerifyClientCert")));
  }
  if (a.verify && l.client_ca_file.empty()) {
    return absl::InvalidArgumentError(ToAbsl(StrCat(
        "listener ", l.address, ": client_auth_type ", t, " needs client_ca_file")));
  }
  return a;
}

absl::StatusOr<std::string> PrioritiesFor(const MhdListener& l) {
  static constexpr std::string_view kVersions[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
  static constexpr std::string_view kGnutls[] = {"+VERS-TLS1.0", "+VERS-TLS1.1",
                                                 "+VERS-TLS1.2", "+VERS-TLS1.3"};
  const std::string& v = l.min_version.empty() ? std::string("TLS12") : l.min_version;
  for (std::size_t i = 0; i < std::size(kVersions); ++i) {
    if (v != kVersions[i]) continue;
    std::string p = "NORMAL:-VERS-ALL";
    for (std::size_t j = std::size(kVersions); j-- > i;) StrAppend(&p, ":", kGnutls[j]);
    return p;
  }
  return absl::InvalidArgumentError(ToAbsl(StrCat(
      "listener ", l.address, ": min_version '", v, "' is not one of TLS10, TLS11, TLS12, TLS13")));
}

std::optional<std::string> ClientCertProblem(MHD_Connection* c, const ClientAuth& auth) {
  if (!auth.require && !auth.verify) return std::nullopt;
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == nullptr || info->tls_session == nullptr) return "no TLS session";
  auto session = static_cast<gnutls_session_t>(info->tls_session);
  unsigned int count = 0;
  const gnutls_datum_t* chain = gnutls_certificate_get_peers(session, &count);
  if (chain == nullptr || count == 0) {
    if (auth.require) return "this listener requires a client certificate";
    return std::nullopt;
  }
  if (!auth.verify) return std::nullopt;
  unsigned int status = 0;
  const int rc = gnutls_certificate_verify_peers2(session, &status);
  if (rc < 0) return StrCat("client certificate not verified: ", gnutls_strerror(rc));
  if (status != 0) {
    gnutls_datum_t text{};
    std::string why = "not signed by the listener's client_ca_file";
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) ==
        0) {
      why.assign(reinterpret_cast<const char*>(text.data), text.size);
      gnutls_free(text.data);
    }
    return StrCat("client certificate refused: ", why);
  }
  return std::nullopt;
}

}  // namespace jailwarden::api::mhd_internal
