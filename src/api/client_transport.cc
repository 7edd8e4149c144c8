#include "jailwarden/api/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "api/codec.h"
#include "jailwarden/api/http.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

// The client's HTTP/1.1 transport: address parsing, connecting over TCP or
// a unix socket with timeouts, and reading status, headers and (chunked)
// bodies. The typed calls on top are in client.cc.

namespace jailwarden::api {
namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Endpoint {
  bool unix_socket = false;
  std::string host;  // or socket path
  int port = 0;
  std::string host_header;
};

absl::StatusOr<Endpoint> ParseServer(std::string_view server) {
  Endpoint e;
  if (StartsWith(server, "unix:")) {
    e.unix_socket = true;
    e.host = std::string(server.substr(5));
    e.host_header = "localhost";
    return e;
  }
  std::string_view rest = server;
  if (StartsWith(rest, "http://")) rest.remove_prefix(7);
  if (StartsWith(rest, "https://")) {
    return absl::InvalidArgumentError("https is not supported; use http://");
  }
  if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    rest = rest.substr(0, slash);
  }
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    e.host = std::string(rest);
    e.port = 80;
  } else {
    e.host = std::string(rest.substr(0, colon));
    const std::optional<int> port = ParseInt<int>(rest.substr(colon + 1));
    if (!port.has_value() || *port <= 0 || *port > 65535) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("bad server address '", server, "'")));
    }
    e.port = *port;
  }
  if (e.host.empty()) e.host = "127.0.0.1";
  e.host_header = std::string(rest);
  return e;
}

absl::Status WaitFd(int fd, short events, absl::Duration timeout,
                    std::string_view what) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (n > 0) return absl::OkStatus();
    if (n == 0) {
      return absl::DeadlineExceededError(ToAbsl(StrCat("timed out ", what)));
    }
    if (errno != EINTR) return ErrnoStatus(errno, "poll");
  }
}

// A connected socket plus a read buffer: enough HTTP/1.1 for our server.
class Connection {
 public:
  Connection(int fd, absl::Duration timeout) : fd_(fd), timeout_(timeout) {}

  absl::Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "send");
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return absl::OkStatus();
  }

  // Reads more into the buffer; false at EOF.
  absl::StatusOr<bool> Fill() {
    JW_RETURN_IF_ERROR(WaitFd(fd_.get(), POLLIN, timeout_, "waiting for the daemon"));
    char buf[16384];
    for (;;) {
      const ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "recv");
      }
      if (n == 0) return false;
      buffer_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
  }

  // A line without its CRLF.
  absl::StatusOr<std::string> ReadLine() {
    for (;;) {
      const std::size_t nl = buffer_.find('\n', pos_);
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(pos_, nl - pos_);
        pos_ = nl + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        Compact();
        return line;
      }
      JW_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return absl::DataLossError("connection closed mid-response");
    }
  }

  // Up to `max` bytes of what is buffered or arrives next; "" at EOF.
  absl::StatusOr<std::string> ReadSome(std::size_t max) {
    if (pos_ >= buffer_.size()) {
      buffer_.clear();
      pos_ = 0;
      JW_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return std::string();
    }
    const std::size_t n = std::min(max, buffer_.size() - pos_);
    std::string out = buffer_.substr(pos_, n);
    pos_ += n;
    Compact();
    return out;
  }

 private:
  void Compact() {
    if (pos_ > 65536) {
      buffer_.erase(0, pos_);
      pos_ = 0;
    }
  }
  Fd fd_;
  absl::Duration timeout_;
  std::string buffer_;
  std::size_t pos_ = 0;
};

absl::StatusOr<std::unique_ptr<Connection>> Connect(const Endpoint& e,
                                                    absl::Duration timeout,
                                                    std::string_view server) {
  auto unavailable = [&](int err) {
    return absl::UnavailableError(ToAbsl(StrCat(
        "cannot connect to the jailwarden daemon at ", server, ": ",
        strerror(err), " (is `jailwarden serve` running? --server sets the address)")));
  };
  if (e.unix_socket) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (e.host.size() >= sizeof(addr.sun_path)) {
      return absl::InvalidArgumentError("unix socket path too long");
    }
    memcpy(addr.sun_path, e.host.data(), e.host.size());
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ErrnoStatus(errno, "socket");
    auto conn = std::make_unique<Connection>(fd, timeout);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return unavailable(errno);
    }
    return conn;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = StrCat(e.port);
  const int rc = getaddrinfo(e.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(ToAbsl(
        StrCat("cannot resolve ", e.host, ": ", gai_strerror(rc))));
  }
  int last_errno = ECONNREFUSED;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
                                             SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    auto conn = std::make_unique<Connection>(fd, timeout);
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      if (WaitFd(fd, POLLOUT, timeout, "connecting").ok()) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        r = err == 0 ? 0 : -1;
        errno = err;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (r == 0) {
      // Back to blocking; reads are bounded by poll.
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      freeaddrinfo(res);
      return conn;
    }
    last_errno = errno;
  }
  freeaddrinfo(res);
  return unavailable(last_errno);
}

struct Head {
  int status = 0;
  std::map<std::string, std::string> headers;
  bool chunked = false;
  int64_t content_length = -1;
};

absl::StatusOr<Head> ReadHead(Connection& c) {
  Head h;
  JW_ASSIGN_OR_RETURN(std::string status_line, c.ReadLine());
  // "HTTP/1.1 200 OK"
  const std::vector<std::string_view> parts = SplitWhitespace(status_line);
  if (parts.size() < 2 || !StartsWith(parts[0], "HTTP/")) {
    return absl::DataLossError(
        ToAbsl(StrCat("not an HTTP response: '", status_line, "'")));
  }
  h.status = ParseInt<int>(parts[1]).value_or(0);
  for (;;) {
    JW_ASSIGN_OR_RETURN(std::string line, c.ReadLine());
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string name = AsciiToLower(std::string_view(line).substr(0, colon));
    const std::string value(StripWhitespace(std::string_view(line).substr(colon + 1)));
    h.headers[name] = value;
  }
  if (auto it = h.headers.find("transfer-encoding");
      it != h.headers.end() && AsciiToLower(it->second).find("chunked") !=
                                   std::string::npos) {
    h.chunked = true;
  }
  if (auto it = h.headers.find("content-length"); it != h.headers.end()) {
    h.content_length = ParseInt<int64_t>(it->second).value_or(-1);
  }
  return h;
}

// Reads the body, handing each piece to `sink`; stops early if it returns
// false.
absl::Status ReadBody(Connection& c, const Head& h,
                      const std::function<bool(std::string_view)>& sink) {
  if (h.chunked) {
    for (;;) {
      JW_ASSIGN_OR_RETURN(std::string size_line, c.ReadLine());
      const std::size_t semi = size_line.find(';');
      if (semi != std::string::npos) size_line.resize(semi);
      uint64_t size = 0;
      const std::string_view hex = StripWhitespace(size_line);
      if (hex.empty()) continue;
      for (char ch : hex) {
        int v = -1;
        if (ch >= '0' && ch <= '9') v = ch - '0';
        if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F') v = ch - 'A' + 10;
        if (v < 0) return absl::DataLossError("bad chunk size");
        size = size * 16 + static_cast<uint64_t>(v);
      }
      if (size == 0) {
        // Trailers until the blank line (or EOF).
        for (;;) {
          absl::StatusOr<std::string> t = c.ReadLine();
          if (!t.ok() || t->empty()) break;
        }
        return absl::OkStatus();
      }
      while (size > 0) {
        JW_ASSIGN_OR_RETURN(std::string piece, c.ReadSome(size));
        if (piece.empty()) return absl::DataLossError("connection closed mid-chunk");
        size -= piece.size();
        if (!sink(piece)) return absl::OkStatus();
      }
      JW_ASSIGN_OR_RETURN(std::string crlf, c.ReadLine());
      (void)crlf;
    }
  }
  if (h.content_length >= 0) {
    uint64_t left = static_cast<uint64_t>(h.content_length);
    while (left > 0) {
      JW_ASSIGN_OR_RETURN(std::string piece, c.ReadSome(left));
      if (piece.empty()) return absl::DataLossError("connection closed mid-body");
      left -= piece.size();
      if (!sink(piece)) return absl::OkStatus();
    }
    return absl::OkStatus();
  }
  for (;;) {  // until the server closes
    JW_ASSIGN_OR_RETURN(std::string piece, c.ReadSome(65536));
    if (piece.empty()) return absl::OkStatus();
    if (!sink(piece)) return absl::OkStatus();
  }
}

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)) {}

absl::StatusOr<int> Client::Stream(
    std::string_view method, std::string_view target, std::string_view body,
    const std::function<bool(std::string_view)>& on_data,
    std::string* error_body) {
  JW_ASSIGN_OR_RETURN(Endpoint e, ParseServer(options_.server));
  JW_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                      Connect(e, options_.timeout, options_.server));
  std::string request = StrCat(method, " ", target, " HTTP/1.1\r\nHost: ",
                               e.host_header,
                               "\r\nUser-Agent: jailwarden-cli\r\n"
                               "Accept: */*\r\nConnection: close\r\n");
  if (!options_.token.empty()) {
    StrAppend(&request, "Authorization: Bearer ", options_.token, "\r\n");
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    StrAppend(&request, "Content-Type: application/json\r\nContent-Length: ",
              body.size(), "\r\n");
  }
  request += "\r\n";
  request.append(body);
  JW_RETURN_IF_ERROR(conn->WriteAll(request));
  JW_ASSIGN_OR_RETURN(Head head, ReadHead(*conn));
  if (head.status >= 200 && head.status < 300) {
    JW_RETURN_IF_ERROR(ReadBody(*conn, head, on_data));
  } else {
    std::string collected;
    JW_RETURN_IF_ERROR(ReadBody(*conn, head, [&](std::string_view d) {
      collected.append(d);
      return true;
    }));
    if (error_body != nullptr) *error_body = std::move(collected);
  }
  return head.status;
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
