// Client::Upgrade (include/jailwarden/api/client.h): libcurl connects (TCP,
// unix socket or TLS with the same verification as every other call) with
// CONNECT_ONLY; the request head is written and the answer's head read by
// hand, one byte at a time so nothing after it is consumed.

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "api/client_internal.h"
#include "api/codec.h"
#include "jailwarden/api/client.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {
namespace {

using client_internal::EasyDeleter;
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;

bool WaitFor(curl_socket_t sock, short events, absl::Duration timeout) {
  pollfd p{sock, events, 0};
  const int ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(timeout), 1 << 30));
  int n;
  do {
    n = poll(&p, 1, ms);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

absl::Status SendAll(CURL* c, curl_socket_t sock, std::string_view data,
                     const ClientOptions& o) {
  while (!data.empty()) {
    std::size_t sent = 0;
    const CURLcode rc = curl_easy_send(c, data.data(), data.size(), &sent);
    if (rc == CURLE_AGAIN) {
      if (!WaitFor(sock, POLLOUT, o.timeout)) {
        return absl::DeadlineExceededError(ToAbsl(StrCat("sending to ", o.server, " timed out")));
      }
      continue;
    }
    if (rc != CURLE_OK) return client_internal::TransportError(rc, "", o);
    data.remove_prefix(sent);
  }
  return absl::OkStatus();
}

// One byte; nullopt at end of stream.
absl::StatusOr<std::optional<char>> RecvByte(CURL* c, curl_socket_t sock,
                                             const ClientOptions& o) {
  for (;;) {
    char ch = 0;
    std::size_t n = 0;
    const CURLcode rc = curl_easy_recv(c, &ch, 1, &n);
    if (rc == CURLE_OK) return n == 0 ? std::nullopt : std::optional<char>(ch);
    if (rc != CURLE_AGAIN) return client_internal::TransportError(rc, "", o);
    if (!WaitFor(sock, POLLIN, o.timeout)) {
      return absl::DeadlineExceededError(
          ToAbsl(StrCat("the jailwarden daemon at ", o.server, " did not answer the upgrade")));
    }
  }
}

// Relays between `app` (a socketpair end) and the TLS connection in `c`
// until the daemon closes, the caller closes its end, or an error.
void RelayTls(EasyPtr curl, curl_socket_t sock, base::UniqueFd app) {
  CURL* c = curl.get();
  fcntl(app.get(), F_SETFL, fcntl(app.get(), F_GETFL) | O_NONBLOCK);
  std::string to_app, to_conn;
  bool conn_eof = false, app_eof = false, app_shut = false;
  char buf[16384];
  for (;;) {
    // Drain what the TLS layer holds before polling the socket.
    while (!conn_eof && to_app.size() < sizeof(buf) * 4) {
      std::size_t n = 0;
      const CURLcode rc = curl_easy_recv(c, buf, sizeof(buf), &n);
      if (rc == CURLE_AGAIN) break;
      if (rc != CURLE_OK) return;
      if (n == 0) conn_eof = true;
      to_app.append(buf, n);
    }
    if (!to_app.empty()) {
      const ssize_t w = send(app.get(), to_app.data(), to_app.size(), MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR) return;
      if (w > 0) to_app.erase(0, static_cast<std::size_t>(w));
    }
    if (conn_eof && to_app.empty() && !app_shut) {
      shutdown(app.get(), SHUT_WR);
      app_shut = true;
    }
    if (!to_conn.empty()) {
      std::size_t sent = 0;
      const CURLcode rc = curl_easy_send(c, to_conn.data(), to_conn.size(), &sent);
      if (rc != CURLE_OK && rc != CURLE_AGAIN) return;
      to_conn.erase(0, sent);
    }
    if (conn_eof && app_shut && (app_eof || to_conn.empty())) return;
    pollfd p[2] = {{app.get(), 0, 0}, {sock, 0, 0}};
    if (!app_eof && to_conn.size() < sizeof(buf)) p[0].events |= POLLIN;
    if (!to_app.empty()) p[0].events |= POLLOUT;
    if (!conn_eof) p[1].events |= POLLIN;
    if (!to_conn.empty()) p[1].events |= POLLOUT;
    if (poll(p, 2, 1000) < 0 && errno != EINTR) return;
    if ((p[0].revents & (POLLHUP | POLLERR)) && !(p[0].revents & POLLIN)) return;  // closed
    if (p[0].revents & POLLIN) {
      const ssize_t r = recv(app.get(), buf, sizeof(buf), 0);
      if (r == 0) app_eof = true;  // TLS has no half-close here; keep reading
      if (r > 0) to_conn.append(buf, static_cast<std::size_t>(r));
      if (r < 0 && errno != EAGAIN && errno != EINTR) return;
    }
  }
}

}  // namespace

absl::StatusOr<base::UniqueFd> Client::Upgrade(std::string_view method, std::string_view target,
                                               std::string_view protocol,
                                               std::string_view body) {
  if (protocol.empty() || protocol.find_first_of(" \t\r\n") != std::string_view::npos ||
      method.empty() || method.find_first_of(" \t\r\n") != std::string_view::npos ||
      target.empty() || target[0] != '/' ||
      target.find_first_of(" \t\r\n") != std::string_view::npos) {
    return absl::InvalidArgumentError("Upgrade: bad method, target or protocol");
  }
  JW_ASSIGN_OR_RETURN(client_internal::Target t, client_internal::ParseServer(options_.server));
  const std::string url = StrCat(t.url_base, target);
  JW_ASSIGN_OR_RETURN(EasyPtr curl, client_internal::NewEasy(options_, t, url));
  CURL* c = curl.get();
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 0L);  // else curl closes it after connecting
  if (const CURLcode rc = curl_easy_perform(c); rc != CURLE_OK) {
    return client_internal::TransportError(rc, errbuf, options_);
  }
  curl_socket_t sock = CURL_SOCKET_BAD;
  curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &sock);
  if (sock == CURL_SOCKET_BAD) return absl::InternalError("libcurl gave no socket");
  std::string_view host = t.url_base;
  host.remove_prefix(host.find("://") + 3);
  std::string head = StrCat(method, " ", target, " HTTP/1.1\r\nHost: ", host,
                            "\r\nUser-Agent: jailwarden-cli\r\nConnection: Upgrade\r\nUpgrade: ",
                            protocol, "\r\n");
  if (!options_.token.empty()) StrAppend(&head, "Authorization: Bearer ", options_.token, "\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    StrAppend(&head, "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n");
  }
  head += "\r\n";
  head.append(body);
  JW_RETURN_IF_ERROR(SendAll(c, sock, head, options_));
  std::string answer;
  while (answer.size() < 4 || answer.compare(answer.size() - 4, 4, "\r\n\r\n") != 0) {
    JW_ASSIGN_OR_RETURN(std::optional<char> ch, RecvByte(c, sock, options_));
    if (!ch.has_value()) {
      return absl::UnavailableError(ToAbsl(StrCat(
          "the jailwarden daemon at ", options_.server, " closed the connection before answering")));
    }
    answer.push_back(*ch);
    if (answer.size() > 65536) return absl::UnavailableError("the upgrade answer's head is too long");
  }
  const std::string status_line = answer.substr(0, answer.find('\r'));
  const std::vector<std::string_view> words = SplitWhitespace(status_line);
  const std::optional<int> status = words.size() >= 2 ? ParseInt<int>(words[1]) : std::nullopt;
  if (!status.has_value()) {
    return absl::UnavailableError(ToAbsl(StrCat("not an HTTP answer from ", options_.server)));
  }
  if (*status != 101) {
    // The error body: Content-Length bytes, or to the end.
    std::size_t want = 1 << 20;
    for (std::string_view line : Split(answer, '\n')) {
      const std::size_t colon = line.find(':');
      if (colon != std::string_view::npos &&
          EqualsIgnoreCase(StripWhitespace(line.substr(0, colon)), "content-length")) {
        want = std::min<std::size_t>(want, ParseInt<std::size_t>(StripWhitespace(line.substr(colon + 1))).value_or(want));
      }
    }
    std::string error_body;
    while (error_body.size() < want) {
      absl::StatusOr<std::optional<char>> ch = RecvByte(c, sock, options_);
      if (!ch.ok() || !ch->has_value()) break;
      error_body.push_back(**ch);
    }
    last_body_ = error_body;
    if (*status >= 200 && *status < 300) {
      return absl::FailedPreconditionError(ToAbsl(StrCat(
          "the jailwarden daemon at ", options_.server, " answered ", *status,
          " instead of switching protocols (an older daemon, or a listener that cannot upgrade)")));
    }
    return StatusFromError(*status, error_body);
  }
  if (!t.tls) {
    base::UniqueFd fd(fcntl(sock, F_DUPFD_CLOEXEC, 0));
    if (!fd.valid()) return ErrnoStatus(errno, "dup");
    fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    return fd;  // curl closes its own descriptor
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoStatus(errno, "socketpair");
  }
  std::thread(RelayTls, std::move(curl), sock, base::UniqueFd(sv[1])).detach();
  return base::UniqueFd(sv[0]);
}

}  // namespace jailwarden::api
