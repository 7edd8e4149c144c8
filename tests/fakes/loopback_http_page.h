#pragma once

// A one-page HTTP server on 127.0.0.1 (a kernel-chosen port) for as long
// as it lives: every connection gets "200 OK" with the page, then closed.
// Stands in for a peer the code under test talks to (a squatter on the
// API's address, a web server a jail fetches from). The accept loop polls
// a stop flag every 50 ms; the destructor joins it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::fakes {

class LoopbackHttpPage {
 public:
  LoopbackHttpPage(std::string body, std::string_view content_type)
      : answer_(StrCat("HTTP/1.1 200 OK\r\nContent-Type: ", content_type,
                       "\r\nContent-Length: ", body.size(),
                       "\r\nConnection: close\r\n\r\n", body)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(fd_, 16) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "loopback listener: " << strerror(errno);
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LoopbackHttpPage() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  LoopbackHttpPage(const LoopbackHttpPage&) = delete;
  LoopbackHttpPage& operator=(const LoopbackHttpPage&) = delete;

  int port() const { return port_; }
  std::string url() const { return StrCat("http://127.0.0.1:", port_); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      // The request head (bounded in size and time), then the answer.
      std::string req;
      char buf[4096];
      for (int i = 0; i < 64 && req.find("\r\n\r\n") == std::string::npos; ++i) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 2000) <= 0) break;
        const ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      (void)!write(c, answer_.data(), answer_.size());
      close(c);
    }
  }

  const std::string answer_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace jailwarden::fakes
