// The listener-independent pieces of http_server.h: reject reasons and
// their counters, the loopback test.

#include "jailwarden/api/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>  // AF_INET (FreeBSD: not pulled in by arpa/inet.h)

#include "jailwarden/base/strings.h"

namespace jailwarden::api {

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kPeerConnections:
      return "peer_connections";
    case RejectReason::kPeerStreams:
      return "peer_streams";
    case RejectReason::kStreams:
      return "streams";
    case RejectReason::kUnauthenticated:
      return "unauthenticated";
    case RejectReason::kBasicAuth:
      return "basic_auth";
    case RejectReason::kNoRequest:
      return "no_request";
  }
  return "unknown";
}

std::vector<std::pair<std::string, uint64_t>> RejectCounters::Snapshot() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (int i = 0; i < kRejectReasonCount; ++i) {
    const auto r = static_cast<RejectReason>(i);
    out.emplace_back(std::string(RejectReasonName(r)), Get(r));
  }
  return out;
}

bool IsLoopbackAddress(std::string_view addr) {
  if (addr == "::1") return true;
  in_addr a{};
  const std::string text(addr);
  if (inet_pton(AF_INET, text.c_str(), &a) == 1) {
    return (ntohl(a.s_addr) >> 24) == 127;
  }
  // IPv4-mapped IPv6 (::ffff:127.x.y.z).
  if (StartsWith(addr, "::ffff:")) return IsLoopbackAddress(addr.substr(7));
  return false;
}

}  // namespace jailwarden::api
