#include "jailwarden/api/tls.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// OpenSSL's queued errors, oldest first, and the queue cleared.
std::string OpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

absl::Status SslError(absl::StatusCode code, std::string_view what) {
  return absl::Status(code, ToAbsl(StrCat(what, ": ", OpenSslErrors())));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

absl::StatusOr<std::string> PinOfKey(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return SslError(absl::StatusCode::kInternal, "encode public key");
  unsigned char digest[32];
  unsigned int dlen = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(len), digest, &dlen,
                            EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1 || dlen != sizeof(digest)) {
    return SslError(absl::StatusCode::kInternal, "sha256");
  }
  unsigned char b64[64] = {};
  const int n = EVP_EncodeBlock(b64, digest, sizeof(digest));
  return StrCat("sha256//", std::string_view(reinterpret_cast<char*>(b64),
                                             static_cast<std::size_t>(n)));
}

absl::Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return SslError(absl::StatusCode::kInternal, StrCat("certificate extension ", value));
  }
  return absl::OkStatus();
}

struct NewPair {
  std::string key_pem;
  std::string cert_pem;
  std::string pin;
};

absl::StatusOr<NewPair> Generate() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return SslError(absl::StatusCode::kInternal, "generate P-256 key");
  X509Ptr cert(X509_new());
  if (cert == nullptr) return SslError(absl::StatusCode::kInternal, "X509_new");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return SslError(absl::StatusCode::kInternal, "RAND_bytes");
  }
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  ASN1_INTEGER* sn = X509_get_serialNumber(cert.get());
  const bool serial_ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, sn) != nullptr;
  BN_free(bn);
  if (!serial_ok || X509_set_version(cert.get(), 2) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 366 * 86400) == nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return SslError(absl::StatusCode::kInternal, "build certificate");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("jailwarden API"),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return SslError(absl::StatusCode::kInternal, "certificate name");
  }
  JW_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  JW_RETURN_IF_ERROR(AddExtension(cert.get(), NID_key_usage,
                                  "critical,digitalSignature,keyCertSign"));
  JW_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  JW_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  JW_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_alt_name,
                                  "DNS:localhost,IP:127.0.0.1,IP:::1"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return SslError(absl::StatusCode::kInternal, "sign certificate");
  }
  NewPair out;
  BioPtr kb(BIO_new(BIO_s_mem()));
  BioPtr cb(BIO_new(BIO_s_mem()));
  if (kb == nullptr || cb == nullptr ||
      PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr,
                               nullptr) != 1 ||
      PEM_write_bio_X509(cb.get(), cert.get()) != 1) {
    return SslError(absl::StatusCode::kInternal, "PEM encode");
  }
  out.key_pem = BioText(kb.get());
  out.cert_pem = BioText(cb.get());
  JW_ASSIGN_OR_RETURN(out.pin, PinOfKey(key.get()));
  return out;
}

// The file's mode must not let group or others read or write it.
absl::Status CheckPrivate(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, StrCat("stat ", path));
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return absl::FailedPreconditionError(ToAbsl(StrCat(
        path, " has mode ", mode, ": group or others can reach it; chmod 600 it")));
  }
  return absl::OkStatus();
}

absl::Status WritePrivate(const std::string& path, std::string_view contents) {
  JW_RETURN_IF_ERROR(WriteFileAtomically(path, contents));
  if (chmod(path.c_str(), 0600) != 0) return ErrnoStatus(errno, StrCat("chmod ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> PinOfCertificatePem(std::string_view cert_pem) {
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr cert(bio == nullptr ? nullptr
                              : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr) return SslError(absl::StatusCode::kInvalidArgument, "certificate key");
  return PinOfKey(key);
}

std::string DaemonTlsDir(const std::string& state_dir) {
  return StrCat(state_dir == "/" ? "" : state_dir, "/api-tls");
}

bool IsValidPin(std::string_view pin) {
  if (pin.empty()) return false;
  for (std::string_view one : Split(pin, ';')) {
    if (!StartsWith(one, "sha256//") || one.size() != 8 + 44 || one.back() != '=') {
      return false;
    }
    for (char c : one.substr(8, 43)) {
      const bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                       (c >= '0' && c <= '9') || c == '+' || c == '/';
      if (!b64) return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> ReadPinFile(const std::string& path) {
  JW_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  if (text.find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
    absl::StatusOr<std::string> pin = PinOfCertificatePem(text);
    if (!pin.ok()) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat(path, ": ", ToStd(pin.status().message()))));
    }
    return pin;
  }
  const std::string pin(StripWhitespace(text));
  if (!IsValidPin(pin)) {
    return absl::InvalidArgumentError(ToAbsl(
        StrCat(path, ": expected a pin 'sha256//<44 base64 characters>' or a PEM "
                     "certificate")));
  }
  return pin;
}

absl::StatusOr<SelfSignedFiles> LoadOrCreateSelfSigned(const std::string& dir) {
  SelfSignedFiles f;
  f.key_file = StrCat(dir, "/key.pem");
  f.cert_file = StrCat(dir, "/cert.pem");
  f.pin_file = StrCat(dir, "/pin");
  JW_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  if (chmod(dir.c_str(), 0700) != 0) return ErrnoStatus(errno, StrCat("chmod ", dir));
  if (access(f.key_file.c_str(), F_OK) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, StrCat("access ", f.key_file));
    JW_ASSIGN_OR_RETURN(NewPair pair, Generate());
    // The certificate first: a crash between the two leaves no key, so the
    // next start generates a fresh pair instead of pairing a new key with
    // an old certificate.
    JW_RETURN_IF_ERROR(WritePrivate(f.cert_file, pair.cert_pem));
    JW_RETURN_IF_ERROR(WritePrivate(f.key_file, pair.key_pem));
  }
  JW_RETURN_IF_ERROR(CheckPrivate(f.key_file));
  JW_RETURN_IF_ERROR(CheckPrivate(f.cert_file));
  JW_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(f.key_file, 1 << 20));
  JW_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(f.cert_file, 1 << 20));
  BioPtr kb(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  KeyPtr key(kb == nullptr ? nullptr
                           : PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return SslError(absl::StatusCode::kDataLoss, f.key_file);
  JW_ASSIGN_OR_RETURN(f.pin, PinOfCertificatePem(cert_pem));
  JW_ASSIGN_OR_RETURN(std::string key_pin, PinOfKey(key.get()));
  if (key_pin != f.pin) {
    return absl::DataLossError(ToAbsl(StrCat(
        f.key_file, " does not match ", f.cert_file,
        "; move both away to have the daemon generate a new pair")));
  }
  absl::StatusOr<std::string> old_pin = ReadFile(f.pin_file, 4096);
  if (!old_pin.ok() || StripWhitespace(*old_pin) != f.pin) {
    JW_RETURN_IF_ERROR(WritePrivate(f.pin_file, StrCat(f.pin, "\n")));
  }
  return f;
}

}  // namespace jailwarden::api
