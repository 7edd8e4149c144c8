#include "policy/schema.h"

#include <arpa/inet.h>
#include <sys/socket.h>  // AF_INET, AF_INET6 (FreeBSD: not pulled in by arpa/inet.h)

#include <algorithm>
#include <string>

#include "jailwarden/base/strings.h"

namespace jailwarden::policy::internal {

const ParamDef* FindParam(std::string_view key) {
  for (const ParamDef& p : kParams) {
    if (p.key == key) {
      return &p;
    }
  }
  return nullptr;
}

std::vector<std::string_view> JailKeys() {
  std::vector<std::string_view> keys(std::begin(kCoreJailKeys),
                                     std::end(kCoreJailKeys));
  for (const ParamDef& p : kParams) {
    keys.push_back(p.key);
  }
  return keys;
}

// A likely intended key, or "".
std::string Suggest(std::string_view key,
                    const std::vector<std::string_view>& allowed) {
  const std::string lower = AsciiToLower(key);
  std::string dotted = lower;
  std::replace(dotted.begin(), dotted.end(), '_', '.');
  for (std::string_view candidate :
       {std::string_view(lower), std::string_view(dotted)}) {
    if (candidate != key &&
        std::find(allowed.begin(), allowed.end(), candidate) != allowed.end()) {
      return std::string(candidate);
    }
  }
  for (const auto& [from, to] : kAliases) {
    if (lower == from &&
        (to.front() == '(' ||
         std::find(allowed.begin(), allowed.end(), to) != allowed.end())) {
      return std::string(to);
    }
  }
  // "persistent" for "persist", "limit" for "limits".
  std::string best;
  for (std::string_view candidate : allowed) {
    if (std::min(candidate.size(), lower.size()) >= 4 &&
        (StartsWith(lower, candidate) || StartsWith(candidate, lower)) &&
        candidate.size() > best.size()) {
      best = std::string(candidate);
    }
  }
  if (!best.empty()) {
    return best;
  }
  std::size_t best_distance = 3;  // at most 2 edits
  for (std::string_view candidate : allowed) {
    const std::size_t d = EditDistance(lower, candidate);
    if (d < best_distance && d * 3 <= candidate.size()) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

std::string Quote(std::string_view s) {
  if (s.size() > 100) {
    return StrCat("'", s.substr(0, 96), "...'");
  }
  return StrCat("'", s, "'");
}

std::string Found(const YamlNode& n) {
  if (n.IsScalar()) {
    return Quote(n.scalar);
  }
  return std::string(internal::KindName(n.kind));
}

std::string PosText(Position p) {
  return StrCat("line ", p.line, ":", p.column);
}

bool ValidIp(std::string_view text, int family, bool allow_prefix) {
  std::string_view addr = text;
  if (const std::size_t slash = text.find('/');
      slash != std::string_view::npos) {
    if (!allow_prefix) {
      return false;
    }
    const std::optional<int> prefix = ParseInt<int>(text.substr(slash + 1));
    const int max = family == AF_INET ? 32 : 128;
    if (!prefix.has_value() || *prefix < 0 || *prefix > max) {
      return false;
    }
    addr = text.substr(0, slash);
  }
  unsigned char buf[16];
  return inet_pton(family, std::string(addr).c_str(), buf) == 1;
}

std::optional<std::string> ListenProblem(std::string_view s) {
  std::string_view host, port;
  if (StartsWith(s, "[")) {
    const std::size_t close = s.find("]:");
    if (close == std::string_view::npos) {
      return "expected [IPv6]:PORT";
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    if (!ValidIp(host, AF_INET6, false)) {
      return StrCat(Quote(host), " is not an IPv6 address");
    }
  } else {
    const std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return "expected IPv4:PORT or [IPv6]:PORT";
    }
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (!ValidIp(host, AF_INET, false)) {
      return StrCat(Quote(host),
                    " is not an IPv4 address (write IPv6 as [::1]:PORT)");
    }
  }
  const std::optional<int> p = ParseInt<int>(port);
  if (!p.has_value() || *p < 1 || *p > 65535) {
    return StrCat("port ", Quote(port), " is not a number from 1 to 65535");
  }
  return std::nullopt;
}

}  // namespace jailwarden::policy::internal
