#pragma once

// TLS material for the API's clients (OpenSSL 3): public-key pins in
// libcurl's CURLOPT_PINNEDPUBLICKEY form ("sha256//BASE64" of the
// certificate's SubjectPublicKeyInfo), and a generated key pair (ECDSA
// P-256, self-signed for 127.0.0.1, ::1 and localhost, 0600 files in a 0700
// directory) with its pin. A client that pins a key ends the handshake with
// any other server before a request byte is sent.
//
// With server.tls the daemon serves its TCP listeners over TLS with this
// key pair (libmicrohttpd + GnuTLS: include/jailwarden/api/mhd_server.h;
// docs/api-security.md).
//
// Thread-safety: the free functions are thread-safe. Errors are absl
// statuses naming the file and, for OpenSSL failures, OpenSSL's reason.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden::api {

// Where the daemon keeps its generated key pair: <state_dir>/api-tls.
std::string DaemonTlsDir(const std::string& state_dir);

// The files under the directory LoadOrCreateSelfSigned manages.
struct SelfSignedFiles {
  std::string key_file;   // <dir>/key.pem, 0600
  std::string cert_file;  // <dir>/cert.pem, 0600
  std::string pin_file;   // <dir>/pin: "sha256//BASE64\n", 0600
  std::string pin;        // the pin itself
};

// Reads the key pair in `dir`, or (when key.pem is missing) creates `dir`
// (0700) and writes a new key, certificate and pin, each atomically
// (base::WriteFileAtomically), so a crash never leaves half a key. An
// existing key.pem or cert.pem readable by group or others is refused
// (FailedPrecondition, mode in the message); a key that does not match its
// certificate is DataLoss.
absl::StatusOr<SelfSignedFiles> LoadOrCreateSelfSigned(const std::string& dir);

// The pin of the public key in the PEM certificate `cert_pem`
// ("sha256//" + base64(SHA-256(SubjectPublicKeyInfo DER))).
// InvalidArgument when it is not a PEM certificate.
absl::StatusOr<std::string> PinOfCertificatePem(std::string_view cert_pem);

// Reads a pin file (or a PEM certificate, whose pin is computed).
// Errno statuses when unreadable, InvalidArgument when it holds neither.
absl::StatusOr<std::string> ReadPinFile(const std::string& path);

// True for "sha256//" followed by 44 base64 characters (one or more such
// pins joined with ';' as libcurl accepts).
bool IsValidPin(std::string_view pin);

// The TLS settings of a listener (exporter-toolkit's tls_server_config),
// as a web config names them.
struct TlsServerSettings {
  std::string cert_file;
  std::string key_file;
  // exporter-toolkit's client_auth_type: NoClientCert, RequestClientCert,
  // RequireAnyClientCert, VerifyClientCertIfGiven,
  // RequireAndVerifyClientCert.
  std::string client_auth_type = "NoClientCert";
  std::string client_ca_file;
  std::string min_version = "TLS12";  // TLS10..TLS13
};

}  // namespace jailwarden::api
