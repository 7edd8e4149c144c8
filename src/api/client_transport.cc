#include <curl/curl.h>

#include <mutex>

#include "api/client_internal.h"
#include "api/codec.h"
#include "jailwarden/api/client.h"
#include "jailwarden/api/http.h"
#include "jailwarden/api/tls.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

// The client's transport on libcurl: one easy handle per request, the
// address turned into a URL (or a unix socket path), TLS verification by
// pin and/or CA, timeouts, proxies off, the body handed to the caller as it
// arrives. The typed calls on top are in client.cc.

namespace jailwarden::api {
namespace client_internal {

absl::StatusOr<Target> ParseServer(std::string_view server) {
  Target t;
  if (StartsWith(server, "unix:")) {
    t.unix_socket = std::string(server.substr(5));
    if (t.unix_socket.empty()) {
      return absl::InvalidArgumentError("unix: needs a socket path (unix:/run/...)");
    }
    t.url_base = "http://localhost";
    return t;
  }
  std::string_view rest = server;
  std::string scheme = "http";
  if (StartsWith(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (StartsWith(rest, "https://")) {
    rest.remove_prefix(8);
    scheme = "https";
    t.tls = true;
  } else if (rest.find("://") != std::string_view::npos) {
    return absl::InvalidArgumentError(ToAbsl(StrCat(
        "bad server address '", server, "': expected https://, http:// or unix:")));
  }
  if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    rest = rest.substr(0, slash);
  }
  if (rest.empty()) rest = "127.0.0.1";
  if (rest.find_first_of(" \t\r\n@?#") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        ToAbsl(StrCat("bad server address '", server, "'")));
  }
  t.url_base = StrCat(scheme, "://", rest);
  return t;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

namespace {

// What the write callback needs.
struct Sink {
  CURL* curl = nullptr;
  const std::function<bool(std::string_view)>* on_data = nullptr;
  std::string error_body;
  bool stopped = false;  // on_data asked to stop
};

size_t OnWrite(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) {
    if (sink->error_body.size() < (std::size_t{1} << 20)) sink->error_body.append(data, len);
    return len;
  }
  if (!(*sink->on_data)(std::string_view(data, len))) {
    sink->stopped = true;
    return CURL_WRITEFUNC_ERROR;
  }
  return len;
}

}  // namespace

long Millis(absl::Duration d) { return static_cast<long>(absl::ToInt64Milliseconds(d)); }

absl::Status TransportError(int curl_code, const char* detail, const ClientOptions& o) {
  const auto code = static_cast<CURLcode>(curl_code);
  std::string why = detail[0] != '\0' ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      return absl::UnavailableError(ToAbsl(StrCat(
          "cannot connect to the jailwarden daemon at ", o.server, ": ", why,
          " (is `jailwarden serve` running? --server sets the address)")));
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(
          ToAbsl(StrCat("the jailwarden daemon at ", o.server, " timed out: ", why)));
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return absl::PermissionDeniedError(ToAbsl(StrCat(
          "the server at ", o.server,
          " does not have the daemon's public key (pin mismatch): nothing was sent. "
          "Something else may be listening on the API port; if the daemon's key "
          "was replaced, use the new pin (<state_dir>/api-tls/pin)")));
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
      return absl::PermissionDeniedError(ToAbsl(StrCat(
          "TLS with ", o.server, " failed: ", why,
          " (--pin or --cacert give the daemon's key or CA)")));
    default:
      return absl::UnavailableError(
          ToAbsl(StrCat("talking to the jailwarden daemon at ", o.server, ": ", why)));
  }
}

absl::StatusOr<std::unique_ptr<CURL, EasyDeleter>> NewEasy(const ClientOptions& o,
                                                          const Target& t,
                                                          const std::string& url) {
  if (!t.tls && (!o.pin.empty() || !o.ca_file.empty())) {
    return absl::InvalidArgumentError(ToAbsl(StrCat(
        "a pin or CA file is given but ", o.server,
        " is not https://: refusing to send the token unprotected")));
  }
  if (!o.pin.empty() && !IsValidPin(o.pin)) {
    return absl::InvalidArgumentError(ToAbsl(
        StrCat("bad pin '", o.pin, "': expected sha256//<44 base64 characters>")));
  }
  GlobalInit();
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never a proxy, whatever the environment says
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  // The path exactly as given ("/v1/jails/.." must reach the router, which
  // refuses it, not be squashed to "/v1/").
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "jailwarden-cli");
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, Millis(o.connect_timeout));
  if (o.max_time > absl::ZeroDuration()) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, Millis(o.max_time));
  }
  // Silence longer than `timeout` ends the transfer (less than 1 byte/s).
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                   std::max<long>(1, static_cast<long>(absl::ToInt64Seconds(o.timeout))));
  if (!t.unix_socket.empty()) {
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, t.unix_socket.c_str());
  }
  if (t.tls) {
    const bool by_ca = !o.ca_file.empty();
    const bool by_pin = !o.pin.empty();
    if (by_ca) curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
    // A pin alone checks the key and nothing else (the daemon's own
    // certificate is self-signed); a CA checks chain and name.
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, (by_pin && !by_ca) ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, (by_pin && !by_ca) ? 0L : 2L);
    if (by_pin) curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, o.pin.c_str());
    curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    if (!o.client_cert.empty()) {
      curl_easy_setopt(c, CURLOPT_SSLCERT, o.client_cert.c_str());
      curl_easy_setopt(c, CURLOPT_SSLKEY, o.client_key.empty()
                                              ? o.client_cert.c_str()
                                              : o.client_key.c_str());
    }
  }
  return curl;
}

}  // namespace client_internal

using client_internal::EasyDeleter;
using client_internal::ListDeleter;
using client_internal::NewEasy;
using client_internal::OnWrite;
using client_internal::ParseServer;
using client_internal::Sink;
using client_internal::Target;
using client_internal::TransportError;

Client::Client(ClientOptions options) : options_(std::move(options)) {}

absl::StatusOr<int> Client::Stream(
    std::string_view method, std::string_view target, std::string_view body,
    const std::function<bool(std::string_view)>& on_data,
    std::string* error_body) {
  JW_ASSIGN_OR_RETURN(Target t, ParseServer(options_.server));
  const std::string url = StrCat(t.url_base, target);
  const std::string method_text(method);
  using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
  JW_ASSIGN_OR_RETURN(EasyPtr curl, NewEasy(options_, t, url));
  CURL* c = curl.get();
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  std::unique_ptr<curl_slist, ListDeleter> headers;
  auto add_header = [&headers](const std::string& h) {
    headers.reset(curl_slist_append(headers.release(), h.c_str()));
  };
  add_header("Accept: */*");
  add_header("Expect:");  // no 100-continue round trip
  if (!options_.token.empty()) add_header(StrCat("Authorization: Bearer ", options_.token));
  const bool has_body = !body.empty() || method == "POST" || method == "PUT";
  if (has_body) {
    add_header("Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method != "GET" || has_body) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  Sink sink;
  sink.curl = c;
  sink.on_data = &on_data;
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && sink.stopped)) {
    return TransportError(rc, errbuf, options_);
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if ((status < 200 || status >= 300) && error_body != nullptr) {
    *error_body = std::move(sink.error_body);
  }
  return static_cast<int>(status);
}

absl::StatusOr<HttpResponse> Client::Do(std::string_view method,
                                        std::string_view target,
                                        std::string_view body) {
  HttpResponse response;
  std::string error_body;
  JW_ASSIGN_OR_RETURN(
      response.status,
      Stream(method, target, body,
             [&](std::string_view d) {
               response.body.append(d);
               return true;
             },
             &error_body));
  if (response.status < 200 || response.status >= 300) {
    response.body = std::move(error_body);
  }
  return response;
}

absl::StatusOr<std::string> Client::Call(std::string_view method,
                                         std::string_view target,
                                         std::string_view body) {
  JW_ASSIGN_OR_RETURN(HttpResponse r, Do(method, target, body));
  last_body_ = r.body;
  if (r.status < 200 || r.status >= 300) {
    return StatusFromError(r.status, r.body);
  }
  return std::move(r.body);
}

}  // namespace jailwarden::api
