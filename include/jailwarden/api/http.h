#pragma once

// HTTP request and response values shared by the REST server and its
// client, independent of the server library. Plain data; thread-compatible.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/base/files.h"

namespace jailwarden::api {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // undecoded (percent-encoded) path, no query ("/v1/jails/web")
  // Decoded query parameters in order; a key may repeat.
  std::vector<std::pair<std::string, std::string>> query;
  // Header names lowercased.
  std::map<std::string, std::string> headers;
  std::string body;
  std::string remote_addr;  // "127.0.0.1"; "unix:uid=0" on a unix socket
  bool remote_is_loopback = false;
  // The transport proved who the peer is and that it may administer the
  // daemon: a unix-socket peer whose SO_PEERCRED uid is 0 or the socket's
  // owner. Such a request needs no bearer token (the socket's 0600 mode in
  // a 0700 root directory is the credential, as for docker.sock).
  bool peer_is_admin = false;
  // The body was larger than the server's limit and was not read.
  bool body_too_large = false;

  // The first value of query parameter `key`, or nullopt.
  std::optional<std::string> Query(std::string_view key) const;
  // The value of header `name` (any case), or "".
  std::string Header(std::string_view name) const;
};

// A response body handed to a ResponseWriter by value, so a server can send
// it without copying it. When the server is done with the text (sent, or
// the client gone), `release` (if set) gets it back exactly once, on
// whichever thread finished with it, e.g. to return the buffer to a pool;
// without `release` the text is freed. Move-only; thread-compatible.
class ResponseBody {
 public:
  using Release = std::function<void(std::string&&)>;
  ResponseBody() = default;
  explicit ResponseBody(std::string text, Release release = nullptr)
      : text_(std::move(text)), release_(std::move(release)) {}
  ResponseBody(ResponseBody&& other) noexcept
      : text_(std::move(other.text_)), release_(std::exchange(other.release_, nullptr)) {}
  ResponseBody& operator=(ResponseBody&& other) noexcept {
    if (this != &other) {
      Reset();
      text_ = std::move(other.text_);
      release_ = std::exchange(other.release_, nullptr);
    }
    return *this;
  }
  ResponseBody(const ResponseBody&) = delete;
  ResponseBody& operator=(const ResponseBody&) = delete;
  ~ResponseBody() { Reset(); }

  const std::string& text() const { return text_; }
  // Hands the text to `release` (or frees it) now; the body is then empty.
  void Reset() {
    if (release_) std::exchange(release_, nullptr)(std::move(text_));
    text_ = std::string();
  }

 private:
  std::string text_;
  Release release_;
};

// Where a handler writes its answer. Either one Send() or SendOwned(), or StartStream()
// followed by any number of Write() and one Finish(). Implementations need
// not be thread-safe: one handler thread writes.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // A whole response with Content-Length.
  virtual void Send(int status, std::string_view content_type,
                    std::string_view body,
                    const std::vector<std::pair<std::string, std::string>>&
                        extra_headers = {}) = 0;
  // Send() of a body the writer takes over: a server that can sends
  // body.text() without copying it and releases it once sent. The default
  // copies it through Send() and releases it on return.
  virtual void SendOwned(int status, std::string_view content_type, ResponseBody body,
                         const std::vector<std::pair<std::string, std::string>>&
                             extra_headers = {}) {
    Send(status, content_type, body.text(), extra_headers);
  }
  // Starts a chunked response (Connection: close). False if the client is
  // gone.
  virtual bool StartStream(int status, std::string_view content_type) = 0;
  // One chunk; false once the client is gone (stop writing then).
  virtual bool Write(std::string_view data) = 0;
  // Ends the chunked body.
  virtual void Finish() = 0;
  // Sends "101 Switching Protocols" with Upgrade: <protocol>, Connection:
  // Upgrade and `headers`, then hands over the connection: returns a
  // connected, blocking, bidirectional socket fd the caller owns and
  // closes (over TLS: a socketpair end the server proxies). Instead of
  // Send()/StartStream(). Unimplemented on servers that cannot hijack
  // (a test double); Unavailable when the client went away first.
  virtual absl::StatusOr<base::UniqueFd> Upgrade(
      std::string_view protocol,
      const std::vector<std::pair<std::string, std::string>>& headers) {
    (void)protocol;
    (void)headers;
    return absl::UnimplementedError(
        "this listener cannot hand over connections (HTTP Upgrade); use the "
        "unix socket or a TLS listener, which libmicrohttpd serves");
  }
};

// Decodes %XX and '+' (as a space) in a query component.
std::string UrlDecode(std::string_view text);
// Percent-encodes everything but unreserved characters (RFC 3986).
std::string UrlEncode(std::string_view text);
// Splits "a=1&b=two" into decoded pairs.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

}  // namespace jailwarden::api
