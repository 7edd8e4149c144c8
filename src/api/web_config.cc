#include "jailwarden/api/web_config.h"

#if defined(__linux__)
#include <crypt.h>  // crypt_r, struct crypt_data (libxcrypt)
#else
#include <unistd.h>  // FreeBSD declares crypt_r and struct crypt_data here
#endif
#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "yaml-cpp/yaml.h"

namespace jailwarden::api {
namespace {

class Parser {
 public:
  explicit Parser(const std::string& filename) : filename_(filename) {
    const std::size_t slash = filename.rfind('/');
    dir_ = slash == std::string::npos ? "." : filename.substr(0, slash == 0 ? 1 : slash);
  }

  absl::Status Error(const YAML::Mark& mark, std::string_view message) const {
    return absl::InvalidArgumentError(ToAbsl(StrCat(
        filename_, ":", mark.line + 1, ":", mark.column + 1, ": ", message)));
  }

  absl::StatusOr<std::string> Scalar(const YAML::Node& n, std::string_view what) const {
    if (!n.IsScalar()) return Error(n.Mark(), StrCat(what, ": expected a string"));
    return n.Scalar();
  }

  std::string Resolve(const std::string& path) const {
    if (path.empty() || path[0] == '/') return path;
    return StrCat(dir_, "/", path);
  }

  absl::Status Tls(const YAML::Node& n, WebConfig& out) const {
    if (n.IsNull()) return absl::OkStatus();
    if (!n.IsMap()) return Error(n.Mark(), "tls_server_config: expected a mapping");
    TlsServerSettings s;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const std::string what = StrCat("tls_server_config.", key);
      const YAML::Node& v = kv.second;
      if (key == "cert_file" || key == "key_file" || key == "client_ca_file") {
        if (!v.IsScalar()) return Error(v.Mark(), StrCat(what, ": expected a path"));
        std::string* field = key == "cert_file"  ? &s.cert_file
                             : key == "key_file" ? &s.key_file
                                                 : &s.client_ca_file;
        *field = Resolve(v.Scalar());
      } else if (key == "client_auth_type") {
        JW_ASSIGN_OR_RETURN(s.client_auth_type, Scalar(v, what));
        static constexpr std::string_view kTypes[] = {
            "NoClientCert", "RequestClientCert", "RequireAnyClientCert",
            "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"};
        bool known = false;
        for (std::string_view t : kTypes) known = known || t == s.client_auth_type;
        if (!known) {
          return Error(v.Mark(), StrCat(what, ": '", s.client_auth_type,
                                        "' is not one of NoClientCert, RequestClientCert, "
                                        "RequireAnyClientCert, VerifyClientCertIfGiven, "
                                        "RequireAndVerifyClientCert"));
        }
      } else if (key == "min_version") {
        JW_ASSIGN_OR_RETURN(s.min_version, Scalar(v, what));
        if (s.min_version != "TLS10" && s.min_version != "TLS11" &&
            s.min_version != "TLS12" && s.min_version != "TLS13") {
          return Error(v.Mark(), StrCat(what, ": '", s.min_version,
                                        "' is not one of TLS10, TLS11, TLS12, TLS13"));
        }
      } else if (key == "cipher_suites" || key == "curve_preferences" ||
                 key == "max_version" || key == "prefer_server_cipher_suites") {
        return Error(kv.first.Mark(),
                     StrCat(what, ": not supported by jailwarden (OpenSSL's defaults "
                                  "apply); remove it"));
      } else {
        return Error(kv.first.Mark(), StrCat("unknown key ", what));
      }
    }
    if (s.cert_file.empty() != s.key_file.empty() || s.cert_file.empty()) {
      return Error(n.Mark(), "tls_server_config: cert_file and key_file are both required");
    }
    const bool verifies = s.client_auth_type == "VerifyClientCertIfGiven" ||
                          s.client_auth_type == "RequireAndVerifyClientCert";
    if (verifies && s.client_ca_file.empty()) {
      return Error(n.Mark(), StrCat("tls_server_config: client_auth_type ",
                                    s.client_auth_type, " needs client_ca_file"));
    }
    if (!s.client_ca_file.empty() && s.client_auth_type == "NoClientCert") {
      return Error(n.Mark(),
                   "tls_server_config: client_ca_file is set but client_auth_type is "
                   "NoClientCert; set client_auth_type");
    }
    out.tls = std::move(s);
    return absl::OkStatus();
  }

  absl::Status Users(const YAML::Node& n, WebConfig& out) const {
    if (n.IsNull()) return absl::OkStatus();
    if (!n.IsMap()) return Error(n.Mark(), "basic_auth_users: expected a mapping");
    for (const auto& kv : n) {
      const std::string user = kv.first.Scalar();
      JW_ASSIGN_OR_RETURN(std::string hash,
                          Scalar(kv.second, StrCat("basic_auth_users.", user)));
      if (user.empty() || user.find(':') != std::string::npos) {
        return Error(kv.first.Mark(), "basic_auth_users: a user name must be non-empty "
                                      "and without ':'");
      }
      const bool bcrypt = (StartsWith(hash, "$2a$") || StartsWith(hash, "$2b$") ||
                           StartsWith(hash, "$2y$")) &&
                          hash.size() == 60;
      if (!bcrypt) {
        return Error(kv.second.Mark(),
                     StrCat("basic_auth_users.", user,
                            ": expected a bcrypt hash ($2y$..., 60 characters, as "
                            "`htpasswd -nBC 10 USER` prints)"));
      }
      out.basic_auth_users[user] = hash;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<WebConfig> Parse(std::string_view text) const {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      return Error(e.mark, e.msg);
    }
    WebConfig out;
    if (root.IsNull()) return out;
    if (!root.IsMap()) return Error(root.Mark(), "expected a mapping at the top");
    for (const auto& kv : root) {
      const std::string key = kv.first.Scalar();
      if (key == "tls_server_config") {
        JW_RETURN_IF_ERROR(Tls(kv.second, out));
      } else if (key == "basic_auth_users") {
        JW_RETURN_IF_ERROR(Users(kv.second, out));
      } else if (key == "http_server_config") {
        return Error(kv.first.Mark(),
                     "http_server_config: not supported by jailwarden (no HTTP/2, "
                     "fixed security headers); remove it");
      } else {
        return Error(kv.first.Mark(), StrCat("unknown key ", key));
      }
    }
    return out;
  }

 private:
  std::string filename_;
  std::string dir_;
};

std::string Sha256Hex(std::string_view a) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(a.data(), a.size(), d, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 15]);
  }
  return out;
}

std::string Base64Decode(std::string_view in) {
  std::string out;
  if (in.empty() || in.size() % 4 != 0) return out;
  out.resize(in.size() / 4 * 3);
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return {};
  std::size_t len = static_cast<std::size_t>(n);
  if (in.back() == '=') --len;
  if (in.size() > 1 && in[in.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

}  // namespace

absl::StatusOr<WebConfig> ParseWebConfig(std::string_view text,
                                         const std::string& filename) {
  return Parser(filename).Parse(text);
}

absl::StatusOr<WebConfig> LoadWebConfig(const std::string& path) {
  JW_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  return ParseWebConfig(text, path);
}

bool BcryptMatches(std::string_view password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const std::string pw(password);
  const char* out = crypt_r(pw.c_str(), hash.c_str(), data.get());
  // crypt_r returns a "*0"/"*1" failure token, never NULL, on libxcrypt.
  if (out == nullptr || out[0] == '*') return false;
  const std::size_t n = std::strlen(out);
  if (n != hash.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < n; ++i) {
    diff |= static_cast<unsigned char>(out[i] ^ hash[i]);
  }
  return diff == 0;
}

bool BasicAuthChecker::Check(std::string_view authorization) {
  constexpr std::string_view kBasic = "Basic ";
  if (!StartsWith(authorization, kBasic)) return false;
  const std::string decoded =
      Base64Decode(StripWhitespace(authorization.substr(kBasic.size())));
  const std::size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  const std::string user = decoded.substr(0, colon);
  const std::string_view password = std::string_view(decoded).substr(colon + 1);
  auto it = users_.find(user);
  if (it == users_.end()) {
    // Spend the same time as for a known user, so a caller cannot tell.
    (void)BcryptMatches(password,
                        "$2y$10$MMMMMMMMMMMMMMMMMMMMMOwVmE3iJ9mCDlVKE2Lc2pRRiCn9Sgh2u");
    return false;
  }
  const std::string key = Sha256Hex(StrCat(user, std::string_view("\0", 1), password,
                                           std::string_view("\0", 1), it->second));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (verified_.count(key) != 0) return true;
  }
  if (!BcryptMatches(password, it->second)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (verified_.size() >= 256) verified_.clear();
  verified_.insert(key);
  return true;
}

}  // namespace jailwarden::api
